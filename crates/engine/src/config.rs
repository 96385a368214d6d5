//! Server configuration, with the reference server's defaults.
//!
//! Field names follow the Node.js `engine.io` options (`pingInterval`,
//! `maxHttpBufferSize` as `max_payload`, ...) so that settings carry over
//! one to one. Two Node options are deliberately absent:
//! - `cookie`: the sid cookie for sticky sessions is not supported; put a
//!   sticky load balancer on another key (or use WebSocket only).
//! - `httpCompression` / `perMessageDeflate`: no compression; small realtime
//!   messages gain little and per-connection deflate state costs memory.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use crate::transport_kind::TransportKind;

/// A request filter run on every handshake (not on requests of an existing
/// session), Node's `allowRequest`. Its future's `Err(message)` refuses the
/// request with HTTP 403 and `{"code":4,"message":message}`; an empty message
/// becomes "Forbidden", as in Node, which forwards the hook's message when it has
/// one.
#[derive(Clone)]
pub struct AllowRequest(Arc<dyn Fn(&http::request::Parts) -> AllowFuture + Send + Sync>);

type AllowFuture = Pin<Box<dyn Future<Output = Result<(), String>> + Send>>;

impl AllowRequest {
    /// A filter from a function that reads the request's head and returns a future
    /// owning what it took from it, so that it may look elsewhere (a session store, a
    /// database) before it decides: `AllowRequest::new(|req| { let token =
    /// req.headers.get("x-token").cloned(); async move { check(token).await } })`.
    /// A decision that needs no waiting returns `std::future::ready(…)`.
    pub fn new<F, Fut>(decide: F) -> Self
    where
        F: Fn(&http::request::Parts) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), String>> + Send + 'static,
    {
        AllowRequest(Arc::new(move |parts| Box::pin(decide(parts))))
    }

    pub(crate) fn check(&self, parts: &http::request::Parts) -> AllowFuture {
        (self.0)(parts)
    }
}

/// The settings of one [`Engine`](crate::Engine); [`Default`] gives the
/// Node.js server's values.
#[derive(Clone)]
pub struct EngineConfig {
    /// Request path; served with and without the trailing slash.
    pub path: String,
    /// How often the server pings each client to learn it is still there;
    /// advertised in the open packet (Node's `pingInterval`): 25 s by default.
    pub ping_interval: Duration,
    /// How long a ping may go unanswered before the session ends with
    /// [`CloseReason::PingTimeout`](crate::CloseReason::PingTimeout); advertised
    /// in the open packet (Node's `pingTimeout`): 20 s by default.
    pub ping_timeout: Duration,
    /// How long a probing WebSocket may take to send the upgrade packet.
    pub upgrade_timeout: Duration,
    /// Largest POST body / WebSocket message accepted, in bytes; advertised
    /// to clients in the open packet.
    pub max_payload: usize,
    /// Outgoing messages queued per session before the session is closed:
    /// a client that does not read must not make the server buffer forever.
    /// Each entry is a pointer to a (possibly shared) message, so the bound
    /// also caps what a stalled client pins: 4 096 entries, about 100 KiB.
    pub max_queue: usize,
    /// Bytes of outgoing messages queued per session before the session is
    /// closed. Shared broadcast messages count in full: a stalled client
    /// keeps them alive however many others were sent the same bytes.
    pub max_queued_bytes: usize,
    /// How long the oldest message queued for a client may wait unsent before
    /// the session is closed (`transport buffer full`): a bound in time on a
    /// client that stopped reading, so that what it pins is a few seconds of
    /// traffic whatever the traffic. A burst queued at once never trips it;
    /// only a client that falls and stays this far behind does.
    /// `Duration::MAX` turns it off.
    pub max_lag: Duration,
    /// Enabled transports.
    pub transports: Vec<TransportKind>,
    /// Whether a polling session may upgrade to WebSocket (Node's
    /// `allowUpgrades`): true by default. When false, no upgrade is advertised
    /// and a probe is refused.
    pub allow_upgrades: bool,
    /// CORS headers for cross-origin polling; `None` sends none.
    pub cors: Option<Cors>,
    /// A check run on each handshake before any session exists (Node's
    /// `allowRequest`): none by default.
    pub allow_request: Option<AllowRequest>,
    /// Whether clients of Engine.IO protocol v3 (`EIO=3`: engine.io-client
    /// 3.x, under Socket.IO 2.x) may connect (Node's `allowEIO3`): false by
    /// default, when they are refused with "Unsupported protocol version".
    /// Their sessions say so in [`Session::protocol`](crate::Session::protocol).
    pub allow_eio3: bool,
    /// Compression of long-polling answers (Node's `httpCompression`): on by
    /// default, gzip or deflate as the client accepts, for answers of 1 KiB and
    /// more; `None` sends every answer as it is.
    pub http_compression: Option<HttpCompression>,
}

