//! The Engine.IO v4 packet codec: pure functions, bytes in, packets out.
//!
//! Nothing here touches I/O or session state, so the codec can be tested
//! exhaustively on its own. Every malformed input is reported as a
//! [`DecodeError`] value; no input can make these functions panic, because
//! they feed on untrusted network data.
//!
//! Wire forms (protocol v4):
//! - a text packet is one type digit (`0` open .. `6` noop) followed by its
//!   data;
//! - over WebSocket, a binary frame is a data message carrying raw bytes, with
//!   no type prefix;
//! - over polling, packets are joined with the record separator `\x1e`, and a
//!   binary data message is written as `b` followed by standard base64.

use std::fmt;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use bytes::{BufMut, Bytes, BytesMut};

/// Separator between packets in a polling payload.
pub const SEPARATOR: u8 = 0x1e;

/// An incoming data message (engine packet type 4): text, or binary data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// Text, without the packet's "4" prefix.
    Text(String),
    /// Binary data: a WebSocket binary frame, or a polling element's base64,
    /// decoded.
    Binary(Bytes),
}

/// One Engine.IO packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Packet {
    /// `0` + JSON handshake data. Only the server sends it.
    Open(String),
    /// `1`: the sender ends the session.
    Close,
    /// `2` + optional data ("probe" during an upgrade).
    Ping(String),
    /// `3` + the data of the ping it answers.
    Pong(String),
    /// `4` + text, or a binary message.
    Message(Message),
    /// `5`: the client switches to the probed transport.
    Upgrade,
    /// `6`: nothing; used to end a pending poll.
    Noop,
}

/// Why some input could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// An empty packet (empty frame, empty body, or an empty element between
    /// separators).
    Empty,
    /// The first character is not a packet type digit `0`..`6`.
    UnknownType(char),
    /// A `b`-prefixed polling element whose base64 does not decode.
    InvalidBase64,
    /// A polling body that is not valid UTF-8.
    InvalidUtf8,
    /// A protocol v3 payload whose length framing is broken: a missing or
    /// non-decimal length, or a length running past the end of the body.
    BadLength,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Empty => f.write_str("empty packet"),
            DecodeError::UnknownType(c) => write!(f, "unknown packet type {c:?}"),
            DecodeError::InvalidBase64 => f.write_str("invalid base64 in binary packet"),
            DecodeError::InvalidUtf8 => f.write_str("payload is not valid UTF-8"),
            DecodeError::BadLength => f.write_str("bad length framing in payload"),
        }
    }
}

impl std::error::Error for DecodeError {}

/// Decodes one text packet (a WebSocket text frame, or one polling element
/// that is not base64 binary).
pub fn decode_text(s: &str) -> Result<Packet, DecodeError> {
    let first = s.chars().next().ok_or(DecodeError::Empty)?;
    let data = &s[first.len_utf8()..];
    Ok(match first {
        '0' => Packet::Open(data.to_owned()),
        // Trailing data on close/upgrade/noop is ignored, as the reference
        // server does: it carries no meaning and rejecting it buys nothing.
        '1' => Packet::Close,
        '2' => Packet::Ping(data.to_owned()),
        '3' => Packet::Pong(data.to_owned()),
        '4' => Packet::Message(Message::Text(data.to_owned())),
        '5' => Packet::Upgrade,
        '6' => Packet::Noop,
        other => return Err(DecodeError::UnknownType(other)),
    })
}

/// Decodes a WebSocket binary frame: always a data message, no prefix.
pub fn decode_binary(b: Bytes) -> Packet {
    Packet::Message(Message::Binary(b))
}

/// Decodes one element of a polling payload.
pub fn decode_payload_element(s: &str) -> Result<Packet, DecodeError> {
    match s.strip_prefix('b') {
        Some(b64) => STANDARD
            .decode(b64)
            .map(|v| Packet::Message(Message::Binary(Bytes::from(v))))
            .map_err(|_| DecodeError::InvalidBase64),
        None => decode_text(s),
    }
}

/// Decodes a whole polling POST body into its packets, in order. Any bad
/// element fails the whole payload: the protocol has no way to report a
/// partial success, and the session is closed anyway.
pub fn decode_payload(body: &[u8]) -> Result<Vec<Packet>, DecodeError> {
    let s = std::str::from_utf8(body).map_err(|_| DecodeError::InvalidUtf8)?;
    if s.is_empty() {
        return Err(DecodeError::Empty);
    }
    s.split(SEPARATOR as char)
        .map(decode_payload_element)
        .collect()
}

/// Encodes a packet in its text form, as used over polling (binary messages
/// become "b" + base64) and, for non-binary packets, over WebSocket.
pub fn encode_text(p: &Packet) -> String {
    match p {
        Packet::Open(d) => format!("0{d}"),
        Packet::Close => "1".to_owned(),
        Packet::Ping(d) => format!("2{d}"),
        Packet::Pong(d) => format!("3{d}"),
        Packet::Message(Message::Text(t)) => format!("4{t}"),
        Packet::Message(Message::Binary(b)) => format!("b{}", encode_base64(b)),
        Packet::Upgrade => "5".to_owned(),
        Packet::Noop => "6".to_owned(),
    }
}

