//! The encoder: JSON with placeholders → MessagePack, as notepack encodes the Node values
//! they stand for, plus the MessagePack primitives messages are built from (the packet
//! codec's map, the Redis adapters' wire messages). Pure functions that append to a
//! `Vec<u8>`, each picking the shortest form, as notepack does.
//!
//! Writing never fails: a string, binary, array or map too long for MessagePack's 32-bit
//! lengths (only possible beyond 4 GiB) is written as nil instead.

use super::placeholder::placeholder_index;
use bytes::Bytes;
use serde_json::{Map, Number, Value};

const NIL: u8 = 0xc0;

/// How a JSON float is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Numbers {
    /// notepack's rule (`Math.floor(v) !== v || !isFinite(v)` → float64, otherwise the
    /// smallest integer form), so Node's own bytes come out.
    Notepack,
    /// Always float64, so that a float decodes as the float it was.
    KeepFloats,
}

/// Appends `value` as notepack would encode the Node value it stands for: placeholders that
/// point into `attachments` become `bin`, numbers follow notepack's integer/float64 rule.
pub fn write_value(buf: &mut Vec<u8>, value: &Value, attachments: &[Bytes]) {
    write_value_with(buf, value, attachments, Numbers::Notepack);
}

/// [`write_value`] with a choice of how floats are written.
pub(crate) fn write_value_with(
    buf: &mut Vec<u8>,
    value: &Value,
    attachments: &[Bytes],
    numbers: Numbers,
) {
    let mut writer = Writer {
        out: buf,
        attachments,
        numbers,
    };
    if let Some(frame) = writer.open(value) {
        writer.walk(frame);
    }
}

/// Encodes one value into a fresh buffer.
pub fn encode(value: &Value, attachments: &[Bytes]) -> Vec<u8> {
    let mut buf = Vec::new();
    write_value(&mut buf, value, attachments);
    buf
}

/// Appends MessagePack `nil` (`c0`): notepack's form of `null` and `undefined`.
pub fn write_nil(buf: &mut Vec<u8>) {
    buf.push(NIL);
}

/// Appends MessagePack `true` (`c3`) or `false` (`c2`).
pub fn write_bool(buf: &mut Vec<u8>, b: bool) {
    buf.push(if b { 0xc3 } else { 0xc2 });
}

/// Appends `s` as a MessagePack string in its shortest form (fixstr, str8/16/32), as
/// notepack writes strings and map keys.
pub fn write_str(buf: &mut Vec<u8>, s: &str) {
    if len_prefix(buf, s.len(), Some((0xa0, 32)), Some(0xd9), 0xda, 0xdb) {
        buf.extend_from_slice(s.as_bytes());
    }
}

/// Appends `bytes` as MessagePack `bin8/16/32`: how a Node `Buffer` travels.
pub fn write_bin(buf: &mut Vec<u8>, bytes: &[u8]) {
    if len_prefix(buf, bytes.len(), None, Some(0xc4), 0xc5, 0xc6) {
        buf.extend_from_slice(bytes);
    }
}

/// Appends `n` in the smallest unsigned form (positive fixint, uint8..64), as notepack
/// writes a non-negative integer; also how messages write their `type` numbers.
pub fn write_uint(buf: &mut Vec<u8>, n: u64) {
    if n < 0x80 {
        buf.push(n as u8);
        return;
    }
    let (tag, width) = if n <= u8::MAX.into() {
        (0xcc, 1)
    } else if n <= u16::MAX.into() {
        (0xcd, 2)
    } else if n <= u32::MAX.into() {
        (0xce, 4)
    } else {
        (0xcf, 8)
    };
    buf.push(tag);
    buf.extend_from_slice(&n.to_be_bytes()[8 - width..]);
}

/// Appends the header of an array of `len` items (fixarray, array16/32); the items follow,
/// written by the caller. False when `len` is beyond MessagePack (nil was written): then
/// the items must not be.
pub fn write_array_len(buf: &mut Vec<u8>, len: usize) -> bool {
    len_prefix(buf, len, Some((0x90, 16)), None, 0xdc, 0xdd)
}

/// Appends the header of a map of `len` entries (fixmap, map16/32); the caller then writes
/// each key and its value, in the order Node would. False when `len` is beyond MessagePack
/// (nil was written): then the entries must not be.
pub fn write_map_len(buf: &mut Vec<u8>, len: usize) -> bool {
    len_prefix(buf, len, Some((0x80, 16)), None, 0xde, 0xdf)
}

