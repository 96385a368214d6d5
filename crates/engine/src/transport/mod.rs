//! The two transports: HTTP long-polling and WebSocket.
//!
//! Both drive the same [`Session`](crate::Session) queue and heartbeat; they
//! differ only in how packets reach the wire and in who owns the timers
//! (a small driver task for polling, the connection task itself for
//! WebSocket). The session's side of each (request slots, probe, queue
//! draining) is in `session::polling` and `session::websocket`; the bytes on
//! the wire are the codecs' (`codec`).

pub(crate) mod http_compression;
pub(crate) mod polling;
pub(crate) mod tcp;
pub(crate) mod websocket;
pub(crate) mod ws_driver;
pub(crate) mod ws_io;
