//! Redis adapter for Rally, wire-compatible with the classic (non-sharded)
//! `@socket.io/redis-adapter` 8.3 and with `@socket.io/redis-emitter` 5.1: Rally nodes and
//! Node.js `socket.io` nodes can share one Redis and form one cluster.
//!
//! ```no_run
//! use rally::{Server, ServerConfig};
//! use rally_redis::{RedisAdapterConfig, RedisAdapterFactory};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let redis = RedisAdapterFactory::new(RedisAdapterConfig::new("redis://127.0.0.1:6379"))?;
//! let io = Server::with_adapter(ServerConfig::default(), redis.clone());
//! // io.emit(…), io.to(room).emit(…), io.fetch_sockets(), … now span every node.
//! println!("{:?}", redis.stats());
//! # Ok(()) }
//! ```
//!
//! How it is built, lowest layer first (each module only uses the ones above it):
//! - `config`, `stats`: what a factory is made from ([`RedisAdapterConfig`]) and what it
//!   counts ([`RedisStats`]).
//! - [`codec`]: notepack.io 3.0 MessagePack ⇄ Rally's JSON-with-placeholders.
//! - [`wire`]: the adapter's channels and messages, field for field, built and read by
//!   pure functions with a typed error ([`wire::WireError`]).
//! - [`connection`]: reconnect-with-backoff and batch-draining, for every task that owns a
//!   Redis connection (here and in applications).
//! - `transport`: one publisher connection and one subscriber connection per factory,
//!   shared by every namespace, each kept alive by its own task (reconnect, resubscribe).
//!   It knows channels, not adapters: what arrives goes to a narrow `Listener` trait.
//! - `classic`: the classic pub/sub protocol: [`RedisAdapterFactory`], and per namespace a
//!   [`RedisAdapter`] made of a requester (asks, collects answers) and a responder
//!   (answers), on top of Rally's `MemoryAdapter`.
//!
//! While Redis is away, local delivery and room changes go on; broadcasts that could not be
//! published are counted ([`RedisAdapterFactory::stats`]) and logged once per outage;
//! cross-node requests fail with `AdapterError::Unavailable` and emits with acks with
//! `AckError::NotSent` instead of waiting. Redis pub/sub is at-most-once: what is published
//! while a node is disconnected never reaches it, as with the Node adapter.

mod classic;
pub mod codec;
mod config;
pub mod connection;
mod stats;
mod transport;
pub mod wire;

pub use classic::{RedisAdapter, RedisAdapterFactory};
pub use config::{RedisAdapterConfig, RedisAdapterError};
pub use stats::RedisStats;