/// The smallest signed form of a negative integer.
fn write_negative(buf: &mut Vec<u8>, n: i64) {
    if n >= -32 {
        // Negative fixint: the byte is the two's complement value itself.
        buf.push(n.to_be_bytes()[7]);
        return;
    }
    let (tag, width) = if n >= i8::MIN.into() {
        (0xd0, 1)
    } else if n >= i16::MIN.into() {
        (0xd1, 2)
    } else if n >= i32::MIN.into() {
        (0xd2, 4)
    } else {
        (0xd3, 8)
    };
    buf.push(tag);
    // Two's complement: the low bytes of a value that fits a narrower type are that
    // type's bytes.
    buf.extend_from_slice(&n.to_be_bytes()[8 - width..]);
}

/// Writes the shortest length prefix the type has: the fix form (base tag, lengths
/// below the limit), else the 8-, 16- or 32-bit form. Writes nil and returns false
/// for a length MessagePack cannot express, so the caller skips the body.
fn len_prefix(
    buf: &mut Vec<u8>,
    len: usize,
    fix: Option<(u8, usize)>,
    tag8: Option<u8>,
    tag16: u8,
    tag32: u8,
) -> bool {
    if let Some((base, limit)) = fix {
        if len < limit {
            // len < 32 here, so it fits the tag's low bits.
            buf.push(base | len as u8);
            return true;
        }
    }
    if let (Some(tag), Ok(b)) = (tag8, u8::try_from(len)) {
        buf.extend_from_slice(&[tag, b]);
    } else if let Ok(h) = u16::try_from(len) {
        buf.push(tag16);
        buf.extend_from_slice(&h.to_be_bytes());
    } else if let Ok(w) = u32::try_from(len) {
        buf.push(tag32);
        buf.extend_from_slice(&w.to_be_bytes());
    } else {
        buf.push(NIL);
        return false;
    }
    true
}

struct Writer<'b, 'a> {
    out: &'b mut Vec<u8>,
    attachments: &'a [Bytes],
    numbers: Numbers,
}

/// A container being written: what is left of it.
enum Frame<'v> {
    Items(std::slice::Iter<'v, Value>),
    Entries(serde_json::map::Iter<'v>),
}

impl Writer<'_, '_> {
    /// Writes the rest of a container. A loop with its own stack rather than
    /// recursion: a `Value` built in code has no depth limit, and encoding must not
    /// overflow the thread's stack.
    fn walk(&mut self, first: Frame<'_>) {
        let mut stack = vec![first];
        while let Some(top) = stack.last_mut() {
            let next = match top {
                Frame::Items(items) => items.next(),
                Frame::Entries(entries) => entries.next().map(|(key, value)| {
                    write_str(self.out, key);
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
            Value::Null => write_nil(self.out),
            Value::Bool(b) => write_bool(self.out, *b),
            Value::Number(n) => self.number(n),
            Value::String(s) => write_str(self.out, s),
            Value::Array(items) => {
                if write_array_len(self.out, items.len()) {
                    return Some(Frame::Items(items.iter()));
                }
            }
            Value::Object(map) => {
                if let Some(num) = placeholder_index(map, self.attachments.len()) {
                    write_bin(self.out, &self.attachments[num]);
                } else if write_map_len(self.out, map.len()) {
                    return Some(Frame::Entries(map.iter()));
                }
            }
        }
        None
    }

    fn number(&mut self, n: &Number) {
        if let Some(u) = n.as_u64() {
            write_uint(self.out, u);
        } else if let Some(i) = n.as_i64() {
            write_negative(self.out, i);
        } else if let Some(f) = n.as_f64() {
            // 2^64 and -2^63: the integer forms' bounds, where an integral f64 converts
            // exactly.
            let integral = self.numbers == Numbers::Notepack && f.is_finite() && f.fract() == 0.0;
            if integral && (0.0..18_446_744_073_709_551_616.0).contains(&f) {
                write_uint(self.out, f as u64);
            } else if integral && (-9_223_372_036_854_775_808.0..0.0).contains(&f) {
                write_negative(self.out, f as i64);
            } else {
                self.out.push(0xcb);
                self.out.extend_from_slice(&f.to_be_bytes());
            }
        } else {
            write_nil(self.out);
        }
    }
}

/// Replaces each placeholder by the JSON Node's `JSON.stringify` gives a Buffer,
/// `{"type":"Buffer","data":[…]}`: what travels in the Redis adapters' JSON requests.
pub fn buffers_as_json(value: &Value, attachments: &[Bytes]) -> Value {
    match value {
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|v| buffers_as_json(v, attachments))
                .collect(),
        ),
        Value::Object(map) => match placeholder_index(map, attachments.len()) {
            Some(num) => {
                let mut buffer = Map::new();
                buffer.insert("type".to_owned(), Value::from("Buffer"));
                buffer.insert(
                    "data".to_owned(),
                    Value::Array(attachments[num].iter().map(|b| Value::from(*b)).collect()),
                );
                Value::Object(buffer)
            }
            None => Value::Object(
                map.iter()
                    .map(|(k, v)| (k.clone(), buffers_as_json(v, attachments)))
                    .collect(),
            ),
        },
        other => other.clone(),
    }
}
