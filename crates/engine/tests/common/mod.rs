//! Test harness: a real server on 127.0.0.1:0, a raw HTTP/1.1 client (raw so
//! tests control exactly when a connection goes away), a WebSocket client,
//! and a handler that records every callback and echoes messages back.
#![allow(dead_code)]

pub mod client_frame;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use rally_engine::{
    CloseReason, Engine, EngineConfig, EngineHandler, Message, OutMessage, Session,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message as Ws;

#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Open(String),
    Message(String, Message),
    Close(String, CloseReason),
}

#[derive(Default)]
pub struct Recorder {
    pub events: Mutex<Vec<Event>>,
    pub sessions: Mutex<Vec<Arc<Session>>>,
    pub echo: bool,
}

impl EngineHandler for Recorder {
    fn on_open(&self, session: &Arc<Session>) {
        self.sessions.lock().unwrap().push(session.clone());
        self.events
            .lock()
            .unwrap()
            .push(Event::Open(session.id().to_owned()));
    }

    fn on_message(&self, session: &Arc<Session>, msg: Message) {
        // Stands for a bug in the layer above.
        if msg == Message::Text("panic".to_owned()) {
            panic!("handler bug");
        }
        // Stands for the layer above refusing what it was sent (a Socket.IO parse error).
        if msg == Message::Text("refuse".to_owned()) {
            session.close(CloseReason::ParseError);
            return;
        }
        if self.echo {
            let out = match &msg {
                Message::Text(t) => OutMessage::text(t.clone()),
                Message::Binary(b) => OutMessage::binary(b.clone()),
            };
            let _ = session.send(out);
        }
        self.events
            .lock()
            .unwrap()
            .push(Event::Message(session.id().to_owned(), msg));
    }

    fn on_close(&self, session: &Arc<Session>, reason: CloseReason) {
        self.events
            .lock()
            .unwrap()
            .push(Event::Close(session.id().to_owned(), reason));
    }
}

pub struct Server {
    pub addr: SocketAddr,
    pub engine: Arc<Engine>,
    pub rec: Arc<Recorder>,
}

pub async fn start(config: EngineConfig) -> Server {
    start_with(config, true).await
}

pub async fn start_with(config: EngineConfig, connect_info: bool) -> Server {
    launch(config, move |listener, app| async move {
        if connect_info {
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .await
            .unwrap();
        } else {
            axum::serve(listener, app).await.unwrap();
        }
    })
    .await
}

/// Like `start`, but served by `rally_engine::serve`: WebSockets then reach the
/// engine as their `TcpStream` (the path axum::serve cannot take).
pub async fn start_served(config: EngineConfig) -> Server {
    start_served_with(config, rally_engine::ServeConfig::default()).await
}

/// `start_served` with the connection limits of `serve`.
pub async fn start_served_with(config: EngineConfig, serve: rally_engine::ServeConfig) -> Server {
    launch(config, |listener, app| async move {
        rally_engine::serve_with(listener, app, serve, std::future::pending())
            .await
            .unwrap();
    })
    .await
}

/// Both ways a server can be run: axum::serve (the engine gets a boxed stream) and
/// rally_engine::serve (it gets the TcpStream and writes it itself).
pub async fn both_servers(config: EngineConfig) -> [Server; 2] {
    [start(config.clone()).await, start_served(config).await]
}

/// An engine with a recording, echoing handler, served by `serve` on a free port.
async fn launch<F, Fut>(config: EngineConfig, serve: F) -> Server
where
    F: FnOnce(tokio::net::TcpListener, axum::Router) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let rec = Arc::new(Recorder {
        echo: true,
        ..Default::default()
    });
    let engine = Engine::new(config, rec.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(serve(listener, engine.router()));
    Server { addr, engine, rec }
}

impl Server {
    pub fn events(&self) -> Vec<Event> {
        self.rec.events.lock().unwrap().clone()
    }

    /// The messages the handler received, from every session, in order.
    pub fn messages(&self) -> Vec<Message> {
        self.events()
            .into_iter()
            .filter_map(|e| match e {
                Event::Message(_, m) => Some(m),
                _ => None,
            })
            .collect()
    }

    pub fn session(&self, sid: &str) -> Arc<Session> {
        self.rec
            .sessions
            .lock()
            .unwrap()
            .iter()
            .find(|s| s.id() == sid)
            .cloned()
            .expect("session was opened")
    }

