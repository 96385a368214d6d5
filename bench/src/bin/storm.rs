//! storm: how much memory the chat server keeps after a storm of malformed input.
//!
//! Starts `rally-chat`, connects 50 clients that chat (a message each every 200 ms,
//! every client receiving every message), and measures the server's RSS with them. Then,
//! for `--seconds`, workers send malformed input of every class beside them: random and
//! invalid-UTF-8 WebSocket frames, protocol violations (unmasked frames, reserved
//! opcodes), bad Engine.IO and Socket.IO packets, wrong attachment counts, 6 000-deep
//! nesting, oversize frames and POSTs, unknown session ids, concurrent polls and raw TCP
//! garbage. It prints the RSS before, at the peak and 10 s after the storm, how many
//! chat messages the clients missed (none may be), and the ratio after / before.
//! Loopback only, bounded in time.

use clap::Parser;
use futures::SinkExt;
use rally_bench::client::{connect, open_sid, Client, OnPacket};
use rally_bench::raw_http::{connect_from, Connection};
use rally_bench::server::{chat_health, raise_fd_limit, Server};
use rally_bench::stats::mib;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;
use tokio_tungstenite::tungstenite::Message;

#[derive(Parser)]
#[command(about = "Measures the chat server's memory after a storm of malformed input")]
struct Options {
    /// The chat server's binary.
    #[arg(long, default_value = "target/release/rally-chat")]
    chat: String,
    /// How long the storm lasts, in seconds.
    #[arg(long, default_value_t = 20)]
    seconds: u64,
    /// Workers sending malformed input at once.
    #[arg(long, default_value_t = 16)]
    workers: usize,
    /// The chat's heartbeat interval (its default: 25 000). With a short heartbeat the
    /// sessions the storm abandons are gone by the time memory is measured.
    #[arg(long, default_value_t = 25_000)]
    ping_interval_ms: u64,
    /// The chat's heartbeat timeout (its default: 20 000).
    #[arg(long, default_value_t = 20_000)]
    ping_timeout_ms: u64,
    /// Only these classes of malformed input (0-5 WebSocket, 6-9 polling, 10-11 raw
    /// TCP; repeatable): to find which one leaves memory behind.
    #[arg(long)]
    only: Vec<u64>,
}

const CHATTERS: usize = 50;

/// A small deterministic generator: the storm is the same from run to run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
    /// Between 1 and `most` random bytes.
    fn some_bytes(&mut self, most: u64) -> Vec<u8> {
        let n = 1 + self.below(most) as usize;
        self.bytes(n)
    }
}