/// When long-polling answers are compressed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HttpCompression {
    /// Answers shorter than this many bytes go as they are (Node's `threshold`):
    /// 1 024 by default.
    pub threshold: usize,
}

impl Default for HttpCompression {
    fn default() -> Self {
        HttpCompression { threshold: 1024 }
    }
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            path: "/engine.io/".to_owned(),
            ping_interval: Duration::from_secs(25),
            ping_timeout: Duration::from_secs(20),
            upgrade_timeout: Duration::from_secs(10),
            max_payload: 1_000_000,
            max_queue: 4_096,
            max_queued_bytes: 8 << 20,
            max_lag: Duration::from_secs(2),
            transports: vec![TransportKind::Polling, TransportKind::WebSocket],
            allow_upgrades: true,
            cors: None,
            allow_request: None,
            allow_eio3: false,
            http_compression: Some(HttpCompression::default()),
        }
    }
}

impl EngineConfig {
    pub(crate) fn allows(&self, t: TransportKind) -> bool {
        self.transports.contains(&t)
    }

    /// Upgrades advertised to a session opened on `t`.
    pub(crate) fn upgrades_for(&self, t: TransportKind) -> &'static [&'static str] {
        if t == TransportKind::Polling
            && self.allow_upgrades
            && self.allows(TransportKind::WebSocket)
        {
            &["websocket"]
        } else {
            &[]
        }
    }
}

impl fmt::Debug for EngineConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EngineConfig")
            .field("path", &self.path)
            .field("ping_interval", &self.ping_interval)
            .field("ping_timeout", &self.ping_timeout)
            .field("upgrade_timeout", &self.upgrade_timeout)
            .field("max_payload", &self.max_payload)
            .field("max_queue", &self.max_queue)
            .field("max_queued_bytes", &self.max_queued_bytes)
            .field("max_lag", &self.max_lag)
            .field("transports", &self.transports)
            .field("allow_upgrades", &self.allow_upgrades)
            .field("cors", &self.cors)
            .field("allow_request", &self.allow_request.is_some())
            .field("allow_eio3", &self.allow_eio3)
            .field("http_compression", &self.http_compression)
            .finish()
    }
}

/// Cross-origin settings for the polling transport.
#[derive(Clone, Debug)]
pub struct Cors {
    /// The origins allowed to poll cross-origin (the `origin` of Node's
    /// `cors` option).
    pub origin: CorsOrigin,
    /// Send `Access-Control-Allow-Credentials: true` (the request Origin is
    /// then reflected instead of `*`, which browsers refuse with credentials).
    pub credentials: bool,
}

/// Which origins [`Cors`] lets in.
#[derive(Clone, Debug)]
pub enum CorsOrigin {
    /// Every origin: `*`, or the request's own Origin when
    /// [`Cors::credentials`] is set.
    Any,
    /// Exact origins, e.g. `https://example.com`.
    List(Vec<String>),
}
