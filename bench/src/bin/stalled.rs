//! stalled: what clients that stop reading cost the chat server, and whether the
//! clients that do read notice.
//!
//! Starts `rally-chat`, connects `--readers` clients that read everything and
//! `--stalled` clients that join and then never read a byte, and has four of the
//! readers send `--rate` chat messages a second (`--bytes` each) for `--seconds`. Every
//! message goes to every client, the stalled ones included, so the server queues for
//! them until it gives up on them. It prints the server's RSS with everyone connected
//! and its peak during the phase, when the stalled clients were dropped (`/health`),
//! the readers' delivery and their latency percentiles, whole phase and per second.
//! Exits non-zero when a reader missed a message or a stalled client was never dropped.
//! Loopback only, bounded in time.

use clap::Parser;
use futures::{SinkExt, StreamExt};
use rally_bench::client::{connect, handshake, Ws};
use rally_bench::scenarios::{latency_recorder, now_us, paced_senders, Timed};
use rally_bench::server::{chat_health, raise_fd_limit, Server};
use rally_bench::stats::{mib, percentiles};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;

#[derive(Parser)]
#[command(about = "Measures what clients that stop reading cost the chat server")]
struct Options {
    /// The chat server's binary.
    #[arg(long, default_value = "target/release/rally-chat")]
    chat: String,
    /// How long the broadcast lasts, in seconds.
    #[arg(long, default_value_t = 20)]
    seconds: u64,
    /// Clients that read everything.
    #[arg(long, default_value_t = 100)]
    readers: usize,
    /// Clients that join, then never read.
    #[arg(long, default_value_t = 1000)]
    stalled: usize,
    /// Chat messages a second, all clients receiving each.
    #[arg(long, default_value_t = 500)]
    rate: u64,
    /// Size of each message's text, in bytes.
    #[arg(long, default_value_t = 1024)]
    bytes: usize,
    /// Extra arguments for the chat server (e.g. `--chat-arg=--max-lag-ms=2000`).
    #[arg(long = "chat-arg", allow_hyphen_values = true)]
    chat_args: Vec<String>,
}

const SENDERS: usize = 4;

/// Reads (answering pings) until told to stop, then hands the connection back unread
/// from then on; `None` if it closed meanwhile.
async fn read_until(mut ws: Ws, mut stop: watch::Receiver<bool>) -> Option<Ws> {
    loop {
        tokio::select! {
            _ = stop.changed() => return Some(ws),
            frame = ws.next() => match frame {
                Some(Ok(Message::Text(text))) if text.as_str() == "2" => {
                    ws.send(Message::text("3")).await.ok()?;
                }
                Some(Ok(_)) => {}
                _ => return None,
            },
        }
    }
}

