//! The decoder: MessagePack → JSON with placeholders plus the attachments they point to,
//! with the JavaScript conversions `JSON.stringify` would apply on the way to a client
//! (numbers, `undefined`, `Date`s).
//!
//! Two readers of notepack's MessagePack want slightly different things, so a [`Rules`]
//! says which, and only where it matters:
//!
//! | input | [`Rules::Peer`] (Redis adapters, [`decode`]) | [`Rules::Client`] (a msgpack packet's `data`) |
//! |---|---|---|
//! | invalid UTF-8 in a string | replaced (U+FFFD) | [`DecodeError::InvalidUtf8`] |
//! | map key other than a string or an integer | its JavaScript property name (`null` → `"null"`, a Buffer → its text); an array or map key drops the entry | [`DecodeError::UnsupportedKey`] |
//! | a key repeated with `undefined` | the earlier value stays | the key goes, as in a JavaScript object |
//! | `±0.0` | the integer `0`, as `JSON.stringify` writes it | the float kept, as the encoder wrote it |
//! | timestamp 96 not 12 bytes long | `[-1, <binary>]` | [`DecodeError::BadTimestamp`] |
//! | nesting | containers [`MAX_DEPTH`] deep may still be empty | no container [`MAX_DEPTH`] deep |
//! | binary values | any number | at most `max_attachments` |
//!
//! The peers' rules make Node's data what Node itself holds, lossy where Node is; the
//! client's refuse what no socket.io-msgpack-parser client sends, and keep what Rally's
//! own encoder wrote, so a packet survives the round trip.

use super::date::date_json;
use super::placeholder::{placeholder, placeholder_index};
use super::read::{Reader, Token};
use bytes::Bytes;
use serde_json::{Map, Number, Value};
use std::fmt;

/// Deepest nesting of arrays and maps accepted (serde_json's own limit is 128 too).
pub const MAX_DEPTH: usize = 128;

/// Why a payload could not be decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// The payload ended inside a value.
    UnexpectedEnd,
    /// `0xc1`, which MessagePack never uses (notepack: "Could not parse").
    InvalidByte(u8),
    /// Nested deeper than [`MAX_DEPTH`].
    TooDeep,
    /// Bytes left after the value (notepack: "N trailing bytes").
    TrailingBytes(usize),
    /// A string that is not UTF-8 (client rules only).
    InvalidUtf8,
    /// A map key that is neither a string nor an integer (client rules only).
    UnsupportedKey,
    /// A timestamp 96 extension whose length is not 12 (client rules only).
    BadTimestamp,
    /// More binary values than the rules allow (client rules only).
    TooManyAttachments,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnexpectedEnd => f.write_str("unexpected end of MessagePack data"),
            Self::InvalidByte(b) => write!(f, "invalid MessagePack byte 0x{b:02x}"),
            Self::TooDeep => write!(f, "MessagePack nested deeper than {MAX_DEPTH}"),
            Self::TrailingBytes(n) => write!(f, "{n} trailing bytes"),
            Self::InvalidUtf8 => f.write_str("MessagePack string is not UTF-8"),
            Self::UnsupportedKey => f.write_str("MessagePack map key is not a string or integer"),
            Self::BadTimestamp => f.write_str("MessagePack timestamp 96 is not 12 bytes long"),
            Self::TooManyAttachments => f.write_str("too many MessagePack binary values"),
        }
    }
}

impl std::error::Error for DecodeError {}

/// Whose MessagePack is read; see the module's table.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Rules {
    /// Another node's, through Redis.
    Peer,
    /// A client's packet data, with at most `max_attachments` binary values.
    Client { max_attachments: usize },
}

