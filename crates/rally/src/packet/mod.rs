//! Socket.IO protocol v5 packet codec: the text format
//! `<type>[<attachments>-][<nsp>,][<id>][<json>]` plus binary attachments that
//! follow a BINARY_EVENT / BINARY_ACK text message as separate binary messages.
//!
//! Why it is shaped this way:
//! - Pure functions over strings and `Bytes`, no I/O, so the transport layer
//!   (Engine.IO, WebSocket or polling) can own framing and back-pressure.
//! - The decoder is a small state machine per connection because the protocol
//!   itself is stateful: a binary packet's text part announces how many binary
//!   messages belong to it, and nothing else may arrive in between.
//! - Every malformed input is a [`ParseError`] value; nothing here panics on
//!   untrusted data (all slicing goes through `get`, JSON depth is bounded by
//!   serde_json's recursion limit, and our own tree walks are iterative).
//! - Placeholders (`{"_placeholder":true,"num":n}`) stay in `data`: splicing the
//!   bytes into JSON would need a non-JSON value type, and keeping them lets a
//!   server relay a client's binary message byte-for-byte. `crate::args`
//!   resolves them into typed values.
//! - Validation mirrors the reference Node parser (`isPayloadValid`, reserved
//!   event names, attachment count checks), made stricter where Node relies
//!   on JavaScript coercions (see the notes on [`Decoder`]).
//!
//! The bottom floor of the crate: it knows no other module of it. Here the packet, its
//! kinds and errors, and the payload rules both directions share (`validate` and the
//! decoder check the same things); `encode` writes a packet's text, `decode` reads a
//! connection's messages back into packets.

mod decode;
mod encode;
mod msgpack;

pub use decode::Decoder;
pub use encode::{encode, encode_into};
pub use msgpack::{decode_msgpack, encode_msgpack, encode_msgpack_with_arg};

use std::borrow::Cow;
use std::fmt;

use bytes::Bytes;
use serde_json::Value;

/// The seven Socket.IO packet types; the discriminant is the wire digit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PacketKind {
    /// A client asks to join a namespace (with its auth); the server's answer carries the
    /// socket id.
    Connect = 0,
    /// Either side leaves a namespace.
    Disconnect = 1,
    /// An event and its arguments, with an ack id when the sender wants an answer.
    Event = 2,
    /// The answer to an event that carried an ack id.
    Ack = 3,
    /// The server refuses a CONNECT: a middleware said no, or the namespace does not exist.
    ConnectError = 4,
    /// An EVENT whose arguments hold binary values, which follow as attachments.
    BinaryEvent = 5,
    /// An ACK whose arguments hold binary values, which follow as attachments.
    BinaryAck = 6,
}

impl PacketKind {
    /// Parses the single ASCII digit that opens every packet.
    pub fn from_digit(byte: u8) -> Option<Self> {
        Some(match byte {
            b'0' => Self::Connect,
            b'1' => Self::Disconnect,
            b'2' => Self::Event,
            b'3' => Self::Ack,
            b'4' => Self::ConnectError,
            b'5' => Self::BinaryEvent,
            b'6' => Self::BinaryAck,
            _ => return None,
        })
    }

    /// The wire digit of this kind.
    pub fn digit(self) -> char {
        match self {
            Self::Connect => '0',
            Self::Disconnect => '1',
            Self::Event => '2',
            Self::Ack => '3',
            Self::ConnectError => '4',
            Self::BinaryEvent => '5',
            Self::BinaryAck => '6',
        }
    }

    /// True for the kinds whose text part carries an attachment count.
    pub fn is_binary(self) -> bool {
        matches!(self, Self::BinaryEvent | Self::BinaryAck)
    }

    /// True for EVENT and BINARY_EVENT.
    pub fn is_event(self) -> bool {
        matches!(self, Self::Event | Self::BinaryEvent)
    }

    /// True for ACK and BINARY_ACK.
    pub fn is_ack(self) -> bool {
        matches!(self, Self::Ack | Self::BinaryAck)
    }
}

/// Event names the reference implementation refuses on the wire, because
/// its client/server/EventEmitter give them a meaning of their own.
pub const RESERVED_EVENTS: [&str; 6] = [
    "connect",
    "connect_error",
    "disconnect",
    "disconnecting",
    "newListener",
    "removeListener",
];

