//! The test client's Engine.IO and Socket.IO floors, on top of `ws`.
//!
//! Engine.IO: the open packet gives the session id; the server's pings are
//! answered with pongs and counted; a text data message is a Socket.IO packet's
//! text part and a binary one an attachment. Socket.IO: packets are written
//! with `rally::packet::encode` (attachments as binary messages after the text)
//! and read with `rally::packet::Decoder`, which gathers the attachments.
//!
//! Strict on purpose: every packet received is logged in order
//! ([`Client::received`]), and the `next_*`/`expect_*` methods take the very
//! next packet and fail the test when it is not what they expect, so nothing
//! arrives unnoticed. Every wait is bounded by [`WAIT`].

use super::ws::{WsConn, WsMessage};
use bytes::Bytes;
use rally::packet::{encode, Decoder, Packet, PacketKind};
use rally_engine::packet::{decode_text, encode_text, Message, Packet as EnginePacket};
use rally_engine::ws::Opcode;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::time::Duration;

/// The longest any expected packet may take before the test fails.
pub const WAIT: Duration = Duration::from_secs(2);

pub struct Client {
    ws: WsConn,
    /// The Engine.IO session id, from the open packet.
    pub engine_sid: String,
    /// The namespace this client's events go to.
    pub nsp: String,
    /// The socket id the CONNECT answer gave (empty before a namespace is joined).
    pub sid: String,
    /// Engine.IO pings answered so far.
    pub pings: usize,
    decoder: Decoder,
    received: Vec<Packet>,
    next_ack_id: u64,
    closed: bool,
}

impl Client {
    /// Opens an Engine.IO session over WebSocket, without joining any namespace.
    pub async fn open(addr: SocketAddr) -> Client {
        let mut ws = WsConn::open(addr, "/socket.io/?EIO=4&transport=websocket").await;
        let open = match tokio::time::timeout(WAIT, ws.next()).await {
            Ok(Some(WsMessage::Text(text))) => text,
            other => panic!("expected the open packet, got {other:?}"),
        };
        let Ok(EnginePacket::Open(handshake)) = decode_text(&open) else {
            panic!("expected the open packet, got {open:?}");
        };
        let handshake: Value = serde_json::from_str(&handshake).expect("open packet JSON");
        Client {
            ws,
            engine_sid: handshake["sid"].as_str().expect("sid").to_owned(),
            nsp: "/".to_owned(),
            sid: String::new(),
            pings: 0,
            decoder: Decoder::new(16),
            received: Vec::new(),
            next_ack_id: 0,
            closed: false,
        }
    }

    /// Opens a session and joins `nsp`, sending `auth` with the CONNECT.
    pub async fn connect(addr: SocketAddr, nsp: &str, auth: Option<Value>) -> Client {
        let mut client = Client::open(addr).await;
        let answer = client.try_join(nsp, auth).await;
        assert_eq!(answer.kind, PacketKind::Connect, "refused: {answer:?}");
        assert_eq!(answer.nsp, nsp);
        client.nsp = nsp.to_owned();
        client.sid = answer
            .data
            .as_ref()
            .and_then(|d| d["sid"].as_str())
            .expect("sid")
            .to_owned();
        client
    }

    /// Sends CONNECT for `nsp` and returns the server's answer as it is.
    pub async fn try_join(&mut self, nsp: &str, auth: Option<Value>) -> Packet {
        self.send(&Packet::connect(nsp, auth)).await;
        self.next_packet().await
    }

    /// Every Socket.IO packet received so far, in order.
    pub fn received(&self) -> &[Packet] {
        &self.received
    }

    // ---- sending ----

    /// Writes a packet: its text part, then each attachment as a binary message.
    pub async fn send(&mut self, packet: &Packet) {
        let text = encode_text(&EnginePacket::Message(Message::Text(encode(packet))));
        self.ws.send(Opcode::Text, text.as_bytes()).await;
        for attachment in &packet.attachments {
            self.ws.send(Opcode::Binary, attachment).await;
        }
    }

    /// EVENT `event` with `args` (a JSON array) on this client's namespace.
    pub async fn emit(&mut self, event: &str, args: Value) {
        self.send(&Packet::event(
            &self.nsp,
            event_data(event, args),
            vec![],
            None,
        ))
        .await;
    }

    /// EVENT with an ack id; the very next packet must be its ACK, whose arguments are returned.
    pub async fn emit_with_ack(&mut self, event: &str, args: Value) -> Value {
        self.emit_packet_with_ack(event_data(event, args), vec![])
            .await
            .data
            .expect("ack data")
    }

    /// An EVENT of `data` and `attachments` with an ack id; returns the whole ACK packet.
    pub async fn emit_packet_with_ack(&mut self, data: Value, attachments: Vec<Bytes>) -> Packet {
        let id = self.next_ack_id;
        self.next_ack_id += 1;
        self.send(&Packet::event(&self.nsp, data, attachments, Some(id)))
            .await;
        let answer = self.next_packet().await;
        assert!(
            answer.kind.is_ack(),
            "expected the ack of {id}, got {answer:?}"
        );
        assert_eq!(
            (answer.nsp.as_ref(), answer.id),
            (self.nsp.as_str(), Some(id))
        );
        answer
    }

