//! A client's membership in one namespace: `socket` in socket.io's API.
//!
//! A socket routes the client's events to the handlers registered on it, sends events
//! and acks back, keeps the acks it waits for, and leaves every room when it goes. Its
//! handlers are registered by the namespace's connection handler before the client is
//! told it is connected; whatever that handler emits waits in `pre_connect` and follows
//! the CONNECT answer, so the client sees `40{"sid"}` first and no event is ever lost.

use crate::ack::{AckError, PendingAck};
use crate::adapter::{BroadcastOptions, Room, SocketId};
use crate::args::{Args, IntoArgs};
use crate::broadcast::{BroadcastOperator, IntoRooms};
use crate::client::Client;
use crate::handler::{
    run_handler, Ack, AnyHandler, BoxFuture, DisconnectHandler, Event, EventHandler, FromEvent,
    HandlerOutput, Reply,
};
use crate::handshake::Handshake;
use crate::namespace::Namespace;
use crate::outgoing::{ack_packet, connect_packet, event_packet, EmitError};
use crate::packet::Packet;
use crate::reason::DisconnectReason;
use crate::recovery::{KeptSession, SocketRecovery};
use crate::server::Server;
use crate::sync::{lock, read, write};
use data::SocketData;
use rally_engine::{OutMessage, TransportKind};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use std::borrow::Cow;
use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use tokio::sync::oneshot;

mod data;

const CONNECTING: u8 = 0;
const CONNECTED: u8 = 1;
const DISCONNECTED: u8 = 2;

/// A handle to one socket; clones share it.
#[derive(Clone)]
pub struct Socket(pub(crate) Arc<SocketInner>);

pub(crate) struct SocketInner {
    id: SocketId,
    ns: Namespace,
    client: Arc<Client>,
    handshake: Handshake,
    handlers: RwLock<Handlers>,
    acks: Mutex<HashMap<u64, PendingAck>>,
    data: SocketData,
    state: AtomicU8,
    /// What was emitted before the CONNECT answer went out.
    pre_connect: Mutex<Vec<OutMessage>>,
    /// Connection state recovery: `Some` when the socket is offered it.
    recovery: Option<SocketRecovery>,
    /// Whether this socket took back a dropped socket's session.
    recovered: bool,
    /// What a recovered socket's client missed: sent before the CONNECT answer.
    replay: Mutex<Vec<OutMessage>>,
}

/// A few handlers per socket, looked up by name: a list is smaller than a map and as fast.
#[derive(Default)]
struct Handlers {
    /// Names are usually literals: borrowed, not copied.
    events: Vec<(Cow<'static, str>, Arc<EventHandler>)>,
    any: Vec<Arc<AnyHandler>>,
    disconnecting: Vec<Arc<DisconnectHandler>>,
    disconnect: Vec<Arc<DisconnectHandler>>,
}

impl Socket {
    pub(crate) fn new(
        ns: Namespace,
        client: Arc<Client>,
        handshake: Handshake,
        recovery: Option<SocketRecovery>,
    ) -> Socket {
        Socket(Arc::new(SocketInner {
            id: client.socket_id(ns.name()).into(),
            ns,
            client,
            handshake,
            handlers: RwLock::default(),
            acks: Mutex::default(),
            data: SocketData::default(),
            state: AtomicU8::new(CONNECTING),
            pre_connect: Mutex::default(),
            recovery,
            recovered: false,
            replay: Mutex::default(),
        }))
    }

    /// A socket that takes back a dropped socket's session: its id and data, and
    /// `missed` to send before its CONNECT answer. The caller restores its rooms.
    pub(crate) fn restored(
        ns: Namespace,
        client: Arc<Client>,
        handshake: Handshake,
        session: &KeptSession,
        missed: Vec<OutMessage>,
        recovery: SocketRecovery,
    ) -> Socket {
        Socket(Arc::new(SocketInner {
            id: session.sid.clone(),
            ns,
            client,
            handshake,
            handlers: RwLock::default(),
            acks: Mutex::default(),
            data: SocketData::from_json(session.data.clone()),
            state: AtomicU8::new(CONNECTING),
            pre_connect: Mutex::default(),
            recovery: Some(recovery),
            recovered: true,
            replay: Mutex::new(missed),
        }))
    }

    /// `socket.id`: random, distinct from the connection's, and the name of its own room.
    pub fn id(&self) -> &SocketId {
        &self.0.id
    }

    /// `socket.nsp`: the namespace this socket joined.
    pub fn ns(&self) -> &Namespace {
        &self.0.ns
    }