/// Decodes one notepack value, written by a peer node, into JSON with placeholders and the
/// attachments they point to. A top-level `undefined` is `null`.
pub fn decode(bytes: &[u8]) -> Result<(Value, Vec<Bytes>), DecodeError> {
    let mut decoder = Decoder::at(bytes, 0, Rules::Peer);
    let value = decoder.value(0)?.unwrap_or(Value::Null);
    let left = decoder.reader.remaining();
    if left != 0 {
        return Err(DecodeError::TrailingBytes(left));
    }
    Ok((value, decoder.attachments))
}

/// Builds values out of MessagePack, collecting their binary parts as attachments.
pub(crate) struct Decoder<'a> {
    reader: Reader<'a>,
    rules: Rules,
    /// The binary values met so far, in document order.
    pub(crate) attachments: Vec<Bytes>,
}

impl<'a> Decoder<'a> {
    /// A decoder of the value at `pos` in `bytes`.
    pub(crate) fn at(bytes: &'a [u8], pos: usize, rules: Rules) -> Self {
        Self {
            reader: Reader::at(bytes, pos),
            rules,
            attachments: Vec::new(),
        }
    }

    fn strict(&self) -> bool {
        matches!(self.rules, Rules::Client { .. })
    }

    /// The value at the reader, `depth` containers deep; `None` is JavaScript's
    /// `undefined`, which JSON has not.
    pub(crate) fn value(&mut self, depth: usize) -> Result<Option<Value>, DecodeError> {
        let value = match self.reader.token()? {
            Token::Nil => Value::Null,
            Token::Bool(b) => Value::Bool(b),
            Token::Uint(u) => Value::from(u),
            Token::Int(i) => Value::from(i),
            Token::Float(f) => self.float(f),
            Token::Str(raw) => Value::String(self.string(raw)?),
            Token::Bin(raw) => self.attach(raw)?,
            Token::Array(len) => {
                self.enter(depth, len)?;
                let mut items = Vec::with_capacity(len.min(self.reader.remaining()));
                for _ in 0..len {
                    // In an array, JSON.stringify turns undefined into null.
                    items.push(self.value(depth + 1)?.unwrap_or(Value::Null));
                }
                Value::Array(items)
            }
            Token::Map(len) => {
                self.enter(depth, len)?;
                let mut map = Map::with_capacity(len.min(self.reader.remaining() / 2));
                for _ in 0..len {
                    let key = self.key(depth + 1)?;
                    let value = self.value(depth + 1)?;
                    match (key, value) {
                        (Some(key), Some(value)) => {
                            map.insert(key, value);
                        }
                        // JSON.stringify drops an undefined member (and notepack 3 does
                        // not write one), so an object means the same from both versions.
                        (Some(key), None) if self.strict() => {
                            map.shift_remove(&key);
                        }
                        _ => {}
                    }
                }
                Value::Object(map)
            }
            Token::Ext { prefix, tag, body } => return self.ext(prefix, tag, body),
        };
        Ok(Some(value))
    }

    /// Refuses a container too deep. The peers' bound is where their recursive reader
    /// stopped, at the first item below [`MAX_DEPTH`], so an empty container there passes.
    fn enter(&self, depth: usize, len: usize) -> Result<(), DecodeError> {
        if depth >= MAX_DEPTH && (self.strict() || len > 0) {
            return Err(DecodeError::TooDeep);
        }
        Ok(())
    }

    /// A JSON number as `JSON.stringify` writes a JavaScript number: NaN and ±Infinity
    /// are `null`; for peers `-0` is `0` too.
    fn float(&self, f: f64) -> Value {
        if f == 0.0 && !self.strict() {
            return Value::from(0);
        }
        Number::from_f64(f).map_or(Value::Null, Value::Number)
    }

    fn string(&self, raw: &[u8]) -> Result<String, DecodeError> {
        if self.strict() {
            return std::str::from_utf8(raw)
                .map(str::to_owned)
                .map_err(|_| DecodeError::InvalidUtf8);
        }
        Ok(String::from_utf8_lossy(raw).into_owned())
    }

