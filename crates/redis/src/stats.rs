//! What a factory counts: the public snapshot ([`RedisStats`]) and the atomic counters the
//! connection tasks and the adapters bump, which only this file turns into one.

use serde::Serialize;
use std::sync::atomic::{AtomicU64, Ordering};

/// Counters and connection state of a factory (all namespaces together).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RedisStats {
    /// Messages handed to Redis (broadcasts, requests, responses).
    pub published: u64,
    /// Messages that could not be published (Redis away or failing); each was logged.
    pub publish_failures: u64,
    /// Messages dropped before they were queued, because the publish queue was full
    /// (`max_publish_queue`, `max_publish_queue_bytes`): Redis too slow for the traffic.
    pub publish_dropped: u64,
    /// Messages received from the subscriber connection.
    pub received: u64,
    /// Entries read from the stream (streams adapter only).
    pub stream_entries_read: u64,
    /// Successful connections of the stream reader (streams adapter only).
    pub stream_reader_connects: u64,
    /// Received messages dropped because they could not be decoded or made no sense.
    pub malformed: u64,
    /// Cross-node requests that ended with `AdapterError::Timeout`.
    pub requests_timed_out: u64,
    /// Cross-node requests and emits with acks that failed because Redis was away.
    pub requests_failed: u64,
    /// Successful connections of the publisher (1 + reconnections).
    pub publisher_connects: u64,
    /// Other Rally servers heard from lately (within `heartbeat_timeout`); Node.js
    /// servers send no heartbeat and are not in it.
    pub servers_alive: u64,
    /// Times another Rally server was counted as gone: no heartbeat within
    /// `heartbeat_timeout` (killed, frozen, or cut off from Redis).
    pub servers_gone: u64,
    /// Successful (re)subscriptions of the subscriber (1 + reconnections).
    pub subscriber_connects: u64,
    /// The publisher holds a connection whose last round trip worked; while it does not,
    /// publications fail (`publish_failures`) and cross-node requests fail at once.
    pub publisher_connected: bool,
    /// The subscriber is connected and subscribed to every namespace's channels; while it
    /// is not, what other servers publish does not reach this one, and cross-node requests
    /// fail at once.
    pub subscriber_connected: bool,
}

/// The live counters behind [`RedisStats`]; the connection flags are kept by the transport.
#[derive(Default)]
pub(crate) struct Counters {
    pub published: AtomicU64,
    pub publish_failures: AtomicU64,
    pub publish_dropped: AtomicU64,
    pub received: AtomicU64,
    pub stream_entries_read: AtomicU64,
    pub stream_reader_connects: AtomicU64,
    pub malformed: AtomicU64,
    pub requests_timed_out: AtomicU64,
    pub requests_failed: AtomicU64,
    pub publisher_connects: AtomicU64,
    pub subscriber_connects: AtomicU64,
}

impl Counters {
    /// Adds `n` to `counter`.
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub fn snapshot(&self, publisher_connected: bool, subscriber_connected: bool) -> RedisStats {
        RedisStats {
            published: self.published.load(Ordering::Relaxed),
            publish_failures: self.publish_failures.load(Ordering::Relaxed),
            publish_dropped: self.publish_dropped.load(Ordering::Relaxed),
            received: self.received.load(Ordering::Relaxed),
            stream_entries_read: self.stream_entries_read.load(Ordering::Relaxed),
            stream_reader_connects: self.stream_reader_connects.load(Ordering::Relaxed),
            malformed: self.malformed.load(Ordering::Relaxed),
            requests_timed_out: self.requests_timed_out.load(Ordering::Relaxed),
            requests_failed: self.requests_failed.load(Ordering::Relaxed),
            publisher_connects: self.publisher_connects.load(Ordering::Relaxed),
            servers_alive: 0,
            servers_gone: 0,
            subscriber_connects: self.subscriber_connects.load(Ordering::Relaxed),
            publisher_connected,
            subscriber_connected,
        }
    }
}
