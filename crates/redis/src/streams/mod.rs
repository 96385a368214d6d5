//! The protocol of `@socket.io/redis-streams-adapter` 0.3, as the
//! cross-node half ([`Requesting`](crate::adapter::Requesting),
//! [`Receiving`](crate::adapter::Receiving)) of a namespace's adapter.
//!
//! Who hears what:
//! - What every server must apply, in order, goes into the stream (`XADD … MAXLEN ~`):
//!   broadcasts without acks, joins, leaves and disconnections of remote sockets. Each
//!   server reads the stream once (`XREAD`, the transport's reader) and each entry goes to
//!   its namespace's adapter.
//! - What needs an answer goes over pub/sub: requests on `P#NSP#` (broadcasts with acks,
//!   `fetch_sockets`, server-side emits), answers on the requester's `P#NSP#<uid>#`. The
//!   servers are counted as the subscribers of `P#NSP#` (`PUBSUB NUMSUB`), so every server
//!   answers every request, with an empty list or a count of 0 if that is what it has.
//! - What the classic `@socket.io/redis-emitter` publishes (`P#NSP#`, `P#NSP#room#`,
//!   `P-request#NSP#`) is taken too, by the classic responder: a process emitting through
//!   it reaches the clients of a streams cluster.
//!
//! - Connection state recovery works across the cluster (`sessions`): the stream's ids are
//!   the offsets, sessions are kept in Redis, and what a client missed is read from the
//!   stream by whichever server it comes back to.
//!
//! - Events this node delivered while Redis was away are not in the stream; once Redis is
//!   back an entry of Rally's own says so (`unplaced`), and no recovery replays past it
//!   for the sockets they were for.
//!
//! Files: `protocol` (subscriptions, and which part gets what), `requester` (what this
//! node sends), `responder` (what it does with what others sent), `sessions` (recovery),
//! `unplaced` (what could not be put in the stream).

mod protocol;
mod requester;
mod responder;
mod sessions;
mod unplaced;

pub(crate) use protocol::adapter;

use crate::node::Ns;
use crate::transport::FailHook;
use crate::wire::{stream_fields, StreamMessage};

/// Queues `message` as an entry of the namespace's stream, in order with everything else
/// this node sends.
fn append(ns: &Ns, message: &StreamMessage, on_fail: Option<FailHook>) {
    let config = ns.config();
    let fields = stream_fields(ns.uid(), &ns.nsp, message).into();
    ns.transport()
        .append(&config.stream_name, config.stream_max_len, fields, on_fail);
}
