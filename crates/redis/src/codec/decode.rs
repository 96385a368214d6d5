//! The notepack.io 3.0 decoder: MessagePack bytes → JSON with placeholders plus the
//! attachments they point to, and the JavaScript conversions `JSON.stringify` would apply on
//! the way to a client (numbers, property keys, `Date`s). A pure function over a byte slice,
//! kept apart from the encoder because the two share nothing but the placeholder form.

use super::placeholder::{placeholder, placeholder_index};
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
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnexpectedEnd => f.write_str("unexpected end of MessagePack data"),
            Self::InvalidByte(b) => write!(f, "invalid MessagePack byte 0x{b:02x}"),
            Self::TooDeep => write!(f, "MessagePack nested deeper than {MAX_DEPTH}"),
            Self::TrailingBytes(n) => write!(f, "{n} trailing bytes"),
        }
    }
}

impl std::error::Error for DecodeError {}

/// Decodes one notepack value into JSON with placeholders and the attachments they
/// point to. A top-level `undefined` is `null`.
pub fn decode(bytes: &[u8]) -> Result<(Value, Vec<Bytes>), DecodeError> {
    let mut reader = Reader {
        buf: bytes,
        pos: 0,
        attachments: Vec::new(),
    };
    let value = reader.parse(0)?.unwrap_or(Value::Null);
    if reader.pos != bytes.len() {
        return Err(DecodeError::TrailingBytes(bytes.len() - reader.pos));
    }
    Ok((value, reader.attachments))
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    attachments: Vec<Bytes>,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self.pos.checked_add(n).ok_or(DecodeError::UnexpectedEnd)?;
        let slice = self
            .buf
            .get(self.pos..end)
            .ok_or(DecodeError::UnexpectedEnd)?;
        self.pos = end;
        Ok(slice)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let mut out = [0; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.array::<1>()?[0])
    }

    fn i8(&mut self) -> Result<i8, DecodeError> {
        Ok(i8::from_be_bytes(self.array()?))
    }

    fn u16(&mut self) -> Result<u16, DecodeError> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    fn len32(&mut self) -> Result<usize, DecodeError> {
        // u32 always fits in usize on the platforms Rally supports (≥ 32-bit).
        Ok(self.u32()? as usize)
    }

    fn binary(&mut self, len: usize) -> Result<Value, DecodeError> {
        let bytes = Bytes::copy_from_slice(self.take(len)?);
        Ok(self.attach(bytes))
    }

    fn attach(&mut self, bytes: Bytes) -> Value {
        let num = self.attachments.len();
        self.attachments.push(bytes);
        placeholder(num)
    }

    fn str(&mut self, len: usize) -> Result<Value, DecodeError> {
        let bytes = self.take(len)?;
        Ok(Value::String(String::from_utf8_lossy(bytes).into_owned()))
    }

    /// `[type, <binary>]`: notepack's value for an extension it does not know.
    fn ext(&mut self, ty: i8, len: usize) -> Result<Value, DecodeError> {
        let bin = self.binary(len)?;
        Ok(Value::Array(vec![Value::from(ty), bin]))
    }

    fn list(&mut self, len: usize, depth: usize) -> Result<Value, DecodeError> {
        let mut items = Vec::new();
        for _ in 0..len {
            // JSON.stringify writes `undefined` array elements as null.
            items.push(self.parse(depth + 1)?.unwrap_or(Value::Null));
        }
        Ok(Value::Array(items))
    }

    fn map(&mut self, len: usize, depth: usize) -> Result<Value, DecodeError> {
        let mut map = Map::new();
        for _ in 0..len {
            let attachments_before = self.attachments.len();
            let key = self.parse(depth + 1)?;
            let key = property_key(key, &mut self.attachments, attachments_before);
            let value = self.parse(depth + 1)?;
            // JSON.stringify leaves out keys whose value is undefined.
            if let (Some(key), Some(value)) = (key, value) {
                map.insert(key, value);
            }
        }
        Ok(Value::Object(map))
    }

    /// One value; `None` is JavaScript's `undefined`.
    fn parse(&mut self, depth: usize) -> Result<Option<Value>, DecodeError> {
        if depth > MAX_DEPTH {
            return Err(DecodeError::TooDeep);
        }
        let prefix = self.u8()?;
        let value = match prefix {
            0x00..=0x7f => Value::from(prefix),
            0x80..=0x8f => self.map(usize::from(prefix & 0x0f), depth)?,
            0x90..=0x9f => self.list(usize::from(prefix & 0x0f), depth)?,
            0xa0..=0xbf => self.str(usize::from(prefix & 0x1f))?,
            0xe0..=0xff => Value::from(i64::from(prefix as i8)),
            0xc0 => Value::Null,
            0xc1 => return Err(DecodeError::InvalidByte(prefix)),
            0xc2 => Value::Bool(false),
            0xc3 => Value::Bool(true),
            0xc4 => {
                let len = usize::from(self.u8()?);
                self.binary(len)?
            }
            0xc5 => {
                let len = usize::from(self.u16()?);
                self.binary(len)?
            }
            0xc6 => {
                let len = self.len32()?;
                self.binary(len)?
            }
            0xc7..=0xc9 => {
                let len = match prefix {
                    0xc7 => usize::from(self.u8()?),
                    0xc8 => usize::from(self.u16()?),
                    _ => self.len32()?,
                };
                let ty = self.i8()?;
                match ty {
                    // notepack's "custom ArrayBuffer encoding": binary.
                    0 => self.binary(len)?,
                    -1 if prefix == 0xc7 && len == 12 => {
                        let ns = self.u32()?;
                        let secs = i64::from_be_bytes(self.array()?);
                        date(secs as f64 * 1e3 + f64::from(ns) / 1e6)
                    }
                    _ => self.ext(ty, len)?,
                }
            }
            0xca => float(f64::from(f32::from_be_bytes(self.array()?))),
            0xcb => float(f64::from_be_bytes(self.array()?)),
            0xcc => Value::from(self.u8()?),
            0xcd => Value::from(self.u16()?),
            0xce => Value::from(self.u32()?),
            0xcf => Value::from(u64::from_be_bytes(self.array()?)),
            0xd0 => Value::from(self.i8()?),
            0xd1 => Value::from(i16::from_be_bytes(self.array()?)),
            0xd2 => Value::from(i32::from_be_bytes(self.array()?)),
            0xd3 => Value::from(i64::from_be_bytes(self.array()?)),
            0xd4 => {
                let ty = self.i8()?;
                if ty == 0 {
                    // notepack's "custom encoding for undefined".
                    self.take(1)?;
                    return Ok(None);
                }
                self.ext(ty, 1)?
            }
            0xd5 => {
                let ty = self.i8()?;
                self.ext(ty, 2)?
            }
            0xd6 => {
                let ty = self.i8()?;
                if ty == -1 {
                    date(f64::from(self.u32()?) * 1e3)
                } else {
                    self.ext(ty, 4)?
                }
            }
            0xd7 => {
                let ty = self.i8()?;
                match ty {
                    // notepack's legacy Date: epoch milliseconds as hi (int32) and lo (uint32).
                    0 => {
                        let hi = i32::from_be_bytes(self.array()?);
                        let lo = self.u32()?;
                        date(f64::from(hi) * 4_294_967_296.0 + f64::from(lo))
                    }
                    -1 => {
                        let hi = self.u32()?;
                        let lo = self.u32()?;
                        let secs = f64::from(hi & 0x3) * 4_294_967_296.0 + f64::from(lo);
                        date(secs * 1e3 + f64::from(hi >> 2) / 1e6)
                    }
                    _ => self.ext(ty, 8)?,
                }
            }
            0xd8 => {
                let ty = self.i8()?;
                self.ext(ty, 16)?
            }
            0xd9 => {
                let len = usize::from(self.u8()?);
                self.str(len)?
            }
            0xda => {
                let len = usize::from(self.u16()?);
                self.str(len)?
            }
            0xdb => {
                let len = self.len32()?;
                self.str(len)?
            }
            0xdc => {
                let len = usize::from(self.u16()?);
                self.list(len, depth)?
            }
            0xdd => {
                let len = self.len32()?;
                self.list(len, depth)?
            }
            0xde => {
                let len = usize::from(self.u16()?);
                self.map(len, depth)?
            }
            0xdf => {
                let len = self.len32()?;
                self.map(len, depth)?
            }
        };
        Ok(Some(value))
    }
}

