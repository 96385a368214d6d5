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
//! `handshake`, `set-data`(value), `get-data`, `id`, `recovered`; `disconnect-log` → ack([{id,
//! reason, rooms}]) for every socket of `/` gone so far; `any-log` → ack(event names
//! this socket sent, as `on_any` saw them).
//!
//! Namespace `/admin`: refuses a client unless its auth is `{token: "secret"}`
//! (message "unauthorized", data `{reason: "bad token"}`); accepted sockets get
//! `welcome`(id) and may use `echo`. Any other namespace is invalid.
//!
//! `--recovery` turns connection state recovery on, offered to every connection
//! (`--recovery-window-ms`, `--recovery-max-packets`, `--recovery-keep-pid` tune it).
//! `--parser msgpack` speaks socket.io-msgpack-parser's packets; `--allow-eio3` lets
//! socket.io-client 2.x in.
//!
//! On SIGTERM or SIGINT the server closes gracefully (`io.close()`) and exits 0.

use clap::Parser;
use rally::{Args, ConnectError, Event, RecoveryConfig, Server, Socket};
use serde_json::{json, Value};
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

mod fixture;
use fixture::{
    on_basics, on_room_operations, operator, serve, sorted_rooms, spec_args, strings, Log,
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
    /// Turns connection state recovery on, offered to every connection.
    #[arg(long)]
    recovery: bool,
    /// With --recovery: how long a dropped socket's session is kept.
    #[arg(long, default_value_t = 120_000)]
    recovery_window_ms: u64,
    /// With --recovery: most events each namespace's log keeps.
    #[arg(long, default_value_t = 10_000)]
    recovery_max_packets: usize,
    /// With --recovery: a recovered socket keeps its pid, as in socket.io.
    #[arg(long)]
    recovery_keep_pid: bool,
    /// The packet format: json or msgpack (socket.io-msgpack-parser).
    #[arg(long, default_value_t = rally::Parser::Json)]
    parser: rally::Parser,
    /// Lets socket.io-client 2.x in (Engine.IO v3), as Node's `allowEIO3`.
    #[arg(long)]
    allow_eio3: bool,
}

fn register(socket: &Socket, disconnects: &Log) {
    let seen: Log = Arc::default();
    let any = seen.clone();
    socket.on_any(move |_, name, _| {
        if name != "any-log" {
            any.lock().unwrap().push(json!(name));
        }
        async {}
    });
    let log = disconnects.clone();
    socket.on_disconnecting(move |socket, reason| {
        let entry = json!({ "id": &**socket.id(), "reason": reason.as_str(), "rooms": sorted_rooms(&socket) });
        log.lock().unwrap().push(entry);
        async {}
    });

    on_basics(socket);
    on_room_operations(socket);
    socket.on("emit", |socket, mut event: Event| async move {
        let spec: Value = event.arg(0).unwrap_or_default();
        let name = spec["event"].as_str().unwrap_or("message").to_owned();
        let io = socket.server();
        if let Err(e) = operator(&io, &socket, &spec).emit(&name, spec_args(&spec, &event)) {
            tracing::warn!("emit refused: {e}");
        }
        event.ack(());
    });
    socket.on("emit-with-ack", |socket, mut event: Event| async move {
        let spec: Value = event.arg(0).unwrap_or_default();
        let name = spec["event"].as_str().unwrap_or("message").to_owned();
        let timeout = Duration::from_millis(spec["timeout"].as_u64().unwrap_or(1000));
        let answer = socket
            .timeout(timeout)
            .emit_with_ack(&name, spec_args(&spec, &event))
            .await;
        match answer {
            Ok(args) => event.ack(Args {
                values: vec![json!({ "ok": args.values })],
                attachments: args.attachments,
            }),
            Err(e) => event.ack(json!({ "err": "timeout", "detail": e.to_string() })),
        }
    });
    socket.on(
        "broadcast-with-ack",
        |socket, mut event: Event| async move {
            let spec: Value = event.arg(0).unwrap_or_default();
            let name = spec["event"].as_str().unwrap_or("message").to_owned();
            let timeout = Duration::from_millis(spec["timeout"].as_u64().unwrap_or(1000));
            let answers = operator(&socket.server(), &socket, &spec)
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
                    event.ack(Args {
                        values: vec![json!({ "ok": firsts.values })],
                        attachments: firsts.attachments,
                    });
                }
                Err(rally::AckError::Timeout { partial }) => {
                    event.ack(json!({ "err": "timeout", "count": partial.len() }))
                }
                Err(e) => event.ack(json!({ "err": e.to_string() })),
            }
        },
    );
    socket.on(
        "disconnect-me",
        |socket, (close,): (Option<bool>,)| async move {
            socket.disconnect(close.unwrap_or(false));
        },
    );
    socket.on("fetch-sockets", |socket, (rooms,): (Value,)| async move {
        let found = socket.server().in_(strings(&rooms)).fetch_sockets().await;
        let mut found: Vec<Value> = match found {
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
        Ok::<_, Infallible>((found,))
    });
    socket.on("all-rooms", |socket, ()| async move {
        let mut rooms: Vec<String> = socket
            .server()
            .all_rooms()
            .await?
            .iter()
            .map(|r| r.to_string())
            .collect();
        rooms.sort();
        Ok::<_, rally::AdapterError>((rooms,))
    });
    socket.on("handshake", |socket, ()| async move {
        Ok::<_, Infallible>((socket.handshake().clone(),))
    });
    socket.on("get-data", |socket, ()| async move {
        Ok::<_, Infallible>(socket.data_json())
    });
    socket.on("id", |socket, ()| async move {
        Ok::<_, Infallible>((socket.id().to_string(),))
    });
    socket.on("recovered", |socket, ()| async move {
        Ok::<_, Infallible>((socket.recovered(),))
    });
    let log = disconnects.clone();
    socket.on("disconnect-log", move |_, ()| {
        let entries = log.lock().unwrap().clone();
        async move { Ok::<_, Infallible>((entries,)) }
    });
    socket.on("any-log", move |_, ()| {
        let entries = seen.lock().unwrap().clone();
        async move { Ok::<_, Infallible>((entries,)) }
    });
}

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    let options = Options::parse();
    let mut builder = Server::builder()
        .ping_interval(Duration::from_millis(options.ping_interval))
        .ping_timeout(Duration::from_millis(options.ping_timeout))
        .max_payload(options.max_payload)
        .connect_timeout(Duration::from_millis(options.connect_timeout))
        .parser(options.parser)
        .engine(|engine| engine.allow_eio3 = options.allow_eio3);
    if options.recovery {
        builder = builder.connection_state_recovery(RecoveryConfig {
            max_disconnection_duration: Duration::from_millis(options.recovery_window_ms),
            max_packets: options.recovery_max_packets,
            rotate_pid: !options.recovery_keep_pid,
            ..RecoveryConfig::default()
        });
    }
    let io = builder.build();

    let disconnects: Log = Arc::default();
    io.on_connection(move |socket| register(&socket, &disconnects));

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
        socket.on("echo", |_, mut event: Event| async move {
            let args = std::mem::take(&mut event.args);
            event.ack(args);
        });
    });

    let listener = tokio::net::TcpListener::bind(("127.0.0.1", options.port))
        .await
        .unwrap_or_else(|e| panic!("cannot listen on port {}: {e}", options.port));
    serve(io, listener).await;
}