    fn attach(&mut self, raw: &[u8]) -> Result<Value, DecodeError> {
        let num = self.attachments.len();
        if let Rules::Client { max_attachments } = self.rules {
            if num >= max_attachments {
                return Err(DecodeError::TooManyAttachments);
            }
        }
        self.attachments.push(Bytes::copy_from_slice(raw));
        Ok(placeholder(num))
    }

    /// A map key, as JavaScript names the property; `None` drops the entry.
    fn key(&mut self, depth: usize) -> Result<Option<String>, DecodeError> {
        if self.strict() {
            // A number key becomes its decimal string; other kinds would become strings
            // like "[object Object]", which no client means.
            return match self.reader.token()? {
                Token::Str(raw) => self.string(raw).map(Some),
                Token::Uint(u) => Ok(Some(u.to_string())),
                Token::Int(i) => Ok(Some(i.to_string())),
                _ => Err(DecodeError::UnsupportedKey),
            };
        }
        let before = self.attachments.len();
        Ok(match self.value(depth)? {
            None => Some("undefined".to_owned()),
            Some(Value::String(s)) => Some(s),
            Some(Value::Null) => Some("null".to_owned()),
            Some(Value::Bool(b)) => Some(b.to_string()),
            Some(Value::Number(n)) => Some(js_number_key(&n)),
            // A Buffer key: JavaScript calls its toString(), which decodes UTF-8.
            Some(Value::Object(map))
                if self.attachments.len() == before + 1
                    && placeholder_index(&map, self.attachments.len()).is_some() =>
            {
                self.attachments
                    .pop()
                    .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
            }
            Some(_) => {
                // Arrays and maps as keys: nothing JavaScript would make useful of them.
                self.attachments.truncate(before);
                None
            }
        })
    }

    /// Extension types as notepack 3 decodes them. Its version 2 (what
    /// socket.io-msgpack-parser 3.0.2 itself depends on) writes `undefined` as fixext 1
    /// of type 0, a Date as fixext 8 of type 0 and an ArrayBuffer or typed array as
    /// ext 8/16/32 of type 0; version 3 writes Dates as the standard timestamp type -1.
    fn ext(&mut self, prefix: u8, tag: i8, body: &[u8]) -> Result<Option<Value>, DecodeError> {
        let date_ms = match (prefix, tag) {
            (0xd4, 0) => return Ok(None),
            (0xc7..=0xc9, 0) => return self.attach(body).map(Some),
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
            (0xc7, -1) if body.len() == 12 => {
                let nanos = f64::from(u32::from_be_bytes(field(body, 0)?));
                let hi = f64::from(i32::from_be_bytes(field(body, 4)?));
                let lo = f64::from(u32::from_be_bytes(field(body, 8)?));
                (hi * 4_294_967_296.0 + lo) * 1e3 + nanos / 1e6
            }
            // notepack reads 12 bytes whatever the length says; a client is held to the
            // format instead of being read into its next value.
            (0xc7, -1) if self.strict() => return Err(DecodeError::BadTimestamp),
            _ => {
                // notepack returns [type, Buffer]; the Buffer is binary like any other.
                let bytes = self.attach(body)?;
                return Ok(Some(Value::Array(vec![Value::from(tag), bytes])));
            }
        };
        Ok(Some(date_json(date_ms)))
    }
}

/// `N` bytes of an extension's body from `at`; the token's form fixed the body's length,
/// so this only fails if that reasoning is wrong.
fn field<const N: usize>(body: &[u8], at: usize) -> Result<[u8; N], DecodeError> {
    at.checked_add(N)
        .and_then(|end| body.get(at..end))
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or(DecodeError::UnexpectedEnd)
}

/// A number as a JavaScript property name: `String(n)`.
fn js_number_key(n: &Number) -> String {
    if let Some(f) = n.as_f64().filter(|_| n.is_f64()) {
        if f.fract() == 0.0 && f.abs() < 1e21 {
            return format!("{}", f as i128);
        }
        return f.to_string();
    }
    n.to_string()
}
