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
//! Pure like the text codec: bytes in, packets out, no I/O. Untrusted input never
//! panics: every read is a bounds-checked slice, the whole message's framing is
//! walked (iteratively) before anything is allocated, so a declared length is never
//! trusted, and building values recurses at most [`MAX_DEPTH`] levels.
//!
//! Where JavaScript gives notepack's values a meaning (`undefined`, `Date`,
//! `ArrayBuffer`, non-finite numbers, numeric object keys), decoding yields what the
//! default text parser would have delivered for the same `emit`, that is what
//! `JSON.stringify` makes of it.

use bytes::Bytes;
use serde_json::{Map, Number, Value};

use super::{
    check_payload, check_placeholders, namespace_name, Packet, PacketKind, ParseError,
    MAIN_NAMESPACE,
};

/// Deepest container nesting accepted inside `data`: about the bound serde_json puts
/// on the text format, so both formats accept the same payloads, and a bound on the
/// recursion of [`Builder::value`].
const MAX_DEPTH: usize = 128;

const NIL: u8 = 0xc0;

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
    let mut w = Writer {
        out: Vec::with_capacity(64),
        attachments: &packet.attachments,
    };
    let fields = 2 + usize::from(packet.data.is_some()) + usize::from(packet.id.is_some());
    w.map_len(fields);
    w.str("type");
    w.uint(wire_type(packet.kind));
    if let Some(data) = &packet.data {
        w.str("data");
        match (data, extra) {
            (Value::Array(items), Some(arg)) => {
                if w.array_len(items.len().saturating_add(1)) {
                    w.walk(Frame::Items(items.iter()));
                    w.str(arg);
                }
            }
            _ => w.value(data),
        }
    }
    w.str("nsp");
    w.str(if packet.nsp.is_empty() {
        MAIN_NAMESPACE
    } else {
        &packet.nsp
    });
    if let Some(id) = packet.id {
        w.str("id");
        w.uint(id);
    }
    w.out
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

struct Writer<'a> {
    out: Vec<u8>,
    attachments: &'a [Bytes],
}

