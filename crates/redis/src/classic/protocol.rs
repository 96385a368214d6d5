//! The classic protocol as what a namespace's adapter receives
//! ([`Receiving`]): what arrives through a pattern is a
//! broadcast, on the request channel a request, on a response channel an answer.

use super::requester::Requester;
use super::responder::Responder;
use crate::adapter::{namespace_name, Receiving, RedisAdapter};
use crate::node::{Node, Ns};
use crate::transport::{Subscription, Via};
use crate::wire::Channels;
use rally::adapter::memory::MemoryAdapter;
use rally::NamespaceRef;
use std::sync::Arc;

struct Classic {
    ns: Arc<Ns>,
    requester: Arc<Requester>,
    responder: Responder,
}

/// The adapter of namespace `nsp` on `node`, speaking the classic protocol.
pub(crate) fn adapter(node: Arc<Node>, nsp: NamespaceRef) -> RedisAdapter {
    let name = namespace_name(&nsp);
    let channels = Channels::new(&node.config().prefix, &name, &node.uid);
    let subscription = Subscription {
        pattern: Some(channels.pattern.clone()),
        channels: channels.subscribed(),
        counted: Some(channels.request.clone()),
        stream_nsp: None,
    };
    let ns = Arc::new(Ns {
        node,
        nsp: name,
        channels,
    });
    let requester = Arc::new(Requester::new(ns.clone()));
    let protocol = Classic {
        requester: requester.clone(),
        responder: Responder::new(ns.clone()),
        ns: ns.clone(),
    };
    RedisAdapter::new(ns, nsp, requester, Arc::new(protocol), subscription)
}

impl Receiving for Classic {
    fn on_message(&self, local: &MemoryAdapter, via: Via, channel: &str, payload: &[u8]) {
        if via == Via::Pattern {
            self.responder.on_broadcast(local, channel, payload);
        } else if channel == self.ns.channels.request {
            self.responder
                .on_request(local, &self.requester.requests, channel, payload);
        } else {
            self.requester.on_response(channel, payload);
        }
    }
}
