//! The Socket.IO tutorial's chat, in Rust: every `chat message` goes to everyone, a
//! client joins rooms (its callback answered), talks to one room, and sends a private
//! message to one socket by its id. `cargo run -p rally --features client-bundle
//! --example chat`, then open http://localhost:3000 in two windows (`PORT` changes
//! the port). In the page, `/join room`, `/room room text` and `/msg id text`.

use axum::response::Html;
use axum::routing::get;
use rally::{EmitError, Event, Server};
use serde_json::{json, Value};

const PAGE: &str = r#"<!DOCTYPE html>
<html><body>
  <ul id="messages"></ul>
  <form id="form"><input id="input" autocomplete="off" /><button>Send</button></form>
  <script src="/socket.io/socket.io.js"></script>
  <script>
    const socket = io();
    const show = (text) => {
      const item = document.createElement('li');
      item.textContent = text;
      messages.appendChild(item);
    };
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      const [command, target, ...rest] = input.value.split(' ');
      if (command === '/join') socket.emit('join', target, (answer) => show(JSON.stringify(answer)));
      else if (command === '/room') socket.emit('room message', target, rest.join(' '));
      else if (command === '/msg') socket.emit('private message', target, rest.join(' '));
      else if (input.value) socket.emit('chat message', input.value);
      input.value = '';
    });
    socket.on('connect', () => show(`you are ${socket.id}`));
    socket.on('chat message', (msg, room) => show(room ? `[${room}] ${msg}` : msg));
    socket.on('private message', (from, msg) => show(`${from} (private): ${msg}`));
  </script>
</body></html>"#;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    // Handler errors and refused arguments are logged (RUST_LOG, default info).
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt().with_env_filter(filter).init();
    let io = Server::builder().build();
    io.on_connection(|socket| {
        socket.on("chat message", |socket, event: Event| async move {
            socket.server().emit("chat message", event.args)
        });
        socket.on("join", |socket, (room,): (String,)| async move {
            socket.join(room.as_str());
            Ok::<_, EmitError>(json!({ "joined": room }))
        });
        socket.on(
            "room message",
            |socket, (room, msg): (String, Value)| async move {
                socket
                    .server()
                    .to(room.as_str())
                    .emit("chat message", (msg, room))
            },
        );
        socket.on(
            "private message",
            |socket, (to, msg): (String, Value)| async move {
                socket.to(to).emit("private message", (socket.id(), msg))
            },
        );
    });
    let app = io.router().route("/", get(|| async { Html(PAGE) }));
    let port = std::env::var("PORT").unwrap_or_else(|_| "3000".into());
    let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{port}")).await?;
    println!("listening on {}", listener.local_addr()?);
    rally::serve(listener, app, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await
}
