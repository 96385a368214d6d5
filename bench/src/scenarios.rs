//! The measured scenarios. Each takes a freshly started server, drives it with its own
//! clients over loopback for a bounded time, and returns the figures of one table row.

use crate::client::{connect, handshake, Client, OnPacket, Ws};
use crate::server::Server;
use crate::stats::{percentiles, Percentiles, Spent, Window};
use futures::stream::{self, StreamExt};
use serde::Serialize;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

fn now_us() -> u64 {
    static BASE: OnceLock<Instant> = OnceLock::new();
    BASE.get_or_init(Instant::now).elapsed().as_micros() as u64
}

/// The number after `"key":` in a packet's text: enough parsing for the generator's own payloads.
fn field(text: &str, key: &str) -> Option<u64> {
    let at = text.find(key)? + key.len();
    let digits = &text[at..];
    let end = digits
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(digits.len());
    digits[..end].parse().ok()
}

/// The data array of an EVENT packet (`2[...]`), fully parsed.
fn event_args(packet: &str) -> Option<Vec<serde_json::Value>> {
    match serde_json::from_str(packet.strip_prefix('2')?) {
        Ok(serde_json::Value::Array(args)) => Some(args),
        _ => None,
    }
}

fn ignore() -> OnPacket {
    Arc::new(|_, _| {})
}

async fn connect_all(port: u16, count: usize, on_packet: &OnPacket) -> Result<Vec<Client>, String> {
    let results: Vec<_> = stream::iter(0..count)
        .map(|i| connect(port, i, on_packet.clone()))
        .buffered(64)
        .collect()
        .await;
    results.into_iter().collect()
}

