//! One node of a Redis-backed Rally cluster, for the cluster tests and the benchmark: its
//! events expose every cross-node operation so that clients can drive them.
//!
//! `cargo run -p rally-redis --example cluster_node -- --port 3001 --redis-url redis://127.0.0.1:6379`
//! (`--prefix P` for the channel prefix, and with `--adapter streams` the stream's name too,
//! `--request-timeout MS`, `--name NAME`, `--specific-response-channel`, `--recovery`,
//! `--parser msgpack`).
//! Prints `listening on 127.0.0.1:PORT` once it listens (and, unless Redis is unreachable
//! for 5 s, once both Redis connections are up).
//!
//! Namespace `/` (each `ack` is the client's ack callback); `tests/js/redis/node-node.js`
//! implements the same contract on Node.js `socket.io` with `@socket.io/redis-adapter` or
//! `@socket.io/redis-streams-adapter`:
//! - `name` → ack(node name); `echo`(...args) → ack(...args);
//! - `join`(room | rooms), `leave`(room) → ack(sorted rooms); `set-data`(value) → ack();
//! - `emit`({event, args, rooms?, except?, from?: "io"|"socket"|"broadcast", volatile?,
//!   local?}) → performs that emit (`from: "socket"` with `rooms: [id]` is
//!   `socket.to(id).emit`, a private message), then ack();
//! - `broadcast-with-ack`({event, args, rooms?, except?, timeout}) → ack({ok: sorted first
//!   answers} | {err: "timeout", count} | {err: message});
//! - `fetch-sockets`(rooms) → ack([{id, rooms, data, auth}] by id | {err}), `auth` from the
//!   socket's handshake;
//! - `sockets-join`({rooms, join}), `sockets-leave`({rooms, leave}),
//!   `disconnect-sockets`({rooms, close}) → ack();
//! - `all-rooms` → ack(sorted rooms | {err}); `server-count` → ack(n);
//! - `server-side-emit`({event, args}) → ack(); `server-side-emit-with-ack`({event, args,
//!   timeout}) → ack({ok: sorted answers} | {err});
//! - server-side events: `hello`(...args) is logged; `ask`(...args) is logged and answered
//!   with {node, args}; `server-events` → ack(the log: [{event, args}]);
//! - namespace `/chat`: `echo` only (a second namespace, so a second set of channels);
//! - `stats` → ack(the adapter's counters); `blast`({event, count, size, rate?}) → emits `count`
//!   broadcasts `event`({seq, t: epoch ms, pad}) from this node (paced at `rate` a second
//!   when given), then ack({sent, ms}).

use clap::Parser;
use rally::{AckError, Args, Event, RecoveryConfig, Server, Socket};
use rally_redis::{Protocol, RedisAdapterConfig, RedisAdapterFactory};
use serde_json::{json, Value};
use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

#[path = "../../rally/examples/fixture/mod.rs"]
mod fixture;
use fixture::{on_basics, on_room_operations, operator, serve, spec_args, strings, Log};

#[derive(Parser)]
struct Options {
    #[arg(long, default_value_t = 3000)]
    port: u16,
    #[arg(long, env = "REDIS_URL", default_value = "redis://127.0.0.1:6379")]
    redis_url: String,
    #[arg(long, default_value = "socket.io")]
    prefix: String,
    /// Node's `requestsTimeout`, in milliseconds.
    #[arg(long, default_value_t = 5000)]
    request_timeout: u64,
    #[arg(long)]
    name: Option<String>,
    /// Answer requests on the requester's own response channel (Node's
    /// `publishOnSpecificResponseChannel`).
    #[arg(long)]
    specific_response_channel: bool,
    /// `classic` (`@socket.io/redis-adapter`) or `streams` (`@socket.io/redis-streams-adapter`).
    #[arg(long, default_value = "classic")]
    adapter: String,
    /// Connection state recovery on (2 min window); with `--adapter streams`, across the
    /// cluster.
    #[arg(long)]
    recovery: bool,
    /// The packet format: json or msgpack (socket.io-msgpack-parser).
    #[arg(long, default_value_t = rally::Parser::Json)]
    parser: rally::Parser,
}

fn spec_of(event: &Event) -> Value {
    event.arg(0).unwrap_or_default()
}