/// Joins already-encoded elements into one polling payload.
pub fn encode_payload<I, B>(elements: I) -> Bytes
where
    I: IntoIterator<Item = B>,
    B: AsRef<[u8]>,
{
    let mut out = BytesMut::new();
    for (i, e) in elements.into_iter().enumerate() {
        if i > 0 {
            out.put_u8(SEPARATOR);
        }
        out.put_slice(e.as_ref());
    }
    out.freeze()
}

/// Standard base64 with padding, as engine.io-parser writes it.
pub fn encode_base64(b: &[u8]) -> String {
    STANDARD.encode(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn text(s: &str) -> Packet {
        Packet::Message(Message::Text(s.to_owned()))
    }

    #[test]
    fn decodes_each_type() {
        assert_eq!(decode_text("0{}"), Ok(Packet::Open("{}".into())));
        assert_eq!(decode_text("1"), Ok(Packet::Close));
        assert_eq!(decode_text("2"), Ok(Packet::Ping(String::new())));
        assert_eq!(decode_text("2probe"), Ok(Packet::Ping("probe".into())));
        assert_eq!(decode_text("3probe"), Ok(Packet::Pong("probe".into())));
        assert_eq!(decode_text("4hello"), Ok(text("hello")));
        assert_eq!(decode_text("4"), Ok(text("")));
        assert_eq!(decode_text("5"), Ok(Packet::Upgrade));
        assert_eq!(decode_text("6"), Ok(Packet::Noop));
    }

    #[test]
    fn rejects_malformed_text() {
        assert_eq!(decode_text(""), Err(DecodeError::Empty));
        assert_eq!(decode_text("abc"), Err(DecodeError::UnknownType('a')));
        assert_eq!(decode_text("7"), Err(DecodeError::UnknownType('7')));
        assert_eq!(decode_text("é4"), Err(DecodeError::UnknownType('é')));
    }

    #[test]
    fn decodes_payloads() {
        assert_eq!(
            decode_payload(b"4hello\x1ebAQIDBA==\x1e2"),
            Ok(vec![
                text("hello"),
                Packet::Message(Message::Binary(Bytes::from_static(&[1, 2, 3, 4]))),
                Packet::Ping(String::new()),
            ])
        );
        assert_eq!(decode_payload(b"b"), Ok(vec![decode_binary(Bytes::new())]));
    }

    #[test]
    fn rejects_malformed_payloads() {
        assert_eq!(decode_payload(b""), Err(DecodeError::Empty));
        assert_eq!(decode_payload(b"abc"), Err(DecodeError::UnknownType('a')));
        assert_eq!(decode_payload(b"4a\x1e"), Err(DecodeError::Empty));
        assert_eq!(decode_payload(b"\x1e4a"), Err(DecodeError::Empty));
        assert_eq!(decode_payload(b"4a\x1e\x1e4b"), Err(DecodeError::Empty));
        assert_eq!(decode_payload(b"b!!!"), Err(DecodeError::InvalidBase64));
        assert_eq!(decode_payload(b"bAQI"), Err(DecodeError::InvalidBase64));
        assert_eq!(decode_payload(b"4\xff\xfe"), Err(DecodeError::InvalidUtf8));
        assert_eq!(decode_payload(b"9"), Err(DecodeError::UnknownType('9')));
    }

    #[test]
    fn encodes_payloads() {
        let parts = [encode_text(&text("a")), encode_text(&Packet::Noop)];
        assert_eq!(&encode_payload(&parts)[..], b"4a\x1e6");
        assert_eq!(&encode_payload(Vec::<String>::new())[..], b"");
    }

    fn any_packet() -> impl Strategy<Value = Packet> {
        // Text data may contain anything but the separator, which the polling
        // framing reserves (engine.io-parser has the same restriction).
        let data = "[^\u{1e}]*";
        prop_oneof![
            data.prop_map(Packet::Open),
            Just(Packet::Close),
            data.prop_map(Packet::Ping),
            data.prop_map(Packet::Pong),
            data.prop_map(|s| Packet::Message(Message::Text(s))),
            proptest::collection::vec(any::<u8>(), 0..64)
                .prop_map(|v| Packet::Message(Message::Binary(Bytes::from(v)))),
            Just(Packet::Upgrade),
            Just(Packet::Noop),
        ]
    }

    proptest! {
        #[test]
        fn payload_round_trip(packets in proptest::collection::vec(any_packet(), 1..8)) {
            let parts: Vec<String> = packets.iter().map(encode_text).collect();
            let body = encode_payload(&parts);
            prop_assert_eq!(decode_payload(&body), Ok(packets));
        }

        #[test]
        fn text_round_trip(p in any_packet()) {
            if let Packet::Message(Message::Binary(_)) = p {
                // Binary never travels as a text packet over WebSocket.
                return Ok(());
            }
            prop_assert_eq!(decode_text(&encode_text(&p)), Ok(p));
        }

        #[test]
        fn arbitrary_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = decode_payload(&body);
            if let Ok(s) = std::str::from_utf8(&body) {
                let _ = decode_text(s);
                let _ = decode_payload_element(s);
            }
        }

        #[test]
        fn arbitrary_strings_never_panic(s in ".*") {
            let _ = decode_text(&s);
            let _ = decode_payload(s.as_bytes());
        }
    }
}
