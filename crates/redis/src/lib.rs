//! Redis adapters for Rally, wire-compatible with the Node.js ones, so that Rally nodes and
//! Node.js `socket.io` nodes can share one Redis and form one cluster:
//! - the classic (non-sharded) `@socket.io/redis-adapter` 8.3, on pub/sub
//!   ([`RedisAdapterFactory::new`]);
//! - `@socket.io/redis-streams-adapter` 0.3, a Redis stream for what every server applies
//!   and pub/sub for requests ([`RedisAdapterFactory::streams`]).
//!
//! Both also take what `@socket.io/redis-emitter` 5.1 publishes.
//!
//! ```no_run
//! use rally::{Server, ServerConfig};
//! use rally_redis::{RedisAdapterConfig, RedisAdapterFactory};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let redis = RedisAdapterFactory::streams(RedisAdapterConfig::new("redis://127.0.0.1:6379"))?;
//! let io = Server::with_adapter(ServerConfig::default(), redis.clone());
//! // io.emit(…), io.to(room).emit(…), io.fetch_sockets(), … now span every node.
//! println!("{:?}", redis.stats());
//! # Ok(()) }
//! ```
//!
//! How it is built, lowest layer first (each module only uses the ones above it):
//! - `config`, `stats`: what a factory is made from ([`RedisAdapterConfig`]) and what it
//!   counts ([`RedisStats`]).
//! - [`wire`]: both protocols' channels, messages and stream entries, field for field,
//!   built and read by pure functions with a typed error ([`wire::WireError`]). The
//!   MessagePack in them is notepack.io's, read and written by [`rally::msgpack`], which
//!   Rally's msgpack parser shares.
//! - [`connection`]: reconnect-with-backoff and batch-draining, for every task that owns a
//!   Redis connection (here and in applications).
//! - `transport`: one publisher connection (PUBLISH and XADD in one ordered queue), one
//!   subscriber connection and, for the streams protocol, one stream reader per factory,
//!   shared by every namespace, each kept alive by its own task. It knows channels and
//!   streams, not adapters: what arrives goes to a narrow `Listener` trait.
//! - `peers`: the other Rally nodes, known by their heartbeats, so that a killed or
//!   frozen server stops counting within `heartbeat_timeout`.
//! - `node`, `requests`, `relay`: what both protocols share: the node's identity, the
//!   requests a node waits on (gathered answers, ack collectors, timeouts), and how a
//!   broadcast with acks from elsewhere is delivered and its acks sent back.
//! - `adapter`: [`RedisAdapter`], Rally's `Adapter` on top of its `MemoryAdapter`, handing
//!   the cross-node half to the protocol.
//! - `classic`, `streams`: each protocol's requester (what it sends) and responder (what
//!   it does with what others sent).
//! - `factory`: [`RedisAdapterFactory`], which starts the transport and makes one adapter
//!   per namespace.
//!
//! While Redis is away, local delivery and room changes go on; what could not be published
//! is counted ([`RedisAdapterFactory::stats`]) and logged once per outage; cross-node
//! requests fail with `AdapterError::Unavailable` and emits with acks with
//! `AckError::NotSent` instead of waiting. Pub/sub is at-most-once: what is published while
//! a node is disconnected never reaches it, as with the Node adapters; the stream reader
//! reads on from the last entry it saw, so entries the stream still holds are not lost.

#![warn(missing_docs)]

mod adapter;
mod classic;
mod config;
pub mod connection;
mod factory;
mod node;
mod peers;
mod relay;
mod requests;
mod stats;
mod streams;
mod transport;
pub mod wire;

pub use adapter::RedisAdapter;
pub use config::{RedisAdapterConfig, RedisAdapterError};
pub use factory::{Protocol, RedisAdapterFactory};
pub use stats::RedisStats;