    /// Answers the server's event `id` with `args` (a JSON array).
    pub async fn ack(&mut self, id: u64, args: Value) {
        self.send(&Packet::ack(&self.nsp, args, vec![], id)).await;
    }

    /// Leaves this client's namespace (the connection stays).
    pub async fn disconnect(&mut self) {
        self.send(&Packet::disconnect(&self.nsp)).await;
    }

    /// Closes the connection with a WebSocket close frame, as a browser leaving would.
    pub async fn close(mut self) {
        self.ws.send(Opcode::Close, &1000u16.to_be_bytes()).await;
    }

    // ---- receiving ----

    /// The next Socket.IO packet; fails the test if none comes within [`WAIT`].
    pub async fn next_packet(&mut self) -> Packet {
        match tokio::time::timeout(WAIT, self.read_packet()).await {
            Ok(Some(packet)) => packet,
            Ok(None) => panic!("connection closed; received so far: {:?}", self.received),
            Err(_) => panic!(
                "no packet within {WAIT:?}; received so far: {:?}",
                self.received
            ),
        }
    }

    /// The next packet, which must be an EVENT (text or binary) on this client's namespace.
    pub async fn next_event_packet(&mut self) -> Packet {
        let packet = self.next_packet().await;
        assert!(packet.kind.is_event(), "expected an event, got {packet:?}");
        assert_eq!(
            packet.nsp, self.nsp,
            "event on another namespace: {packet:?}"
        );
        packet
    }

    /// The next packet, which must be a plain EVENT asking no ack: its name and arguments.
    pub async fn next_event(&mut self) -> (String, Value) {
        let (name, args, id) = self.next_event_with_id().await;
        assert_eq!(id, None, "the event {name} asks for an ack");
        (name, args)
    }

    /// The next packet must be the plain EVENT `event` with `args`.
    pub async fn expect_event(&mut self, event: &str, args: Value) {
        assert_eq!(
            self.next_event().await,
            (event.to_owned(), args),
            "{}",
            self.sid
        );
    }

    /// The next packet, which must be an EVENT asking for an ack: its name, arguments and ack id.
    pub async fn next_event_with_ack(&mut self) -> (String, Value, u64) {
        let (name, args, id) = self.next_event_with_id().await;
        (name, args, id.expect("the event asks for an ack"))
    }

    async fn next_event_with_id(&mut self) -> (String, Value, Option<u64>) {
        let packet = self.next_event_packet().await;
        assert!(packet.attachments.is_empty(), "a binary event: {packet:?}");
        let Some(Value::Array(mut data)) = packet.data else {
            panic!("event data is not an array: {packet:?}");
        };
        let Value::String(name) = data.remove(0) else {
            panic!("event name is not a string: {data:?}");
        };
        (name, Value::Array(data), packet.id)
    }

    /// The next packet must be this namespace's DISCONNECT.
    pub async fn expect_disconnect(&mut self) {
        let packet = self.next_packet().await;
        assert_eq!(packet, Packet::disconnect(&self.nsp));
    }

    /// No packet at all for `quiet` (pings are answered meanwhile).
    pub async fn expect_no_event(&mut self, quiet: Duration) {
        match tokio::time::timeout(quiet, self.read_packet()).await {
            Err(_) => {}
            Ok(Some(packet)) => panic!("expected nothing for {quiet:?}, got {packet:?}"),
            Ok(None) => panic!("expected nothing for {quiet:?}, but the connection closed"),
        }
    }

    /// The connection must end (Engine.IO close, WebSocket close or end of stream)
    /// with no Socket.IO packet before.
    pub async fn expect_closed(&mut self) {
        match tokio::time::timeout(WAIT, self.read_packet()).await {
            Ok(None) => {}
            Ok(Some(packet)) => panic!("expected the connection to close, got {packet:?}"),
            Err(_) => panic!("the connection is still open after {WAIT:?}"),
        }
    }

    /// Reads Engine.IO packets until one completes a Socket.IO packet; `None`
    /// once the connection ended. Cancel-safe: a message is taken whole.
    async fn read_packet(&mut self) -> Option<Packet> {
        while !self.closed {
            let decoded = match self.ws.next().await {
                Some(WsMessage::Text(text)) => match decode_text(&text) {
                    Ok(EnginePacket::Message(Message::Text(text))) => self.decoder.feed_text(&text),
                    Ok(EnginePacket::Ping(data)) => {
                        self.pings += 1;
                        let pong = encode_text(&EnginePacket::Pong(data));
                        self.ws.send(Opcode::Text, pong.as_bytes()).await;
                        continue;
                    }
                    Ok(EnginePacket::Close) => {
                        self.closed = true;
                        continue;
                    }
                    other => panic!("unexpected Engine.IO packet {other:?}"),
                },
                Some(WsMessage::Binary(data)) => self.decoder.feed_binary(data),
                Some(WsMessage::Close(_)) | None => {
                    self.closed = true;
                    continue;
                }
            };
            match decoded.expect("a valid Socket.IO packet") {
                Some(packet) => {
                    self.received.push(packet.clone());
                    return Some(packet);
                }
                None => continue,
            }
        }
        None
    }
}

/// An event's data: `[event, ...args]`.
pub fn event_data(event: &str, args: Value) -> Value {
    let Value::Array(args) = args else {
        panic!("event arguments are a JSON array, got {args}");
    };
    let mut data = vec![json!(event)];
    data.extend(args);
    data.into()
}