/// A container being written: what is left of it.
enum Frame<'v> {
    Items(std::slice::Iter<'v, Value>),
    Entries(serde_json::map::Iter<'v>),
}

impl<'a> Writer<'a> {
    fn value(&mut self, value: &Value) {
        if let Some(frame) = self.open(value) {
            self.walk(frame);
        }
    }

    /// Writes the rest of a container. A loop with its own stack rather than
    /// recursion: a `Value` built in code has no depth limit, and encoding must not
    /// overflow the thread's stack.
    fn walk<'v>(&mut self, first: Frame<'v>) {
        let mut stack = vec![first];
        while let Some(top) = stack.last_mut() {
            let next = match top {
                Frame::Items(items) => items.next(),
                Frame::Entries(entries) => entries.next().map(|(key, value)| {
                    self.str(key);
                    value
                }),
            };
            match next {
                Some(value) => {
                    if let Some(frame) = self.open(value) {
                        stack.push(frame);
                    }
                }
                None => {
                    stack.pop();
                }
            }
        }
    }

    /// Writes a scalar whole, or a container's header and returns what remains of it.
    fn open<'v>(&mut self, value: &'v Value) -> Option<Frame<'v>> {
        match value {
            Value::Null => self.out.push(NIL),
            Value::Bool(b) => self.out.push(if *b { 0xc3 } else { 0xc2 }),
            Value::Number(n) => self.number(n),
            Value::String(s) => self.str(s),
            Value::Array(items) => {
                if self.array_len(items.len()) {
                    return Some(Frame::Items(items.iter()));
                }
            }
            Value::Object(map) => {
                if let Some(bytes) = self.attachment(map) {
                    self.bin(bytes);
                } else if self.map_len(map.len()) {
                    return Some(Frame::Entries(map.iter()));
                }
            }
        }
        None
    }

    /// The attachment a placeholder stands for. Like Node's reconstruction, only
    /// `_placeholder === true` and `num` matter; other keys are ignored.
    fn attachment(&self, map: &Map<String, Value>) -> Option<&'a Bytes> {
        if map.get("_placeholder") != Some(&Value::Bool(true)) {
            return None;
        }
        let num = map.get("num")?.as_u64()?;
        self.attachments.get(usize::try_from(num).ok()?)
    }

    fn number(&mut self, n: &Number) {
        if let Some(u) = n.as_u64() {
            self.uint(u);
        } else if let Some(i) = n.as_i64() {
            self.negative(i);
        } else if let Some(f) = n.as_f64() {
            self.out.push(0xcb);
            self.out.extend_from_slice(&f.to_be_bytes());
        } else {
            self.out.push(NIL);
        }
    }

    /// The smallest unsigned form, as notepack picks for a non-negative integer.
    fn uint(&mut self, n: u64) {
        if n < 0x80 {
            self.out.push(n as u8);
        } else if let Ok(b) = u8::try_from(n) {
            self.out.extend_from_slice(&[0xcc, b]);
        } else if let Ok(h) = u16::try_from(n) {
            self.out.push(0xcd);
            self.out.extend_from_slice(&h.to_be_bytes());
        } else if let Ok(w) = u32::try_from(n) {
            self.out.push(0xce);
            self.out.extend_from_slice(&w.to_be_bytes());
        } else {
            self.out.push(0xcf);
            self.out.extend_from_slice(&n.to_be_bytes());
        }
    }

    /// The smallest signed form of a negative integer.
    fn negative(&mut self, n: i64) {
        if n >= -32 {
            // Negative fixint: the byte is the two's complement value itself.
            self.out.push(n.to_be_bytes()[7]);
        } else if let Ok(b) = i8::try_from(n) {
            self.out.push(0xd0);
            self.out.extend_from_slice(&b.to_be_bytes());
        } else if let Ok(h) = i16::try_from(n) {
            self.out.push(0xd1);
            self.out.extend_from_slice(&h.to_be_bytes());
        } else if let Ok(w) = i32::try_from(n) {
            self.out.push(0xd2);
            self.out.extend_from_slice(&w.to_be_bytes());
        } else {
            self.out.push(0xd3);
            self.out.extend_from_slice(&n.to_be_bytes());
        }
    }

    fn str(&mut self, s: &str) {
        if self.len_prefix(s.len(), Some((0xa0, 32)), Some(0xd9), 0xda, 0xdb) {
            self.out.extend_from_slice(s.as_bytes());
        }
    }

    fn bin(&mut self, bytes: &[u8]) {
        if self.len_prefix(bytes.len(), None, Some(0xc4), 0xc5, 0xc6) {
            self.out.extend_from_slice(bytes);
        }
    }

    fn array_len(&mut self, len: usize) -> bool {
        self.len_prefix(len, Some((0x90, 16)), None, 0xdc, 0xdd)
    }

    fn map_len(&mut self, len: usize) -> bool {
        self.len_prefix(len, Some((0x80, 16)), None, 0xde, 0xdf)
    }

    /// Writes the shortest length prefix the type has: the fix form (base tag, lengths
    /// below the limit), else the 8-, 16- or 32-bit form. Writes nil and returns false
    /// for a length msgpack cannot express, so the caller skips the body.
    fn len_prefix(
        &mut self,
        len: usize,
        fix: Option<(u8, usize)>,
        tag8: Option<u8>,
        tag16: u8,
        tag32: u8,
    ) -> bool {
        if let Some((base, limit)) = fix {
            if len < limit {
                // len < 32 here, so it fits the tag's low bits.
                self.out.push(base | len as u8);
                return true;
            }
        }
        if let (Some(tag), Ok(b)) = (tag8, u8::try_from(len)) {
            self.out.extend_from_slice(&[tag, b]);
        } else if let Ok(h) = u16::try_from(len) {
            self.out.push(tag16);
            self.out.extend_from_slice(&h.to_be_bytes());
        } else if let Ok(w) = u32::try_from(len) {
            self.out.push(tag32);
            self.out.extend_from_slice(&w.to_be_bytes());
        } else {
            self.out.push(NIL);
            return false;
        }
        true
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
    framing.skip_items(1)?;
    if framing.remaining() != 0 {
        return Err(ParseError::InvalidMsgpack);
    }

    // First find where each known field's value starts, then read the fields in the
    // parser's order.
    let mut reader = Reader::at(bytes, 0);
    let Token::Map(entries) = reader.token()? else {
        return Err(ParseError::UnknownType);
    };
    let (mut type_at, mut nsp_at, mut data_at, mut id_at) = (None, None, None, None);
    for _ in 0..entries {
        let key = reader.token()?;
        let slot = match key {
            Token::Str(b"type") => Some(&mut type_at),
            Token::Str(b"nsp") => Some(&mut nsp_at),
            Token::Str(b"data") => Some(&mut data_at),
            Token::Str(b"id") => Some(&mut id_at),
            _ => None,
        };
        // A key that is itself a container is legal msgpack; step over its contents.
        reader.skip_items(key.children()?)?;
        if let Some(slot) = slot {
            *slot = Some(reader.pos);
        }
        reader.skip_items(1)?;
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
        Some(Token::Str(raw)) => namespace_name(utf8(raw)?),
        _ => return Err(ParseError::BadNamespace),
    };

    let mut builder = Builder {
        reader: Reader::at(bytes, 0),
        attachments: Vec::new(),
        max_attachments,
    };
    let data = match data_at {
        Some(at) => {
            builder.reader.pos = at;
            // nil stands for an absent payload: notepack 3 writes `undefined` so.
            builder.value(0)?.filter(|v| !v.is_null())
        }
        None => None,
    };
    let attachments = builder.attachments;
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

fn token_at(bytes: &[u8], at: Option<usize>) -> Result<Option<Token<'_>>, ParseError> {
    at.map(|at| Reader::at(bytes, at).token()).transpose()
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

fn utf8(raw: &[u8]) -> Result<&str, ParseError> {
    std::str::from_utf8(raw).map_err(|_| ParseError::InvalidMsgpack)
}

/// One msgpack item as read: scalars whole, containers as their entry counts.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Token<'a> {
    Nil,
    Bool(bool),
    Uint(u64),
    Int(i64),
    Float(f64),
    Str(&'a [u8]),
    Bin(&'a [u8]),
    Array(usize),
    Map(usize),
    /// `prefix` is kept: notepack gives a type different meanings in different forms.
    Ext {
        prefix: u8,
        tag: i8,
        body: &'a [u8],
    },
}

impl Token<'_> {
    /// How many items follow as this one's contents.
    fn children(&self) -> Result<usize, ParseError> {
        match *self {
            Token::Array(n) => Ok(n),
            Token::Map(n) => n.checked_mul(2).ok_or(ParseError::InvalidMsgpack),
            _ => Ok(0),
        }
    }

    /// notepack's value for JavaScript `undefined` (which its version 2 writes).
    fn is_undefined(&self) -> bool {
        matches!(
            self,
            Token::Ext {
                prefix: 0xd4,
                tag: 0,
                ..
            }
        )
    }
}

struct Reader<'a> {
    input: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn at(input: &'a [u8], pos: usize) -> Self {
        Self { input, pos }
    }

    fn remaining(&self) -> usize {
        self.input.len().saturating_sub(self.pos)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], ParseError> {
        let end = self.pos.checked_add(n).ok_or(ParseError::InvalidMsgpack)?;
        let bytes = self
            .input
            .get(self.pos..end)
            .ok_or(ParseError::InvalidMsgpack)?;
        self.pos = end;
        Ok(bytes)
    }

    fn fixed<const N: usize>(&mut self) -> Result<[u8; N], ParseError> {
        self.take(N)?
            .try_into()
            .map_err(|_| ParseError::InvalidMsgpack)
    }

    fn byte(&mut self) -> Result<u8, ParseError> {
        Ok(u8::from_be_bytes(self.fixed()?))
    }

    fn len8(&mut self) -> Result<usize, ParseError> {
        Ok(usize::from(self.byte()?))
    }

    fn len16(&mut self) -> Result<usize, ParseError> {
        Ok(usize::from(u16::from_be_bytes(self.fixed()?)))
    }

    fn len32(&mut self) -> Result<usize, ParseError> {
        usize::try_from(u32::from_be_bytes(self.fixed()?)).map_err(|_| ParseError::InvalidMsgpack)
    }

    fn ext(&mut self, prefix: u8, len: usize) -> Result<Token<'a>, ParseError> {
        let tag = i8::from_be_bytes(self.fixed()?);
        let body = self.take(len)?;
        Ok(Token::Ext { prefix, tag, body })
    }

    fn token(&mut self) -> Result<Token<'a>, ParseError> {
        let prefix = self.byte()?;
        Ok(match prefix {
            0x00..=0x7f => Token::Uint(u64::from(prefix)),
            0x80..=0x8f => Token::Map(usize::from(prefix & 0x0f)),
            0x90..=0x9f => Token::Array(usize::from(prefix & 0x0f)),
            0xa0..=0xbf => Token::Str(self.take(usize::from(prefix & 0x1f))?),
            0xc0 => Token::Nil,
            0xc1 => return Err(ParseError::InvalidMsgpack),
            0xc2 => Token::Bool(false),
            0xc3 => Token::Bool(true),
            0xc4 => {
                let n = self.len8()?;
                Token::Bin(self.take(n)?)
            }
            0xc5 => {
                let n = self.len16()?;
                Token::Bin(self.take(n)?)
            }
            0xc6 => {
                let n = self.len32()?;
                Token::Bin(self.take(n)?)
            }
            0xc7 => {
                let n = self.len8()?;
                self.ext(prefix, n)?
            }
            0xc8 => {
                let n = self.len16()?;
                self.ext(prefix, n)?
            }
            0xc9 => {
                let n = self.len32()?;
                self.ext(prefix, n)?
            }
            0xca => Token::Float(f32::from_be_bytes(self.fixed()?).into()),
            0xcb => Token::Float(f64::from_be_bytes(self.fixed()?)),
            0xcc => Token::Uint(self.byte()?.into()),
            0xcd => Token::Uint(u16::from_be_bytes(self.fixed()?).into()),
            0xce => Token::Uint(u32::from_be_bytes(self.fixed()?).into()),
            0xcf => Token::Uint(u64::from_be_bytes(self.fixed()?)),
            0xd0 => Token::Int(i8::from_be_bytes(self.fixed()?).into()),
            0xd1 => Token::Int(i16::from_be_bytes(self.fixed()?).into()),
            0xd2 => Token::Int(i32::from_be_bytes(self.fixed()?).into()),
            0xd3 => Token::Int(i64::from_be_bytes(self.fixed()?)),
            0xd4 => self.ext(prefix, 1)?,
            0xd5 => self.ext(prefix, 2)?,
            0xd6 => self.ext(prefix, 4)?,
            0xd7 => self.ext(prefix, 8)?,
            0xd8 => self.ext(prefix, 16)?,
            0xd9 => {
                let n = self.len8()?;
                Token::Str(self.take(n)?)
            }
            0xda => {
                let n = self.len16()?;
                Token::Str(self.take(n)?)
            }
            0xdb => {
                let n = self.len32()?;
                Token::Str(self.take(n)?)
            }
            0xdc => Token::Array(self.len16()?),
            0xdd => Token::Array(self.len32()?),
            0xde => Token::Map(self.len16()?),
            0xdf => Token::Map(self.len32()?),
            0xe0..=0xff => Token::Int(i8::from_be_bytes([prefix]).into()),
        })
    }

    /// Steps over `pending` whole items. Counts instead of recursing, so any depth
    /// is fine here, and gives up as soon as the items still owed could not fit in
    /// the input left (each takes at least a byte), so huge declared counts cost
    /// nothing.
    fn skip_items(&mut self, mut pending: usize) -> Result<(), ParseError> {
        while pending > 0 {
            if pending > self.remaining() {
                return Err(ParseError::InvalidMsgpack);
            }
            let token = self.token()?;
            pending = (pending - 1)
                .checked_add(token.children()?)
                .ok_or(ParseError::InvalidMsgpack)?;
        }
        Ok(())
    }
}

