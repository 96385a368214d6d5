//! A minimal Socket.IO client over WebSocket, just enough to load a server: the
//! Engine.IO handshake, joining the default namespace, answering pings, sending raw
//! packets and handing every EVENT or ACK it receives to the scenario's callback.
//!
//! Each client is one task that owns its socket; sends go through an unbounded
//! channel so that callbacks (which run inside a client's task) can send too.
//!
//! Scenarios speak the default parser's text. Against a server whose parser is msgpack,
//! the client's task translates both ways with Rally's own codecs, so every scenario
//! runs unchanged; the translation costs the generator's CPU, not the server's.

use futures::{SinkExt, StreamExt};
use rally::packet::{decode_msgpack, encode, encode_msgpack, Decoder, Packet};
use rally::Parser;
use std::sync::Arc;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// What a client received: the text of a Socket.IO EVENT (`2…`) or ACK (`3…`)
/// packet, without the Engine.IO `4`.
pub type OnPacket = Arc<dyn Fn(&Client, &str) + Send + Sync>;

/// A connected client's handle, given to callbacks and scenarios. The connection
/// stays open while a scenario holds a handle: the copy the client's own task
/// passes to callbacks does not count, so a phase's clients go away with it.
#[derive(Clone)]
pub struct Client {
    pub index: usize,
    pub sid: Arc<str>,
    tx: mpsc::WeakUnboundedSender<String>,
    _open: Option<mpsc::UnboundedSender<String>>,
}

impl Client {
    /// Sends one Socket.IO packet, written in the default parser's text (the Engine.IO
    /// `4` is added, or the packet translated, by the client's task).
    pub fn send(&self, packet: &str) {
        if let Some(tx) = self.tx.upgrade() {
            let _ = tx.send(packet.to_owned());
        }
    }
}

fn config() -> WebSocketConfig {
    // Small buffers: the generator holds up to ~20 000 of these at once.
    WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0)
}

/// The session id in an Engine.IO open packet (`0{"sid":…}`).
pub fn open_sid(open_packet: &str) -> Option<String> {
    let json: serde_json::Value = serde_json::from_str(open_packet.strip_prefix('0')?).ok()?;
    Some(json["sid"].as_str()?.to_owned())
}

/// A packet in the form `parser` sends, from its text in the default parser's form.
fn outgoing(parser: Parser, text: &str) -> Message {
    match parser {
        Parser::Json => Message::text(format!("4{text}")),
        Parser::MsgPack => {
            let packet = Decoder::new(0)
                .feed_text(text)
                .ok()
                .flatten()
                .unwrap_or_else(|| panic!("a scenario sent a packet that does not parse: {text}"));
            Message::binary(encode_msgpack(&packet))
        }
    }
}

/// A packet received from a server whose parser is msgpack.
fn incoming_msgpack(frame: &[u8]) -> Option<Packet> {
    // Engine.IO's binary frames carry no type byte: the whole frame is the message.
    decode_msgpack(frame, 1000).ok()
}

/// Opens a WebSocket session and joins the default namespace; returns the stream and the socket id.
pub async fn handshake(port: u16, parser: Parser) -> Result<(Ws, Arc<str>), String> {
    let url = format!("ws://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket");
    let (mut ws, _) = tokio_tungstenite::connect_async_with_config(url, Some(config()), true)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(t))) if t.starts_with('0') => break,
            Some(Ok(_)) => continue,
            Some(Err(e)) => return Err(format!("handshake: {e}")),
            None => return Err("closed during handshake".into()),
        }
    }
    ws.send(outgoing(parser, "0"))
        .await
        .map_err(|e| format!("send 40: {e}"))?;
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(t))) if t.starts_with("40") => {
                let v: serde_json::Value =
                    serde_json::from_str(&t[2..]).map_err(|e| format!("40: {e}"))?;
                let sid = v["sid"].as_str().ok_or("40 without sid")?;
                return Ok((ws, sid.into()));
            }
            Some(Ok(Message::Binary(frame))) if parser == Parser::MsgPack => {
                let packet = incoming_msgpack(&frame).ok_or("an undecodable CONNECT answer")?;
                let data = packet.data.unwrap_or_default();
                let sid = data["sid"].as_str().ok_or("a CONNECT answer without sid")?;
                return Ok((ws, sid.into()));
            }
            Some(Ok(Message::Text(t))) if t.as_str() == "2" => {
                ws.send(Message::text("3"))
                    .await
                    .map_err(|e| e.to_string())?;
            }
            Some(Ok(_)) => continue,
            Some(Err(e)) => return Err(format!("namespace connect: {e}")),
            None => return Err("closed during namespace connect".into()),
        }
    }
}

/// Connects and starts the client's task; `on_packet` sees every EVENT and ACK.
pub async fn connect(
    port: u16,
    parser: Parser,
    index: usize,
    on_packet: OnPacket,
) -> Result<Client, String> {
    let (ws, sid) = handshake(port, parser).await?;
    let (tx, rx) = mpsc::unbounded_channel();
    let own = Client {
        index,
        sid,
        tx: tx.downgrade(),
        _open: None,
    };
    let handle = Client {
        _open: Some(tx),
        ..own.clone()
    };
    tokio::spawn(run(ws, parser, rx, own, on_packet));
    Ok(handle)
}

async fn run(
    ws: Ws,
    parser: Parser,
    mut rx: mpsc::UnboundedReceiver<String>,
    client: Client,
    on_packet: OnPacket,
) {
    let (mut sink, mut stream) = ws.split();
    loop {
        tokio::select! {
            frame = stream.next() => match frame {
                Some(Ok(Message::Text(text))) => {
                    let text = text.as_str();
                    if text == "2" {
                        if sink.send(Message::text("3")).await.is_err() { return; }
                    } else if let Some(packet) = text.strip_prefix('4') {
                        on_packet(&client, packet);
                    }
                }
                Some(Ok(Message::Binary(frame))) if parser == Parser::MsgPack => {
                    if let Some(packet) = incoming_msgpack(&frame) {
                        on_packet(&client, &encode(&packet));
                    }
                }
                Some(Ok(_)) => {}
                _ => return,
            },
            out = rx.recv() => match out {
                Some(text) => {
                    if sink.feed(outgoing(parser, &text)).await.is_err() { return; }
                    // Batch whatever else is queued into one flush.
                    while let Ok(more) = rx.try_recv() {
                        if sink.feed(outgoing(parser, &more)).await.is_err() { return; }
                    }
                    if sink.flush().await.is_err() { return; }
                }
                // Every handle dropped: the scenario is over.
                None => { let _ = sink.close().await; return; }
            },
        }
    }
}
