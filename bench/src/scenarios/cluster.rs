//! Two servers sharing one Redis: the broadcast scenarios over both, clients and senders
//! split evenly, beside the same scenarios on one server alone in the same run. What a
//! cluster costs per delivery is the cluster's CPU (both servers and Redis) over the
//! single server's: the rest of the work, writing each frame to its client, is the same.

use super::broadcast::SENDERS;
use super::{
    broadcast_loop, broadcast_rate, connect_all, field, BroadcastLoop, BroadcastRate, Target,
};
use crate::client::{Client, OnPacket};
use crate::server::{Kind, Redis, Server};
use crate::stats::Window;
use serde::Serialize;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Both broadcast phases on one target: at a fixed rate, then in a closed loop.
#[derive(Debug, Serialize)]
pub struct Phases {
    pub at_rate: BroadcastRate,
    pub closed_loop: BroadcastLoop,
}

#[derive(Debug, Serialize)]
pub struct Cluster {
    pub adapter: String,
    /// One server without Redis, under the same load.
    pub single_server: Phases,
    /// Two servers sharing one Redis; their CPU and Redis's are counted together.
    pub cluster: Phases,
    /// Redis's part of the cluster's CPU at the fixed rate.
    pub redis_cpu_share: f64,
    /// The cluster's CPU per delivery over the single server's, at the fixed rate.
    pub vs_single_server: f64,
    /// The same in the closed loop, where the two deliver at different rates.
    pub loop_vs_single_server: f64,
}

/// Measures `single` (a server of `kind` without Redis), then stops it and measures two
/// servers of `kind` sharing a throwaway Redis through `adapter` (`classic` or `streams`).
pub async fn cluster(
    single: Server,
    kind: Kind,
    root: &str,
    adapter: &str,
    clients: usize,
    deliveries_per_s: u64,
    duration: Duration,
) -> Result<Cluster, String> {
    let single_server = Phases {
        at_rate: broadcast_rate(&single, clients, deliveries_per_s, duration, 0, 0).await?,
        closed_loop: broadcast_loop(&single, clients, SENDERS, duration).await?,
    };
    drop(single);

    // Dropped in reverse order: the servers before their Redis.
    let redis = Redis::start()?;
    let url = redis.url();
    let prefix = fresh_prefix();
    let options = [
        "--redis-url",
        &url,
        "--adapter",
        adapter,
        "--prefix",
        &prefix,
    ];
    let servers = [
        Server::start_with(kind, root, &options)?,
        Server::start_with(kind, root, &options)?,
    ];
    let target = Target {
        ports: servers.iter().map(|s| s.port).collect(),
        pids: servers
            .iter()
            .map(Server::pid)
            .chain([redis.pid()])
            .collect(),
        parser: rally::Parser::Json,
    };
    hear_each_other(&target, Duration::from_secs(10)).await?;
    // Redis does nothing but the phase's work while clients connect and drain, so a window
    // around the whole phase holds what it spent on the phase.
    let redis_window = Window::over(&[redis.pid()]);
    let at_rate = broadcast_rate(target.clone(), clients, deliveries_per_s, duration, 0, 0).await?;
    let redis_spent = redis_window.stop();
    let closed_loop = broadcast_loop(target, clients, SENDERS, duration).await?;

    let ratio = |cluster: f64, single: f64| if single > 0.0 { cluster / single } else { 0.0 };
    Ok(Cluster {
        adapter: adapter.to_owned(),
        redis_cpu_share: ratio(redis_spent.server_cpu_s, at_rate.spent.server_cpu_s),
        vs_single_server: ratio(
            at_rate.cpu_us_per_delivery,
            single_server.at_rate.cpu_us_per_delivery,
        ),
        loop_vs_single_server: ratio(
            closed_loop.cpu_us_per_delivery,
            single_server.closed_loop.cpu_us_per_delivery,
        ),
        single_server,
        cluster: Phases {
            at_rate,
            closed_loop,
        },
    })
}

/// A channel prefix (and stream name) no earlier cluster of this run used.
fn fresh_prefix() -> String {
    static CLUSTERS: AtomicU64 = AtomicU64::new(0);
    format!(
        "rally-bench-{}-{}",
        std::process::id(),
        CLUSTERS.fetch_add(1, Ordering::Relaxed)
    )
}

/// Waits until a broadcast from a client of each server reaches a client of the other:
/// a server may say it listens before its subscription (or stream reader) is in place,
/// and what is published before that never reaches it.
async fn hear_each_other(target: &Target, timeout: Duration) -> Result<(), String> {
    let heard: Arc<[AtomicBool; 2]> = Arc::default();
    let on_packet: OnPacket = {
        let heard = heard.clone();
        Arc::new(move |client: &Client, packet: &str| {
            let from = field(packet, "\"probe\":").map(|i| i as usize);
            if packet.starts_with("2[\"message\"") && from.is_some_and(|i| i != client.index) {
                heard[client.index].store(true, Ordering::Relaxed);
            }
        })
    };
    // Client 0 on the first server, client 1 on the second.
    let probes = connect_all(target, 2, &on_packet).await?;
    let deadline = Instant::now() + timeout;
    while !heard.iter().all(|h| h.load(Ordering::Relaxed)) {
        if Instant::now() > deadline {
            return Err(format!(
                "the two servers did not hear each other through Redis within {timeout:?}"
            ));
        }
        for (i, probe) in probes.iter().enumerate() {
            probe.send(&format!("2[\"message\",{{\"probe\":{i}}}]"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop(probes);
    // Let the last probes in flight land before the measured clients connect.
    tokio::time::sleep(Duration::from_millis(500)).await;
    Ok(())
}
