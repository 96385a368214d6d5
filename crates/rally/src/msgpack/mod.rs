//! MessagePack as `notepack.io` writes it ⇄ Rally's packet data: JSON values whose binary
//! parts are `{"_placeholder":true,"num":n}` objects pointing into an attachment list.
//!
//! Two formats carry notepack's MessagePack: `socket.io-msgpack-parser` between a client
//! and the server ([`packet`](crate::packet)'s msgpack codec), and the Node.js Redis
//! adapters and emitter between nodes (the `rally-redis` crate). Both hold a real binary
//! value where Rally keeps a placeholder, so the decoder turns every binary value into a
//! placeholder plus an attachment, and the encoder writes each placeholder's attachment as
//! MessagePack `bin`. This module is that conversion, once, for both.
//!
//! The mapping mirrors notepack.io 3.0.1 (`lib/encode.js`, `lib/decode.js`):
//!
//! | Node value | notepack 3 writes | the decoder gives |
//! |---|---|---|
//! | `undefined` | `nil` (`c0`); object keys whose value is `undefined` are left out | — |
//! | `Buffer`, `ArrayBuffer`, typed arrays | `bin8/16/32` | a placeholder + attachment |
//! | integer-valued number | smallest of fixint/uint8..64 (≥ 0) or fixint/int8..64 (< 0) | a JSON integer |
//! | other number (incl. NaN, ±Infinity) | `float64` (`cb`), never float32 | a JSON float (`null` for NaN/±Inf, as `JSON.stringify` does) |
//! | `Date` | timestamp ext −1 (32, 64 or 96 bit) | its ISO string (what `JSON.stringify` sends a client) |
//! | plain object | map, keys in insertion order | an object, same order |
//!
//! and the decoder also reads what notepack 2.2 wrote (socket.io-msgpack-parser 3.0
//! still depends on it) and notepack 3 keeps reading: `fixext1` type 0 (`d4 00 00`) is
//! `undefined` (left out of objects, `null` in arrays, as `JSON.stringify` does),
//! `ext8/16/32` type 0 is an `ArrayBuffer` (binary), `fixext8` type 0 is a `Date` in epoch
//! milliseconds; any other extension becomes `[type, <binary>]` like notepack's
//! `[type, Buffer]`.
//!
//! Clients and peer nodes are read by slightly different rules ([`decode`] is the peers'),
//! because a client's packet must come out as the text parser would have delivered it,
//! and a peer's data as Node holds it: see the `decode` module.
//!
//! Nothing here panics on hostile input: every read is bounds-checked, nesting is capped at
//! [`MAX_DEPTH`], and lengths never drive an allocation before the bytes are there.
//!
//! One concept per file: `read` (bytes → tokens, the only place that parses MessagePack
//! framing), `decode` (tokens → value, and its error), `date` (a JavaScript `Date` as
//! `JSON.stringify` writes it), `encode` (value → bytes, and the MessagePack primitives
//! messages are written with), and `placeholder`, the form both directions share.

mod date;
mod decode;
mod encode;
mod placeholder;
pub(crate) mod read;

pub use decode::{decode, DecodeError, MAX_DEPTH};
pub(crate) use decode::{Decoder, Rules};
pub use encode::{
    buffers_as_json, encode, write_array_len, write_bin, write_bool, write_map_len, write_nil,
    write_str, write_uint, write_value,
};
pub(crate) use encode::{write_value_with, Numbers};
pub use placeholder::{placeholder, placeholder_index};
