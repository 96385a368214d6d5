//! Broadcast to everyone: in a closed loop (throughput and CPU per delivery), and at a
//! fixed rate with every delivery's latency, optionally beside clients that never read.

use super::{
    closed_loop, connect_all, drained, field, latency_recorder, now_us, paced_senders, settle,
    Target, Timed,
};
use crate::client::{handshake, Client, OnPacket, Ws};
use crate::stats::{percentiles, Percentiles, Spent};
use serde::Serialize;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

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
/// On a cluster, clients and senders alternate between its servers.
pub async fn broadcast_loop(
    target: impl Into<Target>,
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
    let target = target.into();
    let all = connect_all(&target, clients, &on_packet).await?;
    let window = target.window();
    let sent = closed_loop(&all, &echoes, duration, |i, n| {
        format!("2[\"message\",{{\"s\":{i},\"n\":{n}}}]")
    })
    .await;
    let expected = sent * clients as u64;
    let deliveries = drained(&delivered, expected).await;
    let spent = window.stop();
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

/// How many clients send at a fixed rate.
pub(crate) const SENDERS: usize = 4;

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
/// same messages go to them too, on top of the rate. On a cluster, clients (the stalled
/// ones too) and senders alternate between its servers.
pub async fn broadcast_rate(
    target: impl Into<Target>,
    clients: usize,
    deliveries_per_s: u64,
    duration: Duration,
    stalled: usize,
    payload_bytes: usize,
) -> Result<BroadcastRate, String> {
    let (latencies, on_packet) = latency_recorder(clients, "\"t\":");
    let target = target.into();
    let all = connect_all(&target, clients, &on_packet).await?;
    let mut frozen: Vec<Ws> = Vec::new();
    for i in 0..stalled {
        // Joined, then never polled again: the server's writes to it pile up.
        frozen.push(handshake(target.port(i), target.parser).await?.0);
    }
    let messages_per_s = (deliveries_per_s as f64 / clients as f64).max(1.0);
    let interval = Duration::from_secs_f64(SENDERS as f64 / messages_per_s);
    let filler = "x".repeat(payload_bytes);
    let sent = Arc::new(AtomicU64::new(0));
    let sampling = Arc::new(AtomicBool::new(true));
    let rss = Arc::new(Mutex::new(Vec::new()));
    let sampler = {
        let (sampling, rss, target) = (sampling.clone(), rss.clone(), target.clone());
        tokio::spawn(async move {
            while sampling.load(Ordering::Relaxed) {
                rss.lock().unwrap().push(target.rss_bytes());
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        })
    };
    let window = target.window();
    let end = Instant::now() + duration;
    paced_senders(&all[..SENDERS], interval, end, &sent, move || {
        format!("2[\"message\",{{\"t\":{},\"f\":\"{filler}\"}}]", now_us())
    })
    .await;
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
    let spent = window.stop();
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