/// One Socket.IO packet, text part and attachments together.
#[derive(Clone, Debug, PartialEq)]
pub struct Packet {
    /// Build with `Event`/`Ack`: [`encode`] switches to the binary kinds when
    /// `attachments` is non-empty. [`Decoder`] reports kinds as received.
    pub kind: PacketKind,
    /// `"/"` is the main namespace and is not written on the wire. Borrowed
    /// for it: most packets need no string of their own.
    pub nsp: Cow<'static, str>,
    /// The ack id: on an EVENT, the sender awaits the ACK with this id; on an ACK, the
    /// event it answers.
    pub id: Option<u64>,
    /// JSON payload; binary attachments appear as
    /// `{"_placeholder":true,"num":n}` objects.
    pub data: Option<Value>,
    /// The binary messages that follow the text part, indexed by the placeholders' `num`.
    pub attachments: Vec<Bytes>,
}

impl Packet {
    /// EVENT: `data` is the array `[name, ...args]`.
    pub fn event(nsp: &str, data: Value, attachments: Vec<Bytes>, id: Option<u64>) -> Self {
        Self::new(PacketKind::Event, nsp, id, Some(data), attachments)
    }

    /// ACK for event `id`: `data` is the array of reply arguments.
    pub fn ack(nsp: &str, data: Value, attachments: Vec<Bytes>, id: u64) -> Self {
        Self::new(PacketKind::Ack, nsp, Some(id), Some(data), attachments)
    }

    /// CONNECT: from a client the optional auth object, from a server `{"sid":..}`.
    pub fn connect(nsp: &str, data: Option<Value>) -> Self {
        Self::new(PacketKind::Connect, nsp, None, data, Vec::new())
    }

    /// CONNECT_ERROR: `data` is an object (usually `{"message":..}`) or a string.
    pub fn connect_error(nsp: &str, data: Value) -> Self {
        Self::new(PacketKind::ConnectError, nsp, None, Some(data), Vec::new())
    }

    /// DISCONNECT from a namespace.
    pub fn disconnect(nsp: &str) -> Self {
        Self::new(PacketKind::Disconnect, nsp, None, None, Vec::new())
    }

    fn new(
        kind: PacketKind,
        nsp: &str,
        id: Option<u64>,
        data: Option<Value>,
        attachments: Vec<Bytes>,
    ) -> Self {
        Self {
            kind,
            nsp: namespace_name(nsp),
            id,
            data,
            attachments,
        }
    }

    /// The kind [`encode`] writes: binary iff an event/ack has attachments.
    pub fn wire_kind(&self) -> PacketKind {
        let binary = !self.attachments.is_empty();
        match self.kind {
            PacketKind::Event | PacketKind::BinaryEvent if binary => PacketKind::BinaryEvent,
            PacketKind::Ack | PacketKind::BinaryAck if binary => PacketKind::BinaryAck,
            // A binary kind without attachments would encode as the illegal "50-".
            PacketKind::BinaryEvent => PacketKind::Event,
            PacketKind::BinaryAck => PacketKind::Ack,
            other => other,
        }
    }

    /// Checks that [`encode`] of this packet is something a conforming peer
    /// (and our own [`Decoder`]) accepts: namespace representable, payload
    /// shape right for the kind, attachments only on events/acks, and every
    /// placeholder pointing at an attachment. Use it before encoding packets
    /// built from data that is not known to be well formed.
    pub fn validate(&self) -> Result<(), ParseError> {
        // The namespace ends at the first ',' on the wire and has no escape.
        if self.nsp.is_empty() || !self.nsp.starts_with('/') || self.nsp.contains(',') {
            return Err(ParseError::BadNamespace);
        }
        let carries_binary = self.kind.is_event() || self.kind.is_ack();
        if !carries_binary && !self.attachments.is_empty() {
            return Err(ParseError::BadAttachmentCount);
        }
        let kind = self.wire_kind();
        check_payload(kind, self.data.as_ref())?;
        if kind.is_binary() {
            if let Some(data) = &self.data {
                check_placeholders(data, self.attachments.len())?;
            }
        }
        Ok(())
    }
}

