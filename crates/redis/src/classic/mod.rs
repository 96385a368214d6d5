//! The classic (non-sharded) `@socket.io/redis-adapter` 8.3 protocol on Redis pub/sub: one
//! [`RedisAdapter`] per namespace, all made by one [`RedisAdapterFactory`] that shares one
//! transport (`crate::transport`) between them.
//!
//! `factory` makes adapters; `ns` holds what they share (the node's identity and transport,
//! and per namespace its name and channels). One namespace's adapter is three parts, one
//! file each:
//! - `adapter`: [`RedisAdapter`], Rally's `Adapter` on top of a local `MemoryAdapter`: does
//!   the local half itself and hands the cross-node half to the requester; receives what
//!   the transport delivers and passes it on (a request to the responder, a response to
//!   the requester).
//! - `requester`: publishes broadcasts and requests, keeps the requests this node waits on,
//!   and collects their responses.
//! - `responder`: delivers other nodes' broadcasts locally and answers their requests.
//!
//! Messages are built and read by [`wire`](crate::wire); this module decides what to send
//! and when. A later Redis Streams adapter gets a sibling module of its own.

mod adapter;
mod factory;
mod ns;
mod requester;
mod responder;

pub use adapter::RedisAdapter;
pub use factory::RedisAdapterFactory;