/// Builds `data` out of msgpack, collecting its binary values as attachments.
struct Builder<'a> {
    reader: Reader<'a>,
    attachments: Vec<Bytes>,
    max_attachments: usize,
}

impl Builder<'_> {
    /// The value at the reader, `depth` containers deep inside `data`; `None` is
    /// JavaScript's `undefined`, which JSON has not.
    fn value(&mut self, depth: usize) -> Result<Option<Value>, ParseError> {
        let value = match self.reader.token()? {
            Token::Nil => Value::Null,
            Token::Bool(b) => Value::Bool(b),
            Token::Uint(u) => Value::from(u),
            Token::Int(i) => Value::from(i),
            // NaN and the infinities are JavaScript numbers; JSON.stringify writes null.
            Token::Float(f) => Number::from_f64(f).map_or(Value::Null, Value::Number),
            Token::Str(raw) => Value::String(utf8(raw)?.to_owned()),
            Token::Bin(raw) => self.placeholder(raw)?,
            Token::Array(len) => {
                if depth >= MAX_DEPTH {
                    return Err(ParseError::InvalidPayload);
                }
                let mut items = Vec::with_capacity(len.min(self.reader.remaining()));
                for _ in 0..len {
                    // In an array, JSON.stringify turns undefined into null.
                    items.push(self.value(depth + 1)?.unwrap_or(Value::Null));
                }
                Value::Array(items)
            }
            Token::Map(len) => {
                if depth >= MAX_DEPTH {
                    return Err(ParseError::InvalidPayload);
                }
                let mut map = Map::with_capacity(len.min(self.reader.remaining() / 2));
                for _ in 0..len {
                    let key = self.key()?;
                    // JSON.stringify drops an undefined member (and notepack 3 does
                    // not write one), so an object means the same from both versions.
                    match self.value(depth + 1)? {
                        Some(value) => {
                            map.insert(key, value);
                        }
                        None => {
                            map.shift_remove(&key);
                        }
                    }
                }
                Value::Object(map)
            }
            Token::Ext { prefix, tag, body } => return self.ext(prefix, tag, body),
        };
        Ok(Some(value))
    }

    /// A map key. JavaScript turns a number key into its decimal string; other
    /// kinds would become strings like "[object Object]", which no sender means.
    fn key(&mut self) -> Result<String, ParseError> {
        match self.reader.token()? {
            Token::Str(raw) => Ok(utf8(raw)?.to_owned()),
            Token::Uint(u) => Ok(u.to_string()),
            Token::Int(i) => Ok(i.to_string()),
            _ => Err(ParseError::InvalidPayload),
        }
    }

    fn placeholder(&mut self, raw: &[u8]) -> Result<Value, ParseError> {
        let num = self.attachments.len();
        if num >= self.max_attachments {
            return Err(ParseError::TooManyAttachments);
        }
        self.attachments.push(Bytes::copy_from_slice(raw));
        Ok(serde_json::json!({"_placeholder": true, "num": num}))
    }

    /// Extension types as notepack 3 decodes them. Its version 2 (what
    /// socket.io-msgpack-parser 3.0.2 itself depends on) writes `undefined` as fixext 1
    /// of type 0, a Date as fixext 8 of type 0 and an ArrayBuffer or typed array as
    /// ext 8/16/32 of type 0; version 3 writes Dates as the standard timestamp type -1.
    fn ext(&mut self, prefix: u8, tag: i8, body: &[u8]) -> Result<Option<Value>, ParseError> {
        let date_ms = match (prefix, tag) {
            (0xd4, 0) => return Ok(None),
            (0xc7..=0xc9, 0) => return self.placeholder(body).map(Some),
            (0xd7, 0) => {
                // Milliseconds since the epoch, as a signed 64-bit integer.
                let hi = f64::from(i32::from_be_bytes(field(body, 0)?));
                let lo = f64::from(u32::from_be_bytes(field(body, 4)?));
                hi * 4_294_967_296.0 + lo
            }
            (0xd6, -1) => f64::from(u32::from_be_bytes(field(body, 0)?)) * 1e3,
            (0xd7, -1) => {
                // 30 bits of nanoseconds, then 34 bits of seconds.
                let hi = u32::from_be_bytes(field(body, 0)?);
                let lo = f64::from(u32::from_be_bytes(field(body, 4)?));
                let secs = f64::from(hi & 0x3) * 4_294_967_296.0 + lo;
                secs * 1e3 + f64::from(hi >> 2) / 1e6
            }
            (0xc7, -1) => {
                // notepack reads 12 bytes whatever the length says; we hold the
                // sender to the format instead of reading into the next value.
                if body.len() != 12 {
                    return Err(ParseError::InvalidMsgpack);
                }
                let nanos = f64::from(u32::from_be_bytes(field(body, 0)?));
                let hi = f64::from(i32::from_be_bytes(field(body, 4)?));
                let lo = f64::from(u32::from_be_bytes(field(body, 8)?));
                (hi * 4_294_967_296.0 + lo) * 1e3 + nanos / 1e6
            }
            _ => {
                // notepack returns [type, Buffer]; the Buffer is binary like any other.
                let bytes = self.placeholder(body)?;
                return Ok(Some(Value::Array(vec![Value::from(tag), bytes])));
            }
        };
        Ok(Some(date_json(date_ms)))
    }
}

