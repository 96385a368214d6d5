//! notepack.io 3.0 (the MessagePack codec of `@socket.io/redis-adapter` 8.3 and
//! `@socket.io/redis-emitter` 5.1) ⇄ Rally's packet data: JSON values whose binary parts
//! are `{"_placeholder":true,"num":n}` objects pointing into an attachment list.
//!
//! On the Redis wire Node puts real `Buffer`s where Rally keeps placeholders, so the
//! decoder turns every binary value into a placeholder plus an attachment, and the
//! encoder writes each placeholder's attachment as MessagePack `bin`.
//!
//! The mapping mirrors notepack.io 3.0.1 (`lib/encode.js`, `lib/decode.js`), which differs
//! from the 2.x the older wire notes describe:
//!
//! | Node value | notepack 3 writes | this decoder gives |
//! |---|---|---|
//! | `undefined` | `nil` (`c0`); object keys whose value is `undefined` are left out | — |
//! | `Buffer`, `ArrayBuffer`, typed arrays | `bin8/16/32` | a placeholder + attachment |
//! | integer-valued number | smallest of fixint/uint8..64 (≥ 0) or fixint/int8..64 (< 0) | a JSON integer |
//! | other number (incl. NaN, ±Infinity) | `float64` (`cb`), never float32 | a JSON float (`null` for NaN/±Inf, as `JSON.stringify` does) |
//! | `Date` | timestamp ext −1 (32, 64 or 96 bit) | its ISO string (what `JSON.stringify` sends a client) |
//! | plain object | map, keys in insertion order | an object, same order |
//!
//! and the decoder still reads what notepack 3 keeps reading for older encoders:
//! `fixext1` type 0 (`d4 00 00`) is `undefined` (left out of objects, `null` in arrays, as
//! `JSON.stringify` does), `ext8/16/32` type 0 is an `ArrayBuffer` (binary), `fixext8`
//! type 0 is a legacy `Date`; any other extension becomes `[type, <binary>]` like notepack's
//! `[type, Buffer]`. Map keys that are not strings become strings as JavaScript property
//! keys would (`1` → `"1"`, `null` → `"null"`).
//!
//! Nothing here panics on hostile input: every read is bounds-checked, nesting is capped at
//! [`MAX_DEPTH`], and lengths never drive an allocation before the bytes are there.
//!
//! Two files, one direction each: `decode` (bytes → value, and its error) and `encode`
//! (value → bytes, and the MessagePack primitives the wire messages are written with); what
//! both share, the placeholder form, is in `placeholder`.

mod decode;
mod encode;
mod placeholder;

pub use decode::{decode, DecodeError, MAX_DEPTH};
pub use encode::{
    buffers_as_json, encode, write_array_len, write_bin, write_map_len, write_nil, write_str,
    write_uint, write_value,
};
pub use placeholder::{placeholder, placeholder_index};
