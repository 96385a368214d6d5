//! The test bed: a Socket.IO server whose events expose every server-side operation,
//! so the integration tests can drive them from the official clients.
//!
//! Namespace `/` (each `ack` is the client's ack callback):
//! `echo`(...args) → ack(...args); `join`(room | rooms) and `leave`(room) → ack(sorted
//! rooms); `emit`({event, args, rooms?, except?, from?: "io"|"socket"|"broadcast",
//! volatile?, local?}) → performs that emit, then ack(); `emit-with-ack`({event, args,
//! timeout}) → ack({ok: answer} | {err: "timeout"}); `broadcast-with-ack`({event, args,
//! rooms?, timeout}) → ack({ok: sorted first answers} | {err: "timeout", count});
//! `disconnect-me`(close); `fetch-sockets`(rooms) → ack([{id, rooms}] by id);
//! `sockets-join`({rooms, join}), `sockets-leave`({rooms, leave}),
//! `disconnect-sockets`({rooms, close}) → ack(); `all-rooms` → ack(sorted rooms);
//! `handshake`, `set-data`(value), `get-data`, `id`; `disconnect-log` → ack([{id,
//! reason, rooms}]) for every socket of `/` gone so far; `any-log` → ack(event names
//! this socket sent, as `on_any` saw them).
//!
//! Namespace `/admin`: refuses a client unless its auth is `{token: "secret"}`
//! (message "unauthorized", data `{reason: "bad token"}`); accepted sockets get
//! `welcome`(id) and may use `echo`. Any other namespace is invalid.
//!
//! `--recovery` turns connection state recovery on, offered to every connection.
//!
//! On SIGTERM or SIGINT the server closes gracefully (`io.close()`) and exits 0.

use clap::Parser;
use rally::engine::EngineConfig;
use rally::{Args, ConnectError, RecoveryConfig, Server, ServerConfig, Socket};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

mod fixture;
use fixture::{
    on_basics, on_room_operations, operator, reply, serve, sorted_rooms, spec_args, strings, Log,
};

#[derive(Parser)]
struct Options {
    #[arg(long, default_value_t = 3000)]
    port: u16,
    #[arg(long, default_value_t = 25_000)]
    ping_interval: u64,
    #[arg(long, default_value_t = 20_000)]
    ping_timeout: u64,
    #[arg(long, default_value_t = 1_000_000)]
    max_payload: usize,
    #[arg(long, default_value_t = 45_000)]
    connect_timeout: u64,
    /// Turns connection state recovery on, with its defaults (every connection offered).
    #[arg(long)]
    recovery: bool,
}