/// A malformed message; the protocol says the connection should be closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParseError {
    /// An empty text message.
    Empty,
    /// The first character is not a packet type digit 0-6.
    UnknownType,
    /// A binary kind without a well-formed, non-zero `<n>-` count, or (from
    /// [`Packet::validate`]) attachments on a kind that cannot carry them.
    BadAttachmentCount,
    /// The announced attachment count exceeds the decoder's limit.
    TooManyAttachments,
    /// Only from [`Packet::validate`]: a namespace that cannot be encoded.
    BadNamespace,
    /// The ack id does not fit in a u64.
    BadId,
    /// The payload is not valid JSON (or is nested too deeply).
    InvalidJson,
    /// The payload is valid JSON of the wrong shape for the packet type.
    InvalidPayload,
    /// A binary message arrived while no binary packet awaited attachments.
    UnexpectedBinary,
    /// A text message arrived while attachments were still awaited.
    UnexpectedText,
    /// A placeholder's `num` is not below the attachment count.
    PlaceholderOutOfRange,
    /// A `{"_placeholder":true}` object whose `num` is missing or not an
    /// unsigned integer.
    BadPlaceholder,
    /// Only from [`decode_msgpack`]: the message is not one well-formed msgpack value
    /// (truncated, trailing bytes, a reserved byte, a string that is not UTF-8).
    InvalidMsgpack,
    /// A text message reached a server whose parser is msgpack, which sends and takes
    /// binary messages only: the client speaks the default parser.
    TextForMsgpack,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Empty => "empty packet",
            Self::UnknownType => "unknown packet type",
            Self::BadAttachmentCount => "illegal attachment count",
            Self::TooManyAttachments => "too many attachments",
            Self::BadNamespace => "invalid namespace",
            Self::BadId => "invalid ack id",
            Self::InvalidJson => "invalid JSON payload",
            Self::InvalidPayload => "invalid payload for packet type",
            Self::UnexpectedBinary => "binary message without a pending binary packet",
            Self::UnexpectedText => "text message while binary attachments are awaited",
            Self::PlaceholderOutOfRange => "placeholder refers to a missing attachment",
            Self::BadPlaceholder => "malformed attachment placeholder",
            Self::InvalidMsgpack => "invalid msgpack",
            Self::TextForMsgpack => {
                "a text message, but the server's parser is msgpack (is the client configured with socket.io-msgpack-parser?)"
            }
        })
    }
}

impl std::error::Error for ParseError {}

const MAIN_NAMESPACE: &str = "/";

/// A namespace name as a packet holds it: the main one borrowed, others owned.
fn namespace_name(nsp: &str) -> Cow<'static, str> {
    if nsp == MAIN_NAMESPACE {
        Cow::Borrowed(MAIN_NAMESPACE)
    } else {
        Cow::Owned(nsp.to_owned())
    }
}

/// The payload rules of the reference parser's `isPayloadValid`.
fn check_payload(kind: PacketKind, data: Option<&Value>) -> Result<(), ParseError> {
    let ok = match kind {
        PacketKind::Connect => matches!(data, None | Some(Value::Object(_))),
        PacketKind::Disconnect => data.is_none(),
        PacketKind::ConnectError => matches!(data, Some(Value::String(_) | Value::Object(_))),
        PacketKind::Event | PacketKind::BinaryEvent => match data {
            // Node accepts a number as the name (EventEmitter keys coerce).
            Some(Value::Array(items)) => match items.first() {
                Some(Value::String(name)) => !RESERVED_EVENTS.contains(&name.as_str()),
                Some(Value::Number(_)) => true,
                _ => false,
            },
            _ => false,
        },
        PacketKind::Ack | PacketKind::BinaryAck => matches!(data, Some(Value::Array(_))),
    };
    if ok {
        Ok(())
    } else {
        Err(ParseError::InvalidPayload)
    }
}

