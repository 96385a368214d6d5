//! Rally: a Socket.IO v5 server for Rust.
//!
//! The API follows socket.io's JavaScript one, so the tutorial's server reads the same:
//!
//! ```no_run
//! use rally::{EmitError, Event, Server};
//! use serde_json::{json, Value};
//!
//! # async fn run() {
//! let io = Server::builder().build();
//! io.on_connection(|socket| {
//!     // The raw event: its arguments relayed as they came, binary included.
//!     socket.on("message", |socket, event: Event| async move {
//!         socket.server().emit("message", event.args)
//!     });
//!     // Typed arguments; the result answers the client's callback.
//!     socket.on("join", |socket, (room,): (String,)| async move {
//!         socket.join(room.as_str());
//!         Ok::<_, EmitError>(json!({ "joined": room }))
//!     });
//!     socket.on("private message", |socket, (to, msg): (String, Value)| async move {
//!         socket.to(to).emit("private message", (socket.id(), msg))
//!     });
//! });
//! let app = io.router();
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await.unwrap();
//! rally::serve(listener, app, std::future::pending()).await.unwrap();
//! # }
//! ```
//!
//! A handler's second parameter is the raw [`Event`] or a tuple of the argument types
//! ([`FromEvent`]); it returns `()` or a `Result` ([`HandlerOutput`]): an error is logged
//! and answers the client's callback as `{"error": message}`. [`Socket::server`] reaches
//! the server from any handler, [`Socket::state`] the application state given to
//! [`Server::builder`], [`Socket::data`] the socket's own data as your type.
//!
//! [`Server::router`] is an `axum::Router`, so Rally mounts into an existing axum
//! application beside its own routes, as socket.io attaches to an Express server, and the
//! application's handlers emit through the same [`Server`]:
//!
//! ```no_run
//! use axum::{routing::get, Router};
//!
//! # async fn run() -> std::io::Result<()> {
//! let io = rally::Server::default();
//! let app = Router::new()
//!     .route("/health", get(|| async { "ok" }))
//!     .merge(io.router());
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//! rally::serve(listener, app, std::future::pending()).await
//! # }
//! ```
//!
//! Cargo feature `client-bundle` (off by default): serve the official browser client at
//! `<path>socket.io.js`, as socket.io's `serveClient` does. Its build fetches the pinned
//! `socket.io-client` bundle with npm (or copies it from `RALLY_CLIENT_DIST`); without it
//! the crate builds with cargo alone. Examples: `crates/rally/examples` (`chat`, the
//! tutorial's chat; `axum_app`), and every configuration field in the repository's
//! `docs/configuration.md`.
//!
//! Floors, bottom up; a module uses those below it, and the cycles left are the API's
//! own (a namespace owns its sockets and adapter, a socket knows its namespace, client
//! and broadcast operators):
//! - `msgpack`, notepack's MessagePack ⇄ JSON with placeholders (for the msgpack
//!   parser and for `rally-redis`); `packet`, the pure codec (its encoder and decoder in
//!   files apart); `args`, `ack`, `reason`, `handshake`; `sync`, the crate's one lock
//!   helper;
//! - `outgoing`: the packets the server sends, built from the API's arguments; `parser`,
//!   the wire format that encodes them into the engine's messages (a broadcast once, for
//!   every recipient) and decodes a connection's messages;
//! - `connect_timeout`, then `socket`, `client`, `namespace`, the `broadcast` operators
//!   and `adapter` (the door to a cluster; `adapter::memory` for one process), which
//!   send through `outgoing`; `recovery` (connection state recovery), through which
//!   the socket and the memory adapter send events when it is on;
//! - `server` on top: the engine, the namespaces, the axum routes.
//!
//! The Engine.IO floor is the `rally-engine` crate.

#![warn(missing_docs)]

pub mod ack;
pub mod adapter;
pub mod args;
pub mod broadcast;
mod builder;
mod client;
pub mod config;
mod connect_timeout;
pub mod handler;
pub mod handshake;
mod id_hash;
mod legacy;
pub mod msgpack;
pub mod namespace;
mod outgoing;
pub mod packet;
pub mod parser;
pub mod reason;
pub mod recovery;
mod serve_client;
pub mod server;
pub mod socket;
mod sync;

pub use ack::{AckCollector, AckError};
pub use adapter::{
    Adapter, AdapterError, AdapterFactory, BroadcastOptions, Room, SocketId, SocketInfo,
};
pub use args::{Args, ArgsError, Binary, IntoArgs};
pub use broadcast::{BroadcastOperator, EmitError, IntoRooms, RemoteSocket};
pub use builder::ServerBuilder;
pub use config::{RecoveryConfig, RecoveryOffer, ServerConfig};
pub use handler::{Ack, Event, FromEvent, HandlerOutput};
pub use handshake::Handshake;
pub use namespace::{ConnectError, Namespace, NamespaceRef, ServerAck};
pub use parser::Parser;
pub use rally_engine as engine;
pub use rally_engine::{serve, serve_with, ServeConfig};
pub use reason::DisconnectReason;
pub use recovery::{RecoveryStats, Refusal};
pub use serve_client::{CLIENT_BUNDLE, CLIENT_VERSION};
pub use server::Server;
pub use socket::Socket;