    /// `socket.handshake`: the request that opened the connection, and this namespace's auth.
    pub fn handshake(&self) -> &Handshake {
        &self.0.handshake
    }

    /// `socket.conn.transport.name`: the transport the connection uses now (it changes
    /// once, on upgrade).
    pub fn transport(&self) -> Option<TransportKind> {
        self.0.client.transport()
    }

    /// `socket.recovered`: whether this socket took back the session of one whose
    /// connection dropped (same id, rooms and data; the events it missed were sent).
    pub fn recovered(&self) -> bool {
        self.0.recovered
    }

    /// Whether this socket is offered connection state recovery: when it leaves on a
    /// reason that keeps sessions ([`DisconnectReason::keeps_session`]) its client may
    /// take it back within the window, so an application may wait before telling
    /// others it left.
    pub fn recovery_offered(&self) -> bool {
        self.0.recovery.is_some()
    }

    /// `socket.connected`: true from the CONNECT answer until the socket leaves.
    pub fn connected(&self) -> bool {
        self.0.state.load(Ordering::Acquire) == CONNECTED
    }

    /// The server this socket belongs to: `socket.nsp.server`, from which a handler
    /// reaches every namespace without capturing a clone of the server.
    pub fn server(&self) -> Server {
        self.0.client.server()
    }

    /// The application state of type `T` given to
    /// [`ServerBuilder::state`](crate::ServerBuilder::state).
    ///
    /// # Panics
    /// When the server was built without a `T`: a programming error, found by the
    /// first event that asks (a handler's panic is logged and its event dropped).
    pub fn state<T: Send + Sync + 'static>(&self) -> &T {
        self.0.client.state::<T>().unwrap_or_else(|| {
            panic!(
                "no application state of type {} (ServerBuilder::state)",
                std::any::type_name::<T>()
            )
        })
    }

    /// `socket.data`, as the application's type `T`: shared, not copied, when it was
    /// stored as a `T` with [`set_data`](Self::set_data); converted once when it came
    /// as JSON (a recovered session). `None` when nothing was stored or it does not
    /// convert.
    pub fn data<T>(&self) -> Option<Arc<T>>
    where
        T: Serialize + DeserializeOwned + Send + Sync + 'static,
    {
        self.0.data.get()
    }

