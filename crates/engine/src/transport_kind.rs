//! The name of a transport: a vocabulary word shared by the configuration,
//! the session and the routes.
//!
//! On its own, below everything that uses it, so that naming a transport
//! does not mean depending on the transports' code.

/// Which transport a session currently uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TransportKind {
    /// HTTP long-polling (`polling`): the client holds a GET open for the
    /// server's packets and POSTs its own.
    Polling,
    /// One WebSocket for both directions (`websocket`), opened directly or
    /// reached by upgrading a polling session.
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
