//! The other Rally servers of a cluster, known by their heartbeats, so that a server that
//! was killed or frozen stops counting.
//!
//! Redis notices a killed server only when its connection drops, and a frozen one
//! (SIGSTOP, a stuck host) never: it stays subscribed, and every request waits for its
//! answer until the request times out. So each Rally node publishes its uid on
//! `P-rally#heartbeat#` every `heartbeat_interval` (and at once, with `hello`, whenever it
//! subscribes, which every other node answers at once), and one that has been silent for longer
//! than `heartbeat_timeout` is counted as gone: requests no longer wait for it (see
//! `Requests::query_servers`) until it is heard again. Node.js servers send no heartbeat
//! (neither `@socket.io/redis-adapter` 8.3 nor the streams adapter 0.3 announce themselves
//! on the wire), so they are never counted as gone; they leave the count when Redis drops
//! their connection.
//!
//! Whoever shows cluster-wide state to users (the chat's online lists) watches
//! [`Peers::changes`]: it ticks when a server is counted as gone, is heard again, or left
//! the cluster (the server count went down).

use crate::stats::{Counters, RedisStats};
use crate::transport::{Listener, Subscription, Transport, Via};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Weak;
use std::time::Duration;
use tokio::sync::{watch, Notify};
use tokio::time::Instant;

/// Gone servers kept at most (each restart of a server is a new uid).
const MAX_GONE: usize = 256;
/// How long a gone server is remembered: a frozen one may still hold its subscriptions.
const FORGET_GONE_AFTER: Duration = Duration::from_secs(3600);

/// What a heartbeat says: who is alive, and whether it just (re)joined and wants to hear
/// from everyone at once rather than within the next interval.
#[derive(Serialize, Deserialize)]
pub(crate) struct Heartbeat {
    pub uid: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub hello: bool,
}

/// The channel Rally nodes announce themselves on; outside every channel and pattern the
/// Node.js adapters use (theirs are `P#…` and `P-request#…`/`P-response#…`).
pub(crate) fn heartbeat_channel(prefix: &str) -> String {
    format!("{prefix}-rally#heartbeat#")
}

struct Peer {
    last_heard: Instant,
    /// When it was counted as gone, if it is.
    gone_since: Option<Instant>,
}

/// The other Rally nodes this node has heard from.
pub(crate) struct Peers {
    own_uid: String,
    channel: String,
    timeout: Duration,
    table: Mutex<HashMap<String, Peer>>,
    changes: watch::Sender<u64>,
    /// A server said hello: the heartbeat task answers at once.
    hello_heard: Notify,
    /// Servers counted as gone so far, and heartbeats that could not be read.
    gone_total: AtomicU64,
    malformed: AtomicU64,
}

impl Peers {
    pub fn new(own_uid: String, prefix: &str, timeout: Duration) -> Peers {
        Peers {
            own_uid,
            channel: heartbeat_channel(prefix),
            timeout,
            table: Mutex::default(),
            changes: watch::Sender::new(0),
            hello_heard: Notify::new(),
            gone_total: AtomicU64::new(0),
            malformed: AtomicU64::new(0),
        }
    }

    /// Adds what this part counts to a snapshot of the factory's stats.
    pub fn add_stats(&self, stats: &mut RedisStats) {
        let table = self.table.lock();
        stats.servers_alive = table.values().filter(|p| p.gone_since.is_none()).count() as u64;
        drop(table);
        stats.servers_gone = self.gone_total.load(Ordering::Relaxed);
        stats.malformed += self.malformed.load(Ordering::Relaxed);
    }

    /// What the transport must subscribe for the heartbeats to arrive here.
    pub fn subscription(&self) -> Subscription {
        Subscription {
            pattern: None,
            channels: vec![self.channel.clone()],
            counted: None,
            stream_nsp: None,
        }
    }

    /// This node's heartbeat; a `hello` asks every other node for theirs at once.
    pub fn heartbeat(&self, hello: bool) -> Vec<u8> {
        let beat = Heartbeat {
            uid: self.own_uid.clone(),
            hello,
        };
        serde_json::to_vec(&beat).unwrap_or_default()
    }

    /// Ticks whenever the cluster lost or regained a server.
    pub fn changes(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }

