//! What an adapter does for connection state recovery across a cluster, when it can: it
//! places every stored event (its offset is the event's id in a log all servers share,
//! and each server delivers the events in that log's order), keeps the sessions of
//! dropped sockets where every server finds them, and reads what a client missed from
//! the shared log when it comes back to any server.
//!
//! An adapter that cannot answers `None` to [`Adapter::cluster_recovery`](super::Adapter::cluster_recovery): recovery then
//! stays on each server (a client recovers on the server it was on).

use crate::recovery::Refusal;
use bytes::Bytes;
use futures::future::BoxFuture;
use serde_json::Value;
use std::time::Duration;

/// A dropped socket's session, as a cluster keeps it.
#[derive(Clone, Debug, PartialEq)]
pub struct ClusterSession {
    /// The socket's id, which the client gets back.
    pub sid: String,
    /// The private id the client will claim it with.
    pub pid: String,
    /// Every room the socket was in, its own id's included.
    pub rooms: Vec<String>,
    /// The socket's `socket.data` when it left.
    pub data: Value,
    /// The offset of the last event placed in the shared log when the socket left, for a
    /// client that comes back without an offset (it received no stored event). `None`
    /// from servers that do not say (Node's).
    pub left_at: Option<String>,
}

/// One event a client missed: `[event, ...args]` with placeholders into `attachments`,
/// and its offset.
#[derive(Clone, Debug, PartialEq)]
pub struct MissedEvent {
    /// The event's id in the shared log, sent to the client as its last argument.
    pub offset: String,
    /// `[event, ...args]`, binary values as placeholders.
    pub data: Value,
    /// The binary values the placeholders in `data` point to, by their `num`.
    pub attachments: Vec<Bytes>,
}

/// A session reclaimed from the cluster.
#[derive(Debug)]
pub struct ClusterRestore {
    /// The session, now taken out of the cluster.
    pub session: ClusterSession,
    /// What the client missed, oldest first, up to `read_up_to`.
    pub missed: Vec<MissedEvent>,
    /// The offset of the last entry of the shared log that was read (whether or not it
    /// was for this client); what came after it reaches the client live.
    pub read_up_to: Option<String>,
}

/// See the module docs.
pub trait ClusterRecovery: Send + Sync {
    /// Keeps `session` for `ttl`, for its client to reclaim on any server.
    fn persist_session(&self, session: ClusterSession, ttl: Duration);
    /// Takes the session `pid` names out of the cluster (so that it is restored once)
    /// with the events its client missed after `offset` (or after the session's
    /// `left_at` when the client has none), reading the shared log in bounded batches.
    /// Refused when the session is unknown, when the log no longer holds all the client
    /// missed (or more than `max_events` of it), or when the cluster cannot be read.
    fn restore_session(
        &self,
        pid: String,
        offset: Option<String>,
        max_events: usize,
    ) -> BoxFuture<'static, Result<ClusterRestore, Refusal>>;
}