/// A JSON number as `JSON.stringify` writes a JavaScript number: NaN and ±Infinity are `null`,
/// `-0` is `0`.
fn float(f: f64) -> Value {
    if f == 0.0 {
        return Value::from(0);
    }
    Number::from_f64(f).map_or(Value::Null, Value::Number)
}

/// What a decoded map key becomes as a JavaScript property name; `None` drops the entry.
fn property_key(key: Option<Value>, attachments: &mut Vec<Bytes>, before: usize) -> Option<String> {
    match key {
        None => Some("undefined".to_owned()),
        Some(Value::String(s)) => Some(s),
        Some(Value::Null) => Some("null".to_owned()),
        Some(Value::Bool(b)) => Some(b.to_string()),
        Some(Value::Number(n)) => Some(js_number_key(&n)),
        // A Buffer key: JavaScript calls its toString(), which decodes UTF-8.
        Some(Value::Object(map))
            if attachments.len() == before + 1
                && placeholder_index(&map, attachments.len()).is_some() =>
        {
            attachments
                .pop()
                .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        }
        Some(_) => {
            // Arrays and maps as keys: nothing JavaScript would make useful of them.
            attachments.truncate(before);
            None
        }
    }
}

fn js_number_key(n: &Number) -> String {
    if let Some(f) = n.as_f64().filter(|_| n.is_f64()) {
        if f.fract() == 0.0 && f.abs() < 1e21 {
            return format!("{}", f as i128);
        }
        return f.to_string();
    }
    n.to_string()
}

/// A JavaScript `Date` as `JSON.stringify` writes it: `toISOString()`, or `null` when invalid.
fn date(ms: f64) -> Value {
    // new Date(x) truncates to whole milliseconds and refuses more than 8.64e15.
    let ms = ms.trunc();
    if !ms.is_finite() || ms.abs() > 8.64e15 {
        return Value::Null;
    }
    let ms = ms as i64;
    let days = ms.div_euclid(86_400_000);
    let in_day = ms.rem_euclid(86_400_000);
    let (year, month, day) = civil_from_days(days);
    let (h, m, s, milli) = (
        in_day / 3_600_000,
        in_day / 60_000 % 60,
        in_day / 1000 % 60,
        in_day % 1000,
    );
    let year = if (0..=9999).contains(&year) {
        format!("{year:04}")
    } else if year < 0 {
        format!("-{:06}", -year)
    } else {
        format!("+{year:06}")
    };
    Value::String(format!(
        "{year}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}.{milli:03}Z"
    ))
}

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}
