//! Echo server for protocol conformance suites (the JS engine.io-client and
//! engine.io-protocol test suites expect exactly these settings).
//!
//! Usage: `cargo run -p rally-engine --example echo -- --port 3000`

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rally_engine::{
    CloseReason, Cors, CorsOrigin, Engine, EngineConfig, EngineHandler, Message, OutMessage,
    Session,
};

struct Echo;

impl EngineHandler for Echo {
    fn on_open(&self, _session: &Arc<Session>) {}

    fn on_message(&self, session: &Arc<Session>, msg: Message) {
        let out = match msg {
            Message::Text(t) => OutMessage::text(t),
            Message::Binary(b) => OutMessage::binary(b),
        };
        let _ = session.send(out);
    }

    fn on_close(&self, _session: &Arc<Session>, _reason: CloseReason) {}
}

fn port_from_args() -> u16 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == "--port")
        .and_then(|i| args.get(i + 1))
        .and_then(|p| p.parse().ok())
        .unwrap_or(3000)
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let config = EngineConfig {
        ping_interval: Duration::from_millis(300),
        ping_timeout: Duration::from_millis(200),
        cors: Some(Cors {
            origin: CorsOrigin::Any,
            credentials: false,
        }),
        ..EngineConfig::default()
    };
    let engine = Engine::new(config, Arc::new(Echo));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port_from_args())).await?;
    println!("listening on {}", listener.local_addr()?);
    axum::serve(
        listener,
        engine
            .router()
            .into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await
}