/// `N` bytes of an extension's body from `at`.
fn field<const N: usize>(body: &[u8], at: usize) -> Result<[u8; N], ParseError> {
    at.checked_add(N)
        .and_then(|end| body.get(at..end))
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or(ParseError::InvalidMsgpack)
}

/// What `JSON.stringify` writes for `new Date(ms)`. The arithmetic above is done in
/// f64 in the same order as notepack's, so that rounding matches JavaScript's too.
fn date_json(ms: f64) -> Value {
    // A Date holds at most 10^8 days either side of the epoch; beyond, or for NaN, it
    // is an Invalid Date, whose toJSON is null. Otherwise the value is truncated.
    if !ms.is_finite() || ms.abs() > 8.64e15 {
        return Value::Null;
    }
    Value::String(iso_8601(ms.trunc() as i64))
}

const MS_PER_DAY: i64 = 86_400_000;

/// `Date.prototype.toISOString`: millisecond precision, UTC, and years outside
/// 0..=9999 in the expanded six-digit form with a sign.
fn iso_8601(ms: i64) -> String {
    let (year, month, day) = civil_date(ms.div_euclid(MS_PER_DAY));
    let in_day = ms.rem_euclid(MS_PER_DAY);
    let (hour, minute) = (in_day / 3_600_000, in_day / 60_000 % 60);
    let (second, milli) = (in_day / 1000 % 60, in_day % 1000);
    let year = if (0..=9999).contains(&year) {
        format!("{year:04}")
    } else if year < 0 {
        format!("-{:06}", year.unsigned_abs())
    } else {
        format!("+{year:06}")
    };
    format!("{year}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}.{milli:03}Z")
}