    /// Something changed in the cluster's make-up: tell the watchers.
    pub fn changed(&self) {
        self.changes.send_modify(|n| *n += 1);
    }

    /// The uids of the servers counted as gone.
    pub fn gone(&self) -> Vec<String> {
        self.table
            .lock()
            .iter()
            .filter(|(_, peer)| peer.gone_since.is_some())
            .map(|(uid, _)| uid.clone())
            .collect()
    }

    /// A heartbeat from `uid` arrived at `now`.
    fn heard(&self, uid: &str, now: Instant) {
        if uid == self.own_uid {
            return;
        }
        let (new, came_back) = {
            let mut table = self.table.lock();
            let new = !table.contains_key(uid);
            let peer = table.entry(uid.to_owned()).or_insert(Peer {
                last_heard: now,
                gone_since: None,
            });
            peer.last_heard = now;
            (new, peer.gone_since.take().is_some())
        };
        if new {
            tracing::debug!(server = uid, "redis adapter: a server joined the cluster");
        }
        if came_back {
            tracing::info!(
                server = uid,
                "redis adapter: a server counted as gone is heard again"
            );
            self.changed();
        }
    }

    /// This node could not hear anyone until `now` (its subscriber was reconnecting):
    /// silence up to then says nothing about the others.
    pub fn deaf_until(&self, now: Instant) {
        for peer in self.table.lock().values_mut() {
            if peer.gone_since.is_none() {
                peer.last_heard = peer.last_heard.max(now);
            }
        }
    }

    /// Counts as gone every server silent for longer than the timeout, and forgets the
    /// ones gone long ago.
    pub fn sweep(&self, now: Instant) {
        let mut newly_gone = Vec::new();
        {
            let mut table = self.table.lock();
            for (uid, peer) in table.iter_mut() {
                if peer.gone_since.is_none() && now.duration_since(peer.last_heard) > self.timeout {
                    peer.gone_since = Some(now);
                    newly_gone.push((uid.clone(), now.duration_since(peer.last_heard)));
                }
            }
            table.retain(|_, peer| {
                peer.gone_since
                    .is_none_or(|since| now.duration_since(since) < FORGET_GONE_AFTER)
            });
            let gone = table.values().filter(|p| p.gone_since.is_some()).count();
            if gone > MAX_GONE {
                let mut by_age: Vec<(Instant, String)> = table
                    .iter()
                    .filter_map(|(uid, p)| Some((p.gone_since?, uid.clone())))
                    .collect();
                by_age.sort();
                for (_, uid) in by_age.into_iter().take(gone - MAX_GONE) {
                    table.remove(&uid);
                }
            }
        }
        if newly_gone.is_empty() {
            return;
        }
        for (uid, silent) in &newly_gone {
            tracing::warn!(
                server = %uid,
                silent_ms = silent.as_millis() as u64,
                "redis adapter: no heartbeat from a server: counted as gone \
                 (requests stop waiting for it until it is heard again)"
            );
        }
        Counters::add(&self.gone_total, newly_gone.len() as u64);
        self.changed();
    }
}

/// Publishes this node's heartbeat every `interval` while Redis is reachable, and sweeps
/// the silent servers out; ends when the factory is gone.
pub(crate) async fn run(transport: Weak<Transport>, peers: Weak<Peers>, interval: Duration) {
    let step = (interval / 4).clamp(Duration::from_millis(50), Duration::from_millis(500));
    let mut tick = tokio::time::interval(step);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_beat: Option<Instant> = None;
    // Subscriber connections seen so far: a new one means this node was deaf meanwhile.
    let mut connects = 0;
    // When this task last ran: a much later run means this process (or its machine) was
    // stalled, and the heartbeats that came meanwhile are still unread.
    let mut last_run = Instant::now();
    loop {
        // Waits for the next tick, or for a newcomer's hello (answered at once, so that
        // a server frozen right after another one started is known to it all the same).
        let hello_heard = {
            let Some(strong) = peers.upgrade() else {
                return;
            };
            tokio::select! {
                _ = tick.tick() => false,
                _ = strong.hello_heard.notified() => true,
            }
        };
        let (Some(transport), Some(peers)) = (transport.upgrade(), peers.upgrade()) else {
            return;
        };
        if !transport.available() {
            // Not connected yet (or any more): say hello as soon as it is, not a tick later.
            tick.reset_after(Duration::from_millis(20));
            continue;
        }
        let now = Instant::now();
        let stalled = now.duration_since(last_run) > step * 4;
        last_run = now;
        let seen = transport.snapshot().subscriber_connects;
        // Subscribed anew: this node heard nobody meanwhile, and says hello.
        let hello = seen != connects;
        if hello || stalled {
            connects = seen;
            peers.deaf_until(now);
        }
        if hello || hello_heard || last_beat.is_none_or(|at| now.duration_since(at) >= interval) {
            last_beat = Some(now);
            transport.publish(peers.channel.clone(), peers.heartbeat(hello), None);
        }
        peers.sweep(now);
    }
}