/// The readers' p99 latency in each of `count` windows of `width_us` from `from`, in
/// milliseconds, for printing.
fn p99_ms_by_window(all: &[Timed], from: u64, width_us: u64, count: u64) -> String {
    let p99s = (0..count).map(|i| {
        let start = from + i * width_us;
        let inside = all
            .iter()
            .filter(|s| s.0 >= start && s.0 < start + width_us);
        format!(
            "{:.1}",
            percentiles(inside.map(|s| s.1).collect()).p99 as f64 / 1000.0
        )
    });
    p99s.collect::<Vec<_>>().join(" ")
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let options = Options::parse();
    raise_fd_limit();
    let mut command = Server::chat_command(&options.chat);
    command.args(["--rate-per-second", "1000000"]);
    command.args(&options.chat_args);
    let server = Server::spawn_or_exit(command, "rally-chat", "stalled");
    let port = server.port;
    let (samples, on_packet) = latency_recorder(options.readers, "t=");
    let mut readers = Vec::new();
    for i in 0..options.readers {
        match connect(port, rally::Parser::Json, i, on_packet.clone()).await {
            Ok(client) => readers.push(client),
            Err(e) => {
                eprintln!("stalled: a reader could not connect: {e}");
                std::process::exit(2);
            }
        }
    }
    // The clients to stall read like the others until the phase begins, then stop.
    let (stall, stalling) = watch::channel(false);
    let mut stalled = Vec::new();
    for _ in 0..options.stalled {
        match handshake(port, rally::Parser::Json).await {
            Ok((ws, _)) => stalled.push(tokio::spawn(read_until(ws, stalling.clone()))),
            Err(e) => {
                eprintln!("stalled: a stalled client could not connect: {e}");
                std::process::exit(2);
            }
        }
    }
    // The presence updates of 1 100 joins have gone out before the baseline is taken.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let before = server.rss_bytes();
    let connected = chat_health(port).await["sockets"].as_u64().unwrap_or(0);
    println!(
        "stalled: rally-chat on port {port}; {} readers and {} clients to stall connected ({connected} sockets): RSS {:.1} MiB",
        options.readers,
        options.stalled,
        mib(before)
    );

    let _ = stall.send(true);
    let mut frozen: Vec<Ws> = Vec::new();
    for client in stalled {
        if let Ok(Some(ws)) = client.await {
            frozen.push(ws);
        }
    }
    let filler = "x".repeat(options.bytes.saturating_sub(24));
    let interval = Duration::from_secs_f64(SENDERS as f64 / options.rate.max(1) as f64);
    let started = now_us();
    let end = Instant::now() + Duration::from_secs(options.seconds);
    let sent = Arc::new(AtomicU64::new(0));
    let senders = tokio::spawn({
        let (readers, sent) = (readers[..SENDERS.min(readers.len())].to_vec(), sent.clone());
        async move {
            paced_senders(&readers, interval, end, &sent, move || {
                format!("2[\"message\",\"t={} {filler}\"]", now_us())
            })
            .await
        }
    });
    let mut peak = before;
    let mut timeline = Vec::new();
    let mut next_second = Instant::now() + Duration::from_secs(1);
    while Instant::now() < end {
        tokio::time::sleep(Duration::from_millis(100)).await;
        peak = peak.max(server.rss_bytes());
        if Instant::now() >= next_second {
            next_second += Duration::from_secs(1);
            let sockets = chat_health(port).await["sockets"].as_u64().unwrap_or(0);
            timeline.push((sockets, server.rss_bytes()));
        }
    }
    let _ = senders.await;
    let sent = sent.load(Ordering::Relaxed);
    let expected = sent * readers.len() as u64;
    let count = || -> u64 { samples.iter().map(|s| s.lock().unwrap().len() as u64).sum() };
    let waited = Instant::now();
    while count() < expected && waited.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let after = server.rss_bytes();
    let remaining = chat_health(port).await["sockets"].as_u64().unwrap_or(0);
    let all: Vec<Timed> = samples
        .iter()
        .flat_map(|s| std::mem::take(&mut *s.lock().unwrap()))
        .collect();
    let delivered = all.len() as u64;
    println!(
        "stalled: second by second: sockets {}",
        timeline
            .iter()
            .map(|(s, _)| s.to_string())
            .collect::<Vec<_>>()
            .join(" ")
    );
    println!(
        "stalled: second by second: RSS MiB {}",
        timeline
            .iter()
            .map(|(_, r)| format!("{:.1}", mib(*r)))
            .collect::<Vec<_>>()
            .join(" ")
    );
    println!(
        "stalled: second by second: readers' p99 ms {}",
        p99_ms_by_window(&all, started, 1_000_000, options.seconds)
    );
    println!(
        "stalled: the first 2 s by tenths: readers' p99 ms {}",
        p99_ms_by_window(&all, started, 100_000, 20)
    );
    let whole = percentiles(all.iter().map(|s| s.1).collect());
    println!(
        "stalled: readers' latency over {} s: p50 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms, max {:.2} ms",
        options.seconds,
        whole.p50 as f64 / 1000.0,
        whole.p99 as f64 / 1000.0,
        whole.p999 as f64 / 1000.0,
        whole.max as f64 / 1000.0,
    );
    println!(
        "stalled: {sent} messages sent, {delivered} of {expected} delivered to the readers ({:.2} %); {remaining} sockets left",
        delivered as f64 * 100.0 / expected.max(1) as f64
    );
    println!(
        "stalled: RSS before {:.1} MiB, peak {:.1} MiB (growth {:.1} MiB), at the end {:.1} MiB",
        mib(before),
        mib(peak),
        mib(peak.saturating_sub(before)),
        mib(after)
    );
    drop(frozen);
    drop(readers);
    if delivered < expected {
        println!("stalled: FAILED: readers missed messages");
        std::process::exit(1);
    }
    if remaining > options.readers as u64 {
        println!("stalled: FAILED: clients that stopped reading were never dropped");
        std::process::exit(1);
    }
}
