//! The reference for `ws_echo`: the same echo server on tokio-tungstenite, a
//! WebSocket implementation that passes the Autobahn fuzzing-client cases.
//! `scripts/autobahn --reference` runs the suite against it, to show that the
//! runner judges a known-good server well, so that a failure of `ws_echo` is
//! Rally's codec's and not the runner's.
//!
//! ```text
//! cargo run -p rally-engine --example ws_echo_tungstenite -- --port 9002 --max-message 16777216
//! ```
//!
//! Test-only: tokio-tungstenite is a dev-dependency of the engine.

use std::process::ExitCode;

use futures::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

const USAGE: &str = "usage: ws_echo_tungstenite [--port N] [--max-message BYTES]";

#[tokio::main]
async fn main() -> ExitCode {
    let mut port = 9002u16;
    let mut max_message = 16 << 20;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = args.next().unwrap_or_default();
        let parsed = match arg.as_str() {
            "--port" => value.parse().map(|p| port = p).is_ok(),
            "--max-message" => value.parse().map(|m| max_message = m).is_ok(),
            _ => false,
        };
        if !parsed {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    }
    let listener = match TcpListener::bind(("127.0.0.1", port)).await {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("ws_echo_tungstenite: cannot listen on port {port}: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("ws_echo_tungstenite listening on 127.0.0.1:{port}");
    // tungstenite's own limits are below the suite's 16 MiB messages.
    let config = WebSocketConfig::default()
        .max_message_size(Some(max_message))
        .max_frame_size(Some(max_message));
    loop {
        match listener.accept().await {
            Ok((tcp, _)) => {
                tokio::spawn(echo(tcp, config));
            }
            Err(e) => {
                // Out of files, say: wait rather than spin.
                eprintln!("accept failed: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
    }
}

/// Echoes text and binary messages; tungstenite answers pings and closes.
async fn echo(tcp: TcpStream, config: WebSocketConfig) {
    let _ = tcp.set_nodelay(true);
    let Ok(mut ws) = tokio_tungstenite::accept_async_with_config(tcp, Some(config)).await else {
        return;
    };
    while let Some(Ok(message)) = ws.next().await {
        if (message.is_text() || message.is_binary()) && ws.send(message).await.is_err() {
            return;
        }
    }
}
