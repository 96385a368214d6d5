//! Outgoing data messages, encoded once for both transports.
//!
//! Incoming messages are plain owned values ([`Message`](super::packet::Message),
//! decoded with the rest of the packet codec). Outgoing messages are encoded
//! once, from the packet and frame codecs, and shared behind an `Arc`, because a
//! broadcast hands the same message to thousands of sessions: cloning must be
//! a refcount bump, and the wire form must not be rebuilt per recipient. A
//! message carries its whole WebSocket frame, header included, so a socket is
//! written the shared bytes themselves; the polling form of a text message is
//! the same buffer without the header.
//!
//! A message also remembers when it was made, so that a session can tell how
//! long its oldest unsent message has waited (`EngineConfig::max_lag`) with
//! no clock read and no timestamp per queued copy.

use std::fmt;
use std::sync::{Arc, OnceLock};

use bytes::{BufMut, Bytes, BytesMut};
use tokio::time::Instant;

use super::packet::encode_base64;
use super::payload_v3::{base64_message, Piece};
use super::ws_frame::{frame, write_header, Opcode, MAX_HEADER};

/// An outgoing data message, encoded once and shared: clone is a refcount
/// bump.
#[derive(Clone)]
pub struct OutMessage(Arc<Inner>);

struct Inner {
    /// The WebSocket frame's header, followed for text by the payload ("4"
    /// and the text) in the same buffer.
    head: Bytes,
    /// Where the payload starts in `head` (the header's length).
    payload_at: usize,
    /// A binary payload, kept apart from its header so that large data is
    /// never copied: it is written as a second piece of the same frame.
    body: Option<Bytes>,
    /// Binary polling form ("b" + base64), built on first polling use only:
    /// most sessions are WebSocket and never need it.
    polling: OnceLock<Bytes>,
    kind: Kind,
    /// When it was made, in milliseconds of `clock_ms`: a plain number, so
    /// that the check made for every message queued behind another costs a
    /// subtraction.
    created_ms: u64,
}

/// What a message is to the session queueing it: the session's own packets
/// travel in the same queue as data, but do not count against its bounds.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Kind {
    Data,
    /// A ping, a pong, "3probe", the open packet.
    Control,
    /// The close packet that ends a graceful close.
    Close,
}

/// Milliseconds on a monotonic clock (tokio's, so that tests with a paused
/// clock see it too), counted from the first call in the process.
pub(crate) fn clock_ms() -> u64 {
    static EPOCH: OnceLock<std::time::Instant> = OnceLock::new();
    let epoch = *EPOCH.get_or_init(std::time::Instant::now);
    Instant::now()
        .into_std()
        .saturating_duration_since(epoch)
        .as_millis() as u64
}

/// Room left in front of a text payload for the frame header, which is known
/// only once the payload's length is.
const HEADER_ROOM: [u8; MAX_HEADER] = [0; MAX_HEADER];

impl OutMessage {
    /// A text message; `s` is the payload WITHOUT the engine "4" prefix.
    pub fn text(s: impl Into<String>) -> Self {
        let s = s.into();
        Self::text_with(s.len(), |out| out.extend_from_slice(s.as_bytes()))
    }

    /// A text message whose payload `write` appends in place, after the
    /// engine's "4": the layer above encodes straight into the frame, with no
    /// second buffer and no copy. What `write` appends must be UTF-8 (it goes
    /// out as a WebSocket text frame); bytes rather than a `String` so that
    /// serializers write into it directly. `capacity` is a hint for the
    /// payload's size.
    pub fn text_with(capacity: usize, write: impl FnOnce(&mut Vec<u8>)) -> Self {
        let mut framed = Vec::with_capacity(MAX_HEADER + 1 + capacity);
        framed.extend_from_slice(&HEADER_ROOM);
        framed.push(b'4');
        write(&mut framed);
        debug_assert!(
            std::str::from_utf8(&framed[MAX_HEADER..]).is_ok(),
            "a text message must be UTF-8"
        );
        Self::from_room_and_text(framed, Kind::Data)
    }

    /// One of the engine's own text packets, framed as given (a ping, a pong,
    /// "3probe").
    pub(crate) fn control(packet: &str) -> Self {
        Self::engine_packet(packet, Kind::Control)
    }

    /// The close packet ("1").
    pub(crate) fn close_packet() -> Self {
        Self::engine_packet("1", Kind::Close)
    }

    fn engine_packet(packet: &str, kind: Kind) -> Self {
        let mut framed = Vec::with_capacity(MAX_HEADER + packet.len());
        framed.extend_from_slice(&HEADER_ROOM);
        framed.extend_from_slice(packet.as_bytes());
        Self::from_room_and_text(framed, kind)
    }