/// A WebSocket frame written by hand (masked, as a client's), whatever its content.
fn raw_frame(opcode: u8, payload: &[u8], masked: bool) -> Vec<u8> {
    let mut out = vec![0x80 | opcode];
    let mask_bit = if masked { 0x80 } else { 0 };
    match payload.len() {
        n if n < 126 => out.push(mask_bit | n as u8),
        n if n < 65536 => {
            out.push(mask_bit | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(mask_bit | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    let key = [0x12, 0x34, 0x56, 0x78];
    if masked {
        out.extend_from_slice(&key);
        out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    } else {
        out.extend_from_slice(payload);
    }
    out
}

/// One malformed thing of class `class`; errors are the point, so they are ignored.
async fn strike(port: u16, class: u64, rng: &mut Rng) {
    let source = 2 + rng.below(8) as u8;
    let path = "/socket.io/?EIO=4&transport=";
    match class {
        // Engine.IO over WebSocket, then something malformed on it.
        0..=5 => {
            let Ok(stream) = connect_from(source, port).await else {
                return;
            };
            let url = format!("ws://127.0.0.1:{port}{path}websocket");
            let Ok((mut ws, _)) = tokio_tungstenite::client_async(url, stream).await else {
                return;
            };
            let _ = ws.send(Message::text("40")).await;
            let text = match class {
                0 => String::from_utf8_lossy(&rng.some_bytes(300)).into_owned(),
                1 => format!("42[\"message\",{}1{}]", "[".repeat(6000), "]".repeat(6000)),
                2 => "451-[\"message\",{\"_placeholder\":true,\"num\":7}]".to_owned(),
                3 => "42[\"message\"".to_owned(),
                4 => format!("9{}", "x".repeat(rng.below(100) as usize)),
                _ => "43abc[1]".to_owned(),
            };
            let _ = ws.send(Message::text(text)).await;
            if class == 2 {
                // More attachments than announced.
                for _ in 0..3 {
                    let _ = ws.send(Message::binary(rng.bytes(64))).await;
                }
            }
            // And raw frames the client library would never write.
            let garbage = match rng.below(4) {
                0 => raw_frame(0x1, &[0xff, 0xfe, 0xc0, 0x80], true),
                1 => raw_frame(0x1, b"4unmasked", false),
                2 => raw_frame(0x3, b"reserved", true),
                _ => raw_frame(0x2, &vec![7u8; 1_100_000], true),
            };
            let _ = ws.get_mut().write_all(&garbage).await;
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // Polling: oversize POSTs, unknown sids, concurrent polls, bad packets.
        6..=9 => {
            let Ok(stream) = connect_from(source, port).await else {
                return;
            };
            let mut http = Connection::new(stream);
            let sid = match http
                .request("GET", &format!("{path}polling&EIO=4"), b"")
                .await
            {
                Ok(answer) => open_sid(&answer.text()).unwrap_or_default(),
                Err(_) => return,
            };
            let session = format!("{path}polling&EIO=4&sid={sid}");
            let _ = match class {
                6 => http.request("POST", &session, &vec![b'4'; 1_100_000]).await,
                7 => {
                    let bogus = format!("{path}polling&EIO=4&sid={}", "A".repeat(20));
                    http.request("GET", &bogus, b"").await
                }
                8 => {
                    // A second GET beside one already waiting: the session ends.
                    if let Ok(other) = connect_from(source, port).await {
                        let mut other = Connection::new(other);
                        let first = tokio::spawn({
                            let session = session.clone();
                            async move { http.request("GET", &session, b"").await }
                        });
                        tokio::time::sleep(Duration::from_millis(5)).await;
                        let _ = other.request("GET", &session, b"").await;
                        let _ = first.await;
                    }
                    return;
                }
                _ => {
                    let body = format!("40\x1e42[\"message\",{}\x1e\x1e9", "{".repeat(500));
                    http.request("POST", &session, body.as_bytes()).await
                }
            };
        }
        // Raw TCP garbage.
        _ => {
            if let Ok(mut stream) = connect_from(source, port).await {
                let _ = stream.write_all(&rng.some_bytes(2000)).await;
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let options = Options::parse();
    raise_fd_limit();
    let mut command = Server::chat_command(&options.chat);
    command.args(["--ping-interval-ms", &options.ping_interval_ms.to_string()]);
    command.args(["--ping-timeout-ms", &options.ping_timeout_ms.to_string()]);
    command.args([
        "--connect-timeout-ms",
        &(options.ping_interval_ms + options.ping_timeout_ms).to_string(),
    ]);
    let server = Server::spawn_or_exit(command, "rally-chat", "storm");
    let port = server.port;
    let received = Arc::new(AtomicU64::new(0));
    let counting: OnPacket = {
        let received = received.clone();
        Arc::new(move |_: &Client, packet: &str| {
            if packet.starts_with("2[\"message\"") {
                received.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    let mut chatters = Vec::new();
    for i in 0..CHATTERS {
        match connect(port, rally::Parser::Json, i, counting.clone()).await {
            Ok(client) => chatters.push(client),
            Err(e) => {
                eprintln!("storm: a chat client could not connect: {e}");
                std::process::exit(2);
            }
        }
    }
    let sent = Arc::new(AtomicU64::new(0));
    let chatting = Arc::new(AtomicBool::new(true));
    let chat = {
        let (sent, chatting) = (sent.clone(), chatting.clone());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(200));
            while chatting.load(Ordering::Relaxed) {
                tick.tick().await;
                for client in &chatters {
                    client.send("2[\"message\",\"hello from a chatter\"]");
                    sent.fetch_add(1, Ordering::Relaxed);
                }
            }
            chatters
        })
    };
    tokio::time::sleep(Duration::from_secs(5)).await;
    let before = server.rss_bytes();
    println!(
        "storm: rally-chat on port {port}; {CHATTERS} clients chatting: RSS {:.1} MiB",
        mib(before)
    );

    let stop = Instant::now() + Duration::from_secs(options.seconds);
    let strikes = Arc::new(AtomicU64::new(0));
    let workers: Vec<_> = (0..options.workers)
        .map(|w| {
            let (strikes, only) = (strikes.clone(), options.only.clone());
            tokio::spawn(async move {
                let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ ((w as u64 + 1) * 0x1000_0001));
                while Instant::now() < stop {
                    let class = match only.len() {
                        0 => rng.below(12),
                        n => only[rng.below(n as u64) as usize],
                    };
                    let _ =
                        tokio::time::timeout(Duration::from_secs(2), strike(port, class, &mut rng))
                            .await;
                    strikes.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    let mut peak = before;
    while Instant::now() < stop {
        tokio::time::sleep(Duration::from_millis(250)).await;
        peak = peak.max(server.rss_bytes());
    }
    for worker in workers {
        let _ = worker.await;
    }
    tokio::time::sleep(Duration::from_secs(10)).await;
    let after = server.rss_bytes();
    // Sessions the storm opened and left may still be alive (until their heartbeat ends
    // them): part of "after" is theirs, not retained garbage.
    let health = chat_health(port).await;
    println!("storm: 10 s after the storm, /health says {health}");
    chatting.store(false, Ordering::Relaxed);
    let chatters = chat.await.unwrap_or_default();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (sent, received) = (
        sent.load(Ordering::Relaxed),
        received.load(Ordering::Relaxed),
    );
    let expected = sent * chatters.len() as u64;
    println!(
        "storm: {} malformed strikes in {} s; RSS before {:.1} MiB, peak {:.1} MiB, 10 s after {:.1} MiB ({:+.0} %)",
        strikes.load(Ordering::Relaxed),
        options.seconds,
        mib(before),
        mib(peak),
        mib(after),
        (after as f64 / before as f64 - 1.0) * 100.0
    );
    println!("storm: chat messages: {sent} sent, {received} of {expected} delivered");
    drop(chatters);
    if received < expected {
        println!("storm: FAILED: chat messages were lost beside the storm");
        std::process::exit(1);
    }
}
