//! rally-chat: the tutorial's real-time chat, served by Rally.
//!
//! The page at `/` loads the official client from `/socket.io/socket.io.js`; every
//! `message` a client emits goes to every client; `join`/`leave` manage rooms, a
//! `message` with a room goes to that room only, and `private_message` reaches one
//! socket by its id.

use axum::response::Html;
use axum::routing::get;
use clap::Parser;
use rally::{Event, Server, ServerConfig, Socket};
use serde_json::Value;
use std::net::SocketAddr;

#[derive(Parser)]
#[command(
    name = "rally-chat",
    about = "A real-time chat server built on Rally (Socket.IO for Rust)"
)]
struct Options {
    /// Port to listen on.
    #[arg(long, env = "PORT", default_value_t = 3000)]
    port: u16,
    /// Address to listen on.
    #[arg(long, env = "HOST", default_value = "0.0.0.0")]
    host: String,
}

const PAGE: &str = include_str!("../static/index.html");

fn register(io: &Server, socket: &Socket) {
    let server = io.clone();
    socket.on("message", move |_socket, event: Event| {
        let io = server.clone();
        async move {
            let room = event
                .args
                .values
                .get(1)
                .and_then(Value::as_str)
                .map(str::to_owned);
            let sent = match room {
                Some(room) => io.to(room).emit("message", event.args),
                None => io.emit("message", event.args),
            };
            if let Err(e) = sent {
                tracing::warn!("message not relayed: {e}");
            }
        }
    });
    socket.on("join", |socket, event: Event| async move {
        if let Ok(room) = event.arg::<String>(0) {
            socket.join(room);
        }
        if let Some(ack) = event.ack {
            ack.send(());
        }
    });
    socket.on("leave", |socket, event: Event| async move {
        if let Ok(room) = event.arg::<String>(0) {
            socket.leave(&room);
        }
        if let Some(ack) = event.ack {
            ack.send(());
        }
    });
    socket.on("private_message", |socket, event: Event| async move {
        let Ok(target) = event.arg::<String>(1) else {
            return;
        };
        let Some(payload) = event.args.values.first().cloned() else {
            return;
        };
        let args = rally::Args {
            values: vec![payload, Value::String(socket.id().to_string())],
            attachments: event.args.attachments,
        };
        if let Err(e) = socket.to(target).emit("private_message", args) {
            tracing::warn!("private message not relayed: {e}");
        }
    });
}

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let options = Options::parse();

    let io = Server::new(ServerConfig::default());
    let server = io.clone();
    io.on_connection(move |socket| register(&server, &socket));

    let app = io
        .router()
        .route("/", get(|| async { Html(PAGE) }))
        .route("/health", get(|| async { "ok" }));
    let listener = match tokio::net::TcpListener::bind((options.host.as_str(), options.port)).await
    {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!(
                "rally-chat: cannot listen on {}:{}: {e}",
                options.host, options.port
            );
            std::process::exit(1);
        }
    };
    let addr = listener
        .local_addr()
        .expect("a bound listener has an address");
    tracing::info!("chat server on http://{addr}");
    println!("listening on {addr}");
    let shutdown = async move {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = term.recv() => {},
            _ = tokio::signal::ctrl_c() => {},
        }
        tracing::info!("shutting down");
        io.close().await;
    };
    if let Err(e) = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
    {
        eprintln!("rally-chat: server error: {e}");
        std::process::exit(1);
    }
}
