//! The Socket.IO tutorial's chat, in Rust: a page with a form, every `chat message` a
//! client emits goes to everyone. `cargo run -p rally --features client-bundle --example chat`,
//! then open http://localhost:3000 in two windows.

use axum::response::Html;
use axum::routing::get;
use rally::{Event, Server, ServerConfig};

const PAGE: &str = r#"<!DOCTYPE html>
<html><body>
  <ul id="messages"></ul>
  <form id="form"><input id="input" autocomplete="off" /><button>Send</button></form>
  <script src="/socket.io/socket.io.js"></script>
  <script>
    const socket = io();
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      if (input.value) { socket.emit('chat message', input.value); input.value = ''; }
    });
    socket.on('chat message', (msg) => {
      const item = document.createElement('li');
      item.textContent = msg;
      messages.appendChild(item);
    });
  </script>
</body></html>"#;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let io = Server::new(ServerConfig::default());
    let server = io.clone();
    io.on_connection(move |socket| {
        let io = server.clone();
        socket.on("chat message", move |_, event: Event| {
            let io = io.clone();
            async move {
                let _ = io.emit("chat message", event.args);
            }
        });
    });
    let app = io.router().route("/", get(|| async { Html(PAGE) }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    println!("listening on http://127.0.0.1:3000");
    rally::serve(listener, app, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await
}
