//! Why a session ended, and why a send was refused: the two verdicts the
//! layer above gets from a session.
//!
//! Plain values with their human-readable names (the strings Node's
//! `engine.io` reports), kept apart from the session so that anything may
//! name them without knowing how a session works.

use std::fmt;

/// Why a session ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CloseReason {
    /// The client closed (close packet, WebSocket close, dropped request).
    TransportClose,
    /// The transport failed: I/O error, overlapping polls, oversize
    /// payload, full outgoing queue.
    TransportError,
    /// No pong within `ping_timeout` of a ping.
    PingTimeout,
    /// The client sent something that does not decode.
    ParseError,
    /// Closed by the layer above.
    ForcedClose,
    /// Closed by [`Engine::close`](crate::Engine::close).
    ServerShutdown,
    /// The client stopped reading and its outgoing queue reached
    /// `max_queue` messages, `max_queued_bytes` or `max_lag`.
    BufferFull,
}

impl CloseReason {
    /// The reason as Node's `engine.io` names it, e.g. `"ping timeout"`.
    pub fn as_str(&self) -> &'static str {
        match self {
            CloseReason::TransportClose => "transport close",
            CloseReason::TransportError => "transport error",
            CloseReason::PingTimeout => "ping timeout",
            CloseReason::ParseError => "parse error",
            CloseReason::ForcedClose => "forced close",
            CloseReason::ServerShutdown => "server shutting down",
            CloseReason::BufferFull => "transport buffer full",
        }
    }
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why [`Session::send`](crate::Session::send) refused a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendError {
    /// The session is closing or closed.
    Closed,
    /// The outgoing queue hit its bound; the session is being closed.
    QueueFull,
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::Closed => f.write_str("session closed"),
            SendError::QueueFull => f.write_str("session outgoing queue full"),
        }
    }
}

impl std::error::Error for SendError {}
