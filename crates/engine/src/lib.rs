//! Engine.IO v4 server, with protocol v3 clients on request: the transport
//! layer under Socket.IO.
//!
//! The crate is split along the protocol's own seams, in floors that only
//! ever import downwards:
//! - `codec`: the pure codecs (Engine.IO packets, WebSocket frames, message
//!   assembly, outgoing messages), importing nothing else of the engine; the
//!   WebSocket part is public as [`ws`], the packet part as [`packet`];
//! - `session`: the per-connection state machine ([`Session`]), split by
//!   transport, which sees the engine only through a narrow context (config,
//!   handler, a way to leave the registry);
//! - `registry`: the live sessions; `transport`: HTTP long-polling and
//!   WebSocket;
//! - `server`: the HTTP front door ([`Engine`]) that routes requests to them.
//!
//! The layer above only sees [`EngineHandler`] callbacks and
//! [`Session::send`]; everything about framing, heartbeats and upgrades stays
//! in here.

#![warn(missing_docs)]

mod codec;
mod config;
mod cors;
mod error;
mod handshake;
mod protocol;
mod registry;
mod serve;
mod server;
mod session;
mod shrink;
mod sid;
mod sync;
mod transport;
mod transport_kind;
pub mod ws;

pub use bytes::Bytes;
pub use codec::message::OutMessage;
pub use codec::packet;
pub use codec::packet::Message;
pub use config::{AllowRequest, Cors, CorsOrigin, EngineConfig, HttpCompression};
pub use error::ProtocolError;
pub use handshake::HandshakeInfo;
pub use protocol::EngineProtocol;
pub use serve::{serve, serve_with, ServeConfig};
pub use server::Engine;
pub use session::{CloseReason, EngineHandler, SendError, Session};
pub use shrink::ShrinkAfterBurst;
pub use transport::tcp::{tune_tcp, NOTSENT_LOWAT};
pub use transport_kind::TransportKind;

/// A fresh random URL-safe id, as unguessable as a session id; the Socket.IO floor names sockets with it.
pub use sid::generate as generate_id;
