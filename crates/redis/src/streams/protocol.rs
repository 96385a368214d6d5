//! The streams protocol as what a namespace's adapter receives
//! ([`Receiving`]). Stream entries go to the responder.
//! Pub/sub messages are told apart by channel and first byte: on the public channel and
//! this node's own, a map is the cluster's (a request, or an answer for the requester) and
//! an array is the classic emitter's broadcast; through the pattern, only the emitter's
//! room broadcasts count; on the classic request channel, the emitter's requests.

use super::requester::Requester;
use super::responder::{own_channel, Responder};
use crate::adapter::{namespace_name, Receiving, RedisAdapter};
use crate::classic::Responder as EmitterResponder;
use crate::node::{Node, Ns};
use crate::transport::{Subscription, Via};
use crate::wire::{parse_cluster_message, Channels, StreamEntry};
use rally::adapter::memory::MemoryAdapter;
use rally::NamespaceRef;
use std::sync::Arc;

struct Streams {
    ns: Arc<Ns>,
    /// `P#NSP#<uid>#`.
    own_channel: String,
    requester: Arc<Requester>,
    responder: Responder,
    emitter: EmitterResponder,
}

/// The adapter of namespace `nsp` on `node`, speaking the streams protocol.
pub(crate) fn adapter(node: Arc<Node>, nsp: NamespaceRef) -> RedisAdapter {
    let name = namespace_name(&nsp);
    // The classic names: `P#NSP#` is also the streams protocol's public channel.
    let channels = Channels::new(&node.config().prefix, &name, &node.uid);
    let own_channel = own_channel(&channels.broadcast, &node.uid);
    let subscription = Subscription {
        pattern: Some(channels.pattern.clone()),
        channels: vec![
            channels.broadcast.clone(),
            own_channel.clone(),
            channels.request.clone(),
        ],
        counted: Some(channels.broadcast.clone()),
        stream_nsp: Some(name.clone()),
    };
    let ns = Arc::new(Ns {
        node,
        nsp: name,
        channels,
    });
    let requester = Arc::new(Requester::new(ns.clone()));
    let protocol = Streams {
        own_channel,
        requester: requester.clone(),
        responder: Responder::new(ns.clone()),
        emitter: EmitterResponder::new(ns.clone()),
        ns: ns.clone(),
    };
    RedisAdapter::new(ns, nsp, requester, Arc::new(protocol), subscription)
}

/// A MessagePack array's first byte: what the classic emitter publishes (`[uid, packet,
/// opts]`), where the cluster's messages are maps.
fn is_msgpack_array(payload: &[u8]) -> bool {
    matches!(payload.first(), Some(0x90..=0x9f | 0xdc | 0xdd))
}

impl Receiving for Streams {
    fn on_message(&self, local: &MemoryAdapter, via: Via, channel: &str, payload: &[u8]) {
        let public = channel == self.ns.channels.broadcast;
        let own = channel == self.own_channel;
        if via == Via::Pattern {
            // The public and own channels come through their subscriptions as well; the
            // other servers' own channels carry nothing for this one.
            if !public && !own && is_msgpack_array(payload) {
                self.emitter.on_broadcast(local, channel, payload);
            }
            return;
        }
        if channel == self.ns.channels.request {
            let requests = &self.requester.requests;
            return self.emitter.on_request(local, requests, channel, payload);
        }
        if is_msgpack_array(payload) {
            return self.emitter.on_broadcast(local, channel, payload);
        }
        match parse_cluster_message(payload) {
            Ok(Some(envelope)) => {
                self.responder
                    .on_message(local, &self.requester, channel, envelope)
            }
            Ok(None) => {}
            Err(e) => self.ns.malformed(channel, &e),
        }
    }

    fn on_stream_entry(&self, local: &MemoryAdapter, id: &str, entry: StreamEntry) {
        self.responder.on_stream_entry(local, id, entry);
    }
}
