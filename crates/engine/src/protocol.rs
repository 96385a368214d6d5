//! The Engine.IO protocol revision a client speaks, as its `EIO` query
//! parameter says.
//!
//! A word of its own, below everything that uses it, because it reaches
//! from the routes (which revisions are let in) through the session (who
//! pings whom, how payloads are framed) up to the layer above: a v3 client
//! is a Socket.IO v2 client, and the layer above must know it to speak to it.

/// The Engine.IO protocol revision of a session, fixed at its handshake.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EngineProtocol {
    /// Revision 3 (engine.io-client 3.x, Socket.IO 2.x clients), accepted
    /// only with [`EngineConfig::allow_eio3`](crate::EngineConfig::allow_eio3):
    /// the client pings and the server answers, and polling payloads are
    /// length-framed.
    V3,
    /// Revision 4 (engine.io-client 4 and later): the server pings.
    V4,
}

impl EngineProtocol {
    /// The revision's number, as in the `EIO` query parameter.
    pub fn number(self) -> u8 {
        match self {
            EngineProtocol::V3 => 3,
            EngineProtocol::V4 => 4,
        }
    }

    /// The revision an `EIO` value names; `None` for anything this engine
    /// does not speak.
    pub(crate) fn parse(eio: &str) -> Option<Self> {
        match eio {
            "3" => Some(EngineProtocol::V3),
            "4" => Some(EngineProtocol::V4),
            _ => None,
        }
    }
}
