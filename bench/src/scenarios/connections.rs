//! Idle connections: what each costs the server in memory, and in CPU to open.

use super::{connect_all, ignore, Target};
use crate::server::Server;
use crate::stats::{Spent, Window};
use serde::Serialize;
use std::time::Duration;

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
    drop(connect_all(&Target::from(server), 20, &ignore()).await?);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_before = server.rss_bytes();
    let window = Window::start(server);
    let clients = connect_all(&Target::from(server), count, &ignore()).await?;
    let spent = window.stop();
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
