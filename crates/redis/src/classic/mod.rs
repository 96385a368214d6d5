//! The classic (non-sharded) `@socket.io/redis-adapter` 8.3 protocol on Redis pub/sub, as
//! the cross-node half ([`Requesting`](crate::adapter::Requesting),
//! [`Receiving`](crate::adapter::Receiving)) of a namespace's adapter. Three parts, one
//! file each:
//! - `protocol`: what the namespace subscribes to, and which part gets what arrives (a
//!   broadcast or a request to the responder, an answer to the requester).
//! - `requester`: publishes broadcasts and requests; the answers go to the node's
//!   `crate::requests::Requests`.
//! - `responder`: delivers other nodes' broadcasts locally and answers their requests.
//!
//! Messages are built and read by [`wire`](crate::wire); this module decides what to send
//! and when. The streams protocol (`crate::streams`) uses the responder too, for what the
//! classic emitter publishes.

mod protocol;
mod requester;
mod responder;

pub(crate) use protocol::adapter;
pub(crate) use responder::Responder;
