//! One entry of a session's outgoing queue, and its form on each transport.
//!
//! The queue is shared by both transports (a session can change transport
//! with messages still queued), so an entry is transport-neutral and knows
//! how to put itself on either wire: as a complete WebSocket frame, or as one
//! element of a polling payload.
//!
//! An entry is one pointer. The engine's own packets (ping, pong, close) are
//! messages too, marked by their kind, so that a stalled client's backlog
//! costs 8 bytes a message: with a thousand stalled clients on a busy
//! broadcast, the pointers are what fills memory, not the shared bytes.

use bytes::{BufMut, Bytes, BytesMut};

use super::wire::Wire;
use crate::codec::message::{Kind, OutMessage};
use crate::codec::payload_v3::Piece;

pub(crate) struct Outgoing(OutMessage);

impl Outgoing {
    pub(super) fn message(message: OutMessage) -> Outgoing {
        Outgoing(message)
    }

    pub(super) fn ping() -> Outgoing {
        Outgoing(OutMessage::control("2"))
    }

    /// The answer to a client's ping: "3" and its data.
    pub(super) fn pong(data: &str) -> Outgoing {
        Outgoing(OutMessage::control(&format!("3{data}")))
    }

    /// End of a graceful close: everything before it is flushed first.
    pub(super) fn close() -> Outgoing {
        Outgoing(OutMessage::close_packet())
    }

    pub(super) fn is_close(&self) -> bool {
        self.0.kind() == Kind::Close
    }

    /// Bytes this entry counts against `max_queued_bytes`: data only.
    pub(super) fn queued_bytes(&self) -> usize {
        match self.0.kind() {
            Kind::Data => self.0.len(),
            _ => 0,
        }
    }

    /// When it was queued, or a little before: when it was made (`clock_ms`).
    pub(super) fn created_ms(&self) -> u64 {
        self.0.created_ms()
    }

    /// The entry's complete WebSocket frame for a client on `wire`, in one or
    /// two pieces (shared ones, unless v3 needs its own form).
    pub(crate) fn ws_frame_for(&self, wire: Wire) -> (Bytes, Option<Bytes>) {
        if wire.is_v3() {
            self.0.v3_ws_frame(wire.binary)
        } else {
            self.0.ws_frame()
        }
    }

    /// The entry as one packet of a v3 polling payload.
    pub(super) fn v3_piece(&self) -> Piece<'_> {
        self.0.v3_piece()
    }

    pub(super) fn put_polling(&self, out: &mut BytesMut) {
        out.put_slice(&self.0.polling_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::Outgoing;
    use crate::protocol::EngineProtocol;
    use crate::session::Wire;

    const V4: Wire = Wire {
        protocol: EngineProtocol::V4,
        binary: true,
    };

    #[test]
    fn a_queued_entry_is_one_pointer() {
        // What a stalled client's backlog costs per message.
        assert_eq!(
            std::mem::size_of::<Outgoing>(),
            std::mem::size_of::<usize>()
        );
    }

    #[test]
    fn the_engine_packets_keep_their_wire_form() {
        let mut polling = bytes::BytesMut::new();
        for (entry, frame) in [
            (Outgoing::ping(), &b"\x81\x012"[..]),
            (Outgoing::close(), b"\x81\x011"),
            (Outgoing::pong("probe"), b"\x81\x063probe"),
        ] {
            assert_eq!(&entry.ws_frame_for(V4).0[..], frame);
            assert_eq!(entry.queued_bytes(), 0);
            entry.put_polling(&mut polling);
        }
        assert_eq!(&polling[..], b"213probe");
        assert!(Outgoing::close().is_close() && !Outgoing::ping().is_close());
    }
}
