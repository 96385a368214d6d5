//! The notepack.io 3.0 encoder: JSON with placeholders → MessagePack, as notepack encodes
//! the Node values they stand for, plus the MessagePack primitives the [`wire`](crate::wire)
//! module builds its messages from. Pure functions that append to a `Vec<u8>`.
//!
//! `rmp` picks the same forms as notepack: the smallest fixint/uint/int, fixstr/str8/16/32,
//! bin8/16/32, fixarray/array16/32, fixmap/map16/32. Writing into a Vec cannot fail, so the
//! io results are dropped.

use super::placeholder::placeholder_index;
use bytes::Bytes;
use serde_json::{Map, Number, Value};

/// Appends `value` as notepack would encode the Node value it stands for: placeholders that
/// point into `attachments` become `bin`, numbers follow notepack's integer/float64 rule.
pub fn write_value(buf: &mut Vec<u8>, value: &Value, attachments: &[Bytes]) {
    match value {
        Value::Null => write_nil(buf),
        Value::Bool(b) => {
            let _ = rmp::encode::write_bool(buf, *b);
        }
        Value::Number(n) => write_number(buf, n),
        Value::String(s) => write_str(buf, s),
        Value::Array(items) => {
            write_array_len(buf, items.len());
            for item in items {
                write_value(buf, item, attachments);
            }
        }
        Value::Object(map) => {
            if let Some(num) = placeholder_index(map, attachments.len()) {
                write_bin(buf, &attachments[num]);
                return;
            }
            write_map_len(buf, map.len());
            for (key, value) in map {
                write_str(buf, key);
                write_value(buf, value, attachments);
            }
        }
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
    let _ = rmp::encode::write_nil(buf);
}

/// Appends `s` as a MessagePack string in its shortest form (fixstr, str8/16/32), as
/// notepack writes strings and map keys.
pub fn write_str(buf: &mut Vec<u8>, s: &str) {
    let _ = rmp::encode::write_str(buf, s);
}

/// Appends `bytes` as MessagePack `bin8/16/32`: how a Node `Buffer` travels.
pub fn write_bin(buf: &mut Vec<u8>, bytes: &[u8]) {
    let _ = rmp::encode::write_bin(buf, bytes);
}

/// Appends `n` in the smallest unsigned form (positive fixint, uint8..64), as notepack
/// writes a non-negative integer; also how the wire writes its `type` numbers.
pub fn write_uint(buf: &mut Vec<u8>, n: u64) {
    let _ = rmp::encode::write_uint(buf, n);
}

/// Appends the header of an array of `len` items (fixarray, array16/32); the items follow,
/// written by the caller.
pub fn write_array_len(buf: &mut Vec<u8>, len: usize) {
    let _ = rmp::encode::write_array_len(buf, u32::try_from(len).unwrap_or(u32::MAX));
}

/// Appends the header of a map of `len` entries (fixmap, map16/32); the caller then writes
/// each key and its value, in the order Node would.
pub fn write_map_len(buf: &mut Vec<u8>, len: usize) {
    let _ = rmp::encode::write_map_len(buf, u32::try_from(len).unwrap_or(u32::MAX));
}

/// notepack: `Math.floor(v) !== v || !isFinite(v)` → float64, otherwise the smallest integer.
fn write_number(buf: &mut Vec<u8>, n: &Number) {
    if let Some(u) = n.as_u64() {
        write_uint(buf, u);
    } else if let Some(i) = n.as_i64() {
        let _ = rmp::encode::write_sint(buf, i);
    } else {
        let f = n.as_f64().unwrap_or(f64::NAN);
        // 2^64 and -2^63: the integer forms' bounds.
        if f.is_finite() && f.fract() == 0.0 && (0.0..18_446_744_073_709_551_616.0).contains(&f) {
            write_uint(buf, f as u64);
        } else if f.is_finite()
            && f.fract() == 0.0
            && (-9_223_372_036_854_775_808.0..0.0).contains(&f)
        {
            let _ = rmp::encode::write_sint(buf, f as i64);
        } else {
            let _ = rmp::encode::write_f64(buf, f);
        }
    }
}

/// Replaces each placeholder by the JSON Node's `JSON.stringify` gives a Buffer,
/// `{"type":"Buffer","data":[…]}`: what travels in the adapter's JSON requests.
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
