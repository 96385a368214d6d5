//! The msgpack packet codec: the wire format of the npm `socket.io-msgpack-parser`,
//! whose packets are serialized by `notepack.io`.
//!
//! There a packet is one binary message holding one msgpack map (`type`, `nsp`,
//! optional `data` and `id`), and binary values sit natively inside `data`: no
//! attachments, no BINARY_EVENT/BINARY_ACK types. The rest of Rally works with the
//! text format's model (placeholders in `data`, bytes in [`Packet::attachments`]), so
//! this module converts at the edge and nothing else needs to know which parser a
//! connection uses: a decoded msgpack bin becomes a placeholder numbered in document
//! order, and an encoded placeholder becomes a msgpack bin again.
//!
//! This file is the packet map and its rules; the values inside it are converted by
//! [`crate::msgpack`], with its client rules: what JavaScript gives notepack's values a
//! meaning for (`undefined`, `Date`, `ArrayBuffer`, non-finite numbers, numeric object
//! keys) decodes to what the default text parser would have delivered for the same
//! `emit`, that is what `JSON.stringify` makes of it.
//!
//! Pure like the text codec: bytes in, packets out, no I/O. Untrusted input never
//! panics: the whole message's framing is walked (iteratively) before anything is
//! allocated, so a declared length is never trusted, and building values recurses at
//! most [`MAX_DEPTH`](crate::msgpack::MAX_DEPTH) levels.

use serde_json::Value;

use super::{
    check_payload, check_placeholders, namespace_name, Packet, PacketKind, ParseError,
    MAIN_NAMESPACE,
};
use crate::msgpack::read::{Reader, Token};
use crate::msgpack::{self, DecodeError, Decoder, Numbers, Rules};

/// Encodes `packet` as one msgpack message, with the keys in the order `type`,
/// `data`, `nsp`, `id` (`data` and `id` only when present).
///
/// Binary kinds are written as EVENT/ACK, since the format has no others, and every
/// placeholder in `data` that names an existing attachment is replaced by that
/// attachment's bytes. Never fails: a placeholder out of range stays an ordinary map,
/// an empty namespace is written as `"/"` (as the text encoder does), and a string,
/// array, map or binary too long for msgpack's 32-bit lengths (only possible beyond
/// 4 GiB) is written as nil.
pub fn encode_msgpack(packet: &Packet) -> Vec<u8> {
    encode_with(packet, None)
}

/// [`encode_msgpack`], with the string `arg` appended to `data` when `data` is an
/// array: how connection state recovery hands the client each event's offset as its
/// last argument, without cloning the packet's data per recipient. When `data` is
/// anything else, `arg` is not written.
pub fn encode_msgpack_with_arg(packet: &Packet, arg: &str) -> Vec<u8> {
    encode_with(packet, Some(arg))
}

fn encode_with(packet: &Packet, extra: Option<&str>) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    // Floats stay float64 even when integral, so a packet decodes as it was built.
    let value = |out: &mut Vec<u8>, value: &Value| {
        msgpack::write_value_with(out, value, &packet.attachments, Numbers::KeepFloats);
    };
    let fields = 2 + usize::from(packet.data.is_some()) + usize::from(packet.id.is_some());
    msgpack::write_map_len(&mut out, fields);
    msgpack::write_str(&mut out, "type");
    msgpack::write_uint(&mut out, wire_type(packet.kind));
    if let Some(data) = &packet.data {
        msgpack::write_str(&mut out, "data");
        match (data, extra) {
            (Value::Array(items), Some(arg)) => {
                if msgpack::write_array_len(&mut out, items.len().saturating_add(1)) {
                    for item in items {
                        value(&mut out, item);
                    }
                    msgpack::write_str(&mut out, arg);
                }
            }
            _ => value(&mut out, data),
        }
    }
    msgpack::write_str(&mut out, "nsp");
    msgpack::write_str(
        &mut out,
        if packet.nsp.is_empty() {
            MAIN_NAMESPACE
        } else {
            &packet.nsp
        },
    );
    if let Some(id) = packet.id {
        msgpack::write_str(&mut out, "id");
        msgpack::write_uint(&mut out, id);
    }
    out
}

fn wire_type(kind: PacketKind) -> u64 {
    match kind {
        PacketKind::Connect => 0,
        PacketKind::Disconnect => 1,
        PacketKind::Event | PacketKind::BinaryEvent => 2,
        PacketKind::Ack | PacketKind::BinaryAck => 3,
        PacketKind::ConnectError => 4,
    }
}