/// Checks that every `{"_placeholder":true,...}` object in `data` names an
/// attachment below `count`. Iterative so that depth costs heap, not stack.
fn check_placeholders(data: &Value, count: usize) -> Result<(), ParseError> {
    let mut stack = vec![data];
    while let Some(value) = stack.pop() {
        match value {
            Value::Array(items) => stack.extend(items),
            Value::Object(map) => {
                // Same test as Node: `_placeholder === true`; like Node we do
                // not look inside a placeholder object.
                if map.get("_placeholder") == Some(&Value::Bool(true)) {
                    let num = map
                        .get("num")
                        .and_then(Value::as_u64)
                        .ok_or(ParseError::BadPlaceholder)?;
                    if usize::try_from(num).map_or(true, |n| n >= count) {
                        return Err(ParseError::PlaceholderOutOfRange);
                    }
                } else {
                    stack.extend(map.values());
                }
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn decode_one(text: &str) -> Result<Option<Packet>, ParseError> {
        Decoder::new(10).feed_text(text)
    }

    fn decoded(text: &str) -> Packet {
        match decode_one(text) {
            Ok(Some(p)) => p,
            other => panic!("{text:?} did not decode to a packet: {other:?}"),
        }
    }

    fn ph(n: u64) -> Value {
        json!({"_placeholder": true, "num": n})
    }

    /// Encodes, checks the text, decodes text + attachments, checks the packet.
    fn round_trip(packet: &Packet, text: &str, expect_kind: PacketKind) {
        assert_eq!(encode(packet), text);
        assert_eq!(packet.validate(), Ok(()));
        let mut dec = Decoder::new(10);
        let mut out = dec.feed_text(text).unwrap();
        for (i, a) in packet.attachments.iter().enumerate() {
            assert!(out.is_none(), "complete before attachment {i}");
            out = dec.feed_binary(a.clone()).unwrap();
        }
        let got = out.expect("packet complete");
        assert_eq!(got.kind, expect_kind);
        assert_eq!(got.nsp, packet.nsp);
        assert_eq!(got.id, packet.id);
        assert_eq!(got.data, packet.data);
        assert_eq!(got.attachments, packet.attachments);
        assert!(!dec.is_awaiting_binary());
    }

    // ---- every example of the v5 spec ----

    #[test]
    fn spec_connect_main() {
        round_trip(&Packet::connect("/", None), "0", PacketKind::Connect);
    }

    #[test]
    fn spec_connect_custom_with_sid() {
        let p = Packet::connect("/admin", Some(json!({"sid": "oSO0OpakMV_3jnilAAAA"})));
        round_trip(
            &p,
            r#"0/admin,{"sid":"oSO0OpakMV_3jnilAAAA"}"#,
            PacketKind::Connect,
        );
    }

    #[test]
    fn spec_connect_error() {
        let p = Packet::connect_error("/", json!({"message": "Not authorized"}));
        round_trip(
            &p,
            r#"4{"message":"Not authorized"}"#,
            PacketKind::ConnectError,
        );
        let p = Packet::connect_error("/", json!({"message": "Invalid namespace"}));
        assert_eq!(encode(&p), r#"4{"message":"Invalid namespace"}"#);
    }

    #[test]
    fn connect_error_string_payload() {
        round_trip(
            &Packet::connect_error("/x", json!("nope")),
            r#"4/x,"nope""#,
            PacketKind::ConnectError,
        );
    }

    #[test]
    fn spec_event_main_and_custom() {
        round_trip(
            &Packet::event("/", json!(["foo"]), vec![], None),
            r#"2["foo"]"#,
            PacketKind::Event,
        );
        round_trip(
            &Packet::event("/admin", json!(["bar"]), vec![], None),
            r#"2/admin,["bar"]"#,
            PacketKind::Event,
        );
        assert_eq!(
            encode(&Packet::event("/", json!(["hello", 1]), vec![], None)),
            r#"2["hello",1]"#
        );
    }

    #[test]
    fn spec_binary_event_one_attachment() {
        let p = Packet::event(
            "/",
            json!(["baz", ph(0)]),
            vec![Bytes::from_static(&[1, 2, 3, 4])],
            None,
        );
        round_trip(
            &p,
            r#"51-["baz",{"_placeholder":true,"num":0}]"#,
            PacketKind::BinaryEvent,
        );
    }

    #[test]
    fn spec_binary_event_multiple_attachments() {
        let p = Packet::event(
            "/admin",
            json!(["baz", ph(0), ph(1)]),
            vec![Bytes::from_static(&[1, 2]), Bytes::from_static(&[3, 4])],
            None,
        );
        round_trip(
            &p,
            r#"52-/admin,["baz",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#,
            PacketKind::BinaryEvent,
        );
    }

    #[test]
    fn spec_acks() {
        round_trip(
            &Packet::event("/", json!(["foo"]), vec![], Some(12)),
            r#"212["foo"]"#,
            PacketKind::Event,
        );
        round_trip(
            &Packet::ack("/admin", json!(["bar"]), vec![], 13),
            r#"3/admin,13["bar"]"#,
            PacketKind::Ack,
        );
        round_trip(
            &Packet::ack("/", json!([]), vec![], 12),
            "312[]",
            PacketKind::Ack,
        );
        let p = Packet::ack(
            "/",
            json!(["bar", ph(0)]),
            vec![Bytes::from_static(&[1, 2, 3, 4])],
            15,
        );
        round_trip(
            &p,
            r#"61-15["bar",{"_placeholder":true,"num":0}]"#,
            PacketKind::BinaryAck,
        );
    }

    #[test]
    fn spec_disconnect() {
        round_trip(&Packet::disconnect("/"), "1", PacketKind::Disconnect);
        round_trip(
            &Packet::disconnect("/admin"),
            "1/admin,",
            PacketKind::Disconnect,
        );
        assert_eq!(encode(&Packet::connect("/admin", None)), "0/admin,");
    }

    #[test]
    fn spec_sample_session_frames() {
        let p = decoded("0/admin,");
        assert_eq!(
            (p.kind, &*p.nsp, &p.data),
            (PacketKind::Connect, "/admin", &None)
        );
        let p = decoded(r#"2/admin,1["tellme"]"#);
        assert_eq!((&*p.nsp, p.id), ("/admin", Some(1)));
        assert_eq!(p.data, Some(json!(["tellme"])));
        let p = Packet::ack("/admin", json!([ph(0)]), vec![Bytes::from_static(b"x")], 1);
        round_trip(
            &p,
            r#"61-/admin,1[{"_placeholder":true,"num":0}]"#,
            PacketKind::BinaryAck,
        );
        let p = decoded(r#"0{"sid":"wZX3oN0bSVIhsaknAAAI"}"#);
        assert_eq!(p.data, Some(json!({"sid": "wZX3oN0bSVIhsaknAAAI"})));
    }

    // ---- decoder behaviour ----

    #[test]
    fn attachments_arrive_across_several_feeds() {
        let mut dec = Decoder::new(10);
        let text = r#"53-/chat,7["up",{"a":{"_placeholder":true,"num":2}},[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]]"#;
        assert_eq!(dec.feed_text(text), Ok(None));
        assert!(dec.is_awaiting_binary());
        assert_eq!(dec.feed_binary(Bytes::from_static(b"zero")), Ok(None));
        assert_eq!(dec.feed_binary(Bytes::from_static(b"one")), Ok(None));
        let p = dec
            .feed_binary(Bytes::from_static(b"two"))
            .unwrap()
            .unwrap();
        assert_eq!(p.kind, PacketKind::BinaryEvent);
        assert_eq!((&*p.nsp, p.id), ("/chat", Some(7)));
        assert_eq!(p.attachments, vec![&b"zero"[..], &b"one"[..], &b"two"[..]]);
        // Placeholders stay in the data for crate::args to resolve.
        assert_eq!(p.data, Some(json!(["up", {"a": ph(2)}, [ph(0), ph(1)]])));
        // The decoder is ready for the next packet.
        assert!(!dec.is_awaiting_binary());
        assert!(dec.feed_text(r#"2["next"]"#).unwrap().is_some());
    }

    #[test]
    fn commas_in_json_are_not_a_namespace() {
        let p = decoded(r#"2["a,b","/c,d"]"#);
        assert_eq!(p.nsp, "/");
        assert_eq!(p.data, Some(json!(["a,b", "/c,d"])));
        let p = decoded(r#"2/x,["a,b"]"#);
        assert_eq!(p.nsp, "/x");
        let p = decoded(r#"3/x,5["/y,"]"#);
        assert_eq!((&*p.nsp, p.id), ("/x", Some(5)));
    }

    #[test]
    fn unterminated_namespace_runs_to_end_like_node() {
        let p = decoded("0/admin");
        assert_eq!(p.nsp, "/admin");
        assert_eq!(p.data, None);
    }

    #[test]
    fn numeric_event_name_is_accepted_like_node() {
        assert_eq!(decoded("2[42,1]").data, Some(json!([42, 1])));
    }

    #[test]
    fn unicode_namespace_and_payload() {
        let p = Packet::event("/ñ日本", json!(["é", "😀"]), vec![], Some(3));
        round_trip(&p, "2/ñ日本,3[\"é\",\"😀\"]", PacketKind::Event);
    }

    #[test]
    fn object_key_order_is_preserved() {
        let text = r#"2["ev",{"z":1,"a":2,"m":{"y":0,"b":1}}]"#;
        let p = decoded(text);
        assert_eq!(encode(&p), text);
    }

    #[test]
    fn max_u64_id_round_trips_and_overflow_fails() {
        let p = Packet::ack("/", json!([]), vec![], u64::MAX);
        round_trip(&p, "318446744073709551615[]", PacketKind::Ack);
        assert_eq!(
            decode_one("318446744073709551616[]"),
            Err(ParseError::BadId)
        );
        assert_eq!(
            decode_one("3999999999999999999999999[]"),
            Err(ParseError::BadId)
        );
    }

    #[test]
    fn binary_kind_without_attachments_encodes_as_plain() {
        let mut p = Packet::event("/", json!(["x"]), vec![], None);
        p.kind = PacketKind::BinaryEvent;
        assert_eq!(encode(&p), r#"2["x"]"#);
        p.kind = PacketKind::BinaryAck;
        p.id = Some(1);
        assert_eq!(encode(&p), r#"31["x"]"#);
    }

    #[test]
    fn placeholder_shaped_objects_in_plain_events_pass_through() {
        // Node only reconstructs binary packets, so neither do we check here.
        let p = decoded(r#"2["ev",{"_placeholder":true,"num":9}]"#);
        assert_eq!(p.data, Some(json!(["ev", ph(9)])));
        assert_eq!(p.validate(), Ok(()));
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        let depth = 100_000;
        let text = format!("2[\"e\",{}{}]", "[".repeat(depth), "]".repeat(depth));
        assert_eq!(decode_one(&text), Err(ParseError::InvalidJson));
        let text = format!("0{}", "{\"a\":".repeat(depth));
        assert_eq!(decode_one(&text), Err(ParseError::InvalidJson));
        // Within serde_json's limit (128) decoding works.
        let text = format!("2[\"e\",{}{}]", "[".repeat(120), "]".repeat(120));
        assert!(decode_one(&text).unwrap().is_some());
    }

    // ---- every ParseError class ----

    #[test]
    fn error_empty() {
        assert_eq!(decode_one(""), Err(ParseError::Empty));
    }

    #[test]
    fn error_unknown_type() {
        for t in ["7", "9[\"a\"]", "a", "-1", "é", " 2[\"a\"]"] {
            assert_eq!(decode_one(t), Err(ParseError::UnknownType), "{t:?}");
        }
    }

    #[test]
    fn error_bad_attachment_count() {
        for t in [
            "5",
            "5-[\"a\"]",
            "50-[\"a\"]",
            "5[\"a\"]",
            "51[\"a\"]",
            "5x-[\"a\"]",
            "5 1-[\"a\"]",
            "6/admin,1[]",
        ] {
            assert_eq!(decode_one(t), Err(ParseError::BadAttachmentCount), "{t:?}");
        }
        let mut p = Packet::connect("/", None);
        p.attachments.push(Bytes::new());
        assert_eq!(p.validate(), Err(ParseError::BadAttachmentCount));
    }

    #[test]
    fn error_too_many_attachments() {
        let ok = r#"52-["a",{"_placeholder":true,"num":1}]"#;
        assert_eq!(Decoder::new(2).feed_text(ok), Ok(None));
        assert_eq!(
            Decoder::new(1).feed_text(ok),
            Err(ParseError::TooManyAttachments)
        );
        assert_eq!(
            Decoder::new(0).feed_text(r#"51-["a"]"#),
            Err(ParseError::TooManyAttachments)
        );
        assert_eq!(
            decode_one(r#"599999999999999999999999999-["a"]"#),
            Err(ParseError::TooManyAttachments)
        );
    }

    #[test]
    fn error_bad_namespace_from_validate() {
        for nsp in ["", "admin", "/a,b"] {
            let p = Packet::event(nsp, json!(["x"]), vec![], None);
            assert_eq!(p.validate(), Err(ParseError::BadNamespace), "{nsp:?}");
        }
    }

    #[test]
    fn error_invalid_json() {
        for t in [
            "2[",
            "2[\"a\"]x",
            "0{",
            "2/admin,{",
            "4'x'",
            "2 ",
            "212",
            "2[\"a\"] [\"b\"]",
            "2/admin,12,[\"a\"]",
        ] {
            let got = decode_one(t);
            // "212" is EVENT id 12 without payload: shape error, not JSON.
            if t == "212" {
                assert_eq!(got, Err(ParseError::InvalidPayload));
            } else {
                assert_eq!(got, Err(ParseError::InvalidJson), "{t:?}");
            }
        }
    }

    #[test]
    fn error_invalid_payload() {
        for t in [
            "0[]",
            "0\"s\"",
            "01[1]",
            "1{}",
            "1/admin,[]",
            "4",
            "4[]",
            "41",
            "2",
            "2{}",
            "2[]",
            "2[null]",
            "2[[\"a\"]]",
            "2[\"connect\"]",
            "2[\"connect_error\"]",
            "2[\"disconnect\"]",
            "2[\"disconnecting\"]",
            "2[\"newListener\"]",
            "2[\"removeListener\"]",
            "3",
            "31",
            "31{}",
            "3\"a\"",
            "51-",
            "51-{}",
            "51-[]",
            "61-{}",
        ] {
            assert_eq!(decode_one(t), Err(ParseError::InvalidPayload), "{t:?}");
        }
        assert_eq!(
            Packet::event("/", json!(["disconnect"]), vec![], None).validate(),
            Err(ParseError::InvalidPayload)
        );
    }

    #[test]
    fn error_unexpected_binary() {
        let mut dec = Decoder::new(10);
        assert_eq!(
            dec.feed_binary(Bytes::from_static(b"x")),
            Err(ParseError::UnexpectedBinary)
        );
        dec.feed_text(r#"2["a"]"#).unwrap();
        assert_eq!(
            dec.feed_binary(Bytes::new()),
            Err(ParseError::UnexpectedBinary)
        );
        // After a completed binary packet, one binary too many is refused.
        dec.feed_text(r#"51-["a",{"_placeholder":true,"num":0}]"#)
            .unwrap();
        assert!(dec.feed_binary(Bytes::new()).unwrap().is_some());
        assert_eq!(
            dec.feed_binary(Bytes::new()),
            Err(ParseError::UnexpectedBinary)
        );
    }

    #[test]
    fn error_unexpected_text() {
        let mut dec = Decoder::new(10);
        let text = r#"52-["a",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#;
        assert_eq!(dec.feed_text(text), Ok(None));
        assert_eq!(dec.feed_binary(Bytes::from_static(b"0")), Ok(None));
        assert_eq!(dec.feed_text(r#"2["b"]"#), Err(ParseError::UnexpectedText));
        // The pending packet is untouched by the error...
        let p = dec.feed_binary(Bytes::from_static(b"1")).unwrap().unwrap();
        assert_eq!(p.attachments.len(), 2);
        // ...and reset() drops a pending one.
        dec.feed_text(text).unwrap();
        dec.reset();
        assert!(dec.feed_text(r#"2["b"]"#).unwrap().is_some());
    }

    #[test]
    fn error_placeholder_out_of_range() {
        for t in [
            r#"51-["a",{"_placeholder":true,"num":1}]"#,
            r#"52-["a",{"x":[{"_placeholder":true,"num":5}]}]"#,
            r#"61-3[{"_placeholder":true,"num":18446744073709551615}]"#,
        ] {
            assert_eq!(
                decode_one(t),
                Err(ParseError::PlaceholderOutOfRange),
                "{t:?}"
            );
        }
        let p = Packet::event("/", json!(["a", ph(1)]), vec![Bytes::new()], None);
        assert_eq!(p.validate(), Err(ParseError::PlaceholderOutOfRange));
    }

    #[test]
    fn error_bad_placeholder() {
        for t in [
            r#"51-["a",{"_placeholder":true}]"#,
            r#"51-["a",{"_placeholder":true,"num":-1}]"#,
            r#"51-["a",{"_placeholder":true,"num":0.5}]"#,
            r#"51-["a",{"_placeholder":true,"num":"0"}]"#,
        ] {
            assert_eq!(decode_one(t), Err(ParseError::BadPlaceholder), "{t:?}");
        }
        // `_placeholder` not exactly `true` is an ordinary object.
        assert_eq!(
            decode_one(r#"51-["a",{"_placeholder":1,"num":7}]"#),
            Ok(None)
        );
    }

    #[test]
    fn errors_display_and_are_std_errors() {
        let e: Box<dyn std::error::Error> = Box::new(ParseError::UnexpectedText);
        assert_eq!(
            e.to_string(),
            "text message while binary attachments are awaited"
        );
    }

    // ---- property tests ----

    fn arb_json() -> impl Strategy<Value = Value> {
        // Integers and strings only: without serde_json's float_roundtrip
        // feature, f64 text round trips are not guaranteed bit-exact.
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
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

    fn arb_nsp() -> impl Strategy<Value = String> {
        prop_oneof![Just("/".to_owned()), "/[^,]{0,12}"]
    }

    fn arb_event_name() -> impl Strategy<Value = Value> {
        prop_oneof![
            any::<String>()
                .prop_filter("reserved", |s| !RESERVED_EVENTS.contains(&s.as_str()))
                .prop_map(Value::String),
            any::<u32>().prop_map(Value::from),
        ]
    }

    fn arb_packet() -> impl Strategy<Value = Packet> {
        let args = prop::collection::vec(arb_json(), 0..4);
        let atts = prop::collection::vec(prop::collection::vec(any::<u8>(), 0..16), 0..4);
        let event_or_ack = (
            any::<bool>(),
            arb_nsp(),
            any::<Option<u64>>(),
            arb_event_name(),
            args,
            atts,
            any::<bool>(),
        )
            .prop_map(|(is_event, nsp, id, name, mut args, atts, nest)| {
                for n in 0..atts.len() {
                    // Placeholders at top level or nested in an object.
                    let p = ph(n as u64);
                    args.push(if nest { json!({"blob": p}) } else { p });
                }
                let attachments = atts.into_iter().map(Bytes::from).collect();
                if is_event {
                    args.insert(0, name);
                    Packet::event(&nsp, Value::Array(args), attachments, id)
                } else {
                    Packet::ack(&nsp, Value::Array(args), attachments, id.unwrap_or(0))
                }
            });
        let obj = || {
            prop::collection::vec((any::<String>(), arb_json()), 0..4)
                .prop_map(|kv| Value::Object(kv.into_iter().collect()))
        };
        let other = prop_oneof![
            (arb_nsp(), prop::option::of(obj())).prop_map(|(n, d)| Packet::connect(&n, d)),
            arb_nsp().prop_map(|n| Packet::disconnect(&n)),
            (arb_nsp(), obj()).prop_map(|(n, d)| Packet::connect_error(&n, d)),
            (arb_nsp(), any::<String>())
                .prop_map(|(n, s)| Packet::connect_error(&n, Value::String(s))),
        ];
        prop_oneof![3 => event_or_ack, 1 => other]
    }

    proptest! {
        #[test]
        fn prop_round_trip(packet in arb_packet()) {
            prop_assert_eq!(packet.validate(), Ok(()));
            let text = encode(&packet);
            let mut dec = Decoder::new(4);
            let wire_kind = packet.wire_kind();
            let mut out = dec.feed_text(&text).unwrap();
            if wire_kind.is_binary() {
                for a in &packet.attachments {
                    prop_assert!(out.is_none());
                    out = dec.feed_binary(a.clone()).unwrap();
                }
            }
            let got = out.unwrap();
            let mut want = packet.clone();
            want.kind = wire_kind;
            prop_assert_eq!(got, want);
            prop_assert!(!dec.is_awaiting_binary());
        }

        #[test]
        fn prop_arbitrary_text_never_panics(text in any::<String>()) {
            let _ = Decoder::new(10).feed_text(&text);
        }

        #[test]
        fn prop_protocol_shaped_text_never_panics(
            text in "[0-7][0-9-]{0,3}(/[a-z,/]{0,4})?[0-9]{0,4}[\\[\\]{}\",:0-9a-z_ -]{0,24}"
        ) {
            let _ = Decoder::new(3).feed_text(&text);
        }

        #[test]
        fn prop_arbitrary_message_sequences_never_panic(
            msgs in prop::collection::vec(
                prop_oneof![
                    any::<String>().prop_map(Ok),
                    "5[0-3]-(/a,)?[0-9]{0,2}\\[\"e\",\\{\"_placeholder\":true,\"num\":[0-3]\\}\\]"
                        .prop_map(Ok),
                    prop::collection::vec(any::<u8>(), 0..8).prop_map(Err),
                ],
                0..12,
            )
        ) {
            let mut dec = Decoder::new(3);
            for m in msgs {
                let _ = match m {
                    Ok(text) => dec.feed_text(&text),
                    Err(bin) => dec.feed_binary(Bytes::from(bin)),
                };
            }
        }
    }
}
