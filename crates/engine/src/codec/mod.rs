//! The pure codecs: bytes in, packets out, errors as values.
//!
//! This is the engine's floor: nothing here does I/O, holds session state or
//! imports any other module of the engine, so every codec is tested on its own
//! (exhaustively, with property tests) and the layers above only ever call
//! down into it.
//!
//! - [`packet`]: Engine.IO v4 packets and polling payloads;
//! - `payload_v3`: what protocol v3 frames differently: its length-framed
//!   polling payloads and its type-prefixed binary packets;
//! - `ws_frame`: WebSocket frame headers (RFC 6455 5.2), client and server side;
//! - `ws_message`: client frames assembled into messages (RFC 6455 5.4–5.7);
//! - `message`: outgoing messages, encoded once into their WebSocket frame and
//!   polling forms.
//!
//! `packet` is public as it is; the crate's `ws` module publishes the
//! WebSocket codec.

pub(crate) mod message;
pub mod packet;
pub(crate) mod payload_v3;
pub(crate) mod ws_frame;
pub(crate) mod ws_message;

#[cfg(test)]
#[path = "../../tests/common/client_frame.rs"]
mod client_frame;
