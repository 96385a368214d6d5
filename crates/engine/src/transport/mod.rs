//! The two transports: HTTP long-polling and WebSocket.
//!
//! Both drive the same [`Session`](crate::Session) queue and heartbeat; they
//! differ only in how packets reach the wire and in who owns the timers
//! (a small driver task for polling, the connection task itself for
//! WebSocket).

pub(crate) mod polling;
pub(crate) mod tcp;
pub(crate) mod websocket;
pub(crate) mod ws_driver;
pub(crate) mod ws_io;

/// Which transport a session currently uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TransportKind {
    Polling,
    WebSocket,
}

impl TransportKind {
    /// The protocol name, as in the `transport` query parameter.
    pub fn as_str(&self) -> &'static str {
        match self {
            TransportKind::Polling => "polling",
            TransportKind::WebSocket => "websocket",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Self> {
        match s {
            "polling" => Some(TransportKind::Polling),
            "websocket" => Some(TransportKind::WebSocket),
            _ => None,
        }
    }
}
