//! Redis adapter for Rally, wire-compatible with the classic (non-sharded)
//! `@socket.io/redis-adapter` 8.3 and with `@socket.io/redis-emitter` 5.1: Rally nodes and
//! Node.js `socket.io` nodes can share one Redis and form one cluster.
//!
//! ```no_run
//! use rally::{Server, ServerConfig};
//! use rally_redis::{RedisAdapterConfig, RedisAdapterFactory};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let redis = RedisAdapterFactory::new(RedisAdapterConfig::new("redis://127.0.0.1:6379"))?;
//! let io = Server::with_adapter(ServerConfig::default(), redis.clone());
//! // io.emit(…), io.to(room).emit(…), io.fetch_sockets(), … now span every node.
//! println!("{:?}", redis.stats());
//! # Ok(()) }
//! ```
//!
//! How it is built:
//! - [`codec`]: notepack.io 3.0 MessagePack ⇄ Rally's JSON-with-placeholders.
//! - [`wire`]: the adapter's channels and messages, field for field.
//! - [`connection`]: reconnect-with-backoff and batch-draining, for every task that owns a
//!   Redis connection (here and in applications).
//! - `transport`: one publisher connection and one subscriber connection per factory,
//!   shared by every namespace, each kept alive by its own task (reconnect, resubscribe).
//! - `adapter`: [`RedisAdapter`], one per namespace, wrapping Rally's `MemoryAdapter`.
//!
//! While Redis is away, local delivery and room changes go on; broadcasts that could not be
//! published are counted ([`RedisAdapterFactory::stats`]) and logged once per outage;
//! cross-node requests fail with `AdapterError::Unavailable` and emits with acks with
//! `AckError::NotSent` instead of waiting. Redis pub/sub is at-most-once: what is published
//! while a node is disconnected never reaches it, as with the Node adapter.

mod adapter;
pub mod codec;
pub mod connection;
mod transport;
pub mod wire;

pub use adapter::RedisAdapter;

use rally::{Adapter, AdapterFactory, NamespaceRef};
use rand::distributions::Alphanumeric;
use rand::Rng;
use serde::Serialize;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;
use transport::Shared;

/// What a [`RedisAdapterFactory`] needs; the defaults are the Node adapter's.
#[derive(Clone, Debug)]
pub struct RedisAdapterConfig {
    /// `redis://[user:password@]host:port[/db]`.
    pub url: String,
    /// The channel prefix (Node's `key` option): `socket.io` by default.
    pub prefix: String,
    /// How long a cross-node request (`fetch_sockets`, `all_rooms`, server-side emit with
    /// acks) waits for every server (Node's `requestsTimeout`): 5 s by default.
    pub request_timeout: Duration,
    /// Answer requests on `P-response#NSP#<requester uid>#` instead of the shared response
    /// channel (Node's `publishOnSpecificResponseChannel`): false by default.
    pub publish_on_specific_response_channel: bool,
    /// Bound on establishing a connection to Redis: 1 s by default.
    pub connect_timeout: Duration,
    /// Bound on one Redis round trip (a pipelined batch of publications, a PING): 2 s by default.
    pub command_timeout: Duration,
}

impl RedisAdapterConfig {
    pub fn new(url: impl Into<String>) -> Self {
        RedisAdapterConfig {
            url: url.into(),
            prefix: "socket.io".to_owned(),
            request_timeout: Duration::from_secs(5),
            publish_on_specific_response_channel: false,
            connect_timeout: Duration::from_secs(1),
            command_timeout: Duration::from_secs(2),
        }
    }

    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    pub fn publish_on_specific_response_channel(mut self, yes: bool) -> Self {
        self.publish_on_specific_response_channel = yes;
        self
    }
}

/// Counters and connection state of a factory (all namespaces together).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RedisStats {
    /// Messages handed to Redis (broadcasts, requests, responses).
    pub published: u64,
    /// Messages that could not be published (Redis away or failing); each was logged.
    pub publish_failures: u64,
    /// Messages received from the subscriber connection.
    pub received: u64,
    /// Received messages dropped because they could not be decoded or made no sense.
    pub malformed: u64,
    /// Cross-node requests that ended with `AdapterError::Timeout`.
    pub requests_timed_out: u64,
    /// Cross-node requests and emits with acks that failed because Redis was away.
    pub requests_failed: u64,
    /// Successful connections of the publisher (1 + reconnections).
    pub publisher_connects: u64,
    /// Successful (re)subscriptions of the subscriber (1 + reconnections).
    pub subscriber_connects: u64,
    pub publisher_connected: bool,
    pub subscriber_connected: bool,
}

/// Why a factory could not be made.
#[derive(Debug)]
pub enum RedisAdapterError {
    /// The URL is not a Redis URL.
    InvalidUrl(String),
    /// `new` was called outside a tokio runtime.
    NoRuntime,
}

impl fmt::Display for RedisAdapterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidUrl(why) => write!(f, "invalid Redis URL: {why}"),
            Self::NoRuntime => {
                f.write_str("RedisAdapterFactory::new must run inside a tokio runtime")
            }
        }
    }
}

impl std::error::Error for RedisAdapterError {}

/// Makes a [`RedisAdapter`] for each namespace; all of them share one publisher and one
/// subscriber connection. Clones share everything: keep one to read [`stats`](Self::stats).
/// Give each `Server` a factory of its own: the factory's uid is the node's identity on the
/// wire, and one namespace name maps to one adapter per factory.
#[derive(Clone)]
pub struct RedisAdapterFactory {
    shared: Arc<Shared>,
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
        Ok(RedisAdapterFactory {
            shared: Shared::start(config, client, runtime),
        })
    }

    pub fn config(&self) -> &RedisAdapterConfig {
        &self.shared.config
    }

    /// This node's id on the wire (random per factory, like Node's per-process uid).
    pub fn uid(&self) -> &str {
        &self.shared.uid
    }

    pub fn stats(&self) -> RedisStats {
        self.shared.snapshot()
    }

    /// Both connections are up.
    pub fn is_connected(&self) -> bool {
        self.shared.available()
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
            .field("uid", &self.shared.uid)
            .field("prefix", &self.shared.config.prefix)
            .finish()
    }
}

impl AdapterFactory for RedisAdapterFactory {
    fn create(&self, nsp: NamespaceRef) -> Arc<dyn Adapter> {
        Arc::new(RedisAdapter::new(self.shared.clone(), nsp))
    }
}

/// Six random alphanumerics: a node uid or a request id (Node: `uid2(6)`).
pub(crate) fn random_id() -> String {
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(6)
        .map(char::from)
        .collect()
}