    /// `bytes` is `HEADER_ROOM` then the payload; the header goes into the
    /// end of the room and the rest of the room is sliced off.
    fn from_room_and_text(mut bytes: Vec<u8>, kind: Kind) -> Self {
        let mut header = [0u8; MAX_HEADER];
        let used = write_header(&mut header, Opcode::Text, bytes.len() - MAX_HEADER);
        bytes[..MAX_HEADER].copy_from_slice(&header);
        OutMessage(Arc::new(Inner {
            head: Bytes::from(bytes).slice(MAX_HEADER - used..),
            payload_at: used,
            body: None,
            polling: OnceLock::new(),
            kind,
            created_ms: clock_ms(),
        }))
    }

    /// A binary message.
    pub fn binary(b: impl Into<Bytes>) -> Self {
        let body: Bytes = b.into();
        let mut header = [0u8; MAX_HEADER];
        let used = write_header(&mut header, Opcode::Binary, body.len());
        OutMessage(Arc::new(Inner {
            head: Bytes::copy_from_slice(&header[MAX_HEADER - used..]),
            payload_at: used,
            body: Some(body),
            polling: OnceLock::new(),
            kind: Kind::Data,
            created_ms: clock_ms(),
        }))
    }

    /// The same message as if made now, its bytes shared: for one sent again long after
    /// it was made (a replay to a client that reconnected), whose wait in a queue must
    /// count from now, not from when it was first sent (`EngineConfig::max_lag`).
    pub fn resent(&self) -> Self {
        let polling = OnceLock::new();
        if let Some(encoded) = self.0.polling.get() {
            let _ = polling.set(encoded.clone());
        }
        OutMessage(Arc::new(Inner {
            head: self.0.head.clone(),
            payload_at: self.0.payload_at,
            body: self.0.body.clone(),
            polling,
            kind: self.0.kind,
            created_ms: clock_ms(),
        }))
    }

    /// The payload: "4" + text, or the raw binary data.
    fn payload(&self) -> &[u8] {
        match &self.0.body {
            Some(body) => body,
            None => &self.0.head[self.0.payload_at..],
        }
    }

    /// Size on the wire (WebSocket payload), in bytes.
    pub fn len(&self) -> usize {
        self.payload().len()
    }

    /// Whether the WebSocket payload is empty: only ever for an empty binary
    /// message, as a text payload always holds its "4".
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether this is a binary message: a binary frame over WebSocket, "b"
    /// and base64 over polling.
    pub fn is_binary(&self) -> bool {
        self.0.body.is_some()
    }

    /// The text payload (without the "4" prefix), if this is a text message.
    pub fn as_text(&self) -> Option<&str> {
        if self.is_binary() {
            return None;
        }
        // Built from a `String` after an ASCII '4': always valid from byte 1.
        std::str::from_utf8(self.payload().get(1..)?).ok()
    }

    /// The binary payload, if this is a binary message.
    pub fn as_binary(&self) -> Option<&Bytes> {
        self.0.body.as_ref()
    }

    pub(crate) fn kind(&self) -> Kind {
        self.0.kind
    }

    /// When the message was made (for a session, when it was sent), in
    /// milliseconds of `clock_ms`.
    pub(crate) fn created_ms(&self) -> u64 {
        self.0.created_ms
    }

    /// The complete WebSocket frame, in one or two shared pieces (a binary
    /// payload follows its header as the second).
    pub(crate) fn ws_frame(&self) -> (Bytes, Option<Bytes>) {
        (self.0.head.clone(), self.0.body.clone())
    }

    /// The polling payload element: "4"+text, or "b"+base64 for binary.
    pub(crate) fn polling_bytes(&self) -> Bytes {
        match &self.0.body {
            None => self.0.head.slice(self.0.payload_at..),
            Some(body) => self
                .0
                .polling
                .get_or_init(|| {
                    let encoded = encode_base64(body);
                    let mut out = BytesMut::with_capacity(encoded.len() + 1);
                    out.put_u8(b'b');
                    out.put_slice(encoded.as_bytes());
                    out.freeze()
                })
                .clone(),
        }
    }
}