    /// `socket.data = value`. It must serialize: `fetch_sockets` carries it to other
    /// servers (as JSON), and connection state recovery keeps it.
    pub fn set_data<T: Serialize + Send + Sync + 'static>(&self, value: T) {
        self.0.data.set(value);
    }

    /// `socket.data` as JSON, as other servers and recovered sessions see it; `null`
    /// when nothing was stored.
    pub fn data_json(&self) -> Value {
        self.0.data.to_json()
    }

    /// `socket.on(event, handler)`. The handler gets this socket and either the raw
    /// [`Event`] or the arguments typed as a tuple, and returns `()` or a `Result`
    /// (see [`FromEvent`] and [`HandlerOutput`]):
    ///
    /// ```no_run
    /// # fn f(socket: rally::Socket) {
    /// socket.on("join", |socket, (room,): (String,)| async move {
    ///     socket.join(room.as_str());
    ///     Ok::<_, rally::EmitError>(serde_json::json!({ "joined": room }))
    /// });
    /// # }
    /// ```
    pub fn on<F, T, Fut>(&self, event: impl Into<Cow<'static, str>>, handler: F)
    where
        F: Fn(Socket, T) -> Fut + Send + Sync + 'static,
        T: FromEvent,
        Fut: Future + Send + 'static,
        Fut::Output: HandlerOutput,
    {
        let name: Cow<'static, str> = event.into();
        let label = name.clone();
        let handler: Arc<EventHandler> = Arc::new(move |socket: Socket, mut event: Event| {
            let reply = Reply::prepare::<T, Fut::Output>(&socket, &label, &mut event);
            match T::from_event(event) {
                Ok(input) => Fut::Output::run(handler(socket, input), reply),
                Err(e) => {
                    reply.refuse(&e);
                    Box::pin(std::future::ready(()))
                }
            }
        });
        write(&self.0.handlers).events.push((name, handler));
    }

    /// `socket.removeAllListeners(event)`: removes every handler of `event`.
    pub fn off(&self, event: &str) {
        write(&self.0.handlers)
            .events
            .retain(|(name, _)| &**name != event);
    }

    /// `socket.onAny(listener)`: sees every event's name and arguments before its
    /// handlers run. What it returns is awaited as its own task when it does not finish
    /// at once (copy from the borrowed arguments what it needs).
    pub fn on_any<F, Fut>(&self, handler: F)
    where
        F: Fn(Socket, &str, &Args) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let handler: Arc<AnyHandler> =
            Arc::new(move |s, name, args| Box::pin(handler(s, name, args)) as BoxFuture);
        write(&self.0.handlers).any.push(handler);
    }

    /// `socket.on("disconnecting", reason => …)`: runs when the socket is about to leave,
    /// while `rooms()` still answers.
    pub fn on_disconnecting<F, Fut>(&self, handler: F)
    where
        F: Fn(Socket, DisconnectReason) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let handler: Arc<DisconnectHandler> =
            Arc::new(move |s, r| Box::pin(handler(s, r)) as BoxFuture);
        write(&self.0.handlers).disconnecting.push(handler);
    }

    /// `socket.on("disconnect", reason => …)`: runs once the socket has left.
    pub fn on_disconnect<F, Fut>(&self, handler: F)
    where
        F: Fn(Socket, DisconnectReason) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let handler: Arc<DisconnectHandler> =
            Arc::new(move |s, r| Box::pin(handler(s, r)) as BoxFuture);
        write(&self.0.handlers).disconnect.push(handler);
    }

    /// `socket.emit(event, ...args)`: to this client only.
    pub fn emit(&self, event: &str, args: impl IntoArgs) -> Result<(), EmitError> {
        let packet = event_packet(self.0.ns.name(), event, args, None)?;
        self.send_event(&packet, false);
        Ok(())
    }

    /// `socket.emitWithAck(event, ...args)`: waits for the client's answer (or its disconnection).
    pub async fn emit_with_ack(&self, event: &str, args: impl IntoArgs) -> Result<Args, AckError> {
        let id = self.0.ns.next_ack_id();
        let packet = event_packet(self.0.ns.name(), event, args, Some(id))
            .map_err(|e| AckError::NotSent(e.to_string()))?;
        let (tx, rx) = oneshot::channel();
        lock(&self.0.acks).insert(id, PendingAck::One(tx));
        self.send_event(&packet, false);
        rx.await.map_err(|_| AckError::Disconnected)
    }

    /// `socket.timeout(ms)`: the next `emit_with_ack` gives up after `timeout`.
    pub fn timeout(&self, timeout: Duration) -> SocketTimeout<'_> {
        SocketTimeout {
            socket: self,
            timeout,
        }
    }

    /// `socket.join(rooms)`: joins one or more rooms.
    pub fn join(&self, rooms: impl IntoRooms) {
        self.0.ns.adapter().add_all(&self.0.id, &rooms.into_rooms());
    }

    /// `socket.leave(room)`: leaves one room.
    pub fn leave(&self, room: &str) {
        self.0.ns.adapter().del(&self.0.id, room);
    }

    /// `socket.rooms`: the rooms this socket is in, its own id's room included.
    pub fn rooms(&self) -> Vec<Room> {
        self.0.ns.adapter().socket_rooms(&self.0.id)
    }

    /// `socket.to(room)`: to sockets in `rooms`, this one excepted.
    pub fn to(&self, rooms: impl IntoRooms) -> BroadcastOperator {
        self.broadcast().to(rooms)
    }

    /// `socket.in(room)`: the same as [`to`](Self::to); `in` is a Rust keyword.
    pub fn in_(&self, rooms: impl IntoRooms) -> BroadcastOperator {
        self.to(rooms)
    }

    /// `socket.except(rooms)`: to every socket but those in `rooms` and this one.
    pub fn except(&self, rooms: impl IntoRooms) -> BroadcastOperator {
        self.broadcast().except(rooms)
    }

    /// `socket.broadcast`: to every socket of the namespace but this one.
    pub fn broadcast(&self) -> BroadcastOperator {
        let opts = BroadcastOptions {
            except: vec![self.0.id.clone()],
            ..BroadcastOptions::default()
        };
        BroadcastOperator::new(self.0.ns.clone(), opts)
    }

    /// `socket.local`: a broadcast from this socket that stays on this server.
    pub fn local(&self) -> BroadcastOperator {
        self.broadcast().local()
    }

    /// `socket.volatile`: an emit that may be dropped when the client cannot take it now.
    pub fn volatile(&self) -> VolatileSocket<'_> {
        VolatileSocket { socket: self }
    }

    /// `socket.disconnect(close)`: leaves the namespace (the client is told, and will not
    /// reconnect by itself); with `close`, the whole connection is closed too.
    pub fn disconnect(&self, close: bool) {
        if close {
            self.0.client.disconnect_all();
            return;
        }
        if self.connected() {
            self.send_packet(&Packet::disconnect(self.0.ns.name()));
        }
        self.on_close(DisconnectReason::ServerNamespaceDisconnect);
    }

    /// Its client reconnected and claims this socket's session while the old connection
    /// still looks open: the socket leaves as if that connection had closed (its
    /// session is kept, for the new socket to take), and the connection closes when
    /// no other socket uses it.
    pub(crate) fn take_over(&self) {
        self.on_close(DisconnectReason::TransportClose);
        self.0.client.close_if_unused();
    }

    // ---- the crate's side: called by the client, the namespace and adapters ----

    pub(crate) fn recovery(&self) -> Option<&SocketRecovery> {
        self.0.recovery.as_ref()
    }

    /// Whether this socket's client has shown it processed the first `position` items
    /// its connection sent (see `rally_engine::Session::confirmed`).
    pub(crate) fn client_confirmed(&self, position: u64) -> bool {
        self.0.client.confirmed(position)
    }

    /// Sends an EVENT to this client. A socket offered recovery gets it through the
    /// namespace's log, like a broadcast to its own room, so that it is stored and
    /// ordered with every other event it receives; on a cluster that places stored
    /// events, it is that broadcast, so that it is in the cluster's log too.
    fn send_event(&self, packet: &Packet, volatile: bool) {
        match (&self.0.recovery, self.0.ns.recovery()) {
            (Some(_), Some(recovery)) => {
                let mut opts = BroadcastOptions {
                    rooms: vec![self.0.id.clone()],
                    ..BroadcastOptions::default()
                };
                opts.flags.volatile = volatile;
                let adapter = self.0.ns.adapter();
                if crate::recovery::stores(packet, volatile) && adapter.cluster_recovery().is_some()
                {
                    return adapter.broadcast(packet.clone(), opts);
                }
                recovery.deliver(packet, &opts, |send| send(self));
            }
            _ if volatile => self.send_messages(&self.0.ns.parser().to_messages(packet), true),
            _ => self.send_packet(packet),
        }
    }

    pub(crate) fn send_packet(&self, packet: &Packet) {
        (self.0.ns.parser()).with_messages(packet, |messages| self.send_messages(messages, false));
    }

    /// Sends already-encoded messages: the same bytes go to every recipient of a broadcast.
    pub(crate) fn send_messages(&self, messages: &[OutMessage], volatile: bool) {
        match self.0.state.load(Ordering::Acquire) {
            CONNECTED => self.0.client.send(messages, volatile),
            DISCONNECTED => {}
            _ => {
                let mut pending = lock(&self.0.pre_connect);
                // The CONNECT answer may have gone out while we waited for the lock.
                if self.0.state.load(Ordering::Acquire) == CONNECTING {
                    pending.extend_from_slice(messages);
                } else {
                    drop(pending);
                    self.send_messages(messages, volatile);
                }
            }
        }
    }

    /// Sends what a recovered socket's client missed, the CONNECT answer, then what
    /// the connection handler emitted.
    pub(crate) fn finish_connect(&self) {
        let mut pending = lock(&self.0.pre_connect);
        let pid = self.0.recovery.as_ref().map(SocketRecovery::pid);
        let mut connect = std::mem::take(&mut *lock(&self.0.replay));
        let answer = if self.0.client.is_legacy() {
            Packet::connect(self.0.ns.name(), None)
        } else {
            connect_packet(self.0.ns.name(), &self.0.id, pid)
        };
        connect.extend(self.0.ns.parser().to_messages(&answer));
        connect.append(&mut pending);
        if self
            .0
            .state
            .compare_exchange(CONNECTING, CONNECTED, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            self.0.client.send(&connect, false);
            if let (true, Some(recovery)) = (self.0.recovered, &self.0.recovery) {
                // Pending emits may follow the answer: vouching for them too is safe.
                recovery.answered_at(self.0.client.queued_count());
            }
        }
    }

    pub(crate) fn register_ack(&self, id: u64, pending: PendingAck) {
        lock(&self.0.acks).insert(id, pending);
    }

    pub(crate) fn send_ack(&self, id: u64, args: Args) {
        self.send_packet(&ack_packet(self.0.ns.name(), id, args));
    }

    /// One EVENT from the client, dispatched in arrival order.
    pub(crate) fn on_event(&self, packet: Packet) {
        let Some(data) = packet.data else { return };
        let (name, args) = match Args::from_event(data, packet.attachments) {
            Ok(event) => event,
            Err(e) => {
                tracing::debug!(socket = %self.0.id, "dropping malformed event: {e}");
                return;
            }
        };
        // Handlers run after the lock is released (one may register another).
        // Usually there is one: it is held apart so that no list is allocated.
        let (any, first, more) = {
            let handlers = read(&self.0.handlers);
            let mut matching = handlers
                .events
                .iter()
                .filter(|(n, _)| **n == *name)
                .map(|(_, h)| h.clone());
            let first: Option<Arc<EventHandler>> = matching.next();
            let more: Vec<Arc<EventHandler>> = matching.collect();
            (handlers.any.clone(), first, more)
        };
        for handler in &any {
            run_handler(handler(self.clone(), &name, &args));
        }
        let Some(first) = first else {
            tracing::trace!(socket = %self.0.id, event = %name, "no handler");
            return;
        };
        let mut ack = packet.id.map(|id| Ack::new(self.clone(), id));
        // One ack for one event: the first handler gets it, as the first Node listener
        // would call it. The last handler takes the arguments; the others get copies.
        let mut handlers = std::iter::once(first).chain(more).peekable();
        while let Some(handler) = handlers.next() {
            if handlers.peek().is_none() {
                let event = Event { name, args, ack };
                run_handler(handler(self.clone(), event));
                break;
            }
            let event = Event {
                name: name.clone(),
                args: args.clone(),
                ack: ack.take(),
            };
            run_handler(handler(self.clone(), event));
        }
    }

    /// One ACK from the client, for an emit that waits.
    pub(crate) fn on_ack(&self, packet: Packet) {
        let Some(id) = packet.id else { return };
        let Some(pending) = lock(&self.0.acks).remove(&id) else {
            tracing::debug!(socket = %self.0.id, id, "ack for no pending emit");
            return;
        };
        let args = match Args::from_ack(
            packet.data.unwrap_or(Value::Array(vec![])),
            packet.attachments,
        ) {
            Ok(args) => args,
            Err(e) => {
                tracing::debug!(socket = %self.0.id, "dropping malformed ack: {e}");
                return;
            }
        };
        match pending {
            PendingAck::One(tx) => {
                let _ = tx.send(args);
            }
            PendingAck::Many(collector) => collector.answer(args),
        }
    }

    /// The socket leaves: `disconnecting` handlers, then rooms, then `disconnect` handlers.
    pub(crate) fn on_close(&self, reason: DisconnectReason) {
        if self.0.state.swap(DISCONNECTED, Ordering::AcqRel) == DISCONNECTED {
            return;
        }
        let disconnecting = read(&self.0.handlers).disconnecting.clone();
        for handler in &disconnecting {
            run_handler(handler(self.clone(), reason));
        }
        let keep = self.0.recovery.is_some() && reason.keeps_session();
        self.0.ns.remove_socket(self, keep);
        self.0.client.remove_socket(self);
        // Waiting emits learn the socket is gone; dropping their senders tells them.
        lock(&self.0.acks).clear();
        lock(&self.0.pre_connect).clear();
        lock(&self.0.replay).clear();
        // Handlers often hold clones of this socket: dropping them breaks the cycle.
        let handlers = std::mem::take(&mut *write(&self.0.handlers));
        for handler in &handlers.disconnect {
            run_handler(handler(self.clone(), reason));
        }
    }
}

