//! Messages that must reach only some clients: rooms with a sender each, and private
//! messages between pairs by socket id. Every delivery is checked: none wrong, none lost.

use super::{closed_loop, connect_all, drained, event_args, settle, Target};
use crate::client::{Client, OnPacket};
use crate::server::Server;
use crate::stats::{Spent, Window};
use serde::Serialize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

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
    let all = connect_all(&Target::from(server), clients, &on_packet).await?;
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
    let spent = window.stop();
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
    let all = connect_all(&Target::from(server), pairs * 2, &on_packet).await?;
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
    let spent = window.stop();
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
