//! One Engine.IO connection seen from the Socket.IO floor: `Client` in socket.io.
//!
//! A client decodes Socket.IO packets from its connection's messages, routes them to
//! its sockets (one per namespace it joined), and writes their packets back. It is the
//! only part of this crate that talks to an engine session.

use crate::connect_timeout::Joining;
use crate::legacy;
use crate::outgoing::connect_error_packet;
use crate::packet::{Packet, PacketKind};
use crate::parser::PacketDecoder;
use crate::reason::DisconnectReason;
use crate::server::ServerInner;
use crate::socket::Socket;
use crate::sync::lock;
use rally_engine::{
    CloseReason, EngineProtocol, Message, OutMessage, SendError, Session, TransportKind,
};
use serde_json::Value;
use std::sync::{Arc, Mutex, Weak};

pub(crate) struct Client {
    /// Weak: the session owns this client (in its extensions), not the other way round.
    session: Weak<Session>,
    server: Arc<ServerInner>,
    decoder: Mutex<PacketDecoder>,
    sockets: Mutex<Sockets>,
    /// A socket.io-client 2.x on Engine.IO v3: Socket.IO protocol v4 (`crate::legacy`).
    legacy: bool,
}

/// A connection's sockets, one per namespace: nearly always one or two, so a list.
#[derive(Default)]
struct Sockets {
    /// Set once the connection is gone: a namespace connect that finishes later must not add a socket.
    closed: bool,
    by_nsp: Vec<Socket>,
}

impl Sockets {
    fn get(&self, nsp: &str) -> Option<&Socket> {
        self.by_nsp.iter().find(|s| *s.ns().name() == *nsp)
    }
}

impl Client {
    pub(crate) fn new(session: &Arc<Session>, server: Arc<ServerInner>) -> Arc<Client> {
        let decoder = (server.config.parser).decoder(server.config.max_attachments);
        let legacy = session.protocol() == EngineProtocol::V3;
        let client = Arc::new(Client {
            session: Arc::downgrade(session),
            server,
            decoder: Mutex::new(decoder),
            sockets: Mutex::default(),
            legacy,
        });
        if legacy {
            // A v2 client is in the main namespace without asking.
            client.join("/", Value::Object(Default::default()));
        } else {
            let watched: Weak<Client> = Arc::downgrade(&client);
            client.server.connect_deadlines.watch(watched);
        }
        client
    }

    /// True for a socket.io-client 2.x (`crate::legacy`).
    pub(crate) fn is_legacy(&self) -> bool {
        self.legacy
    }

    /// The id of this connection's socket in namespace `nsp`: a fresh one, or the one
    /// a v2 client derives from its connection's.
    pub(crate) fn socket_id(&self, nsp: &str) -> String {
        match self.session.upgrade() {
            Some(session) if self.legacy => legacy::socket_id(nsp, session.id()),
            _ => rally_engine::generate_id(),
        }
    }

    pub(crate) fn server(&self) -> crate::Server {
        self.server.handle()
    }

