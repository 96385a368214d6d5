//! [`RedisAdapter`]: one namespace's adapter, Rally's `MemoryAdapter` for the local half
//! and the classic protocol for the rest. This file only splits the work: local operations
//! go to the `MemoryAdapter`, cross-node ones to the [`Requester`], and what the transport
//! delivers ([`Listener`]) to the [`Responder`] (broadcasts, requests) or the requester
//! (responses).
//!
//! Differences from the Node adapter, all invisible on the wire:
//! - Room changes (`sockets_join`/`sockets_leave`/`disconnect_sockets`) apply locally at
//!   once and the node ignores its own request when it comes back (Node applies them only
//!   on the echo), so they keep working while Redis is away.
//! - While Redis is away, requests fail at once with `AdapterError::Unavailable` and acks
//!   with `AckError::NotSent`, instead of waiting in an offline queue.

use super::ns::{Node, Ns};
use super::requester::Requester;
use super::responder::Responder;
use crate::transport::{Listener, Subscription, Via};
use crate::wire::{kind, Channels};
use futures::future::{self, BoxFuture, FutureExt};
use rally::adapter::memory::MemoryAdapter;
use rally::packet::Packet;
use rally::{
    AckCollector, Adapter, AdapterError, Args, BroadcastOptions, NamespaceRef, Room, SocketId,
    SocketInfo,
};
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// `Arc<dyn Adapter>` for one namespace; dropping it (or `close`) unsubscribes.
pub struct RedisAdapter(Arc<NsAdapter>);

struct NsAdapter {
    ns: Arc<Ns>,
    local: MemoryAdapter,
    requester: Arc<Requester>,
    responder: Responder,
    subscription: Subscription,
    closed: AtomicBool,
}

impl RedisAdapter {
    pub(super) fn new(node: Arc<Node>, nsp: NamespaceRef) -> RedisAdapter {
        let name = nsp
            .upgrade()
            .map(|ns| ns.name().to_string())
            .unwrap_or_else(|| "/".to_owned());
        let channels = Channels::new(&node.config().prefix, &name, &node.uid);
        let subscription = Subscription {
            pattern: channels.pattern.clone(),
            channels: channels.subscribed(),
            counted: channels.request.clone(),
        };
        let ns = Arc::new(Ns {
            node,
            nsp: name,
            channels,
        });
        let inner = Arc::new(NsAdapter {
            local: MemoryAdapter::new(nsp),
            requester: Arc::new(Requester::new(ns.clone())),
            responder: Responder::new(ns.clone()),
            subscription,
            closed: AtomicBool::new(false),
            ns,
        });
        let listener: Arc<dyn Listener> = inner.clone();
        inner
            .ns
            .transport()
            .register(&inner.subscription, Arc::downgrade(&listener));
        RedisAdapter(inner)
    }

    /// The local half: this process's room index and sockets.
    pub fn local(&self) -> &MemoryAdapter {
        &self.0.local
    }
}

impl Drop for RedisAdapter {
    fn drop(&mut self) {
        self.0.close();
    }
}

impl NsAdapter {
    fn close(&self) {
        if self.closed.swap(true, Ordering::AcqRel) {
            return;
        }
        self.ns.transport().unregister(&self.subscription);
        self.requester.close();
    }
}

impl Listener for NsAdapter {
    fn on_message(&self, via: Via, channel: &str, payload: &[u8]) {
        if via == Via::Pattern {
            self.responder.on_broadcast(&self.local, channel, payload);
        } else if channel == self.ns.channels.request {
            self.responder
                .on_request(&self.local, &self.requester, channel, payload);
        } else {
            self.requester.on_response(channel, payload);
        }
    }

    fn on_server_count(&self, count: usize) {
        self.requester.set_known_servers(count);
    }
}

impl Adapter for RedisAdapter {
    fn add_all(&self, sid: &SocketId, rooms: &[Room]) {
        self.0.local.add_all(sid, rooms);
    }

    fn del(&self, sid: &SocketId, room: &str) {
        self.0.local.del(sid, room);
    }

    fn del_all(&self, sid: &SocketId) {
        self.0.local.del_all(sid);
    }

    fn socket_rooms(&self, sid: &str) -> Vec<Room> {
        self.0.local.socket_rooms(sid)
    }

    fn local_sockets(&self, opts: &BroadcastOptions) -> Vec<SocketId> {
        self.0.local.local_sockets(opts)
    }

    fn broadcast(&self, packet: Packet, opts: BroadcastOptions) {
        let a = &self.0;
        if !opts.flags.local {
            a.requester.broadcast(&packet, &opts);
        }
        a.local.broadcast_local(&packet, &opts);
    }

    fn broadcast_with_ack(&self, packet: Packet, opts: BroadcastOptions, acks: AckCollector) {
        let a = &self.0;
        if !opts.flags.local {
            a.requester.broadcast_with_ack(&packet, &opts, &acks);
        }
        let count = a.local.broadcast_with_ack_local(&packet, &opts, &acks);
        acks.expect(count);
    }

    fn server_count(&self) -> BoxFuture<'static, usize> {
        let requester = self.0.requester.clone();
        async move { requester.server_count().await }.boxed()
    }

    fn fetch_sockets(
        &self,
        opts: BroadcastOptions,
    ) -> BoxFuture<'static, Result<Vec<SocketInfo>, AdapterError>> {
        let local = self.0.local.fetch_sockets_local(&opts);
        if opts.flags.local {
            return future::ready(Ok(local)).boxed();
        }
        self.0.requester.clone().fetch_sockets(opts, local).boxed()
    }

    fn add_sockets(&self, opts: BroadcastOptions, rooms: Vec<Room>) {
        let a = &self.0;
        a.local.add_sockets_local(&opts, &rooms);
        if !opts.flags.local {
            a.requester.change_rooms(kind::REMOTE_JOIN, &opts, &rooms);
        }
    }

    fn del_sockets(&self, opts: BroadcastOptions, rooms: Vec<Room>) {
        let a = &self.0;
        a.local.del_sockets_local(&opts, &rooms);
        if !opts.flags.local {
            a.requester.change_rooms(kind::REMOTE_LEAVE, &opts, &rooms);
        }
    }

    fn disconnect_sockets(&self, opts: BroadcastOptions, close: bool) {
        let a = &self.0;
        if !opts.flags.local {
            a.requester.disconnect_sockets(&opts, close);
        }
        a.local.disconnect_sockets_local(&opts, close);
    }

    fn all_rooms(&self) -> BoxFuture<'static, Result<Vec<Room>, AdapterError>> {
        let a = self.0.clone();
        async move {
            let local: HashSet<Room> = a.local.rooms_local().into_iter().collect();
            a.requester.clone().all_rooms(local).await
        }
        .boxed()
    }

    fn server_side_emit(&self, event: &str, args: Args, acks: Option<AckCollector>) {
        self.0.requester.server_side_emit(event, args, acks);
    }

    fn close(&self) {
        self.0.close();
    }
}
