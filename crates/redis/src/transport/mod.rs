//! The two Redis connections a factory shares between all its namespaces, and the tasks
//! that keep them alive.
//!
//! - The **publisher** task (`publisher`) owns a multiplexed connection and a FIFO queue. It
//!   sends what is queued in pipelined batches (one round trip per batch, order kept), so a
//!   node's broadcasts reach Redis in the order they were made. When Redis is away, queued
//!   messages fail at once (counted, logged once per outage, and each message's failure
//!   hook runs, which is how an emit with acks learns it), and the task reconnects with a
//!   capped exponential backoff.
//! - The **subscriber** task (`subscriber`) owns a RESP2 pub/sub connection: it
//!   (re)subscribes every registered [`Subscription`] on each connection, hands messages to
//!   their [`Listener`], pings to notice a dead connection, refreshes the server counts, and
//!   reconnects by itself.
//!
//! - The **reader** task (`reader`, streams adapter only) owns a third connection, blocked
//!   in XREAD on the stream, and hands each entry to the listener of its namespace.
//!
//! The transport knows channels, not adapters: an adapter registers what it listens to and
//! a [`Listener`] to hand it to, and the transport never looks further. The tasks hold only
//! weak references: dropping the factory and every adapter ends them.

mod publisher;
pub(crate) mod reader;
mod shared;
mod subscriber;

pub(crate) use shared::{FailHook, Listener, Subscription, Transport, Via};

use crate::config::RedisAdapterConfig;
use std::sync::Arc;
use tokio::sync::mpsc;

/// Makes the shared state and spawns both tasks on `runtime`.
pub(crate) fn start(
    config: RedisAdapterConfig,
    client: redis::Client,
    runtime: tokio::runtime::Handle,
) -> Arc<Transport> {
    let (pub_tx, pub_rx) = mpsc::unbounded_channel();
    let (sub_tx, sub_rx) = mpsc::unbounded_channel();
    let transport = Arc::new(Transport::new(config, pub_tx, sub_tx, runtime.clone()));
    let weak = Arc::downgrade(&transport);
    runtime.spawn(publisher::run(client.clone(), pub_rx, weak.clone()));
    runtime.spawn(subscriber::run(client, sub_rx, weak));
    transport
}

/// Starts the stream reader (streams adapter) of `transport` on `runtime`.
pub(crate) fn read_stream(
    transport: &Arc<Transport>,
    client: redis::Client,
    stream: String,
    read_count: usize,
    runtime: &tokio::runtime::Handle,
) {
    runtime.spawn(reader::run(
        client,
        stream,
        read_count,
        Arc::downgrade(transport),
    ));
}