    /// Waits (bounded) until the close of `sid` is recorded; returns it.
    pub async fn wait_close(&self, sid: &str) -> CloseReason {
        for _ in 0..300 {
            let closes: Vec<CloseReason> = self
                .events()
                .into_iter()
                .filter_map(|e| match e {
                    Event::Close(s, r) if s == sid => Some(r),
                    _ => None,
                })
                .collect();
            if let Some(r) = closes.first() {
                assert_eq!(closes.len(), 1, "on_close called more than once");
                return *r;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("session {sid} did not close; events: {:?}", self.events());
    }

    pub fn closes(&self, sid: &str) -> usize {
        self.events()
            .iter()
            .filter(|e| matches!(e, Event::Close(s, _) if s == sid))
            .count()
    }

    pub fn url(&self, query: &str) -> String {
        format!("/engine.io/?{query}")
    }

    pub async fn get(&self, query: &str) -> Resp {
        request(self.addr, "GET", &self.url(query), b"", &[]).await
    }

    pub async fn post(&self, query: &str, body: &[u8]) -> Resp {
        request(self.addr, "POST", &self.url(query), body, &[]).await
    }

    /// Opens a polling session; returns its sid.
    pub async fn open_polling(&self) -> String {
        let r = self.get("EIO=4&transport=polling").await;
        assert_eq!(r.status, 200, "{}", r.text());
        open_sid(&r.text())
    }

    pub async fn poll(&self, sid: &str) -> Resp {
        self.get(&format!("EIO=4&transport=polling&sid={sid}"))
            .await
    }

    /// A GET for the session, left pending on the server (given 30 ms to arrive).
    pub async fn pending_poll(&self, sid: &str) -> tokio::task::JoinHandle<Resp> {
        self.pending_get(&format!("EIO=4&transport=polling&sid={sid}"))
            .await
    }

    /// A GET with `query`, left pending on the server (given 30 ms to arrive).
    pub async fn pending_get(&self, query: &str) -> tokio::task::JoinHandle<Resp> {
        let (addr, path) = (self.addr, self.url(query));
        let poll = tokio::spawn(async move { request(addr, "GET", &path, b"", &[]).await });
        tokio::time::sleep(Duration::from_millis(30)).await;
        poll
    }

    pub async fn push(&self, sid: &str, body: &[u8]) -> Resp {
        self.post(&format!("EIO=4&transport=polling&sid={sid}"), body)
            .await
    }

    pub async fn ws(&self, query: &str) -> WsClient {
        let url = format!("ws://{}/engine.io/?{query}", self.addr);
        let (ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
        ws
    }

    /// The WebSocket of an upgrade probe for a polling session, once `2probe` got `3probe`.
    pub async fn probe(&self, sid: &str) -> WsClient {
        let mut ws = self
            .ws(&format!("EIO=4&transport=websocket&sid={sid}"))
            .await;
        send_text(&mut ws, "2probe").await;
        assert_eq!(next_text(&mut ws).await, "3probe");
        ws
    }

    /// Opens a WebSocket session; returns the socket and the sid.
    pub async fn open_ws(&self) -> (WsClient, String) {
        let mut ws = self.ws("EIO=4&transport=websocket").await;
        let open = next_text(&mut ws).await;
        let sid = open_sid(&open);
        (ws, sid)
    }
}

pub type WsClient =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>;

/// Next data frame (text or binary), skipping control frames; panics on
/// timeout or close.
pub async fn next_frame(ws: &mut WsClient) -> Ws {
    loop {
        let m = tokio::time::timeout(Duration::from_secs(3), ws.next())
            .await
            .expect("frame timeout")
            .expect("stream ended")
            .expect("ws error");
        match m {
            Ws::Text(_) | Ws::Binary(_) => return m,
            Ws::Close(_) => panic!("unexpected close"),
            _ => continue,
        }
    }
}

pub async fn next_text(ws: &mut WsClient) -> String {
    match next_frame(ws).await {
        Ws::Text(t) => t.as_str().to_owned(),
        other => panic!("expected text, got {other:?}"),
    }
}

/// Waits until the server closes the socket (close frame, EOF or error).
pub async fn expect_closed(ws: &mut WsClient) {
    loop {
        match tokio::time::timeout(Duration::from_secs(3), ws.next())
            .await
            .expect("socket was not closed in time")
        {
            None | Some(Err(_)) | Some(Ok(Ws::Close(_))) => return,
            Some(Ok(_)) => continue,
        }
    }
}

pub async fn send_text(ws: &mut WsClient, s: &str) {
    ws.send(Ws::text(s)).await.unwrap();
}

pub fn open_sid(open_packet: &str) -> String {
    let v = open_json(open_packet);
    v["sid"].as_str().unwrap().to_owned()
}

pub fn open_json(open_packet: &str) -> serde_json::Value {
    assert!(
        open_packet.starts_with('0'),
        "not an open packet: {open_packet}"
    );
    serde_json::from_str(&open_packet[1..]).unwrap()
}

#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap()
    }

    /// Asserts a protocol error response.
    pub fn assert_error(&self, status: u16, code: u64) {
        assert_eq!(self.status, status, "body: {}", self.text());
        assert_eq!(self.header("content-type"), Some("application/json"));
        assert_eq!(self.json()["code"], code, "body: {}", self.text());
    }
}

/// Sends one request on a fresh connection and reads the whole response.
pub async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: &[u8],
    headers: &[(&str, &str)],
) -> Resp {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(&raw_request(addr, method, path, body, headers))
        .await
        .unwrap();
    let mut buf = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut buf))
        .await
        .expect("response timeout")
        .unwrap();
    parse_response(&buf)
}

pub fn raw_request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: &[u8],
    headers: &[(&str, &str)],
) -> Vec<u8> {
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    let mut bytes = req.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

pub fn parse_response(buf: &[u8]) -> Resp {
    let split = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("no header end");
    let head = std::str::from_utf8(&buf[..split]).unwrap();
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let mut body = buf[split + 4..].to_vec();
    let chunked = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    if chunked {
        let mut out = Vec::new();
        let mut rest = &body[..];
        loop {
            let nl = rest.windows(2).position(|w| w == b"\r\n").unwrap();
            let size = usize::from_str_radix(std::str::from_utf8(&rest[..nl]).unwrap().trim(), 16)
                .unwrap();
            if size == 0 {
                break;
            }
            out.extend_from_slice(&rest[nl + 2..nl + 2 + size]);
            rest = &rest[nl + 2 + size + 2..];
        }
        body = out;
    }
    Resp {
        status,
        headers,
        body,
    }
}

pub fn fast_heartbeat() -> EngineConfig {
    EngineConfig {
        ping_interval: Duration::from_millis(150),
        ping_timeout: Duration::from_millis(150),
        ..EngineConfig::default()
    }
}