impl Listener for Peers {
    fn on_message(&self, _via: Via, channel: &str, payload: &[u8]) {
        match serde_json::from_slice::<Heartbeat>(payload) {
            Ok(beat) => {
                self.heard(&beat.uid, Instant::now());
                if beat.hello && beat.uid != self.own_uid {
                    self.hello_heard.notify_one();
                }
            }
            Err(e) => {
                Counters::add(&self.malformed, 1);
                tracing::warn!(%channel, "redis adapter: dropping a malformed heartbeat: {e}");
            }
        }
    }

    fn on_server_count(&self, _count: usize) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peers() -> Peers {
        Peers::new("me".into(), "socket.io", Duration::from_secs(6))
    }

    fn gone_total(peers: &Peers) -> u64 {
        let mut stats = RedisStats::default();
        peers.add_stats(&mut stats);
        stats.servers_gone
    }

    #[test]
    fn a_silent_server_is_gone_and_comes_back_when_heard() {
        let peers = peers();
        let mut changes = peers.changes();
        let t0 = Instant::now();
        peers.heard("a", t0);
        peers.heard("b", t0);
        peers.heard("me", t0);
        peers.sweep(t0 + Duration::from_secs(5));
        assert!(peers.gone().is_empty());
        assert!(!changes.has_changed().unwrap());
        peers.heard("a", t0 + Duration::from_secs(5));
        peers.sweep(t0 + Duration::from_secs(7));
        assert_eq!(peers.gone(), vec!["b".to_owned()]);
        assert!(changes.has_changed().unwrap());
        changes.mark_unchanged();
        assert_eq!(gone_total(&peers), 1);
        // Counted once, however long it stays silent.
        peers.sweep(t0 + Duration::from_secs(20));
        assert_eq!(gone_total(&peers), 2);
        let mut gone = peers.gone();
        gone.sort();
        assert_eq!(gone, vec!["a".to_owned(), "b".to_owned()]);
        changes.mark_unchanged();
        peers.heard("b", t0 + Duration::from_secs(21));
        assert_eq!(peers.gone(), vec!["a".to_owned()]);
        assert!(changes.has_changed().unwrap());
    }

    #[test]
    fn silence_while_this_node_could_not_hear_does_not_count() {
        let peers = peers();
        let t0 = Instant::now();
        peers.heard("a", t0);
        peers.deaf_until(t0 + Duration::from_secs(10));
        peers.sweep(t0 + Duration::from_secs(12));
        assert!(peers.gone().is_empty());
        peers.sweep(t0 + Duration::from_secs(17));
        assert_eq!(peers.gone(), vec!["a".to_owned()]);
    }

    #[test]
    fn gone_servers_are_forgotten_after_a_while() {
        let peers = peers();
        let t0 = Instant::now();
        peers.heard("a", t0);
        peers.sweep(t0 + Duration::from_secs(7));
        assert_eq!(peers.gone().len(), 1);
        peers.sweep(t0 + Duration::from_secs(7) + FORGET_GONE_AFTER);
        assert!(peers.gone().is_empty());
    }

    #[test]
    fn heartbeats_are_json_with_the_uid() {
        let peers = peers();
        let beat: serde_json::Value = serde_json::from_slice(&peers.heartbeat(false)).unwrap();
        assert_eq!(beat, serde_json::json!({ "uid": "me" }));
        let hello: serde_json::Value = serde_json::from_slice(&peers.heartbeat(true)).unwrap();
        assert_eq!(hello, serde_json::json!({ "uid": "me", "hello": true }));
        assert_eq!(peers.channel, "socket.io-rally#heartbeat#");
    }
}
