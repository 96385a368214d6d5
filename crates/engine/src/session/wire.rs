//! How a session's packets look on the wire: its protocol revision, and
//! whether its client takes binary data as binary.
//!
//! Fixed at the handshake except for the binary half, which each transport's
//! opening request states anew (`b64=1` asks for base64), as in the
//! reference server: a client may poll in base64 and then upgrade to a
//! WebSocket that carries binary frames.

use crate::protocol::EngineProtocol;

/// A session's wire form.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Wire {
    pub protocol: EngineProtocol,
    /// False when the client asked for binary data as base64 text; only
    /// protocol v3 lets a client ask (v4 polling is always base64, v4
    /// WebSocket always binary).
    pub binary: bool,
}

impl Wire {
    /// Whether this is protocol v3.
    pub(crate) fn is_v3(self) -> bool {
        self.protocol == EngineProtocol::V3
    }
}
