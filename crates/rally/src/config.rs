//! The Socket.IO server's settings, with socket.io's defaults.
//!
//! Transport limits live in the engine's own config (one config struct per floor);
//! this one holds what the Socket.IO floor adds on top.

use crate::handshake::Handshake;
use crate::parser::Parser;
use rally_engine::EngineConfig;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// The options of `new Server(options)` in socket.io, for [`Server::new`](crate::Server::new).
/// `Default` gives socket.io's defaults; change fields with struct update syntax, or
/// use [`Server::builder`](crate::Server::builder).
#[derive(Clone)]
pub struct ServerConfig {
    /// Where clients connect, socket.io's `path`: `/socket.io/` by default. The engine
    /// is served here whatever `engine.path` says, so that changing another engine
    /// setting with `..EngineConfig::default()` cannot move it.
    pub path: String,
    /// Engine.IO settings (socket.io's `pingInterval`, `pingTimeout`, `cors`, …), the
    /// engine's defaults; its `path` is not used ([`path`](Self::path) is).
    pub engine: EngineConfig,
    /// How long a client may stay connected without joining any namespace; default 45 s,
    /// as socket.io's `connectTimeout`.
    pub connect_timeout: Duration,
    /// Serve the official browser client at `<path>socket.io.js`; default true, as
    /// socket.io's `serveClient`. Without the `client-bundle` feature those paths answer 404.
    pub serve_client: bool,
    /// Most binary attachments one packet may announce; more is a parse error. Default
    /// 1 000; socket.io has no such bound.
    pub max_attachments: usize,
    /// socket.io's `connectionStateRecovery`: off (`None`) by default, as in socket.io;
    /// `Some(RecoveryConfig::default())` turns it on with socket.io's settings.
    pub connection_state_recovery: Option<RecoveryConfig>,
    /// The packet format, socket.io's `parser`: JSON by default, or
    /// [`Parser::MsgPack`] for clients configured with `socket.io-msgpack-parser`. Not
    /// negotiated, as in socket.io: a client that speaks the other format is closed on
    /// its first packet.
    pub parser: Parser,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            path: "/socket.io/".to_owned(),
            engine: EngineConfig::default(),
            connect_timeout: Duration::from_secs(45),
            serve_client: true,
            max_attachments: 1_000,
            connection_state_recovery: None,
            parser: Parser::Json,
        }
    }
}

/// Connection state recovery: a client that drops and comes back within
/// `max_disconnection_duration` gets its socket id, rooms and data back, and every
/// event it missed. See the `recovery` module for what is kept and the guarantees.
#[derive(Clone)]
pub struct RecoveryConfig {
    /// How long a dropped socket's session is kept; default 2 minutes, as socket.io's
    /// `maxDisconnectionDuration`.
    pub max_disconnection_duration: Duration,
    /// A recovered socket skips the namespace's middleware; default true, as socket.io's
    /// `skipMiddlewares`.
    pub skip_middlewares: bool,
    /// Most events a namespace keeps for clients that may come back; older ones go first.
    /// Default 10 000; socket.io has no such bound.
    pub max_packets: usize,
    /// Most bytes of events a namespace keeps, counted as encoded. Default 16 MiB;
    /// socket.io has no such bound.
    pub max_bytes: usize,
    /// Which connections are offered recovery; `None`, the default, offers it to every
    /// one, as socket.io does (it has no such option).
    pub offer: Option<RecoveryOffer>,
    /// A recovered socket gets a new private id, so that one that leaked cannot take
    /// the session over at the next drop (true, the default). socket.io keeps the same
    /// one, and its client's own `socket.recovered` compares the two: it reads `false`
    /// after a rotation, though the socket did recover. False keeps socket.io's behaviour.
    pub rotate_pid: bool,
}

impl Default for RecoveryConfig {
    fn default() -> Self {
        RecoveryConfig {
            max_disconnection_duration: Duration::from_secs(120),
            skip_middlewares: true,
            max_packets: 10_000,
            max_bytes: 16 << 20,
            offer: None,
            rotate_pid: true,
        }
    }
}

/// Decides from a socket's handshake (its `auth` included) whether it is offered
/// recovery. A socket that is not sees the events exactly as without recovery: no
/// offset appended as a last argument, no `pid` in its CONNECT answer.
#[derive(Clone)]
pub struct RecoveryOffer(pub Arc<dyn Fn(&Handshake) -> bool + Send + Sync>);

impl RecoveryOffer {
    /// An offer made to the sockets whose handshake `predicate` accepts.
    pub fn new(predicate: impl Fn(&Handshake) -> bool + Send + Sync + 'static) -> Self {
        RecoveryOffer(Arc::new(predicate))
    }
}

impl fmt::Debug for RecoveryConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecoveryConfig")
            .field(
                "max_disconnection_duration",
                &self.max_disconnection_duration,
            )
            .field("skip_middlewares", &self.skip_middlewares)
            .field("max_packets", &self.max_packets)
            .field("max_bytes", &self.max_bytes)
            .field("offer", &self.offer.as_ref().map(|_| "predicate"))
            .field("rotate_pid", &self.rotate_pid)
            .finish()
    }
}