/// `socket.timeout(ms)`, waiting for the emit's ack.
pub struct SocketTimeout<'a> {
    socket: &'a Socket,
    timeout: Duration,
}

impl SocketTimeout<'_> {
    /// `socket.timeout(ms).emitWithAck(event, ...args)`: the client's answer, or
    /// [`AckError::Timeout`] once the time is up.
    pub async fn emit_with_ack(&self, event: &str, args: impl IntoArgs) -> Result<Args, AckError> {
        match tokio::time::timeout(self.timeout, self.socket.emit_with_ack(event, args)).await {
            Ok(result) => result,
            Err(_) => Err(AckError::Timeout { partial: vec![] }),
        }
    }
}

/// `socket.volatile`.
pub struct VolatileSocket<'a> {
    socket: &'a Socket,
}

impl VolatileSocket<'_> {
    /// `socket.volatile.emit(event, ...args)`: dropped, not queued, when the client cannot
    /// take it now.
    pub fn emit(&self, event: &str, args: impl IntoArgs) -> Result<(), EmitError> {
        let packet = event_packet(self.socket.0.ns.name(), event, args, None)?;
        self.socket.send_event(&packet, true);
        Ok(())
    }
}

impl std::fmt::Debug for Socket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Socket")
            .field("id", &self.0.id)
            .field("nsp", &self.0.ns.name())
            .finish()
    }
}

impl PartialEq for Socket {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}