fn register(io: &Server, socket: &Socket, disconnects: &Log) {
    let seen: Log = Arc::default();
    let any = seen.clone();
    socket.on_any(move |_, name, _| {
        if name != "any-log" {
            any.lock().unwrap().push(json!(name));
        }
    });
    let log = disconnects.clone();
    socket.on_disconnecting(move |socket, reason| {
        let entry = json!({ "id": &**socket.id(), "reason": reason.as_str(), "rooms": sorted_rooms(&socket) });
        log.lock().unwrap().push(entry);
        async {}
    });

    on_basics(socket);
    on_room_operations(io, socket);
    let server = io.clone();
    socket.on("emit", move |socket, event| {
        let io = server.clone();
        async move {
            let spec: Value = event.arg(0).unwrap_or_default();
            let name = spec["event"].as_str().unwrap_or("message").to_owned();
            if let Err(e) = operator(&io, &socket, &spec).emit(&name, spec_args(&spec, &event)) {
                tracing::warn!("emit refused: {e}");
            }
            reply(event, ());
        }
    });
    socket.on("emit-with-ack", |socket, event| async move {
        let spec: Value = event.arg(0).unwrap_or_default();
        let name = spec["event"].as_str().unwrap_or("message").to_owned();
        let timeout = Duration::from_millis(spec["timeout"].as_u64().unwrap_or(1000));
        let answer = socket
            .timeout(timeout)
            .emit_with_ack(&name, spec_args(&spec, &event))
            .await;
        match answer {
            Ok(args) => {
                let answer = Args {
                    values: vec![json!({ "ok": args.values })],
                    attachments: args.attachments,
                };
                reply(event, answer);
            }
            Err(e) => reply(
                event,
                (json!({ "err": "timeout", "detail": e.to_string() }),),
            ),
        }
    });
    let server = io.clone();
    socket.on("broadcast-with-ack", move |socket, event| {
        let io = server.clone();
        async move {
            let spec: Value = event.arg(0).unwrap_or_default();
            let name = spec["event"].as_str().unwrap_or("message").to_owned();
            let timeout = Duration::from_millis(spec["timeout"].as_u64().unwrap_or(1000));
            let answers = operator(&io, &socket, &spec)
                .timeout(timeout)
                .emit_with_ack(&name, spec_args(&spec, &event))
                .await;
            match answers {
                Ok(mut all) => {
                    all.sort_by_key(|a| a.values.first().map(Value::to_string));
                    let mut firsts = Args::default();
                    for mut answer in all {
                        answer.values.truncate(1);
                        firsts.append(answer);
                    }
                    let ok = Args {
                        values: vec![json!({ "ok": firsts.values })],
                        attachments: firsts.attachments,
                    };
                    reply(event, ok);
                }
                Err(rally::AckError::Timeout { partial }) => reply(
                    event,
                    (json!({ "err": "timeout", "count": partial.len() }),),
                ),
                Err(e) => reply(event, (json!({ "err": e.to_string() }),)),
            }
        }
    });
    socket.on("disconnect-me", |socket, event| async move {
        socket.disconnect(event.arg::<bool>(0).unwrap_or(false));
    });
    let server = io.clone();
    socket.on("fetch-sockets", move |_, event| {
        let io = server.clone();
        async move {
            let rooms = strings(&event.arg::<Value>(0).unwrap_or_default());
            let mut found: Vec<Value> = match io.in_(rooms).fetch_sockets().await {
                Ok(sockets) => sockets
                    .into_iter()
                    .map(|s| {
                        let mut rooms = s.rooms.clone();
                        rooms.sort();
                        json!({ "id": s.id, "rooms": rooms })
                    })
                    .collect(),
                Err(e) => vec![json!({ "err": e.to_string() })],
            };
            found.sort_by_key(|v| v["id"].to_string());
            reply(event, (found,));
        }
    });
    let server = io.clone();
    socket.on("all-rooms", move |_, event| {
        let io = server.clone();
        async move {
            let mut rooms: Vec<String> = io
                .sockets()
                .all_rooms()
                .await
                .unwrap_or_default()
                .iter()
                .map(|r| r.to_string())
                .collect();
            rooms.sort();
            reply(event, (rooms,));
        }
    });
    socket.on("handshake", |socket, event| async move {
        let handshake = socket.handshake().clone();
        reply(event, (handshake,));
    });
    socket.on("get-data", |socket, event| async move {
        reply(event, (socket.data(),));
    });
    socket.on("id", |socket, event| async move {
        reply(event, (socket.id().to_string(),));
    });
    let log = disconnects.clone();
    socket.on("disconnect-log", move |_, event| {
        let entries = log.lock().unwrap().clone();
        async move { reply(event, (entries,)) }
    });
    socket.on("any-log", move |_, event| {
        let entries = seen.lock().unwrap().clone();
        async move { reply(event, (entries,)) }
    });
}

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    let options = Options::parse();
    let io = Server::new(ServerConfig {
        engine: EngineConfig {
            path: "/socket.io/".to_owned(),
            ping_interval: Duration::from_millis(options.ping_interval),
            ping_timeout: Duration::from_millis(options.ping_timeout),
            max_payload: options.max_payload,
            ..EngineConfig::default()
        },
        connect_timeout: Duration::from_millis(options.connect_timeout),
        connection_state_recovery: options.recovery.then(RecoveryConfig::default),
        ..ServerConfig::default()
    });

    let disconnects: Log = Arc::default();
    let server = io.clone();
    io.on_connection(move |socket| register(&server, &socket, &disconnects));

    let admin = io.of("/admin");
    admin.use_middleware(|socket: Socket| async move {
        if socket.handshake().auth["token"] == json!("secret") {
            Ok(())
        } else {
            Err(ConnectError::new("unauthorized").with_data(json!({ "reason": "bad token" })))
        }
    });
    admin.on_connection(|socket| {
        let _ = socket.emit("welcome", (socket.id().to_string(),));
        socket.on("echo", |_, event| async move {
            let args = event.args.clone();
            reply(event, args);
        });
    });

    let listener = tokio::net::TcpListener::bind(("127.0.0.1", options.port))
        .await
        .unwrap_or_else(|e| panic!("cannot listen on port {}: {e}", options.port));
    serve(io, listener).await;
}
