//! [`WireError`]: why a message from Redis could not be read, one variant per way it can
//! be wrong, so callers can count and log it without parsing a text.

use rally::msgpack::DecodeError;
use serde_json::Value;
use std::fmt;

/// Why a message from Redis could not be read.
#[derive(Debug)]
pub enum WireError {
    /// A JSON message (it starts with `{`) that is not valid JSON.
    Json(serde_json::Error),
    /// A MessagePack message that does not decode.
    MessagePack(DecodeError),
    /// A broadcast message that is not an array.
    NotAnArray,
    /// A broadcast message with fewer than its 3 parts `[uid, packet, opts]`.
    TooFewParts(usize),
    /// A packet that is not an object.
    PacketNotAnObject,
    /// A packet whose type is not EVENT or BINARY_EVENT (the only ones broadcast).
    NotAnEvent(Option<u64>),
    /// A packet whose `nsp` is not a string.
    NamespaceNotAString(Value),
    /// A request without a numeric `type`.
    NoType,
    /// A request without a field it cannot do without.
    Missing(&'static str),
    /// A server-side emit whose event name is neither a string nor a number.
    EventNotAString,
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Json(e) => write!(f, "invalid JSON: {e}"),
            Self::MessagePack(e) => e.fmt(f),
            Self::NotAnArray => f.write_str("a broadcast message is not an array"),
            Self::TooFewParts(n) => write!(f, "a broadcast message has {n} parts, not 3"),
            Self::PacketNotAnObject => f.write_str("the packet is not an object"),
            Self::NotAnEvent(ty) => write!(f, "packet type {ty:?} cannot be broadcast"),
            Self::NamespaceNotAString(nsp) => write!(f, "packet namespace {nsp} is not a string"),
            Self::NoType => f.write_str("a request without a type"),
            Self::Missing(what) => f.write_str(what),
            Self::EventNotAString => f.write_str("a server-side emit's event is not a string"),
        }
    }
}

impl std::error::Error for WireError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Json(e) => Some(e),
            Self::MessagePack(e) => Some(e),
            _ => None,
        }
    }
}

impl From<DecodeError> for WireError {
    fn from(e: DecodeError) -> Self {
        WireError::MessagePack(e)
    }
}