/// The forms protocol v3 gives a message where they differ from v4's; built
/// per send rather than kept, as few clients speak it.
impl OutMessage {
    /// The message as one packet of a v3 polling payload.
    pub(crate) fn v3_piece(&self) -> Piece<'_> {
        match &self.0.body {
            Some(body) => Piece::Binary(body),
            // Built from a `String` or from the engine's own ASCII packets.
            None => {
                Piece::Text(std::str::from_utf8(self.payload()).expect("a text packet is UTF-8"))
            }
        }
    }

    /// The v3 WebSocket frame: a binary message starts with its packet type
    /// (`binary`), or goes as base64 text to a client that asked for it; text
    /// is framed as in v4.
    pub(crate) fn v3_ws_frame(&self, binary: bool) -> (Bytes, Option<Bytes>) {
        match &self.0.body {
            None => self.ws_frame(),
            Some(body) if binary => {
                let mut header = [0u8; MAX_HEADER];
                let used = write_header(&mut header, Opcode::Binary, body.len() + 1);
                let mut head = BytesMut::with_capacity(used + 1);
                head.put_slice(&header[MAX_HEADER - used..]);
                head.put_u8(4);
                (head.freeze(), Some(body.clone()))
            }
            Some(body) => (frame(Opcode::Text, base64_message(body).as_bytes()), None),
        }
    }
}

impl fmt::Debug for OutMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0.body {
            None => f
                .debug_tuple("OutMessage::Text")
                .field(&self.as_text().unwrap_or_default())
                .finish(),
            Some(b) => f.debug_tuple("OutMessage::Binary").field(b).finish(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The frame as one byte string.
    fn frame(m: &OutMessage) -> Vec<u8> {
        let (head, body) = m.ws_frame();
        let mut all = head.to_vec();
        all.extend_from_slice(body.as_deref().unwrap_or_default());
        all
    }

    #[test]
    fn a_resent_message_shares_its_bytes_and_counts_its_age_from_now() {
        let text = OutMessage::text("hello");
        let binary = OutMessage::binary(Bytes::from_static(b"\x01\x02"));
        std::thread::sleep(std::time::Duration::from_millis(30));
        for message in [text, binary] {
            let again = message.resent();
            assert_eq!(frame(&again), frame(&message));
            assert_eq!(again.as_text(), message.as_text());
            assert!(again.created_ms() - message.created_ms() >= 30);
            assert_eq!(again.0.head.as_ptr(), message.0.head.as_ptr(), "no copy");
        }
    }

    #[test]
    fn text_forms_share_one_buffer() {
        let m = OutMessage::text("héllo");
        assert_eq!(m.as_text(), Some("héllo"));
        assert_eq!(&m.polling_bytes()[..], "4héllo".as_bytes());
        let mut expected = vec![0x81, 7];
        expected.extend_from_slice("4héllo".as_bytes());
        assert_eq!(frame(&m), expected);
        assert_eq!(m.len(), 7);
        assert!(!m.is_binary());
    }

    #[test]
    fn a_long_text_gets_the_longer_header() {
        let text = "x".repeat(70_000);
        let m = OutMessage::text(text.clone());
        let bytes = frame(&m);
        assert_eq!(&bytes[..10], &[0x81, 127, 0, 0, 0, 0, 0, 1, 0x11, 0x71]);
        assert_eq!(&bytes[10..11], b"4");
        assert_eq!(&bytes[11..], text.as_bytes());
        assert_eq!(m.as_text(), Some(text.as_str()));
    }

    #[test]
    fn control_packets_are_framed_as_given() {
        let m = OutMessage::control("3probe");
        assert_eq!(frame(&m), b"\x81\x063probe");
        assert_eq!(&m.polling_bytes()[..], b"3probe");
    }

    #[test]
    fn v3_forms() {
        let text = OutMessage::text("hé");
        assert!(matches!(text.v3_piece(), Piece::Text("4hé")));
        assert_eq!(text.v3_ws_frame(true), text.ws_frame());
        let m = OutMessage::binary(vec![1u8, 2, 3, 4]);
        assert!(matches!(m.v3_piece(), Piece::Binary([1, 2, 3, 4])));
        let (head, body) = m.v3_ws_frame(true);
        assert_eq!(
            (&head[..], body.as_deref()),
            (&[0x82, 5, 4][..], Some(&[1u8, 2, 3, 4][..]))
        );
        let (head, body) = m.v3_ws_frame(false);
        assert_eq!((&head[..], body), (&b"\x81\x0ab4AQIDBA=="[..], None));
    }

    #[test]
    fn binary_forms() {
        let m = OutMessage::binary(vec![1u8, 2, 3, 4]);
        assert_eq!(&m.polling_bytes()[..], b"bAQIDBA==");
        // Second call returns the cached buffer.
        assert_eq!(&m.polling_bytes()[..], b"bAQIDBA==");
        assert_eq!(frame(&m), [0x82, 4, 1, 2, 3, 4]);
        assert_eq!(m.as_binary().map(|b| &b[..]), Some(&[1u8, 2, 3, 4][..]));
        assert!(m.as_text().is_none());
    }
}