/// Decodes one msgpack message into a packet.
///
/// The checks, in the order socket.io-msgpack-parser makes them (so a message with
/// several faults reports the one Node would): the message must be well-formed
/// msgpack with nothing after the root value ([`ParseError::InvalidMsgpack`]); the
/// root must be a map whose `type` is an integer 0..=4 ([`ParseError::UnknownType`]);
/// `nsp` must be a string ([`ParseError::BadNamespace`]); `data` must have the shape
/// the text decoder wants for the kind, reserved event names included
/// ([`ParseError::InvalidPayload`]); `id` must be a non-negative integer
/// ([`ParseError::BadId`]). Integral floats count as integers, as `Number.isInteger`
/// says. A nil `data` or `id` counts as absent (Node refuses a nil `id`, but nil is
/// how notepack 3 writes `undefined`). Other keys (clients send `options`) are
/// ignored; when a key repeats, the last one wins, as in a JavaScript object.
///
/// Each binary value in `data` becomes a placeholder and its bytes an attachment, in
/// document order; more than `max_attachments` of them is
/// [`ParseError::TooManyAttachments`]. An EVENT or ACK with attachments is reported
/// as BINARY_EVENT/BINARY_ACK, so the packet looks like one from the text decoder.
/// Binary values in a CONNECT or CONNECT_ERROR are refused
/// ([`ParseError::BadAttachmentCount`]), as [`Packet::validate`] refuses them.
pub fn decode_msgpack(bytes: &[u8], max_attachments: usize) -> Result<Packet, ParseError> {
    // notepack parses the whole message before the parser looks at any field, so
    // framing faults anywhere come first. This pass also proves every declared length
    // is backed by input before the second pass allocates anything.
    let mut framing = Reader::at(bytes, 0);
    framing.skip_items(1).map_err(parse_error)?;
    if framing.remaining() != 0 {
        return Err(ParseError::InvalidMsgpack);
    }

    // First find where each known field's value starts, then read the fields in the
    // parser's order.
    let mut reader = Reader::at(bytes, 0);
    let Token::Map(entries) = reader.token().map_err(parse_error)? else {
        return Err(ParseError::UnknownType);
    };
    let (mut type_at, mut nsp_at, mut data_at, mut id_at) = (None, None, None, None);
    for _ in 0..entries {
        let key = reader.token().map_err(parse_error)?;
        let slot = match key {
            Token::Str(b"type") => Some(&mut type_at),
            Token::Str(b"nsp") => Some(&mut nsp_at),
            Token::Str(b"data") => Some(&mut data_at),
            Token::Str(b"id") => Some(&mut id_at),
            _ => None,
        };
        // A key that is itself a container is legal msgpack; step over its contents.
        reader
            .skip_items(key.children().map_err(parse_error)?)
            .map_err(parse_error)?;
        if let Some(slot) = slot {
            *slot = Some(reader.pos);
        }
        reader.skip_items(1).map_err(parse_error)?;
    }

    let kind = match token_at(bytes, type_at)?.as_ref().and_then(whole_number) {
        Some(0) => PacketKind::Connect,
        Some(1) => PacketKind::Disconnect,
        Some(2) => PacketKind::Event,
        Some(3) => PacketKind::Ack,
        Some(4) => PacketKind::ConnectError,
        _ => return Err(ParseError::UnknownType),
    };

    let nsp = match token_at(bytes, nsp_at)? {
        Some(Token::Str(raw)) => {
            namespace_name(std::str::from_utf8(raw).map_err(|_| ParseError::InvalidMsgpack)?)
        }
        _ => return Err(ParseError::BadNamespace),
    };

    // Only `data` is decoded as a value, so binaries under unknown keys are no
    // attachments.
    let (data, attachments) = match data_at {
        Some(at) => {
            let mut decoder = Decoder::at(bytes, at, Rules::Client { max_attachments });
            // nil stands for an absent payload: notepack 3 writes `undefined` so.
            let data = decoder.value(0).map_err(parse_error)?;
            (data.filter(|v| !v.is_null()), decoder.attachments)
        }
        None => (None, Vec::new()),
    };
    let kind = match kind {
        PacketKind::Event if !attachments.is_empty() => PacketKind::BinaryEvent,
        PacketKind::Ack if !attachments.is_empty() => PacketKind::BinaryAck,
        PacketKind::Connect | PacketKind::ConnectError if !attachments.is_empty() => {
            return Err(ParseError::BadAttachmentCount)
        }
        other => other,
    };
    check_payload(kind, data.as_ref())?;
    if let (true, Some(data)) = (kind.is_binary(), &data) {
        // Our placeholders are right by construction, but the sender may have written
        // a placeholder-shaped map of its own; refuse it as the text decoder would.
        check_placeholders(data, attachments.len())?;
    }

    let id = match token_at(bytes, id_at)? {
        None | Some(Token::Nil) => None,
        Some(token) if token.is_undefined() => None,
        Some(token) => Some(whole_number(&token).ok_or(ParseError::BadId)?),
    };

    Ok(Packet {
        kind,
        nsp,
        id,
        data,
        attachments,
    })
}

/// The packet error for a value the codec refused: malformed bytes are
/// [`ParseError::InvalidMsgpack`], a well-formed value the text format would not carry is
/// [`ParseError::InvalidPayload`].
fn parse_error(e: DecodeError) -> ParseError {
    match e {
        DecodeError::UnexpectedEnd
        | DecodeError::InvalidByte(_)
        | DecodeError::TrailingBytes(_)
        | DecodeError::InvalidUtf8
        | DecodeError::BadTimestamp => ParseError::InvalidMsgpack,
        DecodeError::TooDeep | DecodeError::UnsupportedKey => ParseError::InvalidPayload,
        DecodeError::TooManyAttachments => ParseError::TooManyAttachments,
    }
}

