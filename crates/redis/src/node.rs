//! What the parts of both adapters share: [`Node`], one per factory (the node's uid on the
//! wire, the transport and the other Rally nodes' liveness), and [`Ns`], one per namespace (its name and its channels, and
//! the few things every part does with them).

use crate::config::RedisAdapterConfig;
use crate::peers::Peers;
use crate::stats::Counters;
use crate::transport::{FailHook, Transport};
use crate::wire::Channels;
use std::fmt;
use std::sync::Arc;

/// What every namespace of a factory shares: the node's identity and the transport.
pub(crate) struct Node {
    /// This node's id on the wire (6 random alphanumerics, like Node's `uid2(6)`).
    pub uid: String,
    pub transport: Arc<Transport>,
    /// The other Rally nodes, known by their heartbeats.
    pub peers: Arc<Peers>,
}

impl Node {
    pub fn config(&self) -> &RedisAdapterConfig {
        &self.transport.config
    }
}

/// One namespace on the wire, as the requester and the responder both see it.
pub(crate) struct Ns {
    pub node: Arc<Node>,
    /// The namespace's name.
    pub nsp: String,
    pub channels: Channels,
}

impl Ns {
    pub fn uid(&self) -> &str {
        &self.node.uid
    }

    pub fn config(&self) -> &RedisAdapterConfig {
        self.node.config()
    }

    pub fn transport(&self) -> &Transport {
        &self.node.transport
    }

    pub fn publish(&self, channel: String, payload: Vec<u8>, on_fail: Option<FailHook>) {
        self.node.transport.publish(channel, payload, on_fail);
    }

    /// Where to answer a request from `requester`, as the options say.
    pub fn response_channel(&self, requester: Option<&str>) -> String {
        self.channels.response_channel(
            self.config().publish_on_specific_response_channel,
            requester,
        )
    }

    /// Counts and logs a message that could not be read or made no sense.
    pub fn malformed(&self, channel: &str, why: &dyn fmt::Display) {
        Counters::add(&self.transport().stats.malformed, 1);
        tracing::warn!(%channel, "redis adapter: dropping a malformed message: {why}");
    }
}
