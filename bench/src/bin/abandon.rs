//! abandon: checks that sessions clients leave half-way are forgotten on time, at scale.
//!
//! Starts the chat server with short heartbeats, then, for
//! each round, opens polling sessions that are never polled again (half of them after a
//! Socket.IO CONNECT) and WebSocket upgrades abandoned three ways (the socket left idle
//! after it opened, dropped after `3probe`, dropped after the upgrade and a CONNECT).
//! `ping_interval + ping_timeout + 1 s` after the last of them, every sampled session
//! id must answer `Session ID unknown`; once the client side is closed the server's open
//! files must be back to what they were before the round, and its memory after the
//! second round within 512 bytes per session of the first (each the lowest reading
//! over a few seconds, see `RSS_WINDOW`). Prints the figures; exits
//! non-zero when a rule does not hold. Loopback only, bounded in count and time.

use clap::Parser;
use futures::{SinkExt, StreamExt};
use rally_bench::client::open_sid;
use rally_bench::raw_http::{connect_from, Connection};
use rally_bench::server::{raise_fd_limit, Server};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{Mutex, Semaphore};
use tokio_tungstenite::tungstenite::Message;

#[derive(Parser)]
#[command(about = "Checks that abandoned Engine.IO sessions are forgotten on time")]
struct Options {
    /// The chat server's binary.
    #[arg(long, default_value = "target/release/rally-chat")]
    chat: String,
    /// Polling sessions per round (half of them also CONNECT to `/`).
    #[arg(long, default_value_t = 20_000)]
    polling: usize,
    /// WebSocket upgrades abandoned per round (a third each way).
    #[arg(long, default_value_t = 10_000)]
    websocket: usize,
    #[arg(long, default_value_t = 2)]
    rounds: usize,
    #[arg(long, default_value_t = 2000)]
    ping_interval_ms: u64,
    #[arg(long, default_value_t = 2000)]
    ping_timeout_ms: u64,
    /// Session ids checked per round.
    #[arg(long, default_value_t = 600)]
    sample: usize,
}

/// Loopback source addresses the connections are spread over (127.0.0.2 ..).
const SOURCES: u8 = 16;
/// Kept-alive connections that carry the polling requests.
const HTTP_WORKERS: usize = 32;
/// WebSocket upgrades under way at once.
const WS_IN_FLIGHT: usize = 256;
/// How long memory is watched after a round: longer than the chat's 5 s between
/// `malloc_trim` calls, so each round's figure is taken after one.
const RSS_WINDOW: Duration = Duration::from_secs(6);

/// The chat server, started with short heartbeats.
fn start_server(options: &Options) -> Result<Server, String> {
    let (interval, timeout) = (options.ping_interval_ms, options.ping_timeout_ms);
    let mut command = Command::new(&options.chat);
    command.args(["--port", "0", "--db", ":memory:"]);
    command.args(["--ping-interval-ms", &interval.to_string()]);
    command.args(["--ping-timeout-ms", &timeout.to_string()]);
    // socket.io's defaults have the connect timeout equal to the heartbeat's whole span
    // (45 s = 25 s + 20 s): keep that proportion.
    command.args(["--connect-timeout-ms", &(interval + timeout).to_string()]);
    Server::spawn(command, "rally-chat")
}

