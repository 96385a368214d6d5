//! [`RedisAdapter`]: one namespace's adapter, whichever protocol its factory speaks. Rally's
//! `MemoryAdapter` is the local half; the protocol (classic pub/sub, or Redis streams) sends
//! the cross-node half ([`Requesting`]) and reads what the transport delivers
//! ([`Receiving`]). This file only splits the work between them.
//!
//! Differences from the Node adapters, all invisible on the wire:
//! - Room changes (`sockets_join`/`sockets_leave`/`disconnect_sockets`) apply locally at
//!   once and the node ignores its own request when it comes back (Node applies them only
//!   on the echo), so they keep working while Redis is away.
//! - While Redis is away, requests fail at once with `AdapterError::Unavailable` and acks
//!   with `AckError::NotSent`, instead of waiting in an offline queue.

use crate::node::Ns;
use crate::requests::Requests;
use crate::transport::{FailHook, Listener, Subscription, Via};
use crate::wire::StreamEntry;
use futures::future::{self, BoxFuture, FutureExt};
use rally::adapter::cluster::ClusterRecovery;
use rally::adapter::memory::MemoryAdapter;
use rally::packet::Packet;
use rally::{
    AckCollector, Adapter, AdapterError, Args, BroadcastOptions, NamespaceRef, Room, SocketId,
    SocketInfo,
};
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// What one protocol sends for the cross-node half of a namespace's adapter. Local
/// delivery and local room changes are done by the adapter before or after these.
pub(crate) trait Requesting: Send + Sync + 'static {
    /// The requests this namespace waits on, and the server count.
    fn requests(&self) -> &Arc<Requests>;
    /// Sends a broadcast to the other servers; `on_fail` runs if it could not be sent.
    fn broadcast(&self, packet: &Packet, opts: &BroadcastOptions, on_fail: Option<FailHook>);
    fn broadcast_with_ack(&self, packet: &Packet, opts: &BroadcastOptions, acks: &AckCollector);
    /// The other servers' sockets after this one's (`local`).
    fn fetch_sockets(
        self: Arc<Self>,
        opts: BroadcastOptions,
        local: Vec<SocketInfo>,
    ) -> BoxFuture<'static, Result<Vec<SocketInfo>, AdapterError>>;
    /// Every server's rooms, this one's (`local`) included.
    fn all_rooms(
        self: Arc<Self>,
        local: HashSet<Room>,
    ) -> BoxFuture<'static, Result<Vec<Room>, AdapterError>>;
    fn join(&self, opts: &BroadcastOptions, rooms: &[Room]);
    fn leave(&self, opts: &BroadcastOptions, rooms: &[Room]);
    fn disconnect_sockets(&self, opts: &BroadcastOptions, close: bool);
    fn server_side_emit(&self, event: &str, args: Args, acks: Option<AckCollector>);
    /// Recovery across the cluster, when the protocol places stored events in a log every
    /// server reads (then this server delivers them as it reads them, its own included).
    fn cluster_recovery(&self) -> Option<&dyn ClusterRecovery> {
        None
    }
}

/// What one protocol does with what the transport delivers for a namespace.
pub(crate) trait Receiving: Send + Sync + 'static {
    /// A message on the namespace's subscription.
    fn on_message(&self, local: &MemoryAdapter, via: Via, channel: &str, payload: &[u8]);
    /// A stream entry of the namespace (the streams protocol only).
    fn on_stream_entry(&self, _local: &MemoryAdapter, _id: &str, _entry: StreamEntry) {}
}

/// `Arc<dyn Adapter>` for one namespace; dropping it (or `close`) unsubscribes.
pub struct RedisAdapter(Arc<NsAdapter>);

struct NsAdapter {
    ns: Arc<Ns>,
    local: MemoryAdapter,
    requester: Arc<dyn Requesting>,
    receiver: Arc<dyn Receiving>,
    subscription: Subscription,
    closed: AtomicBool,
}

impl RedisAdapter {
    /// Registers `subscription` with the transport, so that what arrives goes to `receiver`.
    pub(crate) fn new(
        ns: Arc<Ns>,
        nsp: NamespaceRef,
        requester: Arc<dyn Requesting>,
        receiver: Arc<dyn Receiving>,
        subscription: Subscription,
    ) -> RedisAdapter {
        let inner = Arc::new(NsAdapter {
            ns,
            local: MemoryAdapter::new(nsp),
            requester,
            receiver,
            subscription,
            closed: AtomicBool::new(false),
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

/// The namespace's name, `/` when the namespace is already gone.
pub(crate) fn namespace_name(nsp: &NamespaceRef) -> String {
    nsp.upgrade()
        .map(|ns| ns.name().to_string())
        .unwrap_or_else(|| "/".to_owned())
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
        self.requester.requests().close();
    }
}

impl Listener for NsAdapter {
    fn on_message(&self, via: Via, channel: &str, payload: &[u8]) {
        self.receiver.on_message(&self.local, via, channel, payload);
    }

    fn on_server_count(&self, count: usize) {
        self.requester.requests().on_server_count(count);
    }

    fn on_stream_entry(&self, id: &str, entry: StreamEntry) {
        self.receiver.on_stream_entry(&self.local, id, entry);
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
        if opts.flags.local {
            return a.local.broadcast_local(&packet, &opts);
        }
        if a.requester.cluster_recovery().is_some() && a.local.stores(&packet, &opts) {
            // Delivered here too when read back from the cluster's log, in its order and
            // with its id; at once, unplaced, if it cannot be sent there.
            let inner = a.clone();
            let (p, o) = (packet.clone(), opts.clone());
            let fallback: FailHook = Box::new(move |_| inner.local.broadcast_local(&p, &o));
            return a.requester.broadcast(&packet, &opts, Some(fallback));
        }
        a.requester.broadcast(&packet, &opts, None);
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
        let requests = self.0.requester.requests().clone();
        async move { requests.server_count().await }.boxed()
    }

    fn fetch_sockets(
        &self,
        opts: BroadcastOptions,
    ) -> BoxFuture<'static, Result<Vec<SocketInfo>, AdapterError>> {
        let local = self.0.local.fetch_sockets_local(&opts);
        if opts.flags.local {
            return future::ready(Ok(local)).boxed();
        }
        self.0.requester.clone().fetch_sockets(opts, local)
    }

    fn add_sockets(&self, opts: BroadcastOptions, rooms: Vec<Room>) {
        let a = &self.0;
        a.local.add_sockets_local(&opts, &rooms);
        if !opts.flags.local {
            a.requester.join(&opts, &rooms);
        }
    }

    fn del_sockets(&self, opts: BroadcastOptions, rooms: Vec<Room>) {
        let a = &self.0;
        a.local.del_sockets_local(&opts, &rooms);
        if !opts.flags.local {
            a.requester.leave(&opts, &rooms);
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
        let local: HashSet<Room> = self.0.local.rooms_local().into_iter().collect();
        self.0.requester.clone().all_rooms(local)
    }

    fn server_side_emit(&self, event: &str, args: Args, acks: Option<AckCollector>) {
        self.0.requester.server_side_emit(event, args, acks);
    }

    fn cluster_recovery(&self) -> Option<&dyn ClusterRecovery> {
        self.0.requester.cluster_recovery()
    }

    fn close(&self) {
        self.0.close();
    }
}