    pub(crate) fn state<T: Send + Sync + 'static>(&self) -> Option<&T> {
        self.server.states.get()
    }

    /// How many items the connection has queued so far (`Session::queued_count`).
    pub(crate) fn queued_count(&self) -> u64 {
        self.session
            .upgrade()
            .map_or(u64::MAX, |s| s.queued_count())
    }

    /// Whether the client processed the first `position` items (`Session::confirmed`);
    /// false once the connection is gone.
    pub(crate) fn confirmed(&self, position: u64) -> bool {
        self.session
            .upgrade()
            .is_some_and(|s| s.confirmed(position))
    }

    pub(crate) fn transport(&self) -> Option<TransportKind> {
        self.session.upgrade().map(|s| s.transport())
    }

    pub(crate) fn send(&self, messages: &[OutMessage], volatile: bool) {
        let Some(session) = self.session.upgrade() else {
            return;
        };
        let sent = if volatile {
            session.send_volatile(messages).map(|_| ())
        } else {
            session.send_many(messages)
        };
        match sent {
            Ok(()) | Err(SendError::Closed) => {}
            Err(SendError::QueueFull) => {
                tracing::warn!(
                    session = session.id(),
                    "outgoing queue full: connection closed"
                );
            }
        }
    }

    pub(crate) fn close(&self, reason: CloseReason) {
        if let Some(session) = self.session.upgrade() {
            session.close(reason);
        }
    }

    /// One engine message: a packet's text or one of its attachments.
    pub(crate) fn on_message(self: &Arc<Self>, message: Message) {
        let decoded = lock(&self.decoder).feed(message);
        match decoded {
            Ok(Some(packet)) => self.on_packet(packet),
            Ok(None) => {}
            Err(e) => {
                tracing::info!(session = ?self.session.upgrade().map(|s| s.id().to_owned()), "invalid packet, closing: {e}");
                self.close(CloseReason::ParseError);
            }
        }
    }

    fn on_packet(self: &Arc<Self>, packet: Packet) {
        match packet.kind {
            PacketKind::Connect => self.connect(packet),
            PacketKind::Event | PacketKind::BinaryEvent => {
                if let Some(socket) = self.socket(&packet.nsp) {
                    socket.on_event(packet);
                }
            }
            PacketKind::Ack | PacketKind::BinaryAck => {
                if let Some(socket) = self.socket(&packet.nsp) {
                    socket.on_ack(packet);
                }
            }
            PacketKind::Disconnect => {
                if let Some(socket) = self.socket(&packet.nsp) {
                    socket.on_close(DisconnectReason::ClientNamespaceDisconnect);
                }
            }
            PacketKind::ConnectError => {
                tracing::info!("client sent CONNECT_ERROR, which only servers send: closing");
                self.close(CloseReason::ParseError);
            }
        }
    }

    fn socket(&self, nsp: &str) -> Option<Socket> {
        let socket = lock(&self.sockets).get(nsp).cloned();
        if socket.is_none() {
            tracing::debug!(nsp, "packet for a namespace this client has not joined");
        }
        socket
    }

    fn connect(self: &Arc<Self>, packet: Packet) {
        if self.legacy {
            let (nsp, auth) = legacy::namespace_and_auth(&packet.nsp);
            self.join(nsp, auth);
        } else {
            self.join(&packet.nsp, packet.data.unwrap_or(Value::Null));
        }
    }

    fn join(self: &Arc<Self>, nsp: &str, auth: Value) {
        let Some(ns) = self.server.namespace(nsp) else {
            let refusal = connect_error_packet(nsp, "Invalid namespace", None);
            self.send(&self.server.config.parser.to_messages(&refusal), false);
            return;
        };
        if lock(&self.sockets).get(nsp).is_some() {
            tracing::debug!(nsp, "namespace already joined: CONNECT ignored");
            return;
        }
        let Some(session) = self.session.upgrade() else {
            return;
        };
        ns.connect(self.clone(), &session, auth);
    }

    /// Adds a socket whose middleware passed; false when the connection is already gone.
    pub(crate) fn add_socket(&self, socket: &Socket) -> bool {
        let mut sockets = lock(&self.sockets);
        if sockets.closed {
            return false;
        }
        sockets.by_nsp.push(socket.clone());
        true
    }

    pub(crate) fn remove_socket(&self, socket: &Socket) {
        lock(&self.sockets).by_nsp.retain(|s| s != socket);
    }

    /// Closes the connection when no socket uses it any more (its client moved to another).
    pub(crate) fn close_if_unused(&self) {
        if lock(&self.sockets).by_nsp.is_empty() {
            self.close(CloseReason::ForcedClose);
        }
    }

    pub(crate) fn send_connect_error(&self, nsp: &str, message: &str, data: Option<Value>) {
        let refusal = if self.legacy {
            Packet::connect_error(nsp, legacy::refusal(message, data))
        } else {
            connect_error_packet(nsp, message, data)
        };
        self.send(&self.server.config.parser.to_messages(&refusal), false);
    }

    /// `socket.disconnect(true)`: every socket of this connection leaves, then the connection closes.
    pub(crate) fn disconnect_all(&self) {
        let sockets: Vec<Socket> = lock(&self.sockets).by_nsp.clone();
        for socket in sockets {
            socket.disconnect(false);
        }
        self.close(CloseReason::ForcedClose);
    }

    /// The engine session ended: every socket leaves with the session's reason.
    pub(crate) fn on_close(&self, reason: CloseReason) {
        let sockets: Vec<Socket> = {
            let mut sockets = lock(&self.sockets);
            sockets.closed = true;
            std::mem::take(&mut sockets.by_nsp)
        };
        let reason = DisconnectReason::from(reason);
        for socket in sockets {
            socket.on_close(reason);
        }
    }
}

/// socket.io's `connectTimeout` watches each new connection.
impl Joining for Client {
    fn has_joined(&self) -> bool {
        !lock(&self.sockets).by_nsp.is_empty()
    }

    fn time_out(&self) {
        self.close(CloseReason::ForcedClose);
    }
}
