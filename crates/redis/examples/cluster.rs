//! The tutorial's chat on a cluster: run it twice on one Redis, and a `chat message` sent
//! to either process reaches the clients of both.
//! `cargo run -p rally-redis --example cluster -- 3001` and `… -- 3002`, with Redis on
//! 127.0.0.1:6379 (or `REDIS_URL`).

use rally::{Event, Server};
use rally_redis::{RedisAdapterConfig, RedisAdapterFactory};
use std::time::Duration;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let port: u16 = std::env::args().nth(1).map_or(Ok(3000), |p| p.parse())?;
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let redis = RedisAdapterFactory::streams(RedisAdapterConfig::new(url))?;
    let io = Server::builder().adapter(redis.clone()).build();
    if !redis.wait_connected(Duration::from_secs(5)).await {
        eprintln!("Redis is not reachable yet: serving this process's clients alone until it is");
    }
    io.on_connection(|socket| {
        // Reaches every client of every process sharing the Redis.
        socket.on("chat message", |socket, event: Event| async move {
            socket.server().emit("chat message", event.args)
        });
    });
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("listening on 127.0.0.1:{port}");
    rally::serve(listener, io.router(), async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    Ok(())
}
