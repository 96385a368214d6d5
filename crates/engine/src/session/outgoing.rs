//! One entry of a session's outgoing queue, and its form on each transport.
//!
//! The queue is shared by both transports (a session can change transport
//! with messages still queued), so an entry is transport-neutral and knows
//! how to put itself on either wire: as a complete WebSocket frame, or as one
//! element of a polling payload.

use bytes::{BufMut, Bytes, BytesMut};

use crate::codec::message::OutMessage;

/// One queued packet. Data messages are shared `OutMessage`s and the rare
/// pong is framed as one too, so an entry is two words: a stalled client's
/// backlog costs 16 bytes a message.
pub(crate) enum Outgoing {
    Message(OutMessage),
    Ping,
    /// The answer to a client's ping, framed ("3" + its data).
    Pong(OutMessage),
    /// End of a graceful close: everything before it is flushed first.
    Close,
}

impl Outgoing {
    /// Bytes this entry counts against `max_queued_bytes`.
    pub(super) fn queued_bytes(&self) -> usize {
        match self {
            Outgoing::Message(m) => m.len(),
            _ => 0,
        }
    }

    /// The entry's complete WebSocket frame, in one or two shared pieces.
    pub(crate) fn ws_frame(&self) -> (Bytes, Option<Bytes>) {
        match self {
            Outgoing::Message(m) | Outgoing::Pong(m) => m.ws_frame(),
            // Final text frames of one byte: "2" (ping) and "1" (close).
            Outgoing::Ping => (Bytes::from_static(b"\x81\x012"), None),
            Outgoing::Close => (Bytes::from_static(b"\x81\x011"), None),
        }
    }

    pub(super) fn put_polling(&self, out: &mut BytesMut) {
        match self {
            Outgoing::Message(m) => out.put_slice(&m.polling_bytes()),
            Outgoing::Ping => out.put_u8(b'2'),
            Outgoing::Pong(m) => out.put_slice(&m.polling_bytes()),
            Outgoing::Close => out.put_u8(b'1'),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Outgoing;

    #[test]
    fn a_queued_entry_is_two_words() {
        // What a stalled client's backlog costs per message.
        assert_eq!(
            std::mem::size_of::<Outgoing>(),
            2 * std::mem::size_of::<usize>()
        );
    }
}
