//! How a node answers another node's broadcast with acks, whatever the protocol: each local
//! recipient gets the EVENT under an ack id of this node's own, the requester learns how
//! many clients got it, then each client's answer as soon as it comes. The protocols only
//! differ in how the count and the answers are written and where they go, which the caller
//! passes in.

use crate::transport::Transport;
use bytes::Bytes;
use rally::ack::ack_collector;
use rally::adapter::memory::MemoryAdapter;
use rally::packet::Packet;
use rally::{AckError, Adapter, Args, BroadcastOptions};
use serde_json::Value;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Ack ids this node gives to broadcasts-with-ack from other servers. The namespace's own
/// counter starts at 0 and is not reachable from here, so these start far above it and stay
/// below 2^53, where JavaScript clients still read ids exactly.
const REMOTE_ACK_ID_BASE: u64 = 1 << 45;

/// The ack ids of one namespace's relayed broadcasts.
pub(crate) struct RemoteAckIds(AtomicU64);

impl Default for RemoteAckIds {
    fn default() -> Self {
        RemoteAckIds(AtomicU64::new(REMOTE_ACK_ID_BASE))
    }
}

/// Delivers `[event, ...args]` (`data` with placeholders into `attachments`) to the local
/// sockets `opts` names, each under a fresh id of `ids`; reports the number of recipients
/// to `count` at once, then each recipient's first answer to `answer`, for at most
/// `wait_for`. Returns what made the packet invalid, if it was.
#[allow(clippy::too_many_arguments)]
pub(crate) fn relay_broadcast_with_ack(
    local: &MemoryAdapter,
    transport: &Transport,
    ids: &RemoteAckIds,
    nsp: &str,
    data: Value,
    attachments: Vec<Bytes>,
    opts: &BroadcastOptions,
    wait_for: Duration,
    count: impl FnOnce(usize),
    answer: impl Fn(Args) + Clone + Send + 'static,
) -> Result<(), rally::packet::ParseError> {
    let id = ids.0.fetch_add(1, Ordering::Relaxed);
    let packet = Packet::event(nsp, data, attachments, Some(id));
    packet.validate()?;
    // One collector per client, so each answer is relayed as soon as it arrives.
    let mut waits = Vec::new();
    for sid in local.local_sockets(opts) {
        let one = BroadcastOptions {
            rooms: vec![sid],
            ..BroadcastOptions::default()
        };
        let (collector, wait) = ack_collector();
        let sent = local.broadcast_with_ack_local(&packet, &one, &collector);
        if sent > 0 {
            collector.expect(sent);
            waits.push(wait);
        }
    }
    count(waits.len());
    for wait in waits {
        let answer = answer.clone();
        transport.spawn(async move {
            let answers = match wait.collect(1, wait_for).await {
                Ok(answers) => answers,
                Err(AckError::Timeout { partial }) => partial,
                Err(_) => Vec::new(),
            };
            for one in answers {
                answer(one);
            }
        });
    }
    Ok(())
}
