//! [`RedisAdapterFactory`]: checks the configuration, starts the transport, gives the node
//! its uid, and makes one [`RedisAdapter`] per namespace, all sharing that node.

use super::adapter::RedisAdapter;
use super::ns::{random_id, Node};
use crate::config::{RedisAdapterConfig, RedisAdapterError};
use crate::stats::RedisStats;
use crate::transport;
use rally::{Adapter, AdapterFactory, NamespaceRef};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// Makes a [`RedisAdapter`] for each namespace; all of them share one publisher and one
/// subscriber connection. Clones share everything: keep one to read [`stats`](Self::stats).
/// Give each `Server` a factory of its own: the factory's uid is the node's identity on the
/// wire, and one namespace name maps to one adapter per factory.
#[derive(Clone)]
pub struct RedisAdapterFactory {
    node: Arc<Node>,
}

impl RedisAdapterFactory {
    /// Starts the connection tasks on the current tokio runtime and returns at once; the
    /// connections come up in the background (see [`wait_connected`](Self::wait_connected))
    /// and come back by themselves whenever Redis does.
    pub fn new(config: RedisAdapterConfig) -> Result<Self, RedisAdapterError> {
        let client = redis::Client::open(config.url.as_str())
            .map_err(|e| RedisAdapterError::InvalidUrl(e.to_string()))?;
        let runtime =
            tokio::runtime::Handle::try_current().map_err(|_| RedisAdapterError::NoRuntime)?;
        let node = Node {
            uid: random_id(),
            transport: transport::start(config, client, runtime),
        };
        Ok(RedisAdapterFactory {
            node: Arc::new(node),
        })
    }

    pub fn config(&self) -> &RedisAdapterConfig {
        self.node.config()
    }

    /// This node's id on the wire (random per factory, like Node's per-process uid).
    pub fn uid(&self) -> &str {
        &self.node.uid
    }

    pub fn stats(&self) -> RedisStats {
        self.node.transport.snapshot()
    }

    /// Both connections are up.
    pub fn is_connected(&self) -> bool {
        self.node.transport.available()
    }

    /// Waits until both connections are up, at most `timeout`; true if they are.
    pub async fn wait_connected(&self, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        while !self.is_connected() {
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        true
    }
}

impl fmt::Debug for RedisAdapterFactory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisAdapterFactory")
            .field("uid", &self.node.uid)
            .field("prefix", &self.node.config().prefix)
            .finish()
    }
}

impl AdapterFactory for RedisAdapterFactory {
    fn create(&self, nsp: NamespaceRef) -> Arc<dyn Adapter> {
        Arc::new(RedisAdapter::new(self.node.clone(), nsp))
    }
}
