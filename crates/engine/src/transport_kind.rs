//! The name of a transport: a vocabulary word shared by the configuration,
//! the session and the routes.
//!
//! On its own, below everything that uses it, so that naming a transport
//! does not mean depending on the transports' code.

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