/// Waits until `done()` or until it stops changing for `quiet`.
async fn settle(mut progress: impl FnMut() -> (u64, bool), quiet: Duration) {
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
async fn closed_loop(
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
async fn drained(counter: &AtomicU64, expected: u64) -> u64 {
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

// ---------------------------------------------------------------- connections

#[derive(Debug, Serialize)]
pub struct Connections {
    pub connections: usize,
    pub rss_per_connection_bytes: f64,
    pub cpu_us_per_connection: f64,
    pub spent: Spent,
}

/// Opens `count` idle WebSocket clients; server RSS growth and CPU per connection.
pub async fn connections(server: &Server, count: usize) -> Result<Connections, String> {
    // A few connections first, so that one-time allocations are not charged to the rest.
    drop(connect_all(server.port, 20, &ignore()).await?);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_before = server.rss_bytes();
    let window = Window::start(server);
    let clients = connect_all(server.port, count, &ignore()).await?;
    let spent = window.stop(server);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let rss_after = server.rss_bytes();
    let result = Connections {
        connections: clients.len(),
        rss_per_connection_bytes: rss_after.saturating_sub(rss_before) as f64 / count as f64,
        cpu_us_per_connection: spent.cpu_us_per(count as u64),
        spent,
    };
    drop(clients);
    Ok(result)
}

// ---------------------------------------------------------------- broadcast, closed loop

#[derive(Debug, Serialize)]
pub struct BroadcastLoop {
    pub clients: usize,
    pub senders: usize,
    pub messages: u64,
    pub deliveries: u64,
    pub lost: u64,
    pub deliveries_per_s: f64,
    pub cpu_us_per_delivery: f64,
    pub spent: Spent,
}

/// `clients` clients; `senders` of them each emit `message`, wait for their own copy, repeat.
pub async fn broadcast_loop(
    server: &Server,
    clients: usize,
    senders: usize,
    duration: Duration,
) -> Result<BroadcastLoop, String> {
    let delivered = Arc::new(AtomicU64::new(0));
    let echoes: Arc<Vec<Notify>> = Arc::new((0..senders).map(|_| Notify::new()).collect());
    let on_packet: OnPacket = {
        let (delivered, echoes) = (delivered.clone(), echoes.clone());
        Arc::new(move |client: &Client, packet: &str| {
            if packet.starts_with("2[\"message\"") {
                delivered.fetch_add(1, Ordering::Relaxed);
                if client.index < echoes.len()
                    && field(packet, "\"s\":") == Some(client.index as u64)
                {
                    echoes[client.index].notify_one();
                }
            }
        })
    };
    let all = connect_all(server.port, clients, &on_packet).await?;
    let window = Window::start(server);
    let sent = closed_loop(&all, &echoes, duration, |i, n| {
        format!("2[\"message\",{{\"s\":{i},\"n\":{n}}}]")
    })
    .await;
    let expected = sent * clients as u64;
    let deliveries = drained(&delivered, expected).await;
    let spent = window.stop(server);
    drop(all);
    Ok(BroadcastLoop {
        clients,
        senders,
        messages: sent,
        deliveries,
        lost: expected.saturating_sub(deliveries),
        deliveries_per_s: deliveries as f64 / spent.wall_s,
        cpu_us_per_delivery: spent.cpu_us_per(deliveries),
        spent,
    })
}

// ---------------------------------------------------------------- broadcast, fixed rate

/// A latency sample: (received at, latency), both in microseconds.
type Timed = (u64, u64);

#[derive(Debug, Serialize)]
pub struct BroadcastRate {
    pub clients: usize,
    pub stalled: usize,
    pub target_deliveries_per_s: u64,
    pub delivered: u64,
    pub deliveries_per_s: f64,
    pub lost: u64,
    pub latency_us: Percentiles,
    /// Latency over the phase's second half only.
    pub latency_second_half_us: Percentiles,
    pub cpu_us_per_delivery: f64,
    pub rss_min_bytes: u64,
    pub rss_max_bytes: u64,
    pub spent: Spent,
}

/// A fixed delivery rate to `clients` from 4 senders; every delivery's latency. With
/// `stalled`, that many more clients join the namespace and never read a byte: the
/// same messages go to them too, on top of the rate.
pub async fn broadcast_rate(
    server: &Server,
    clients: usize,
    deliveries_per_s: u64,
    duration: Duration,
    stalled: usize,
    payload_bytes: usize,
) -> Result<BroadcastRate, String> {
    const SENDERS: usize = 4;
    let latencies: Arc<Vec<Mutex<Vec<Timed>>>> =
        Arc::new((0..clients).map(|_| Mutex::new(Vec::new())).collect());
    let on_packet: OnPacket = {
        let latencies = latencies.clone();
        Arc::new(move |client: &Client, packet: &str| {
            if packet.starts_with("2[\"message\"") {
                if let Some(t) = field(packet, "\"t\":") {
                    let now = now_us();
                    latencies[client.index]
                        .lock()
                        .unwrap()
                        .push((now, now.saturating_sub(t)));
                }
            }
        })
    };
    let all = connect_all(server.port, clients, &on_packet).await?;
    let mut frozen: Vec<Ws> = Vec::new();
    for _ in 0..stalled {
        // Joined, then never polled again: the server's writes to it pile up.
        frozen.push(handshake(server.port).await?.0);
    }
    let messages_per_s = (deliveries_per_s as f64 / clients as f64).max(1.0);
    let interval = Duration::from_secs_f64(SENDERS as f64 / messages_per_s);
    let filler = "x".repeat(payload_bytes);
    let sent = Arc::new(AtomicU64::new(0));
    let sampling = Arc::new(AtomicBool::new(true));
    let rss = Arc::new(Mutex::new(Vec::new()));
    let pid = server.pid();
    let sampler = {
        let (sampling, rss) = (sampling.clone(), rss.clone());
        tokio::spawn(async move {
            while sampling.load(Ordering::Relaxed) {
                rss.lock()
                    .unwrap()
                    .push(crate::server::rss_bytes(&format!("/proc/{pid}/status")));
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        })
    };
    let window = Window::start(server);
    let end = Instant::now() + duration;
    let loops: Vec<_> = (0..SENDERS)
        .map(|i| {
            let (client, sent, filler) = (all[i].clone(), sent.clone(), filler.clone());
            tokio::spawn(async move {
                // Senders start spread over one interval so the load is even.
                tokio::time::sleep(interval.mul_f64(i as f64 / SENDERS as f64)).await;
                let mut ticks = tokio::time::interval(interval);
                ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
                while Instant::now() < end {
                    ticks.tick().await;
                    client.send(&format!(
                        "2[\"message\",{{\"t\":{},\"f\":\"{filler}\"}}]",
                        now_us()
                    ));
                    sent.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for l in loops {
        let _ = l.await;
    }
    let expected = sent.load(Ordering::Relaxed) * clients as u64;
    let count = || {
        latencies
            .iter()
            .map(|l| l.lock().unwrap().len() as u64)
            .sum::<u64>()
    };
    settle(
        || {
            let d = count();
            (d, d >= expected)
        },
        Duration::from_secs(2),
    )
    .await;
    let spent = window.stop(server);
    sampling.store(false, Ordering::Relaxed);
    let _ = sampler.await;
    let timed: Vec<Timed> = latencies
        .iter()
        .flat_map(|l| std::mem::take(&mut *l.lock().unwrap()))
        .collect();
    // The second half alone: what remains once every stalled client's socket has stopped taking bytes.
    let first = timed.iter().map(|s| s.0).min().unwrap_or(0);
    let half = first + (duration.as_micros() / 2) as u64;
    let late = percentiles(timed.iter().filter(|s| s.0 >= half).map(|s| s.1).collect());
    let samples: Vec<u64> = timed.into_iter().map(|s| s.1).collect();
    let delivered = samples.len() as u64;
    let rss = rss.lock().unwrap().clone();
    drop(frozen);
    drop(all);
    Ok(BroadcastRate {
        clients,
        stalled,
        target_deliveries_per_s: deliveries_per_s,
        delivered,
        deliveries_per_s: delivered as f64 / spent.wall_s,
        lost: expected.saturating_sub(delivered),
        latency_us: percentiles(samples),
        latency_second_half_us: late,
        // The stalled clients' copies are server work too, but they are never delivered.
        cpu_us_per_delivery: spent.cpu_us_per(delivered),
        rss_min_bytes: rss.iter().copied().min().unwrap_or(0),
        rss_max_bytes: rss.iter().copied().max().unwrap_or(0),
        spent,
    })
}

// ---------------------------------------------------------------- echo with ack

#[derive(Debug, Serialize)]
pub struct Echo {
    pub clients: usize,
    pub acks: u64,
    pub acks_per_s: f64,
    pub cpu_us_per_ack: f64,
    pub latency_us: Percentiles,
    pub spent: Spent,
}

/// `clients` clients, each in a closed loop of `echo` with an ack.
pub async fn echo(server: &Server, clients: usize, duration: Duration) -> Result<Echo, String> {
    let end = Arc::new(Mutex::new(Instant::now() + Duration::from_secs(3600)));
    let latencies: Arc<Vec<Mutex<Vec<u64>>>> =
        Arc::new((0..clients).map(|_| Mutex::new(Vec::new())).collect());
    let on_packet: OnPacket = {
        let (end, latencies) = (end.clone(), latencies.clone());
        Arc::new(move |client: &Client, packet: &str| {
            let Some(rest) = packet.strip_prefix('3') else {
                return;
            };
            let id_len = rest.find('[').unwrap_or(0);
            let Ok(id) = rest[..id_len].parse::<u64>() else {
                return;
            };
            if let Some(t) = field(rest, "\"t\":") {
                latencies[client.index]
                    .lock()
                    .unwrap()
                    .push(now_us().saturating_sub(t));
            }
            if Instant::now() < *end.lock().unwrap() {
                client.send(&format!("2{}[\"echo\",{{\"t\":{}}}]", id + 1, now_us()));
            }
        })
    };
    let all = connect_all(server.port, clients, &on_packet).await?;
    *end.lock().unwrap() = Instant::now() + duration;
    let window = Window::start(server);
    for client in &all {
        client.send(&format!("20[\"echo\",{{\"t\":{}}}]", now_us()));
    }
    tokio::time::sleep(duration).await;
    let count = || {
        latencies
            .iter()
            .map(|l| l.lock().unwrap().len() as u64)
            .sum::<u64>()
    };
    settle(|| (count(), false), Duration::from_millis(300)).await;
    let spent = window.stop(server);
    let samples: Vec<u64> = latencies
        .iter()
        .flat_map(|l| std::mem::take(&mut *l.lock().unwrap()))
        .collect();
    let acks = samples.len() as u64;
    drop(all);
    Ok(Echo {
        clients,
        acks,
        acks_per_s: acks as f64 / spent.wall_s,
        cpu_us_per_ack: spent.cpu_us_per(acks),
        latency_us: percentiles(samples),
        spent,
    })
}

// ---------------------------------------------------------------- rooms

#[derive(Debug, Serialize)]
pub struct Rooms {
    pub clients: usize,
    pub rooms: usize,
    pub messages: u64,
    pub deliveries: u64,
    pub wrong: u64,
    pub lost: u64,
    pub deliveries_per_s: f64,
    pub cpu_us_per_delivery: f64,
    pub spent: Spent,
}

/// `clients` clients spread over `rooms` rooms; one sender per room emits to its room in a closed loop.
pub async fn rooms(
    server: &Server,
    clients: usize,
    rooms: usize,
    duration: Duration,
) -> Result<Rooms, String> {
    let joined = Arc::new(AtomicU64::new(0));
    let delivered = Arc::new(AtomicU64::new(0));
    let wrong = Arc::new(AtomicU64::new(0));
    let echoes: Arc<Vec<Notify>> = Arc::new((0..rooms).map(|_| Notify::new()).collect());
    let on_packet: OnPacket = {
        let (joined, delivered, wrong, echoes) = (
            joined.clone(),
            delivered.clone(),
            wrong.clone(),
            echoes.clone(),
        );
        Arc::new(move |client: &Client, packet: &str| {
            if packet.starts_with('3') {
                joined.fetch_add(1, Ordering::Relaxed);
                return;
            }
            let Some(args) = event_args(packet) else {
                return;
            };
            let my_room = format!("room-{}", client.index % rooms);
            if args.get(2).and_then(|r| r.as_str()) == Some(my_room.as_str()) {
                delivered.fetch_add(1, Ordering::Relaxed);
                if client.index < rooms && args[1]["s"].as_u64() == Some(client.index as u64) {
                    echoes[client.index].notify_one();
                }
            } else {
                wrong.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    let all = connect_all(server.port, clients, &on_packet).await?;
    for client in &all {
        client.send(&format!("20[\"join\",\"room-{}\"]", client.index % rooms));
    }
    settle(
        || {
            let j = joined.load(Ordering::Relaxed);
            (j, j >= clients as u64)
        },
        Duration::from_secs(5),
    )
    .await;
    if joined.load(Ordering::Relaxed) < clients as u64 {
        return Err(format!(
            "only {} of {clients} joins were acknowledged",
            joined.load(Ordering::Relaxed)
        ));
    }
    let window = Window::start(server);
    let sent = closed_loop(&all, &echoes, duration, |i, n| {
        format!("2[\"message\",{{\"s\":{i},\"n\":{n}}},\"room-{i}\"]")
    })
    .await;
    let expected = sent * (clients / rooms) as u64;
    let deliveries = drained(&delivered, expected).await;
    let spent = window.stop(server);
    drop(all);
    Ok(Rooms {
        clients,
        rooms,
        messages: sent,
        deliveries,
        wrong: wrong.load(Ordering::Relaxed),
        lost: expected.saturating_sub(deliveries),
        deliveries_per_s: deliveries as f64 / spent.wall_s,
        cpu_us_per_delivery: spent.cpu_us_per(deliveries),
        spent,
    })
}

// ---------------------------------------------------------------- private messages

#[derive(Debug, Serialize)]
pub struct Private {
    pub pairs: usize,
    pub sent: u64,
    pub received: u64,
    pub wrong: u64,
    pub lost: u64,
    pub messages_per_s: f64,
    pub cpu_us_per_message: f64,
    pub spent: Spent,
}

/// `pairs` pairs of clients play ping-pong with `private_message` by socket id.
pub async fn private(server: &Server, pairs: usize, duration: Duration) -> Result<Private, String> {
    let sids: Arc<OnceLock<Vec<Arc<str>>>> = Arc::new(OnceLock::new());
    let end = Arc::new(Mutex::new(Instant::now() + Duration::from_secs(3600)));
    let (sent, received, wrong) = (
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(0)),
    );
    let on_packet: OnPacket = {
        let (sids, end, sent, received, wrong) = (
            sids.clone(),
            end.clone(),
            sent.clone(),
            received.clone(),
            wrong.clone(),
        );
        Arc::new(move |client: &Client, packet: &str| {
            let Some(args) = event_args(packet) else {
                return;
            };
            if args.first().and_then(|e| e.as_str()) != Some("private_message") {
                return;
            }
            let Some(sids) = sids.get() else { return };
            let partner = client.index ^ 1;
            let from_partner = args.get(2).and_then(|s| s.as_str()) == Some(&*sids[partner])
                && args[1]["f"].as_u64() == Some(partner as u64);
            if !from_partner {
                wrong.fetch_add(1, Ordering::Relaxed);
                return;
            }
            received.fetch_add(1, Ordering::Relaxed);
            if Instant::now() < *end.lock().unwrap() {
                let n = args[1]["n"].as_u64().unwrap_or(0) + 1;
                client.send(&format!(
                    "2[\"private_message\",{{\"f\":{},\"n\":{n}}},\"{}\"]",
                    client.index, sids[partner]
                ));
                sent.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    let all = connect_all(server.port, pairs * 2, &on_packet).await?;
    let _ = sids.set(all.iter().map(|c| c.sid.clone()).collect());
    *end.lock().unwrap() = Instant::now() + duration;
    let window = Window::start(server);
    for client in all.iter().filter(|c| c.index % 2 == 0) {
        client.send(&format!(
            "2[\"private_message\",{{\"f\":{},\"n\":0}},\"{}\"]",
            client.index,
            all[client.index + 1].sid
        ));
        sent.fetch_add(1, Ordering::Relaxed);
    }
    tokio::time::sleep(duration).await;
    settle(
        || {
            let r = received.load(Ordering::Relaxed);
            (r, r >= sent.load(Ordering::Relaxed))
        },
        Duration::from_secs(2),
    )
    .await;
    let spent = window.stop(server);
    let (s, r) = (
        sent.load(Ordering::Relaxed),
        received.load(Ordering::Relaxed),
    );
    drop(all);
    Ok(Private {
        pairs,
        sent: s,
        received: r,
        wrong: wrong.load(Ordering::Relaxed),
        lost: s.saturating_sub(r),
        messages_per_s: r as f64 / spent.wall_s,
        cpu_us_per_message: spent.cpu_us_per(r),
        spent,
    })
}
