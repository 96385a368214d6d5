//! The Socket.IO server's settings, with socket.io's defaults.
//!
//! Transport limits live in the engine's own config (one config struct per floor);
//! this one holds what the Socket.IO floor adds on top.

use rally_engine::EngineConfig;
use std::time::Duration;

#[derive(Clone)]
pub struct ServerConfig {
    /// Engine.IO settings; its `path` defaults to `/socket.io/` here.
    pub engine: EngineConfig,
    /// How long a client may stay connected without joining any namespace (socket.io: 45 s).
    pub connect_timeout: Duration,
    /// Serve the official browser client at `<path>socket.io.js` (socket.io's `serveClient`).
    pub serve_client: bool,
    /// Most binary attachments one packet may announce; more is a parse error.
    pub max_attachments: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            engine: EngineConfig {
                path: "/socket.io/".to_owned(),
                ..EngineConfig::default()
            },
            connect_timeout: Duration::from_secs(45),
            serve_client: true,
            max_attachments: 1_000,
        }
    }
}
