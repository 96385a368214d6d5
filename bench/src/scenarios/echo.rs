//! Echo with an ack: each client in a closed loop of request and answer.

use super::{connect_all, field, now_us, settle, Target};
use crate::client::{Client, OnPacket};
use crate::server::Server;
use crate::stats::{percentiles, Percentiles, Spent, Window};
use serde::Serialize;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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
    let all = connect_all(&Target::from(server), clients, &on_packet).await?;
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
    let spent = window.stop();
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
