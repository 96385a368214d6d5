//! The Engine.IO v3 wire forms: polling payloads in both of their framings,
//! and the packet forms that differ from v4. Pure functions, bytes in,
//! packets out.
//!
//! Protocol v3 clients (engine.io-client 3.x, Socket.IO 2.x) frame polling
//! payloads by length instead of v4's record separator, so they get a codec
//! of their own rather than flags inside the v4 one:
//! - text framing: every packet as `<length>:<packet>`, back to back, where
//!   the length counts UTF-16 code units, because the reference
//!   implementation measures with JavaScript's `String.length`; a binary
//!   message inside it is `b4` and base64;
//! - binary framing, used for a whole payload as soon as one packet in it is
//!   binary and the client handles binary: per packet a kind byte (0 text,
//!   1 binary), the length's decimal digits as the bytes 0..=9, the byte
//!   255, then the packet; a text packet is UTF-8 and its length counts
//!   bytes, a binary packet starts with its packet type as a byte.
//!
//! Over WebSocket a v3 binary frame also starts with the packet type byte,
//! where v4 sends the data alone. Everything malformed is a [`DecodeError`];
//! no input panics, since all of it comes from the network.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use bytes::{BufMut, Bytes, BytesMut};

use super::packet::{decode_text, DecodeError, Message, Packet};

/// The packet type of a data message, as a byte and as a character.
const MESSAGE_TYPE: u8 = 4;
/// Ends the length digits of a packet in the binary framing.
const LENGTH_END: u8 = 255;
/// Most length digits accepted: lengths are bounded by `max_payload` long
/// before they need more, and the digits must not overflow a `usize`.
const MAX_DIGITS: usize = 10;

/// One packet about to be framed: the text form of a packet (`4hello`, `3`,
/// ...) or the data of a binary message.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Piece<'a> {
    Text(&'a str),
    Binary(&'a [u8]),
}

/// A framed polling payload, and whether it uses the binary framing (sent
/// as `application/octet-stream`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Framed {
    pub body: Bytes,
    pub binary: bool,
}

/// Whether a polling body written by [`frame_payload`] uses the binary
/// framing: a text-framed one starts with a length digit, a binary-framed one
/// with the kind byte 0 or 1.
pub(crate) fn is_binary_framing(body: &[u8]) -> bool {
    matches!(body.first(), Some(0 | 1))
}

