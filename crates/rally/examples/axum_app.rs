//! Rally mounted in an existing axum application, beside its own routes, the way socket.io
//! attaches to an Express server: the app's handlers emit through the same `Server`.
//! `cargo run -p rally --example axum_app`, then
//! `curl -X POST localhost:3000/announce -d 'hello'` reaches every connected client.

use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use rally::{Server, ServerConfig};
use serde_json::{json, Value};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let io = Server::new(ServerConfig {
        // The app serves its own pages; no browser bundle needed here.
        serve_client: false,
        ..ServerConfig::default()
    });
    io.on_connection(|socket| {
        let _ = socket.emit("hello", ("welcome",));
    });

    let api = Router::new()
        .route("/health", get(health))
        .route("/announce", post(announce))
        .with_state(io.clone());
    // Socket.IO under /socket.io/, the rest is the app's.
    let app = api.merge(io.router());

    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    println!("listening on http://127.0.0.1:3000");
    let shutdown = io.clone();
    rally::serve(listener, app, async move {
        let _ = tokio::signal::ctrl_c().await;
        // Clients are told to reconnect before the listener goes.
        shutdown.close().await;
    })
    .await
}

async fn health(State(io): State<Server>) -> Json<Value> {
    let online = io.sockets().fetch_sockets().await.map_or(0, |s| s.len());
    Json(json!({ "status": "ok", "online": online }))
}

async fn announce(State(io): State<Server>, text: String) -> &'static str {
    match io.emit("announcement", (text,)) {
        Ok(_) => "sent\n",
        Err(_) => "not sent\n",
    }
}
