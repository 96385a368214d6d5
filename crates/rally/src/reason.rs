//! Why a socket left its namespace, named as socket.io names it.
//!
//! The strings are part of the contract with users who port code from Node.js:
//! `socket.on("disconnect", reason => ...)` compares against exactly these words.

use rally_engine::CloseReason;
use std::fmt;

/// The reason handed to `disconnecting` and `disconnect` handlers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DisconnectReason {
    /// The client's connection closed (the browser tab went away, the network dropped).
    TransportClose,
    /// The connection failed (too many queued packets, an I/O error).
    TransportError,
    /// The client stopped answering heartbeats.
    PingTimeout,
    /// The client sent something that is not a valid packet.
    ParseError,
    /// The client stopped reading, and what waited for it reached the outgoing queue's bound.
    TransportBufferFull,
    /// The server closed the connection.
    ForcedClose,
    /// `socket.disconnect(true)` closed the whole connection.
    ForcedServerClose,
    /// The server is shutting down (`io.close()`).
    ServerShuttingDown,
    /// The client left the namespace (`socket.disconnect()` on the client).
    ClientNamespaceDisconnect,
    /// The server removed the socket from the namespace (`socket.disconnect()`).
    ServerNamespaceDisconnect,
}

impl DisconnectReason {
    /// Whether a socket that leaves for this reason keeps its session for connection
    /// state recovery: the connection was lost or closed under it, rather than the
    /// socket being sent away (socket.io's list, plus a client that stopped reading,
    /// whose backlog is what recovery replays).
    pub fn keeps_session(self) -> bool {
        matches!(
            self,
            Self::TransportClose
                | Self::TransportError
                | Self::PingTimeout
                | Self::TransportBufferFull
                | Self::ForcedClose
                | Self::ForcedServerClose
                | Self::ServerShuttingDown
        )
    }

    /// The words socket.io uses for it (`"transport close"`, …), which code ported from
    /// Node.js compares against.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::TransportClose => "transport close",
            Self::TransportError => "transport error",
            Self::PingTimeout => "ping timeout",
            Self::ParseError => "parse error",
            Self::TransportBufferFull => "transport buffer full",
            Self::ForcedClose => "forced close",
            Self::ForcedServerClose => "forced server close",
            Self::ServerShuttingDown => "server shutting down",
            Self::ClientNamespaceDisconnect => "client namespace disconnect",
            Self::ServerNamespaceDisconnect => "server namespace disconnect",
        }
    }
}

impl From<CloseReason> for DisconnectReason {
    fn from(reason: CloseReason) -> Self {
        match reason {
            CloseReason::TransportClose => Self::TransportClose,
            CloseReason::TransportError => Self::TransportError,
            CloseReason::PingTimeout => Self::PingTimeout,
            CloseReason::ParseError => Self::ParseError,
            CloseReason::ForcedClose => Self::ForcedServerClose,
            CloseReason::ServerShutdown => Self::ServerShuttingDown,
            CloseReason::BufferFull => Self::TransportBufferFull,
        }
    }
}

impl fmt::Display for DisconnectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
