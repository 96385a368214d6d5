//! The conformance fixture: the server the official Engine.IO and Socket.IO protocol
//! test suites expect, on one port (3000 unless `--port`).
//!
//! - `/engine.io/`: a bare Engine.IO endpoint echoing every message (text as text,
//!   binary as binary).
//! - `/socket.io/`: Socket.IO with namespaces `/` and `/custom`; each socket is first
//!   told it is connected, then gets `auth` with its CONNECT payload; on `/`,
//!   `message` comes back as `message-back` and `message-with-ack` is acked, both
//!   with the same arguments.
//!
//! Both: pingInterval 300 ms, pingTimeout 200 ms, maxPayload 1 000 000, CORS `*`;
//! a connection that joins no namespace is closed after 1 s. `--parser msgpack`: the
//! same behaviour, with socket.io-msgpack-parser's packets on the wire.
//! `--allow-eio3`: the bare endpoint also takes Engine.IO protocol v3 clients.

use clap::Parser;
use rally::engine::{
    Cors, CorsOrigin, Engine, EngineConfig, EngineHandler, Message, OutMessage, Session,
};
use rally::{Event, Server, ServerConfig};
use std::sync::Arc;
use std::time::Duration;

#[derive(Parser)]
struct Options {
    #[arg(long, default_value_t = 3000)]
    port: u16,
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// The Socket.IO packet format: json or msgpack.
    #[arg(long, default_value_t = rally::Parser::Json)]
    parser: rally::Parser,
    /// Let Engine.IO v3 clients (engine.io-client 3.x) into `/engine.io/`.
    #[arg(long)]
    allow_eio3: bool,
}

/// The bare Engine.IO endpoint: every message goes back as it came.
struct Echo;

impl EngineHandler for Echo {
    fn on_open(&self, _session: &Arc<Session>) {}

    fn on_message(&self, session: &Arc<Session>, msg: Message) {
        let reply = match msg {
            Message::Text(text) => OutMessage::text(text),
            Message::Binary(data) => OutMessage::binary(data),
        };
        let _ = session.send(reply);
    }

    fn on_close(&self, _session: &Arc<Session>, _reason: rally::engine::CloseReason) {}
}

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    let options = Options::parse();

    let engine_config = EngineConfig {
        path: "/engine.io/".to_owned(),
        ping_interval: Duration::from_millis(300),
        ping_timeout: Duration::from_millis(200),
        max_payload: 1_000_000,
        cors: Some(Cors {
            origin: CorsOrigin::Any,
            credentials: false,
        }),
        ..EngineConfig::default()
    };
    let echo = Engine::new(
        EngineConfig {
            allow_eio3: options.allow_eio3,
            ..engine_config.clone()
        },
        Arc::new(Echo),
    );

    // The same engine settings; Socket.IO is served at its own path, /socket.io/.
    let io = Server::new(ServerConfig {
        engine: engine_config,
        connect_timeout: Duration::from_millis(1000),
        parser: options.parser,
        ..ServerConfig::default()
    });
    for name in ["/", "/custom"] {
        io.of(name).on_connection(|socket| {
            let _ = socket.emit("auth", (socket.handshake().auth.clone(),));
        });
    }
    io.on_connection(|socket| {
        socket.on("message", |socket, event: Event| async move {
            let _ = socket.emit("message-back", event.args);
        });
        socket.on("message-with-ack", |_socket, mut event: Event| async move {
            let args = std::mem::take(&mut event.args);
            event.ack(args);
        });
    });

    let app = io.router().merge(echo.router());
    let listener = tokio::net::TcpListener::bind((options.host.as_str(), options.port))
        .await
        .unwrap_or_else(|e| panic!("cannot listen on {}:{}: {e}", options.host, options.port));
    println!(
        "listening on {}",
        listener
            .local_addr()
            .expect("a bound listener has an address")
    );
    rally::serve(listener, app, async move {
        let _ = tokio::signal::ctrl_c().await;
        io.close().await;
        echo.close().await;
    })
    .await
    .expect("server error");
}
