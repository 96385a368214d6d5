//! What a [`RedisAdapterFactory`](crate::RedisAdapterFactory) of either protocol is made
//! from, and why making one can fail. Plain data with the Node adapters' defaults.

use std::fmt;
use std::time::Duration;

/// What either factory needs; the defaults are the Node adapters'. The `stream_*` fields
/// are the streams adapter's only; `prefix` is both adapters' channel prefix (the streams
/// adapter's `channelPrefix`).
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
    /// Messages waiting to be published, at most (Node's adapter has no bound): 10 000 by
    /// default. Past it a publication is dropped and counted (`RedisStats::publish_dropped`);
    /// local delivery is not affected.
    pub max_publish_queue: usize,
    /// Bytes (channel and payload) waiting to be published, at most: 16 MiB by default.
    pub max_publish_queue_bytes: usize,
    /// Streams adapter: the stream's key (Node's `streamName`): `socket.io` by default.
    pub stream_name: String,
    /// Streams adapter: entries the stream keeps, about (`XADD … MAXLEN ~`; Node's
    /// `maxLen`): 10 000 by default.
    pub stream_max_len: usize,
    /// Streams adapter: entries one XREAD (or one XRANGE of a recovery) takes at most
    /// (Node's `readCount`): 100 by default.
    pub stream_read_count: usize,
    /// Streams adapter: the prefix of the keys sessions are kept under for connection
    /// state recovery (Node's `sessionKeyPrefix`): `sio:session:` by default.
    pub session_key_prefix: String,
    /// How often this node tells the other Rally nodes it is alive: 2 s by default.
    /// (Rally only: the Node.js adapters send no heartbeat on the wire.)
    pub heartbeat_interval: Duration,
    /// How long another Rally node may stay silent before it is counted as gone (requests
    /// stop waiting for it, [`cluster_changes`](crate::RedisAdapterFactory::cluster_changes)
    /// ticks): 6 s by default, so that a killed or frozen server leaves within 10 s.
    pub heartbeat_timeout: Duration,
}

impl RedisAdapterConfig {
    /// The configuration for the Redis at `url` (`redis://[user:password@]host:port[/db]`,
    /// checked when a factory is made), every other field at its default.
    pub fn new(url: impl Into<String>) -> Self {
        RedisAdapterConfig {
            url: url.into(),
            prefix: "socket.io".to_owned(),
            request_timeout: Duration::from_secs(5),
            publish_on_specific_response_channel: false,
            connect_timeout: Duration::from_secs(1),
            command_timeout: Duration::from_secs(2),
            max_publish_queue: 10_000,
            max_publish_queue_bytes: 16 << 20,
            stream_name: "socket.io".to_owned(),
            stream_max_len: 10_000,
            stream_read_count: 100,
            session_key_prefix: crate::wire::SESSION_KEY_PREFIX.to_owned(),
            heartbeat_interval: Duration::from_secs(2),
            heartbeat_timeout: Duration::from_secs(6),
        }
    }

    /// Sets `prefix`, the channel prefix (Node's `key` option; `socket.io` by default): the
    /// same on every server of one cluster, Rally or Node.js.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Sets `request_timeout`, how long a cross-node request waits for every server (Node's
    /// `requestsTimeout`; 5 s by default).
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Streams adapter: sets `stream_name`, the stream's key (Node's `streamName`;
    /// `socket.io` by default), the same on every server of one cluster.
    pub fn stream_name(mut self, name: impl Into<String>) -> Self {
        self.stream_name = name.into();
        self
    }

    /// Streams adapter: sets `stream_max_len`, about how many entries the stream keeps
    /// (Node's `maxLen`; 10 000 by default), which bounds how far back a session can be
    /// recovered.
    pub fn stream_max_len(mut self, max_len: usize) -> Self {
        self.stream_max_len = max_len;
        self
    }

    /// Sets how often this node tells the other Rally nodes it is alive (`heartbeat_interval`,
    /// 2 s by default) and how long one may stay silent before it counts as gone
    /// (`heartbeat_timeout`, 6 s by default). Rally only: no Node option matches.
    pub fn heartbeat(mut self, interval: Duration, timeout: Duration) -> Self {
        self.heartbeat_interval = interval;
        self.heartbeat_timeout = timeout;
        self
    }

    /// Sets whether this node answers requests on the requester's own response channel
    /// rather than the shared one (Node's `publishOnSpecificResponseChannel`; false by
    /// default).
    pub fn publish_on_specific_response_channel(mut self, yes: bool) -> Self {
        self.publish_on_specific_response_channel = yes;
        self
    }
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
                f.write_str("a Redis adapter factory must be made inside a tokio runtime")
            }
        }
    }
}

impl std::error::Error for RedisAdapterError {}
