//! Per-socket limits: the token buckets for messages and for actions (joins, leaves,
//! renames, typing), the report of dropped messages, and the lock that keeps one socket's
//! messages in order while a check waits for the cluster.

use super::{refusal, Chat, ChatConfig, Refusal};
use crate::limits::{DropReporter, TokenBucket};
use crate::lock;
use rally::{Ack, Socket};
use serde_json::json;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Joins, leaves, renames and typing signals a socket may send in a burst, and per second after.
const ACTION_BURST: u32 = 200;
const ACTION_PER_SECOND: f64 = 10.0;

/// How often at most a flooding socket hears about its dropped messages.
const DROP_REPORT_EVERY: Duration = Duration::from_secs(1);

/// Per-socket limits.
pub(super) struct Peer {
    messages: Mutex<TokenBucket>,
    actions: Mutex<TokenBucket>,
    drops: Mutex<DropReporter>,
    /// Held by `message` and `private_message` from their start until they are relayed:
    /// taken in the order the events came (handlers run in place until their first pending
    /// await, and the lock is fair), so a check waiting for the cluster keeps the order.
    pub(super) order: tokio::sync::Mutex<()>,
}

impl Peer {
    pub(super) fn new(config: &ChatConfig) -> Self {
        Peer {
            messages: Mutex::new(TokenBucket::new(config.rate_burst, config.rate_per_second)),
            actions: Mutex::new(TokenBucket::new(ACTION_BURST, ACTION_PER_SECOND)),
            drops: Mutex::default(),
            order: tokio::sync::Mutex::new(()),
        }
    }
}

impl Chat {
    /// Takes a message token; on a flood, tells the socket (sparingly) and refuses.
    pub(super) fn allow_message(
        &self,
        socket: &Socket,
        peer: &Peer,
        ack: Option<Ack>,
        event: &str,
    ) -> Option<Option<Ack>> {
        if lock(&peer.messages).try_take() {
            return Some(ack);
        }
        let config = &self.0.config;
        let text = format!(
            "rate limit: at most {} messages at once and {} per second after; this one was dropped",
            config.rate_burst, config.rate_per_second
        );
        if let Some(count) = lock(&peer.drops).dropped(Instant::now(), DROP_REPORT_EVERY) {
            tracing::warn!(socket = %socket.id(), dropped = count, "rate limit");
            let mut report = refusal("rate_limited", text.clone());
            if count > 1 {
                report.message = format!("{text} ({count} dropped since the last notice)");
            }
            self.error_event(socket, event, &report);
        }
        if let Some(ack) = ack {
            ack.send((json!({ "error": text, "code": "rate_limited" }),));
        }
        None
    }

    /// Takes an action token; over the limit the request is refused.
    pub(super) fn allow_action(&self, peer: &Peer) -> Result<(), Refusal> {
        if lock(&peer.actions).try_take() {
            Ok(())
        } else {
            Err(refusal(
                "rate_limited",
                "too many joins, leaves or renames: slow down",
            ))
        }
    }
}
