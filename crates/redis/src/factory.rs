//! [`RedisAdapterFactory`]: checks the configuration, starts the transport (and, for the
//! streams protocol, the stream reader), gives the node its uid, and makes one
//! [`RedisAdapter`](crate::RedisAdapter) per namespace in the factory's protocol, all
//! sharing that node.

use crate::config::{RedisAdapterConfig, RedisAdapterError};
use crate::node::Node;
use crate::peers::{self, Peers};
use crate::requests::random_id;
use crate::stats::RedisStats;
use crate::transport::{self, Listener};
use crate::{classic, streams};
use rally::{Adapter, AdapterFactory, NamespaceRef};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Makes a [`RedisAdapter`](crate::RedisAdapter) for each namespace; all of them share one
/// publisher and one subscriber connection (and a stream reader for the streams protocol).
/// Clones share everything: keep one to read [`stats`](Self::stats). Give each `Server` a
/// factory of its own: the factory's uid is the node's identity on the wire, and one
/// namespace name maps to one adapter per factory.
#[derive(Clone)]
pub struct RedisAdapterFactory {
    node: Arc<Node>,
    protocol: Protocol,
}

/// Which Node.js adapter a factory's nodes speak with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// `@socket.io/redis-adapter` 8.3, pub/sub only.
    Classic,
    /// `@socket.io/redis-streams-adapter` 0.3: a stream for what every server applies,
    /// pub/sub for requests and answers.
    Streams,
}

impl RedisAdapterFactory {
    /// A factory for the classic protocol (`@socket.io/redis-adapter`). Starts the
    /// connection tasks on the current tokio runtime and returns at once; the connections
    /// come up in the background (see [`wait_connected`](Self::wait_connected)) and come back
    /// by themselves whenever Redis does.
    pub fn new(config: RedisAdapterConfig) -> Result<Self, RedisAdapterError> {
        Self::with_protocol(config, Protocol::Classic)
    }

    /// A factory for the streams protocol (`@socket.io/redis-streams-adapter`), started like
    /// [`new`](Self::new). Its stream reader starts at the stream's end: what was added
    /// before it connected is not delivered.
    pub fn streams(config: RedisAdapterConfig) -> Result<Self, RedisAdapterError> {
        Self::with_protocol(config, Protocol::Streams)
    }

    /// A factory for `protocol`, chosen at run time; [`new`](Self::new) and
    /// [`streams`](Self::streams) are its two cases. Fails if `config.url` is not a Redis URL
    /// or if called outside a tokio runtime.
    pub fn with_protocol(
        config: RedisAdapterConfig,
        protocol: Protocol,
    ) -> Result<Self, RedisAdapterError> {
        let client = redis::Client::open(config.url.as_str())
            .map_err(|e| RedisAdapterError::InvalidUrl(e.to_string()))?;
        let runtime =
            tokio::runtime::Handle::try_current().map_err(|_| RedisAdapterError::NoRuntime)?;
        let stream = (config.stream_name.clone(), config.stream_read_count);
        let transport = transport::start(config, client.clone(), runtime.clone());
        if protocol == Protocol::Streams {
            transport::read_stream(&transport, client, stream.0, stream.1, &runtime);
        }
        let uid = random_id();
        let peers = Arc::new(Peers::new(
            uid.clone(),
            &transport.config.prefix,
            transport.config.heartbeat_timeout,
        ));
        let listener: Arc<dyn Listener> = peers.clone();
        transport.register(&peers.subscription(), Arc::downgrade(&listener));
        runtime.spawn(peers::run(
            Arc::downgrade(&transport),
            Arc::downgrade(&peers),
            transport.config.heartbeat_interval,
        ));
        let node = Node {
            uid,
            transport,
            peers,
        };
        Ok(RedisAdapterFactory {
            node: Arc::new(node),
            protocol,
        })
    }

    /// Which Node.js adapter this factory's nodes speak with.
    pub fn protocol(&self) -> Protocol {
        self.protocol
    }

    /// The configuration the factory was made from, shared by all its adapters.
    pub fn config(&self) -> &RedisAdapterConfig {
        self.node.config()
    }

    /// This node's id on the wire (random per factory, like Node's per-process uid).
    pub fn uid(&self) -> &str {
        &self.node.uid
    }

    /// A snapshot of the factory's counters and connection state, with the other Rally
    /// servers it currently hears from.
    pub fn stats(&self) -> RedisStats {
        let mut stats = self.node.transport.snapshot();
        self.node.peers.add_stats(&mut stats);
        stats
    }

    /// Ticks whenever the cluster lost a server or got one back: another Rally server was
    /// counted as gone (no heartbeat within `heartbeat_timeout`: killed, frozen, cut off)
    /// or was heard again, or the server count went down (a server's connection to Redis
    /// closed: how Node.js servers leave). Time to re-read cluster-wide state shown to
    /// users, such as who is online.
    pub fn cluster_changes(&self) -> watch::Receiver<u64> {
        self.node.peers.changes()
    }

    /// The publisher and subscriber connections are up, and for the streams protocol the
    /// stream reader has connected.
    pub fn is_connected(&self) -> bool {
        let reading = self.protocol == Protocol::Classic || self.stats().stream_reader_connects > 0;
        self.node.transport.available() && reading
    }

    /// Waits until [`is_connected`](Self::is_connected), at most `timeout`; true if it is.
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
            .field("protocol", &self.protocol)
            .field("prefix", &self.node.config().prefix)
            .finish()
    }
}

impl AdapterFactory for RedisAdapterFactory {
    fn create(&self, nsp: NamespaceRef) -> Arc<dyn Adapter> {
        let node = self.node.clone();
        Arc::new(match self.protocol {
            Protocol::Classic => classic::adapter(node, nsp),
            Protocol::Streams => streams::adapter(node, nsp),
        })
    }
}