/// What a round checks afterwards.
#[derive(Default)]
struct Opened {
    sampled: Vec<(String, &'static str)>,
    sessions: usize,
    failures: Vec<String>,
}

/// Opens `count` polling sessions over the kept-alive connections, CONNECTing every other
/// one; returns each session id with what was done to it.
async fn open_polling(
    connections: &[Arc<Mutex<Connection>>],
    count: usize,
) -> (Vec<(String, &'static str)>, Vec<String>) {
    let per_worker = count.div_ceil(connections.len());
    let tasks = connections.iter().enumerate().map(|(w, conn)| {
        let conn = conn.clone();
        let range = (w * per_worker)..((w + 1) * per_worker).min(count);
        tokio::spawn(async move {
            let mut conn = conn.lock().await;
            let mut sids = Vec::new();
            let mut failures = Vec::new();
            for i in range {
                let answer = conn
                    .request("GET", "/socket.io/?EIO=4&transport=polling", b"")
                    .await;
                let Some(sid) = answer.as_ref().ok().and_then(|a| open_sid(&a.text())) else {
                    failures.push(format!("handshake: {answer:?}"));
                    continue;
                };
                if i % 2 == 0 {
                    let path = format!("/socket.io/?EIO=4&transport=polling&sid={sid}");
                    match conn.request("POST", &path, b"40").await {
                        Ok(a) if a.status == 200 => sids.push((sid, "polling + CONNECT")),
                        other => failures.push(format!("CONNECT: {other:?}")),
                    }
                } else {
                    sids.push((sid, "polling"));
                }
            }
            (sids, failures)
        })
    });
    let mut sids = Vec::new();
    let mut failures = Vec::new();
    for (s, f) in futures::future::join_all(tasks).await.into_iter().flatten() {
        sids.extend(s);
        failures.extend(f);
    }
    (sids, failures)
}

type Ws = tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>;

async fn next_text(ws: &mut Ws) -> Result<String, String> {
    loop {
        match tokio::time::timeout(Duration::from_secs(10), ws.next()).await {
            Ok(Some(Ok(Message::Text(t)))) => return Ok(t.to_string()),
            Ok(Some(Ok(_))) => continue,
            Ok(Some(Err(e))) => return Err(e.to_string()),
            Ok(None) => return Err("closed".into()),
            Err(_) => return Err("nothing in time".into()),
        }
    }
}

/// Opens a polling session on a new connection and upgrades that same connection at
/// once, as a client does, then abandons it the `way`-th way; an idle socket is handed
/// back to be held open.
async fn abandon_upgrade(
    port: u16,
    source: u8,
    way: usize,
) -> Result<(String, Option<Ws>), String> {
    let stream = connect_from(source, port)
        .await
        .map_err(|e| e.to_string())?;
    let mut http = Connection::new(stream);
    let answer = http
        .request("GET", "/socket.io/?EIO=4&transport=polling", b"")
        .await?;
    let sid = open_sid(&answer.text()).ok_or_else(|| format!("handshake: {answer:?}"))?;
    let stream = http.into_stream().ok_or("bytes after the handshake")?;
    let ws = upgrade(port, stream, &sid, way).await?;
    Ok((sid, ws))
}

async fn upgrade(
    port: u16,
    stream: tokio::net::TcpStream,
    sid: &str,
    way: usize,
) -> Result<Option<Ws>, String> {
    let url = format!("ws://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket&sid={sid}");
    let (mut ws, _) = tokio_tungstenite::client_async(url, stream)
        .await
        .map_err(|e| format!("upgrade: {e}"))?;
    if way == 0 {
        return Ok(Some(ws));
    }
    let send = |text: &'static str| Message::text(text);
    ws.send(send("2probe")).await.map_err(|e| e.to_string())?;
    let answer = next_text(&mut ws).await?;
    if answer != "3probe" {
        return Err(format!("probe answered {answer:?}"));
    }
    if way == 2 {
        ws.send(send("5")).await.map_err(|e| e.to_string())?;
        ws.send(send("40")).await.map_err(|e| e.to_string())?;
        loop {
            let text = next_text(&mut ws).await?;
            if text.starts_with("40") {
                break;
            }
        }
    }
    // Dropped without a close frame: the TCP connection just goes.
    Ok(None)
}

async fn round(options: &Options, target: &Server, number: usize) -> Result<Opened, String> {
    let port = target.port;
    let mut connections = Vec::new();
    for w in 0..HTTP_WORKERS {
        let stream = connect_from(2 + (w % SOURCES as usize) as u8, port)
            .await
            .map_err(|e| format!("connect: {e}"))?;
        connections.push(Arc::new(Mutex::new(Connection::new(stream))));
    }
    let started = Instant::now();
    let (polling, mut failures) = open_polling(&connections, options.polling).await;
    let polling_done = started.elapsed();

    drop(connections);
    let limit = Arc::new(Semaphore::new(WS_IN_FLIGHT));
    let held = Arc::new(std::sync::Mutex::new(Vec::new()));
    let tasks = (0..options.websocket).map(|i| {
        let (limit, held) = (limit.clone(), held.clone());
        tokio::spawn(async move {
            let _permit = limit.acquire().await;
            let source = 2 + (i % SOURCES as usize) as u8;
            let (sid, ws) = abandon_upgrade(port, source, i % 3)
                .await
                .map_err(|e| format!("websocket way {}: {e}", i % 3))?;
            if let Some(ws) = ws {
                held.lock().unwrap().push(ws);
            }
            Ok::<_, String>((sid, i % 3))
        })
    });
    let ways = [
        "websocket left idle",
        "websocket dropped after 3probe",
        "websocket dropped after upgrade",
    ];
    let mut upgraded = Vec::new();
    for task in futures::future::join_all(tasks).await {
        match task {
            Ok(Ok((sid, way))) => upgraded.push((sid, ways[way])),
            Ok(Err(e)) => failures.push(e),
            Err(e) => failures.push(e.to_string()),
        }
    }
    let last_sign = Instant::now();
    for failure in failures.iter().take(3) {
        println!("  failed: {failure}");
    }
    println!(
        "round {number}: {} polling sessions in {:.1} s, {} upgrades abandoned in {:.1} s, {} failures",
        polling.len(),
        polling_done.as_secs_f64(),
        upgraded.len(),
        (last_sign - started - polling_done).as_secs_f64(),
        failures.len()
    );
    let sessions = polling.len() + upgraded.len();
    let every = (sessions / options.sample.max(1)).max(1);
    let sampled: Vec<_> = polling.into_iter().chain(upgraded).step_by(every).collect();

    let span = Duration::from_millis(options.ping_interval_ms + options.ping_timeout_ms);
    tokio::time::sleep_until((last_sign + span + Duration::from_secs(1)).into()).await;
    // Idle sockets held until the check: the session must be gone while they are open.
    let opened = Opened {
        sampled,
        sessions,
        failures,
    };
    let checked = check(port, &opened).await?;
    held.lock().unwrap().clear();
    Ok(checked)
}

/// Asks for each sampled session; what is still known is a failure.
async fn check(port: u16, opened: &Opened) -> Result<Opened, String> {
    let mut conn = Connection::new(connect_from(2, port).await.map_err(|e| e.to_string())?);
    let mut alive = Vec::new();
    for (sid, how) in &opened.sampled {
        let path = format!("/socket.io/?EIO=4&transport=polling&sid={sid}");
        let answer = conn.request("GET", &path, b"").await?;
        let text = answer.text();
        if !(answer.status == 400 && text.contains("\"code\":1")) {
            alive.push(format!("{how} {sid}: {} {text:?}", answer.status));
        }
    }
    let total = opened.sampled.len();
    println!(
        "  {} of {total} sampled sessions answer `Session ID unknown`",
        total - alive.len()
    );
    Ok(Opened {
        sampled: Vec::new(),
        sessions: opened.sessions,
        failures: alive,
    })
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let options = Options::parse();
    let fd_limit = raise_fd_limit();
    // Held open at once: the idle third of the WebSockets, those under way, the HTTP
    // connections (the server's share of descriptors is the same, in its own limit).
    let needed = options.websocket / 3 + WS_IN_FLIGHT + HTTP_WORKERS + 200;
    if needed > fd_limit as usize {
        eprintln!(
            "abandon: the open-file limit ({fd_limit}) is too low for {} WebSockets ({needed} needed)",
            options.websocket
        );
        std::process::exit(2);
    }
    let target = match start_server(&options) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("abandon: {e}");
            std::process::exit(2);
        }
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let files_before = target.open_files();
    let rss_before = target.rss_bytes();
    println!(
        "abandon: rally-chat on port {}, heartbeat {} + {} ms; {} open files, RSS {:.1} MiB before",
        target.port,
        options.ping_interval_ms,
        options.ping_timeout_ms,
        files_before,
        rss_before as f64 / 1048576.0
    );
    let mut problems = Vec::new();
    let mut rss_after = Vec::new();
    for number in 1..=options.rounds {
        let outcome = match round(&options, &target, number).await {
            Ok(o) => o,
            Err(e) => {
                problems.push(format!("round {number}: {e}"));
                break;
            }
        };
        for alive in outcome.failures.iter().take(5) {
            println!("  still known: {alive}");
        }
        if !outcome.failures.is_empty() {
            problems.push(format!(
                "round {number}: {} sampled sessions still known",
                outcome.failures.len()
            ));
        }
        // The client side is closed; give the server a moment to see it.
        tokio::time::sleep(Duration::from_secs(2)).await;
        let files = target.open_files();
        let rss = target.settled_rss_bytes(RSS_WINDOW).await;
        println!(
            "  after the round: {files} open files (before: {files_before}), RSS {:.1} MiB",
            rss as f64 / 1048576.0
        );
        if files > files_before + 4 {
            problems.push(format!(
                "round {number}: {files} open files, {files_before} before"
            ));
        }
        rss_after.push((rss, outcome.sessions));
    }
    if let [(first, sessions), (second, _), ..] = rss_after[..] {
        let per_session = (second as f64 - first as f64) / sessions as f64;
        println!("RSS after round 2 vs round 1: {per_session:+.0} bytes per session");
        if per_session > 512.0 {
            problems.push(format!(
                "memory grew {per_session:.0} bytes per session from round 1 to 2"
            ));
        }
    }
    if problems.is_empty() {
        println!("abandon: ok");
    } else {
        for p in &problems {
            println!("abandon: FAILED: {p}");
        }
        std::process::exit(1);
    }
}