/// The proleptic Gregorian (year, month, day) of a day count from 1970-01-01.
fn civil_date(days: i64) -> (i64, i64, i64) {
    // Count from 0000-03-01 instead: with years starting in March, the leap day is
    // the last day of its year, and every 400 years (146097 days) repeat exactly.
    let shifted = days + 719_468;
    let cycle = shifted.div_euclid(146_097);
    let day_of_cycle = shifted.rem_euclid(146_097);
    // Years of 365 days, less the leap days of the 4-, 100- and 400-year rules.
    let year_of_cycle =
        (day_of_cycle - day_of_cycle / 1460 + day_of_cycle / 36_524 - day_of_cycle / 146_096) / 365;
    let day_of_year =
        day_of_cycle - (365 * year_of_cycle + year_of_cycle / 4 - year_of_cycle / 100);
    // Months from March have the lengths 31,30,31,30,31 twice then 31,29: five months
    // take 153 days, which this linear formula spreads.
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_cycle + cycle * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

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
        let mut w = Writer {
            out: Vec::new(),
            attachments: &[],
        };
        w.map_len(entries.len());
        for (key, value) in entries {
            w.str(key);
            w.out.extend_from_slice(value);
        }
        w.out
    }

    fn msgpack(value: &Value) -> Vec<u8> {
        let mut w = Writer {
            out: Vec::new(),
            attachments: &[],
        };
        w.value(value);
        w.out
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
    fn integers_take_the_smallest_form() {
        let cases: [(Value, &str); 12] = [
            (json!(0), "00"),
            (json!(127), "7f"),
            (json!(128), "cc80"),
            (json!(256), "cd0100"),
            (json!(65536), "ce00010000"),
            (json!(4_294_967_296_u64), "cf0000000100000000"),
            (json!(-1), "ff"),
            (json!(-32), "e0"),
            (json!(-33), "d0df"),
            (json!(-129), "d1ff7f"),
            (json!(-32769), "d2ffff7fff"),
            (json!(i64::MIN), "d38000000000000000"),
        ];
        for (value, want) in cases {
            assert_eq!(to_hex(&msgpack(&value)), want, "{value}");
            let data = json!(["n", value]);
            let bytes = event_with(msgpack(&data));
            assert_eq!(decode(&bytes).unwrap().data, Some(data));
        }
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
    fn timestamps_at_the_edges_of_date() {
        // Hand-built extension values; `want` is JSON.stringify(notepack.decode(...)).
        let cases = [
            (
                "c70cff00000000000007dba8218000",
                json!("+275760-09-13T00:00:00.000Z"),
            ),
            ("c70cff00000000000007dba8218001", Value::Null),
            (
                "c70cff0007a120ffffffffffffffff",
                json!("1969-12-31T23:59:59.001Z"),
            ),
            (
                "c70cff00000000fffffff184aa5080",
                json!("-000001-01-01T00:00:00.000Z"),
            ),
            (
                "c70cff00000000fffff82457de8000",
                json!("-271821-04-20T00:00:00.000Z"),
            ),
            (
                "c70cff000000000000003afff44180",
                json!("+010000-01-01T00:00:00.000Z"),
            ),
            (
                "c70cff3b9ac9ff0000000000000000",
                json!("1970-01-01T00:00:00.999Z"),
            ),
            (
                "c70cffffffffff0000000000000000",
                json!("1970-01-01T00:00:04.294Z"),
            ),
            ("d7000000000000000000", json!("1970-01-01T00:00:00.000Z")),
            ("d700001eb208c2dc0000", json!("+275760-09-13T00:00:00.000Z")),
            ("d700001eb208c2dc0001", Value::Null),
            ("d7004000000000000000", Value::Null),
            ("d7ffffffffffffffffff", json!("2514-05-30T01:53:04.073Z")),
            ("d6ffffffffff", json!("2106-02-07T06:28:15.000Z")),
        ];
        for (value, want) in cases {
            let bytes = event_with(hex(&format!("92a164{value}")));
            assert_eq!(
                decode(&bytes).unwrap().data,
                Some(json!(["d", want])),
                "{value}"
            );
        }
        // A timestamp 96 must be 12 bytes long.
        let bytes = event_with(hex("92a164c70bff0000000000000000000000"));
        assert_eq!(decode(&bytes), Err(ParseError::InvalidMsgpack));
    }

    #[test]
    fn civil_dates() {
        assert_eq!(iso_8601(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso_8601(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(iso_8601(4_107_542_400_000), "2100-03-01T00:00:00.000Z");
        assert_eq!(iso_8601(-62_167_219_200_000), "0000-01-01T00:00:00.000Z");
        assert_eq!(iso_8601(-62_167_219_200_001), "-000001-12-31T23:59:59.999Z");
        assert_eq!(iso_8601(253_402_300_799_999), "9999-12-31T23:59:59.999Z");
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