fn token_at(bytes: &[u8], at: Option<usize>) -> Result<Option<Token<'_>>, ParseError> {
    at.map(|at| Reader::at(bytes, at).token().map_err(parse_error))
        .transpose()
}

/// A non-negative integer, as `Number.isInteger` sees numbers (so `3.0` is one).
fn whole_number(token: &Token<'_>) -> Option<u64> {
    match *token {
        Token::Uint(u) => Some(u),
        Token::Int(i) => u64::try_from(i).ok(),
        // 2^64 as f64 is exact; below it, an integral float converts exactly.
        Token::Float(f) if f.fract() == 0.0 && (0.0..18_446_744_073_709_551_616.0).contains(&f) => {
            Some(f as u64)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use proptest::prelude::*;
    use serde_json::{json, Number};

    fn hex(text: &str) -> Vec<u8> {
        let digits: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
        assert_eq!(digits.len() % 2, 0, "odd hex fixture");
        digits
            .chunks(2)
            .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).unwrap())
            .collect()
    }

    fn to_hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    fn ph(n: u64) -> Value {
        json!({"_placeholder": true, "num": n})
    }

    fn decode(bytes: &[u8]) -> Result<Packet, ParseError> {
        decode_msgpack(bytes, 10)
    }

    /// Encodes, decodes and compares, the kind being the one the text codec would
    /// report.
    fn round_trip(packet: &Packet) -> Vec<u8> {
        let bytes = encode_msgpack(packet);
        let got = decode(&bytes).unwrap_or_else(|e| panic!("{packet:?}: {e}"));
        let mut want = packet.clone();
        want.kind = packet.wire_kind();
        assert_eq!(got, want);
        bytes
    }

    /// A packet map with the given entries, each an already encoded key and value.
    fn packet_map(entries: &[(&str, Vec<u8>)]) -> Vec<u8> {
        let mut out = Vec::new();
        msgpack::write_map_len(&mut out, entries.len());
        for (key, value) in entries {
            msgpack::write_str(&mut out, key);
            out.extend_from_slice(value);
        }
        out
    }

    /// `value` as the packet encoder writes it.
    fn msgpack(value: &Value) -> Vec<u8> {
        let mut out = Vec::new();
        msgpack::write_value_with(&mut out, value, &[], Numbers::KeepFloats);
        out
    }

    fn event_with(data: Vec<u8>) -> Vec<u8> {
        packet_map(&[
            ("type", vec![2]),
            ("nsp", msgpack(&json!("/"))),
            ("data", data),
        ])
    }

    // ---- round trips ----

    #[test]
    fn round_trip_every_kind() {
        let bin = Bytes::from_static(b"\x00\xffbin");
        round_trip(&Packet::connect("/", None));
        round_trip(&Packet::connect(
            "/admin",
            Some(json!({"token": "abc", "n": 1})),
        ));
        round_trip(&Packet::disconnect("/admin"));
        round_trip(&Packet::event(
            "/",
            json!(["hello", 1, -2, 2.5]),
            vec![],
            None,
        ));
        round_trip(&Packet::event("/x", json!(["e"]), vec![], Some(u64::MAX)));
        round_trip(&Packet::ack("/", json!([]), vec![], 0));
        round_trip(&Packet::ack("/", json!([null, true]), vec![], 300));
        round_trip(&Packet::connect_error("/", json!({"message": "no"})));
        round_trip(&Packet::connect_error("/", json!("plain")));
        round_trip(&Packet::event(
            "/",
            json!(["b", ph(0)]),
            vec![bin.clone()],
            Some(1),
        ));
        round_trip(&Packet::ack("/", json!([ph(0)]), vec![bin], 2));
    }

    #[test]
    fn binary_at_several_depths() {
        let atts: Vec<Bytes> = (0u8..4)
            .map(|i| Bytes::from(vec![i; usize::from(i) * 100]))
            .collect();
        let data = json!([
            "up",
            ph(0),
            {"a": ph(1), "b": [1, {"c": [ph(2)]}]},
            [[[[ph(3)]]]]
        ]);
        let p = Packet::event("/files", data, atts, Some(9));
        let bytes = round_trip(&p);
        // Native bin on the wire, and no placeholder map left in it.
        assert!(!bytes.windows(12).any(|w| w == b"_placeholder"));
        // 100 and 200 bytes take bin 8, 300 takes bin 16.
        assert!(bytes.windows(2).any(|w| w == [0xc4, 100]));
        assert!(bytes.windows(3).any(|w| w == [0xc5, 0x01, 0x2c]));
    }

    #[test]
    fn binary_kinds_are_written_as_event_and_ack() {
        let mut p = Packet::event("/", json!(["x"]), vec![], None);
        p.kind = PacketKind::BinaryEvent;
        assert_eq!(encode_msgpack(&p)[..7], hex("83 a4 74797065 02"));
        p.kind = PacketKind::BinaryAck;
        assert_eq!(encode_msgpack(&p)[..7], hex("83 a4 74797065 03"));
    }

    #[test]
    fn placeholder_out_of_range_is_written_as_a_map() {
        let p = Packet::event("/", json!(["x", ph(1)]), vec![Bytes::new()], None);
        let got = decode(&encode_msgpack(&p)).unwrap();
        // Nothing was binary on the wire, so the map comes back as plain data.
        assert_eq!(got.kind, PacketKind::Event);
        assert_eq!(got.data, Some(json!(["x", ph(1)])));
        assert!(got.attachments.is_empty());
    }

    #[test]
    fn with_arg_appends_a_last_string() {
        let p = Packet::event(
            "/",
            json!(["msg", 1, {"a": ph(0)}]),
            vec![Bytes::from_static(b"z")],
            None,
        );
        let with = encode_msgpack_with_arg(&p, "offset-7");
        let mut appended = p.clone();
        appended.data = Some(json!(["msg", 1, {"a": ph(0)}, "offset-7"]));
        assert_eq!(with, encode_msgpack(&appended));
        let got = decode(&with).unwrap();
        assert_eq!(got.data, appended.data);
        assert_eq!(got.attachments, p.attachments);

        // 15 items plus the argument cross from fixarray to array 16.
        let mut items = vec![json!("e")];
        items.extend((1..15).map(Value::from));
        let p = Packet::event("/", Value::Array(items.clone()), vec![], None);
        let with = encode_msgpack_with_arg(&p, "o");
        assert_eq!(with[12..15], [0xdc, 0x00, 0x10]);
        items.push(json!("o"));
        assert_eq!(decode(&with).unwrap().data, Some(Value::Array(items)));

        // Data that is not an array leaves the argument out.
        let p = Packet::connect_error("/", json!("nope"));
        assert_eq!(encode_msgpack_with_arg(&p, "o"), encode_msgpack(&p));
        let p = Packet::disconnect("/");
        assert_eq!(encode_msgpack_with_arg(&p, "o"), encode_msgpack(&p));
    }

    #[test]
    fn empty_namespace_is_written_as_main() {
        let mut p = Packet::disconnect("/");
        p.nsp = "".into();
        assert_eq!(decode(&encode_msgpack(&p)).unwrap().nsp, "/");
    }

    #[test]
    fn deep_values_encode_without_recursion() {
        let mut deep = json!(1);
        for _ in 0..100_000 {
            deep = Value::Array(vec![deep]);
        }
        // Not json!, which would copy `deep` by serializing it, recursively.
        let data = Value::Array(vec![json!("e"), deep]);
        let mut packet = Packet::event("/", data, vec![], None);
        let bytes = encode_msgpack(&packet);
        // Too deep for the decoder, but well-formed and fully written.
        assert_eq!(bytes.iter().filter(|&&b| b == 0x91).count(), 100_000);
        assert_eq!(decode(&bytes), Err(ParseError::InvalidPayload));
        // Taken apart level by level: dropping it whole would recurse.
        let mut next = packet.data.take();
        while let Some(Value::Array(mut items)) = next {
            next = items.pop();
        }
    }

    // ---- what notepack.io produces ----
    //
    // Made with node 20 from tests/js/node_modules:
    //   node -e 'const n = require("notepack.io");
    //            console.log(n.encode(PACKET).toString("hex"))'
    // "v3" fixtures come from notepack.io 3.0.1, "v2" ones from the notepack.io 2.2.0
    // that socket.io-msgpack-parser 3.0.2 depends on (its nested node_modules).

    #[test]
    fn notepack_event_with_options_key() {
        // v3 and v2: {type: 2, data: ["hello", 1, "ä"], options: {compress: true},
        //             id: 7, nsp: "/"}
        let bytes = hex(
            "85a47479706502a46461746193a568656c6c6f01a2c3a4a76f7074696f6e7381a8636f6d70
             72657373c3a2696407a36e7370a12f",
        );
        let p = decode(&bytes).unwrap();
        assert_eq!(
            p,
            Packet::event("/", json!(["hello", 1, "ä"]), vec![], Some(7))
        );
    }

    #[test]
    fn notepack_dates() {
        let cases = [
            // v3 new Date(Date.UTC(2024,0,2,3,4,5,678)): timestamp 64.
            ("d7ffa1a5d60065937d25", "2024-01-02T03:04:05.678Z"),
            // v2 of the same: fixext 8 of type 0 holding the milliseconds.
            ("d7000000018cc820db2e", "2024-01-02T03:04:05.678Z"),
            // v3 of a whole second: timestamp 32.
            ("d6ff65937d25", "2024-01-02T03:04:05.000Z"),
            // v3 of 1969-12-31T23:59:59.999Z: timestamp 96, negative seconds.
            ("c70cff3b8b87c0ffffffffffffffff", "1969-12-31T23:59:59.999Z"),
            ("d700ffffffffffffffff", "1969-12-31T23:59:59.999Z"),
        ];
        for (value, want) in cases {
            // {type: 2, data: ["d", DATE], nsp: "/"}
            let bytes = hex(&format!(
                "83a47479706502a46461746192a164{value}a36e7370a12f"
            ));
            let p = decode(&bytes).unwrap();
            assert_eq!(p.data, Some(json!(["d", want])), "{value}");
        }
    }

    #[test]
    fn timestamp_96_must_be_12_bytes() {
        // A peer's is an unknown extension instead (see rally's tests/msgpack_value.rs).
        let bytes = event_with(hex("92a164c70bff0000000000000000000000"));
        assert_eq!(decode(&bytes), Err(ParseError::InvalidMsgpack));
    }

    #[test]
    fn notepack_undefined() {
        // v2: {type: 2, data: ["u", undefined, 1], nsp: "/"} (v3 writes nil there)
        let p = decode(&hex("83a47479706502a46461746193a175d4000001a36e7370a12f")).unwrap();
        assert_eq!(p.data, Some(json!(["u", null, 1])));
        let p = decode(&hex("83a47479706502a46461746193a175c001a36e7370a12f")).unwrap();
        assert_eq!(p.data, Some(json!(["u", null, 1])));
        // v2: {type: 2, data: ["u", {a: undefined, b: 1}], nsp: "/"}; v3 leaves `a` out.
        let p = decode(&hex(
            "83a47479706502a46461746192a17582a161d40000a16201a36e7370a12f",
        ))
        .unwrap();
        assert_eq!(p.data, Some(json!(["u", {"b": 1}])));
        // v2: {type: 0, data: undefined, nsp: "/"}; v3 leaves `data` out.
        let p = decode(&hex("83a47479706500a464617461d40000a36e7370a12f")).unwrap();
        assert_eq!(p, Packet::connect("/", None));
        assert_eq!(decode(&hex("82a47479706500a36e7370a12f")).unwrap(), p);
        // A later undefined member overrides an earlier one, as in JavaScript.
        let bytes = event_with(hex("92a17582a16101a161d40000"));
        assert_eq!(decode(&bytes).unwrap().data, Some(json!(["u", {}])));
    }

    #[test]
    fn notepack_buffers() {
        // v3 and v2: {type: 2, data: ["b", {file: Buffer.from([1,2,3]), n: -5}],
        //             nsp: "/admin"}
        let bytes =
            hex("83a47479706502a46461746192a16282a466696c65c403010203a16efba36e7370a62f61646d696e");
        let p = decode(&bytes).unwrap();
        assert_eq!(p.kind, PacketKind::BinaryEvent);
        assert_eq!(p.nsp, "/admin");
        assert_eq!(p.data, Some(json!(["b", {"file": ph(0), "n": -5}])));
        assert_eq!(p.attachments, vec![Bytes::from_static(&[1, 2, 3])]);
        assert_eq!(p.validate(), Ok(()));

        // v2: {type: 2, data: ["b", new Uint8Array([9, 8])], nsp: "/"}, an ext 8 of
        // type 0; v3 writes bin 8.
        for value in ["c702000908", "c4020908"] {
            let bytes = hex(&format!(
                "83a47479706502a46461746192a162{value}a36e7370a12f"
            ));
            let p = decode(&bytes).unwrap();
            assert_eq!(p.data, Some(json!(["b", ph(0)])), "{value}");
            assert_eq!(p.attachments, vec![Bytes::from_static(&[9, 8])]);
        }
        // ext 16 and 32 of type 0 too.
        for value in ["c80002000908", "c900000002000908"] {
            let p = decode(&event_with(hex(&format!("92a162{value}")))).unwrap();
            assert_eq!(p.attachments, vec![Bytes::from_static(&[9, 8])], "{value}");
        }
    }

    #[test]
    fn notepack_other_extensions_are_type_and_bytes() {
        // notepack.decode(d5 05 0102) is [5, <Buffer 01 02>].
        let p = decode(&event_with(hex("93a165d5050102d4050a"))).unwrap();
        assert_eq!(p.data, Some(json!(["e", [5, ph(0)], [5, ph(1)]])));
        assert_eq!(
            p.attachments,
            vec![Bytes::from_static(&[1, 2]), Bytes::from_static(&[10])]
        );
        assert_eq!(p.kind, PacketKind::BinaryEvent);
    }

    #[test]
    fn notepack_floats_and_wide_integers() {
        // v3 and v2: {type: 3, data: [1.5, -0.25, NaN, 300, -200, 70000, 2**40, -(2**40)],
        //             nsp: "/", id: 3}
        let bytes = hex(
            "84a47479706503a46461746198cb3ff8000000000000cbbfd0000000000000cb7ff80000000000
             00cd012cd1ff38ce00011170cf0000010000000000d3ffffff0000000000a36e7370a12fa2696403",
        );
        let p = decode(&bytes).unwrap();
        let want = json!([
            1.5,
            -0.25,
            null,
            300,
            -200,
            70000,
            1_u64 << 40,
            -(1_i64 << 40)
        ]);
        assert_eq!(p, Packet::ack("/", want, vec![], 3));
        // float 32 as other msgpack encoders write it.
        let p = decode(&event_with(hex("92a166ca3fc00000"))).unwrap();
        assert_eq!(p.data, Some(json!(["f", 1.5])));
        // A packet's floats stay floats, integral or zero (a peer's become integers).
        let data = json!(["f", 2.0, -0.0]);
        let bytes = event_with(msgpack(&data));
        assert!(bytes.ends_with(&hex("cb4000000000000000cb8000000000000000")));
        let got = decode(&bytes).unwrap().data.unwrap();
        assert_eq!(got[2].as_f64().map(f64::to_bits), Some((-0.0f64).to_bits()));
        assert_eq!(got, data);
    }

    #[test]
    fn notepack_decodes_what_we_encode() {
        // notepack.io 3.0.1 (and 2.2.0, and socket.io-msgpack-parser's Encoder) of
        // {type: 3, data: ["ok", {bin: Buffer.from("hi"), x: [1, -1, 2.5, null, true, "s"]}],
        //  nsp: "/chat", id: 300}
        let notepack =
            "84a47479706503a46461746192a26f6b82a362696ec4026869a1789601ffcb40040000000000\
                        00c0c3a173a36e7370a52f63686174a26964cd012c";
        let p = Packet::ack(
            "/chat",
            json!(["ok", {"bin": ph(0), "x": [1, -1, 2.5, null, true, "s"]}]),
            vec![Bytes::from_static(b"hi")],
            300,
        );
        assert_eq!(to_hex(&encode_msgpack(&p)), notepack);
        assert_eq!(decode(&hex(notepack)).unwrap().data, p.data);
    }

    #[test]
    fn numeric_keys_become_strings() {
        // notepack.decode of {"a": 1, 1: 2, -1: 3} gives {"1": 2, "a": 1, "-1": 3}.
        let p = decode(&event_with(hex("92a16583a161010102ff03"))).unwrap();
        assert_eq!(p.data, Some(json!(["e", {"a": 1, "1": 2, "-1": 3}])));
        for key in ["c0", "c3", "cb3ff8000000000000", "90", "80", "c400"] {
            let bytes = event_with(hex(&format!("92a16581{key}01")));
            assert_eq!(decode(&bytes), Err(ParseError::InvalidPayload), "{key}");
        }
    }

    #[test]
    fn unknown_and_repeated_keys() {
        // Unknown keys of any shape and depth are skipped, binary in them included.
        let deep = format!("{}01", "91".repeat(100_000));
        let bytes = packet_map(&[
            ("type", vec![2]),
            ("options", hex(&deep)),
            ("data", msgpack(&json!(["e"]))),
            ("extra", hex("c40101")),
            ("nsp", msgpack(&json!("/"))),
        ]);
        let p = decode(&bytes).unwrap();
        assert!(p.attachments.is_empty());
        assert_eq!(p.data, Some(json!(["e"])));
        // Non-string keys at the root are unknown keys too.
        let mut bytes = event_with(msgpack(&json!(["e"])));
        bytes[0] += 2;
        bytes.extend(hex("0102 91a1780a"));
        assert!(decode(&bytes).is_ok());
        // The last of a repeated key wins, and only its binaries count.
        let bytes = packet_map(&[
            ("type", vec![4]),
            ("data", hex("92a165c40101")),
            ("nsp", msgpack(&json!("/a"))),
            ("data", hex("92a166c40102")),
            ("type", vec![2]),
        ]);
        let p = decode(&bytes).unwrap();
        assert_eq!(p.data, Some(json!(["f", ph(0)])));
        assert_eq!(p.attachments, vec![Bytes::from_static(&[2])]);
        assert_eq!((p.kind, &*p.nsp), (PacketKind::BinaryEvent, "/a"));
    }

    #[test]
    fn integral_floats_count_as_integers() {
        let bytes = packet_map(&[
            ("type", hex("cb4000000000000000")),
            ("nsp", msgpack(&json!("/"))),
            ("data", msgpack(&json!(["e"]))),
            ("id", hex("cb4008000000000000")),
        ]);
        let p = decode(&bytes).unwrap();
        assert_eq!((p.kind, p.id), (PacketKind::Event, Some(3)));
    }

    // ---- errors ----

    #[test]
    fn error_truncated_at_every_length() {
        let p = Packet::event(
            "/admin",
            json!(["up", {"a": ph(0), "b": [1.5, -70000, "ü"]}, null, true]),
            vec![Bytes::from_static(b"abc")],
            Some(65536),
        );
        let bytes = encode_msgpack(&p);
        for len in 0..bytes.len() {
            let prefix = bytes.get(..len).unwrap();
            assert_eq!(decode(prefix), Err(ParseError::InvalidMsgpack), "{len}");
        }
        assert!(decode(&bytes).is_ok());
    }

    #[test]
    fn error_trailing_bytes() {
        let mut bytes = encode_msgpack(&Packet::event("/", json!(["e"]), vec![], None));
        bytes.push(0xc0);
        assert_eq!(decode(&bytes), Err(ParseError::InvalidMsgpack));
        // A second whole packet is trailing bytes too.
        let one = encode_msgpack(&Packet::disconnect("/"));
        assert_eq!(
            decode(&[one.clone(), one].concat()),
            Err(ParseError::InvalidMsgpack)
        );
    }

    #[test]
    fn error_malformed() {
        for bytes in [
            "c1",
            "83a47479706502a46461746192a165c1a36e7370a12f",
            "83a47479706502a46461746192a165ff",
        ] {
            assert_eq!(
                decode(&hex(bytes)),
                Err(ParseError::InvalidMsgpack),
                "{bytes}"
            );
        }
        // Invalid UTF-8 in data, namespace or a key.
        for bytes in [
            event_with(hex("92a165a2c328")),
            event_with(hex("92a16581a2c32801")),
            packet_map(&[("type", vec![1]), ("nsp", hex("a2c328"))]),
        ] {
            assert_eq!(decode(&bytes), Err(ParseError::InvalidMsgpack));
        }
    }

    #[test]
    fn error_huge_declared_lengths() {
        for value in [
            "ddffffffff",
            "dfffffffff",
            "dbffffffff",
            "c6ffffffff",
            "c9ffffffff00",
            "c7ff00",
            "dcffff",
            "deffff",
        ] {
            let bytes = event_with(hex(&format!("92a165{value}")));
            assert_eq!(decode(&bytes), Err(ParseError::InvalidMsgpack), "{value}");
        }
        assert_eq!(decode(&hex("dfffffffff")), Err(ParseError::InvalidMsgpack));
        // Many nested declared-huge arrays still fail fast.
        let bytes = event_with(hex(&"ddffffffff".repeat(10_000)));
        assert_eq!(decode(&bytes), Err(ParseError::InvalidMsgpack));
    }

    #[test]
    fn error_deep_nesting() {
        let nested = |depth: usize| event_with(hex(&format!("92a165{}c0", "91".repeat(depth))));
        // `data` itself is the first level.
        assert!(decode(&nested(127)).is_ok());
        assert_eq!(decode(&nested(128)), Err(ParseError::InvalidPayload));
        assert_eq!(decode(&nested(199)), Err(ParseError::InvalidPayload));
        let maps = event_with(hex(&format!("92a165{}c0", "81a178".repeat(199))));
        assert_eq!(decode(&maps), Err(ParseError::InvalidPayload));
    }

    #[test]
    fn error_root_not_a_map() {
        for bytes in ["c0", "02", "93a47479706502a12f", "a474797065"] {
            assert_eq!(decode(&hex(bytes)), Err(ParseError::UnknownType), "{bytes}");
        }
    }

    #[test]
    fn error_bad_type() {
        let nsp = ("nsp", msgpack(&json!("/")));
        for value in [
            "05",
            "ff",
            "a132",
            "cb4004000000000000",
            "c0",
            "d40000",
            "c3",
            "9102",
        ] {
            let bytes = packet_map(&[("type", hex(value)), nsp.clone()]);
            assert_eq!(decode(&bytes), Err(ParseError::UnknownType), "{value}");
        }
        assert_eq!(decode(&packet_map(&[nsp])), Err(ParseError::UnknownType));
        // The type is checked first, wherever it sits in the map.
        let bytes = packet_map(&[("id", hex("ff")), ("nsp", vec![1]), ("type", vec![9])]);
        assert_eq!(decode(&bytes), Err(ParseError::UnknownType));
    }

    #[test]
    fn error_bad_namespace() {
        for value in [Some("01"), Some("c0"), Some("c40101"), Some("91a12f"), None] {
            let mut entries = vec![("type", vec![1])];
            if let Some(value) = value {
                entries.push(("nsp", hex(value)));
            }
            assert_eq!(
                decode(&packet_map(&entries)),
                Err(ParseError::BadNamespace),
                "{value:?}"
            );
        }
        // Kept as given, even where the text format could not carry it.
        let bytes = packet_map(&[("type", vec![1]), ("nsp", msgpack(&json!("a,b")))]);
        assert_eq!(decode(&bytes).unwrap().nsp, "a,b");
    }

    #[test]
    fn error_bad_id() {
        for value in ["ff", "a131", "cb3ff8000000000000", "9101", "c3", "c40101"] {
            let bytes = packet_map(&[
                ("type", vec![3]),
                ("nsp", msgpack(&json!("/"))),
                ("data", vec![0x90]),
                ("id", hex(value)),
            ]);
            assert_eq!(decode(&bytes), Err(ParseError::BadId), "{value}");
        }
        for (value, want) in [
            ("c0", None),
            ("d40000", None),
            ("cfffffffffffffffff", Some(u64::MAX)),
        ] {
            let bytes = packet_map(&[
                ("type", vec![3]),
                ("nsp", msgpack(&json!("/"))),
                ("data", vec![0x90]),
                ("id", hex(value)),
            ]);
            assert_eq!(decode(&bytes).unwrap().id, want, "{value}");
        }
    }

    #[test]
    fn error_payload_shape() {
        for name in [
            "connect",
            "connect_error",
            "disconnect",
            "disconnecting",
            "newListener",
            "removeListener",
        ] {
            let bytes = event_with(msgpack(&json!([name, 1])));
            assert_eq!(decode(&bytes), Err(ParseError::InvalidPayload), "{name}");
        }
        for data in [json!([]), json!({}), json!("e"), json!([null]), Value::Null] {
            let bytes = event_with(msgpack(&data));
            assert_eq!(decode(&bytes), Err(ParseError::InvalidPayload), "{data}");
        }
        // EVENT without data, DISCONNECT with some, CONNECT with an array.
        let nsp = ("nsp", msgpack(&json!("/")));
        for entries in [
            vec![("type", vec![2]), nsp.clone()],
            vec![("type", vec![1]), nsp.clone(), ("data", vec![0x80])],
            vec![("type", vec![0]), nsp.clone(), ("data", vec![0x90])],
            vec![("type", vec![4]), nsp.clone()],
        ] {
            assert_eq!(
                decode(&packet_map(&entries)),
                Err(ParseError::InvalidPayload)
            );
        }
        // A placeholder-shaped map of the sender's own beside real binary.
        let bytes = event_with(msgpack(&json!(["e", ph(3)])));
        assert!(decode(&bytes).is_ok());
        let mut data = hex("93a165c40100");
        data.extend(msgpack(&ph(3)));
        assert_eq!(
            decode(&event_with(data)),
            Err(ParseError::PlaceholderOutOfRange)
        );
    }

    #[test]
    fn error_binary_outside_event_and_ack() {
        let bytes = packet_map(&[
            ("type", vec![0]),
            ("nsp", msgpack(&json!("/"))),
            ("data", hex("81a16bc40101")),
        ]);
        assert_eq!(decode(&bytes), Err(ParseError::BadAttachmentCount));
    }

    #[test]
    fn error_too_many_attachments() {
        let bytes = event_with(hex("94a165c40101c40102c40103"));
        assert_eq!(decode_msgpack(&bytes, 3).unwrap().attachments.len(), 3);
        assert_eq!(
            decode_msgpack(&bytes, 2),
            Err(ParseError::TooManyAttachments)
        );
        assert_eq!(
            decode_msgpack(&bytes, 0),
            Err(ParseError::TooManyAttachments)
        );
        // Extension bytes count as binaries.
        let bytes = event_with(hex("92a165d5050102"));
        assert_eq!(
            decode_msgpack(&bytes, 0),
            Err(ParseError::TooManyAttachments)
        );
    }

    #[test]
    fn error_display() {
        assert_eq!(ParseError::InvalidMsgpack.to_string(), "invalid msgpack");
    }

    // ---- property tests ----

    fn arb_json() -> impl Strategy<Value = Value> {
        // msgpack carries f64 bit for bit, so floats round trip here.
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<f64>().prop_filter_map("finite", |f| Number::from_f64(f).map(Value::Number)),
            any::<String>().prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 32, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::vec((any::<String>(), inner), 0..6)
                    .prop_map(|kv| Value::Object(kv.into_iter().collect())),
            ]
        })
    }

    fn arb_packet() -> impl Strategy<Value = Packet> {
        let nsp = prop_oneof![Just("/".to_owned()), "/[^,]{0,12}"];
        (
            0..5u8,
            nsp,
            any::<Option<u64>>(),
            prop::collection::vec(arb_json(), 0..4),
            prop::collection::vec(prop::collection::vec(any::<u8>(), 0..300), 0..4),
            any::<bool>(),
        )
            .prop_map(|(kind, nsp, id, mut args, atts, nest)| match kind {
                0 => Packet::connect(&nsp, args.pop().map(|v| json!({"auth": v}))),
                1 => Packet::disconnect(&nsp),
                4 => Packet::connect_error(&nsp, json!({"message": args})),
                _ => {
                    for n in 0..atts.len() {
                        let p = ph(n as u64);
                        args.push(if nest { json!({"blob": [p]}) } else { p });
                    }
                    let attachments = atts.into_iter().map(Bytes::from).collect();
                    if kind == 2 {
                        args.insert(0, json!("ev"));
                        Packet::event(&nsp, Value::Array(args), attachments, id)
                    } else {
                        Packet::ack(&nsp, Value::Array(args), attachments, id.unwrap_or(0))
                    }
                }
            })
    }

    proptest! {
        #[test]
        fn prop_round_trip(packet in arb_packet(), arg in any::<String>()) {
            prop_assert_eq!(packet.validate(), Ok(()));
            let bytes = encode_msgpack(&packet);
            let mut want = packet.clone();
            want.kind = packet.wire_kind();
            prop_assert_eq!(decode_msgpack(&bytes, 4), Ok(want.clone()));
            if let Some(Value::Array(items)) = &mut want.data {
                items.push(Value::String(arg.clone()));
            }
            let bytes = encode_msgpack_with_arg(&packet, &arg);
            prop_assert_eq!(decode_msgpack(&bytes, 4), Ok(want));
        }

        #[test]
        fn prop_arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
            let _ = decode_msgpack(&bytes, 3);
        }

        #[test]
        fn prop_mutated_packets_never_panic(
            packet in arb_packet(),
            edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
        ) {
            let mut bytes = encode_msgpack(&packet);
            for (at, byte) in edits {
                let i = at.index(bytes.len());
                bytes[i] = byte;
            }
            let _ = decode_msgpack(&bytes, 3);
        }
    }
}