/// Frames packets into one polling payload. `binary_ok` is false for a
/// client that asked for base64 (`b64=1`): its binary messages go as text.
pub(crate) fn frame_payload(pieces: &[Piece<'_>], binary_ok: bool) -> Framed {
    let any_binary = pieces.iter().any(|p| matches!(p, Piece::Binary(_)));
    if binary_ok && any_binary {
        let mut out = BytesMut::new();
        for piece in pieces {
            let (kind, len) = match piece {
                Piece::Text(t) => (0, t.len()),
                Piece::Binary(b) => (1, b.len() + 1),
            };
            out.put_u8(kind);
            out.extend(len.to_string().bytes().map(|d| d - b'0'));
            out.put_u8(LENGTH_END);
            match piece {
                Piece::Text(t) => out.put_slice(t.as_bytes()),
                Piece::Binary(b) => {
                    out.put_u8(MESSAGE_TYPE);
                    out.put_slice(b);
                }
            }
        }
        return Framed {
            body: out.freeze(),
            binary: true,
        };
    }
    let mut out = String::new();
    for piece in pieces {
        match piece {
            Piece::Text(t) => {
                out.push_str(&utf16_len(t).to_string());
                out.push(':');
                out.push_str(t);
            }
            Piece::Binary(b) => {
                let encoded = base64_message(b);
                out.push_str(&encoded.len().to_string());
                out.push(':');
                out.push_str(&encoded);
            }
        }
    }
    if pieces.is_empty() {
        // What the reference server writes for nothing at all.
        out.push_str("0:");
    }
    Framed {
        body: Bytes::from(out),
        binary: false,
    }
}

/// A binary message in its text form: `b4` and standard base64.
pub(crate) fn base64_message(data: &[u8]) -> String {
    format!("b4{}", STANDARD.encode(data))
}

/// The length JavaScript gives a string: UTF-16 code units.
fn utf16_len(s: &str) -> usize {
    s.chars().map(char::len_utf16).sum()
}

/// Decodes one packet in its v3 text form: a v4-style text packet, or `b`,
/// the packet type and base64 data.
pub(crate) fn decode_packet(s: &str) -> Result<Packet, DecodeError> {
    let Some(rest) = s.strip_prefix('b') else {
        return decode_text(s);
    };
    match rest.chars().next() {
        Some('4') => STANDARD
            .decode(&rest[1..])
            .map(|v| Packet::Message(Message::Binary(Bytes::from(v))))
            .map_err(|_| DecodeError::InvalidBase64),
        // Only a message carries binary data; anything else cannot be.
        Some(other) => Err(DecodeError::UnknownType(other)),
        None => Err(DecodeError::Empty),
    }
}

/// Decodes a v3 binary packet (a WebSocket binary frame, or a binary packet
/// of a binary-framed payload): the packet type as a byte, then the data.
pub(crate) fn decode_binary_packet(b: &[u8]) -> Result<Packet, DecodeError> {
    match b.split_first() {
        None => Err(DecodeError::Empty),
        Some((&MESSAGE_TYPE, data)) => Ok(Packet::Message(Message::Binary(
            Bytes::copy_from_slice(data),
        ))),
        // Control packets travel as text; a binary one has no meaning.
        Some((&other, _)) => Err(DecodeError::UnknownType(char::from(other))),
    }
}

/// Decodes a text-framed payload (`<length>:<packet>` repeated). `0:` alone
/// is an empty payload; an empty body is not.
pub(crate) fn decode_text_payload(s: &str) -> Result<Vec<Packet>, DecodeError> {
    if s.is_empty() {
        return Err(DecodeError::Empty);
    }
    let mut packets = Vec::new();
    let mut rest = s;
    while !rest.is_empty() {
        let (digits, after) = rest.split_once(':').ok_or(DecodeError::BadLength)?;
        let units = parse_length(digits.bytes().map(|c| c.wrapping_sub(b'0')))?;
        // Walk `units` UTF-16 code units forward; the end must fall between
        // characters.
        let mut counted = 0;
        let mut end = 0;
        for c in after.chars() {
            if counted >= units {
                break;
            }
            counted += c.len_utf16();
            end += c.len_utf8();
        }
        if counted != units {
            return Err(DecodeError::BadLength);
        }
        if end > 0 {
            packets.push(decode_packet(&after[..end])?);
        }
        rest = &after[end..];
    }
    Ok(packets)
}

/// Decodes a binary-framed payload.
pub(crate) fn decode_binary_payload(mut b: &[u8]) -> Result<Vec<Packet>, DecodeError> {
    if b.is_empty() {
        return Err(DecodeError::Empty);
    }
    let mut packets = Vec::new();
    while let Some((&kind, after)) = b.split_first() {
        if kind > 1 {
            return Err(DecodeError::BadLength);
        }
        let digits_end = after
            .iter()
            .position(|&d| d == LENGTH_END)
            .ok_or(DecodeError::BadLength)?;
        let len = parse_length(after[..digits_end].iter().copied())?;
        let data_start = digits_end + 1;
        let data = after
            .get(data_start..data_start + len)
            .ok_or(DecodeError::BadLength)?;
        packets.push(if kind == 0 {
            let s = std::str::from_utf8(data).map_err(|_| DecodeError::InvalidUtf8)?;
            decode_packet(s)?
        } else {
            decode_binary_packet(data)?
        });
        b = &after[data_start + len..];
    }
    Ok(packets)
}

/// A length from its decimal digits as values 0..=9; anything else, no digit
/// or too many is a framing error.
fn parse_length(mut digits: impl ExactSizeIterator<Item = u8>) -> Result<usize, DecodeError> {
    if digits.len() == 0 || digits.len() > MAX_DIGITS {
        return Err(DecodeError::BadLength);
    }
    digits.try_fold(0usize, |acc, d| {
        if d > 9 {
            return Err(DecodeError::BadLength);
        }
        acc.checked_mul(10)
            .and_then(|n| n.checked_add(usize::from(d)))
            .ok_or(DecodeError::BadLength)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::packet::encode_text;
    use proptest::prelude::*;

    fn text(s: &str) -> Packet {
        Packet::Message(Message::Text(s.to_owned()))
    }

    fn binary(b: &[u8]) -> Packet {
        Packet::Message(Message::Binary(Bytes::copy_from_slice(b)))
    }

    /// Frames packets as the server would.
    fn frame(packets: &[Packet], binary_ok: bool) -> Framed {
        let texts: Vec<String> = packets.iter().map(encode_text).collect();
        let pieces: Vec<Piece<'_>> = packets
            .iter()
            .zip(&texts)
            .map(|(p, t)| match p {
                Packet::Message(Message::Binary(b)) => Piece::Binary(b),
                _ => Piece::Text(t),
            })
            .collect();
        frame_payload(&pieces, binary_ok)
    }

    fn decode(framed: &Framed) -> Result<Vec<Packet>, DecodeError> {
        if framed.binary {
            decode_binary_payload(&framed.body)
        } else {
            decode_text_payload(std::str::from_utf8(&framed.body).unwrap())
        }
    }

    #[test]
    fn text_framing_counts_utf16_units() {
        let framed = frame(&[text("é😀"), Packet::Ping("probe".into())], true);
        // "4é😀" is 1 + 1 + 2 code units, though 7 bytes.
        assert_eq!(&framed.body[..], "4:4é😀6:2probe".as_bytes());
        assert!(!framed.binary && !is_binary_framing(&framed.body));
        assert_eq!(
            decode_text_payload("4:4é😀6:2probe"),
            Ok(vec![text("é😀"), Packet::Ping("probe".into())])
        );
    }

    #[test]
    fn binary_goes_as_base64_for_a_b64_client() {
        let framed = frame(&[text("a"), binary(&[1, 2, 3, 4])], false);
        assert_eq!(&framed.body[..], b"2:4a10:b4AQIDBA==");
        assert!(!framed.binary);
        assert_eq!(
            decode_text_payload("10:b4AQIDBA=="),
            Ok(vec![binary(&[1, 2, 3, 4])])
        );
    }

    #[test]
    fn binary_framing_when_the_client_takes_binary() {
        let framed = frame(&[text("é"), binary(&[9; 12])], true);
        let mut expected = vec![0, 3, 255];
        expected.extend_from_slice("4é".as_bytes());
        expected.extend_from_slice(&[1, 1, 3, 255, 4]);
        expected.extend_from_slice(&[9; 12]);
        assert_eq!(&framed.body[..], &expected[..]);
        assert!(framed.binary && is_binary_framing(&framed.body));
        assert_eq!(
            decode_binary_payload(&expected),
            Ok(vec![text("é"), binary(&[9; 12])])
        );
    }

    #[test]
    fn empty_payloads() {
        assert_eq!(&frame(&[], true).body[..], b"0:");
        assert_eq!(decode_text_payload("0:"), Ok(vec![]));
        assert_eq!(decode_text_payload(""), Err(DecodeError::Empty));
        assert_eq!(decode_binary_payload(&[]), Err(DecodeError::Empty));
    }

    #[test]
    fn rejects_malformed_text_payloads() {
        for bad in [
            "4",
            "x:4a",
            ":4a",
            "2:4",
            "3:4a",
            "2:4a1",
            "1:😀",
            "99999999999:4",
        ] {
            assert_eq!(
                decode_text_payload(bad),
                Err(DecodeError::BadLength),
                "{bad:?}"
            );
        }
        assert_eq!(
            decode_text_payload("1:9"),
            Err(DecodeError::UnknownType('9'))
        );
        assert_eq!(
            decode_text_payload("3:b4!"),
            Err(DecodeError::InvalidBase64)
        );
        assert_eq!(
            decode_text_payload("3:b2A"),
            Err(DecodeError::UnknownType('2'))
        );
        assert_eq!(decode_text_payload("1:b"), Err(DecodeError::Empty));
    }

    #[test]
    fn rejects_malformed_binary_payloads() {
        let cases: [(&[u8], DecodeError); 8] = [
            (&[2, 1, 255, 4], DecodeError::BadLength),
            (&[0, 1, 4], DecodeError::BadLength),
            (&[0, 255, 4], DecodeError::BadLength),
            (&[0, 12, 255, 4], DecodeError::BadLength),
            (&[0, 2, 255, b'4'], DecodeError::BadLength),
            (&[0, 2, 255, b'4', 0xff], DecodeError::InvalidUtf8),
            (&[1, 1, 255, 7], DecodeError::UnknownType('\u{7}')),
            (&[1, 0, 255], DecodeError::Empty),
        ];
        for (bad, error) in cases {
            assert_eq!(decode_binary_payload(bad), Err(error), "{bad:?}");
        }
    }

    #[test]
    fn binary_packets_carry_their_type() {
        assert_eq!(decode_binary_packet(&[4, 1, 2]), Ok(binary(&[1, 2])));
        assert_eq!(decode_binary_packet(&[4]), Ok(binary(&[])));
        assert_eq!(decode_binary_packet(&[]), Err(DecodeError::Empty));
        assert_eq!(
            decode_binary_packet(&[2]),
            Err(DecodeError::UnknownType('\u{2}'))
        );
    }

    fn any_packet() -> impl Strategy<Value = Packet> {
        // The length framing reserves no character: any text goes.
        prop_oneof![
            ".*".prop_map(Packet::Ping),
            ".*".prop_map(Packet::Pong),
            ".*".prop_map(|s| Packet::Message(Message::Text(s))),
            proptest::collection::vec(any::<u8>(), 0..64)
                .prop_map(|v| Packet::Message(Message::Binary(Bytes::from(v)))),
            Just(Packet::Close),
            Just(Packet::Upgrade),
            Just(Packet::Noop),
        ]
    }

    proptest! {
        #[test]
        fn round_trip_in_both_framings(
            packets in proptest::collection::vec(any_packet(), 0..8),
            binary_ok in any::<bool>(),
        ) {
            let framed = frame(&packets, binary_ok);
            prop_assert_eq!(decode(&framed), Ok(packets));
        }

        #[test]
        fn arbitrary_input_never_panics(body in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = decode_binary_payload(&body);
            let _ = decode_binary_packet(&body);
            if let Ok(s) = std::str::from_utf8(&body) {
                let _ = decode_text_payload(s);
                let _ = decode_packet(s);
            }
        }

        #[test]
        fn arbitrary_strings_never_panic(s in ".*") {
            let _ = decode_text_payload(&s);
        }
    }
}