fn timeout_of(spec: &Value) -> Duration {
    Duration::from_millis(spec["timeout"].as_u64().unwrap_or(1000))
}

/// Each answer's first argument, sorted by its JSON text (answers are unordered).
fn first_args(answers: Vec<Args>) -> Args {
    let mut answers = answers;
    answers.sort_by_key(|a| a.values.first().map(Value::to_string));
    let mut firsts = Args::default();
    for mut answer in answers {
        answer.values.truncate(1);
        firsts.append(answer);
    }
    firsts
}

fn ok_or_err(result: Result<Vec<Args>, AckError>) -> Args {
    match result {
        Ok(answers) => {
            let firsts = first_args(answers);
            Args {
                values: vec![json!({ "ok": firsts.values })],
                attachments: firsts.attachments,
            }
        }
        Err(AckError::Timeout { partial }) => Args {
            values: vec![json!({ "err": "timeout", "count": partial.len() })],
            attachments: vec![],
        },
        Err(e) => Args {
            values: vec![json!({ "err": e.to_string() })],
            attachments: vec![],
        },
    }
}

fn now_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64() * 1e3)
        .unwrap_or(0.0)
}

fn register(socket: &Socket, name: &str, redis: &RedisAdapterFactory, server_log: &Log) {
    let node = name.to_owned();
    socket.on("name", move |_, ()| {
        let node = node.clone();
        async move { Ok::<_, Infallible>((node,)) }
    });
    on_basics(socket);
    on_room_operations(socket);
    socket.on("emit", |socket, mut event: Event| async move {
        let io = socket.server();
        let spec = spec_of(&event);
        let name = spec["event"].as_str().unwrap_or("message").to_owned();
        if let Err(e) = operator(&io, &socket, &spec).emit(&name, spec_args(&spec, &event)) {
            tracing::warn!("emit refused: {e}");
        }
        event.ack(());
    });
    socket.on(
        "broadcast-with-ack",
        |socket, mut event: Event| async move {
            let io = socket.server();
            let spec = spec_of(&event);
            let name = spec["event"].as_str().unwrap_or("message").to_owned();
            let answers = operator(&io, &socket, &spec)
                .timeout(timeout_of(&spec))
                .emit_with_ack(&name, spec_args(&spec, &event))
                .await;
            event.ack(ok_or_err(answers));
        },
    );
    socket.on("fetch-sockets", |socket, mut event: Event| async move {
            let io = socket.server();
            let rooms = strings(&event.arg::<Value>(0).unwrap_or_default());
            let found = match io.in_(rooms).fetch_sockets().await {
                Ok(sockets) => {
                    let mut found: Vec<Value> = sockets
                        .into_iter()
                        .map(|s| {
                            let mut rooms = s.rooms.clone();
                            rooms.sort();
                            json!({ "id": s.id, "rooms": rooms, "data": s.data, "auth": s.handshake["auth"] })
                        })
                        .collect();
                    found.sort_by_key(|v| v["id"].to_string());
                    Value::Array(found)
                }
                Err(e) => json!({ "err": e.to_string() }),
            };
            event.ack((found,));
    });
    socket.on("all-rooms", |socket, mut event: Event| async move {
        let io = socket.server();
        let rooms = match io.sockets().all_rooms().await {
            Ok(rooms) => {
                let mut rooms: Vec<String> = rooms.iter().map(|r| r.to_string()).collect();
                rooms.sort();
                json!(rooms)
            }
            Err(e) => json!({ "err": e.to_string() }),
        };
        event.ack((rooms,));
    });
    socket.on("server-count", |socket, mut event: Event| async move {
        let io = socket.server();
        let count = io.sockets().adapter().server_count().await;
        event.ack((count,));
    });
    socket.on("server-side-emit", |socket, mut event: Event| async move {
        let io = socket.server();
        let spec = spec_of(&event);
        let name = spec["event"].as_str().unwrap_or("hello").to_owned();
        if let Err(e) = io.server_side_emit(&name, spec_args(&spec, &event)) {
            tracing::warn!("server-side emit refused: {e}");
        }
        event.ack(());
    });
    socket.on(
        "server-side-emit-with-ack",
        |socket, mut event: Event| async move {
            let io = socket.server();
            let spec = spec_of(&event);
            let name = spec["event"].as_str().unwrap_or("ask").to_owned();
            let answers = io
                .server_side_emit_with_ack(&name, spec_args(&spec, &event), timeout_of(&spec))
                .await;
            event.ack(ok_or_err(answers));
        },
    );
    let log = server_log.clone();
    socket.on("server-events", move |_, mut event: Event| {
        let entries = log.lock().unwrap_or_else(|e| e.into_inner()).clone();
        async move { event.ack((entries,)) }
    });
    let factory = redis.clone();
    socket.on("stats", move |_, mut event: Event| {
        let stats = factory.stats();
        async move { event.ack((stats,)) }
    });
    socket.on("blast", |socket, mut event: Event| async move {
        let io = socket.server();
        let spec = spec_of(&event);
        let name = spec["event"].as_str().unwrap_or("blast").to_owned();
        let count = spec["count"].as_u64().unwrap_or(1000);
        let pad = "x".repeat(spec["size"].as_u64().unwrap_or(0) as usize);
        // 0: as fast as possible; otherwise paced at `rate` broadcasts per second.
        let rate = spec["rate"].as_f64().unwrap_or(0.0);
        let started = Instant::now();
        for seq in 0..count {
            let _ = io.emit(&name, (json!({ "seq": seq, "t": now_ms(), "pad": pad }),));
            if rate > 0.0 {
                let due = started + Duration::from_secs_f64((seq + 1) as f64 / rate);
                tokio::time::sleep_until(due.into()).await;
            } else if seq % 64 == 63 {
                tokio::task::yield_now().await;
            }
        }
        let ms = started.elapsed().as_secs_f64() * 1e3;
        event.ack((json!({ "sent": count, "ms": ms }),));
    });
}

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let options = Options::parse();
    let config = RedisAdapterConfig::new(options.redis_url.clone())
        .prefix(options.prefix.clone())
        .request_timeout(Duration::from_millis(options.request_timeout))
        .publish_on_specific_response_channel(options.specific_response_channel);
    let (protocol, config) = match options.adapter.as_str() {
        "classic" => (Protocol::Classic, config),
        "streams" => (
            Protocol::Streams,
            config.stream_name(options.prefix.clone()),
        ),
        other => {
            eprintln!("cluster_node: --adapter must be classic or streams, not {other}");
            std::process::exit(2);
        }
    };
    let redis = match RedisAdapterFactory::with_protocol(config, protocol) {
        Ok(factory) => factory,
        Err(e) => {
            eprintln!("cluster_node: {e}");
            std::process::exit(2);
        }
    };
    let mut builder = Server::builder()
        .adapter(redis.clone())
        .parser(options.parser);
    if options.recovery {
        builder = builder.connection_state_recovery(RecoveryConfig::default());
    }
    let io = builder.build();
    if !redis.wait_connected(Duration::from_secs(5)).await {
        tracing::warn!(
            "Redis at {} is not reachable yet; going on, it will be retried",
            options.redis_url
        );
    }

    let listener = tokio::net::TcpListener::bind(("127.0.0.1", options.port))
        .await
        .unwrap_or_else(|e| panic!("cannot listen on port {}: {e}", options.port));
    let addr = listener
        .local_addr()
        .expect("a bound listener has an address");
    let name = options
        .name
        .clone()
        .unwrap_or_else(|| format!("rally-{}", addr.port()));

    let server_log: Log = Arc::default();
    let log = server_log.clone();
    io.sockets().on_server_event("hello", move |args, _ack| {
        log.lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(json!({ "event": "hello", "args": args.values }));
    });
    let log = server_log.clone();
    let node = name.clone();
    io.sockets().on_server_event("ask", move |args, ack| {
        log.lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(json!({ "event": "ask", "args": args.values }));
        if let Some(ack) = ack {
            ack.send((json!({ "node": node, "args": args.values }),));
        }
    });
    let factory = redis.clone();
    let node = name.clone();
    io.on_connection(move |socket| register(&socket, &node, &factory, &server_log));
    // A second namespace, a cluster of its own: broadcasts to `/` never reach it.
    io.of("/chat").on_connection(|socket| {
        socket.on("echo", |_, mut event: Event| async move {
            let args = std::mem::take(&mut event.args);
            event.ack(args);
        });
    });

    serve(io, listener).await;
}
