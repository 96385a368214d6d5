//! The measured scenarios. Each takes a freshly started server (or, for `cluster`, starts
//! its own), drives it with its own clients over loopback for a bounded time, and returns
//! the figures of one table row.

mod broadcast;
mod cluster;
mod connections;
mod echo;
mod rooms;

pub use broadcast::{broadcast_loop, broadcast_rate, BroadcastLoop, BroadcastRate};
pub use cluster::{cluster, Cluster, Phases};
pub use connections::{connections, Connections};
pub use echo::{echo, Echo};
pub use rooms::{private, rooms, Private, Rooms};

use crate::client::{connect, Client, OnPacket};
use crate::server::Server;
use crate::stats::Window;
use futures::stream::{self, StreamExt};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// What a scenario drives and measures: the ports its clients connect to (client `i` to
/// `ports[i % ports.len()]`, so that consecutive clients, senders among them, alternate
/// between a cluster's servers) and the processes whose CPU counts as the server's.
#[derive(Clone, Debug)]
pub struct Target {
    pub ports: Vec<u16>,
    pub pids: Vec<u32>,
    /// The packet format the servers speak.
    pub parser: rally::Parser,
}

impl Target {
    pub fn port(&self, client: usize) -> u16 {
        self.ports[client % self.ports.len()]
    }

    pub fn window(&self) -> Window {
        Window::over(&self.pids)
    }

    /// Resident memory of every process, summed.
    pub fn rss_bytes(&self) -> u64 {
        self.pids
            .iter()
            .map(|pid| crate::server::rss_bytes(&format!("/proc/{pid}/status")))
            .sum()
    }
}

impl From<&Server> for Target {
    fn from(server: &Server) -> Target {
        Target {
            ports: vec![server.port],
            pids: vec![server.pid()],
            parser: server.parser,
        }
    }
}

pub fn now_us() -> u64 {
    static BASE: OnceLock<Instant> = OnceLock::new();
    BASE.get_or_init(Instant::now).elapsed().as_micros() as u64
}

/// The number after `"key":` in a packet's text: enough parsing for the generator's own payloads.
pub fn field(text: &str, key: &str) -> Option<u64> {
    let at = text.find(key)? + key.len();
    let digits = &text[at..];
    let end = digits
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(digits.len());
    digits[..end].parse().ok()
}

/// A `message` event a client received: (received at, latency), in microseconds.
pub type Timed = (u64, u64);
/// Per-client latency samples.
pub type Latencies = Arc<Vec<std::sync::Mutex<Vec<Timed>>>>;

/// A callback recording, per client, the latency of every `message` event whose payload
/// carries its send time (`now_us`) after `key`.
pub fn latency_recorder(clients: usize, key: &'static str) -> (Latencies, OnPacket) {
    let latencies: Latencies = Arc::new(
        (0..clients)
            .map(|_| std::sync::Mutex::new(Vec::new()))
            .collect(),
    );
    let on_packet: OnPacket = {
        let latencies = latencies.clone();
        Arc::new(move |client: &Client, packet: &str| {
            if packet.starts_with("2[\"message\"") {
                if let Some(t) = field(packet, key) {
                    let now = now_us();
                    latencies[client.index]
                        .lock()
                        .unwrap()
                        .push((now, now.saturating_sub(t)));
                }
            }
        })
    };
    (latencies, on_packet)
}

/// Each of `senders` sends `packet()` every `interval` until `end`, counting into `sent`.
/// They start spread over one interval, so that the load is even. Returns when all stop.
pub async fn paced_senders(
    senders: &[Client],
    interval: Duration,
    end: Instant,
    sent: &Arc<AtomicU64>,
    packet: impl Fn() -> String + Clone + Send + 'static,
) {
    let spread = senders.len() as f64;
    let loops: Vec<_> = senders
        .iter()
        .enumerate()
        .map(|(i, client)| {
            let (client, sent, packet) = (client.clone(), sent.clone(), packet.clone());
            tokio::spawn(async move {
                tokio::time::sleep(interval.mul_f64(i as f64 / spread)).await;
                let mut ticks = tokio::time::interval(interval);
                ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
                while Instant::now() < end {
                    ticks.tick().await;
                    client.send(&packet());
                    sent.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for l in loops {
        let _ = l.await;
    }
}

/// The data array of an EVENT packet (`2[...]`), fully parsed.
pub(crate) fn event_args(packet: &str) -> Option<Vec<serde_json::Value>> {
    match serde_json::from_str(packet.strip_prefix('2')?) {
        Ok(serde_json::Value::Array(args)) => Some(args),
        _ => None,
    }
}

pub(crate) fn ignore() -> OnPacket {
    Arc::new(|_, _| {})
}

/// Connects `count` clients to `target`, client `i` to `target.port(i)`.
pub(crate) async fn connect_all(
    target: &Target,
    count: usize,
    on_packet: &OnPacket,
) -> Result<Vec<Client>, String> {
    let results: Vec<_> = stream::iter(0..count)
        .map(|i| connect(target.port(i), target.parser, i, on_packet.clone()))
        .buffered(64)
        .collect()
        .await;
    results.into_iter().collect()
}

/// Waits until `done()` or until it stops changing for `quiet`.
pub(crate) async fn settle(mut progress: impl FnMut() -> (u64, bool), quiet: Duration) {
    let mut last = (u64::MAX, Instant::now());
    loop {
        let (value, done) = progress();
        if done {
            return;
        }
        if value != last.0 {
            last = (value, Instant::now());
        } else if last.1.elapsed() > quiet {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Senders `0..echoes.len()` each send `packet(i, n)`, wait until they receive their own
/// copy back, and repeat until `duration` is over. Returns how many were sent.
pub(crate) async fn closed_loop(
    all: &[Client],
    echoes: &Arc<Vec<Notify>>,
    duration: Duration,
    packet: fn(usize, u64) -> String,
) -> u64 {
    let sent = Arc::new(AtomicU64::new(0));
    let end = Instant::now() + duration;
    let loops: Vec<_> = (0..echoes.len())
        .map(|i| {
            let (client, echoes, sent) = (all[i].clone(), echoes.clone(), sent.clone());
            tokio::spawn(async move {
                let mut n = 0u64;
                while Instant::now() < end {
                    client.send(&packet(i, n));
                    sent.fetch_add(1, Ordering::Relaxed);
                    n += 1;
                    let echo = echoes[i].notified();
                    if tokio::time::timeout(Duration::from_secs(5), echo)
                        .await
                        .is_err()
                    {
                        break;
                    }
                }
            })
        })
        .collect();
    for l in loops {
        let _ = l.await;
    }
    sent.load(Ordering::Relaxed)
}

/// Waits until `counter` reaches `expected` or stops moving; returns its value.
pub(crate) async fn drained(counter: &AtomicU64, expected: u64) -> u64 {
    settle(
        || {
            let d = counter.load(Ordering::Relaxed);
            (d, d >= expected)
        },
        Duration::from_secs(2),
    )
    .await;
    counter.load(Ordering::Relaxed)
}
