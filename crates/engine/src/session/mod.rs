//! One Engine.IO session: its outgoing queue, heartbeat and close protocol.
//!
//! A session outlives any single HTTP request or WebSocket, and may switch
//! transport mid-life (upgrade), so its state lives here and the transports
//! only borrow it. All state sits behind one short-held mutex, with a
//! `Notify` to wake whichever transport is waiting; there is deliberately no
//! channel (no preallocated capacity) and no task of its own, so an idle
//! session costs a few hundred bytes.
//!
//! Lifecycle: `Open` -> (`Closing` when the server closes gracefully: the
//! queue is flushed, then a close packet / close frame) -> `Finished`.
//! `finish` is the single place that ends a session, so `on_close` runs
//! exactly once whatever races happen between transports and timers.
//! Handler callbacks are never invoked with the state lock held, so the
//! handler may call back into the session freely.
//!
//! A session knows the engine only through its [`SessionContext`]: the
//! configuration, the layer above's handler, and a way to leave the registry
//! when it ends. It knows nothing of the server, its routes or its registry,
//! so the dependencies run one way: server, transports, session, codecs.
//!
//! This file holds the state both transports share and the life cycle; what
//! only one transport uses is in `polling.rs` and `websocket.rs`, the queue's
//! entries in `outgoing.rs`, the verdicts (`CloseReason`, `SendError`) in
//! `reason.rs`.

pub(crate) mod outgoing;
pub(crate) mod polling;
mod reason;
pub(crate) mod websocket;
mod wire;

use std::any::Any;
use std::collections::VecDeque;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};

use futures::task::AtomicWaker;
use tokio::sync::futures::Notified;
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::codec::message::OutMessage;
use crate::codec::packet::{Message, Packet};
use crate::config::EngineConfig;
use crate::handshake::HandshakeInfo;
use crate::protocol::EngineProtocol;
use crate::sync::lock;
use crate::transport_kind::TransportKind;
use outgoing::Outgoing;
pub use reason::{CloseReason, SendError};
pub(crate) use wire::Wire;

/// Queue slots a session keeps once its queue is empty; the memory of a
/// longer backlog is given back, so that idle sessions stay small.
const KEPT_CAPACITY: usize = 64;

/// Callbacks from the engine to the layer above.
pub trait EngineHandler: Send + Sync + 'static {
    /// A new session completed its handshake; called before any on_message
    /// for it.
    fn on_open(&self, session: &Arc<Session>);
    /// One data message, called synchronously, in arrival order, from the
    /// transport's reading path. Must not block.
    fn on_message(&self, session: &Arc<Session>, msg: Message);
    /// Called exactly once when the session ends, for any reason.
    fn on_close(&self, session: &Arc<Session>, reason: CloseReason);
}

/// What a session needs of the engine that opened it, shared by all its
/// sessions: the configuration, the layer above, and a way to leave the
/// engine's registry. In place of the whole server, so that a session can be
/// built and reasoned about without one.
pub(crate) struct SessionContext {
    pub(crate) config: EngineConfig,
    /// `config.max_lag`, in the unit messages are stamped in.
    pub(crate) max_lag_ms: u64,
    pub(crate) handler: Arc<dyn EngineHandler>,
    /// Takes a finished session (by id) out of the registry it was opened in.
    pub(crate) remove: Box<dyn Fn(&str) + Send + Sync>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    Open,
    Closing {
        reason: CloseReason,
        deadline: Instant,
    },
    Finished(CloseReason),
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Upgrade {
    None,
    Probing,
    Done,
}

struct State {
    phase: Phase,
    queue: VecDeque<Outgoing>,
    /// Sum of `queued_bytes` over `queue`.
    queued_bytes: usize,
    /// When the next ping is due (meaningful while no ping is outstanding);
    /// in v3, when the client's next ping must have come.
    next_ping: Instant,
    /// Set while a ping is outstanding.
    pong_deadline: Option<Instant>,
    get_active: bool,
    post_active: bool,
    upgrade: Upgrade,
    /// The probe was answered; the pending (or next) poll must end with a
    /// noop so the client can pause polling.
    noop_pending: bool,
    /// Items ever put in the queue: a position in what the session sends.
    pushed: u64,
    /// `pushed` just after the outstanding ping was queued.
    ping_at: u64,
    /// How many of the first items the client has shown it processed: it answers a
    /// ping only after everything queued before it, so its pong confirms them.
    confirmed: u64,
    /// The last GET answered with packets, until the client's next poll shows it
    /// arrived; and the last POST taken in. See `polling::Served`.
    served_get: Option<Box<polling::Served>>,
    served_post: Option<Box<polling::Served>>,
}

impl State {
    /// Queues one item. Every item goes in through here or `enqueue`'s batch, so
    /// that `pushed` stays the position a pong confirms.
    fn push(&mut self, item: Outgoing) {
        self.queue.push_back(item);
        self.pushed += 1;
    }
}

/// One client session.
pub struct Session {
    id: String,
    handshake: Arc<HandshakeInfo>,
    context: Arc<SessionContext>,
    this: Weak<Session>,
    transport: AtomicU8,
    protocol: EngineProtocol,
    /// Whether binary data goes as binary to the client (`Wire::binary`); set
    /// again when a WebSocket takes the session over.
    binary: AtomicBool,
    /// Closing or finished: refuses sends, ignores incoming packets.
    closed: AtomicBool,
    state: Mutex<State>,
    notify: Notify,
    /// The WebSocket driver's waker: a plain future, not a `Notified` per wait.
    writer: AtomicWaker,
    extensions: OnceLock<Arc<dyn Any + Send + Sync>>,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("id", &self.id)
            .field("transport", &self.transport())
            .field("closed", &self.is_closed())
            .finish_non_exhaustive()
    }
}

impl Session {
    pub(crate) fn new(
        id: String,
        handshake: HandshakeInfo,
        context: Arc<SessionContext>,
        transport: TransportKind,
        wire: Wire,
    ) -> Arc<Session> {
        let config = &context.config;
        // `next_ping` is when the server pings, or, in v3, when the client's
        // ping is due at the latest.
        let next_ping = Instant::now()
            + match wire.protocol {
                EngineProtocol::V3 => config.ping_interval + config.ping_timeout,
                EngineProtocol::V4 => config.ping_interval,
            };
        Arc::new_cyclic(|this| Session {
            id,
            handshake: Arc::new(handshake),
            context,
            this: this.clone(),
            transport: AtomicU8::new(transport as u8),
            protocol: wire.protocol,
            binary: AtomicBool::new(wire.binary),
            closed: AtomicBool::new(false),
            state: Mutex::new(State {
                phase: Phase::Open,
                queue: VecDeque::new(),
                queued_bytes: 0,
                next_ping,
                pong_deadline: None,
                get_active: false,
                post_active: false,
                upgrade: Upgrade::None,
                noop_pending: false,
                pushed: 0,
                ping_at: 0,
                confirmed: 0,
                served_get: None,
                served_post: None,
            }),
            notify: Notify::new(),
            writer: AtomicWaker::new(),
            extensions: OnceLock::new(),
        })
    }

    /// The session id (`sid`) that the client quotes on every request.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The current transport (changes on upgrade).
    pub fn transport(&self) -> TransportKind {
        if self.transport.load(Ordering::Acquire) == TransportKind::WebSocket as u8 {
            TransportKind::WebSocket
        } else {
            TransportKind::Polling
        }
    }

    /// The Engine.IO protocol revision the client speaks. A v3 client (only
    /// let in with [`EngineConfig::allow_eio3`]) is a Socket.IO v2 client.
    pub fn protocol(&self) -> EngineProtocol {
        self.protocol
    }

    pub(crate) fn wire(&self) -> Wire {
        Wire {
            protocol: self.protocol,
            binary: self.binary.load(Ordering::Relaxed),
        }
    }

    /// Shared, so that the layer above can keep it without copying it.
    pub fn handshake(&self) -> &Arc<HandshakeInfo> {
        &self.handshake
    }

    /// Queues one message.
    pub fn send(&self, msg: OutMessage) -> Result<(), SendError> {
        self.send_many(std::slice::from_ref(&msg))
    }

    /// Queues several messages atomically: no other sender's message can
    /// land between them.
    pub fn send_many(&self, msgs: &[OutMessage]) -> Result<(), SendError> {
        self.enqueue(msgs, false).map(|_| ())
    }

    /// Like `send_many`, but drops the messages (returning `Ok(false)`) when
    /// the client is behind, that is when earlier messages still wait in the
    /// queue: socket.io's `volatile`, for data that is worthless when late.
    pub fn send_volatile(&self, msgs: &[OutMessage]) -> Result<bool, SendError> {
        self.enqueue(msgs, true)
    }

    /// How many items the session has queued so far, its own packets included: a
    /// position in what it sends, for [`confirmed`](Self::confirmed).
    pub fn queued_count(&self) -> u64 {
        lock(&self.state).pushed
    }

    /// Whether the client has shown that it processed the first `count` items the
    /// session queued: it answered a ping queued after them (a client handles what it
    /// receives in order). Until the next heartbeat, what was sent last is unconfirmed.
    /// The server never pings a v3 client, so nothing of a v3 session is confirmed.
    pub fn confirmed(&self, count: u64) -> bool {
        lock(&self.state).confirmed >= count
    }

    fn enqueue(&self, msgs: &[OutMessage], volatile: bool) -> Result<bool, SendError> {
        if self.is_closed() {
            return Err(SendError::Closed);
        }
        let was_empty;
        {
            let mut st = lock(&self.state);
            if st.phase != Phase::Open {
                return Err(SendError::Closed);
            }
            if msgs.is_empty() {
                return Ok(true);
            }
            was_empty = st.queue.is_empty();
            if volatile && !was_empty {
                return Ok(false);
            }
            let bytes: usize = msgs.iter().map(OutMessage::len).sum();
            let config = &self.context.config;
            // The bounds measure how far behind a client is: one emit larger
            // than them still goes to a client that has caught up. The lag is
            // read off the messages themselves: the new one was made about
            // now, the oldest unsent one when it was queued. While a WebSocket
            // probes, polling is paused and the queue waits for the upgrade by
            // design: that is not the client falling behind.
            let lag_ms = |st: &State| match st.queue.front() {
                Some(oldest) if st.upgrade != Upgrade::Probing => {
                    msgs[0].created_ms().saturating_sub(oldest.created_ms())
                }
                _ => 0,
            };
            if !was_empty
                && (st.queue.len() + msgs.len() > config.max_queue
                    || st.queued_bytes + bytes > config.max_queued_bytes
                    || lag_ms(&st) > self.context.max_lag_ms)
            {
                let (queued, queued_bytes, lag_ms) = (st.queue.len(), st.queued_bytes, lag_ms(&st));
                drop(st);
                tracing::warn!(
                    sid = %self.id,
                    queued,
                    queued_bytes,
                    lag_ms,
                    "outgoing queue full, the client does not keep up; closing the session"
                );
                self.closed.store(true, Ordering::Release);
                self.finish_deferred(CloseReason::BufferFull);
                return Err(SendError::QueueFull);
            }
            st.queued_bytes += bytes;
            // A backlog grows by half rather than doubling: a thousand stalled
            // clients would otherwise hold up to twice the pointers they queued.
            let free = st.queue.capacity() - st.queue.len();
            if free < msgs.len() && st.queue.len() >= KEPT_CAPACITY {
                let more = (st.queue.len() / 2).max(msgs.len());
                st.queue.reserve_exact(more);
            }
            match msgs {
                // A broadcast's usual case, without the iterator machinery.
                [one] => st.push(Outgoing::message(one.clone())),
                _ => {
                    st.queue.extend(msgs.iter().cloned().map(Outgoing::message));
                    st.pushed += msgs.len() as u64;
                }
            }
        }
        // A non-empty queue already had its wake-up: the writer drains until
        // it observes the queue empty, so it will see this message too.
        if was_empty {
            self.wake();
        }
        Ok(true)
    }

    /// Server-initiated close: queued messages are flushed first (best
    /// effort), then a close packet (polling) or close frame (WebSocket),
    /// then `on_close(reason)`. A client that never comes back to collect the
    /// close packet is finished after `ping_timeout`, and never later than
    /// the heartbeat would have ended it: whatever closes a session, it is
    /// gone by `ping_interval + ping_timeout` after the client's last sign of
    /// life.
    pub fn close(&self, reason: CloseReason) {
        {
            let mut st = lock(&self.state);
            if st.phase != Phase::Open {
                return;
            }
            let config = &self.context.config;
            let heartbeat_end = match self.protocol {
                EngineProtocol::V3 => st.next_ping,
                EngineProtocol::V4 => st
                    .pong_deadline
                    .unwrap_or(st.next_ping + config.ping_timeout),
            };
            let deadline = heartbeat_end.min(Instant::now() + config.ping_timeout);
            st.phase = Phase::Closing { reason, deadline };
            st.push(Outgoing::close());
        }
        self.closed.store(true, Ordering::Release);
        self.wake();
    }

    /// True once the session is closing or closed.
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Free slot for the layer above (set once).
    pub fn extensions(&self) -> &OnceLock<Arc<dyn Any + Send + Sync>> {
        &self.extensions
    }

    // ---- crate-internal: shared by the transports ----

    pub(crate) fn config(&self) -> &EngineConfig {
        &self.context.config
    }

    /// Wakes whichever transport waits on this session: a pending poll or the WebSocket driver.
    fn wake(&self) {
        // Only polling requests and an upgrade probe wait on `notify`; a
        // WebSocket session (the many) skips its lock.
        if self.transport() == TransportKind::Polling {
            self.notify.notify_waiters();
        }
        self.writer.wake();
    }

    /// A wake-up future, to be `enable()`d before checking state so that no
    /// notification between the check and the wait is lost.
    pub(crate) fn notified(&self) -> Notified<'_> {
        self.notify.notified()
    }

    pub(crate) fn is_finished(&self) -> bool {
        matches!(lock(&self.state).phase, Phase::Finished(_))
    }

    /// Ends the session now. Returns false if it had already ended.
    pub(crate) fn finish(&self, reason: CloseReason) -> bool {
        {
            let mut st = lock(&self.state);
            if let Phase::Finished(_) = st.phase {
                return false;
            }
            st.phase = Phase::Finished(reason);
            st.queue = VecDeque::new();
            st.queued_bytes = 0;
        }
        self.closed.store(true, Ordering::Release);
        (self.context.remove)(&self.id);
        self.wake();
        tracing::debug!(sid = %self.id, reason = reason.as_str(), "session closed");
        if let Some(this) = self.this.upgrade() {
            self.context.handler.on_close(&this, reason);
        }
        true
    }

    /// Ends the session now with the reason of the graceful close under way, if
    /// there is one, else with `otherwise`. For a transport that is going away
    /// while the session may still be closing: nothing would end it later.
    pub(crate) fn finish_closing_or(&self, otherwise: CloseReason) -> bool {
        let reason = match lock(&self.state).phase {
            Phase::Finished(_) => return false,
            Phase::Closing { reason, .. } => reason,
            Phase::Open => otherwise,
        };
        self.finish(reason)
    }

    /// Finishes from a context that must not run `on_close` inline (inside
    /// a `send` call of the layer above, which may hold its own locks).
    fn finish_deferred(&self, reason: CloseReason) {
        match (tokio::runtime::Handle::try_current(), self.this.upgrade()) {
            (Ok(rt), Some(this)) => {
                rt.spawn(async move {
                    this.finish(reason);
                });
            }
            _ => {
                self.finish(reason);
            }
        }
    }

    fn push_control(&self, item: Outgoing) {
        {
            let mut st = lock(&self.state);
            if st.phase != Phase::Open {
                return;
            }
            st.push(item);
        }
        self.wake();
    }

    /// Runs the heartbeat and close timers: queues a ping when due, ends the
    /// session on a missed pong or an expired graceful close. Returns when to
    /// call again, or `None` once the session is finished.
    pub(crate) fn tick(&self, now: Instant) -> Option<Instant> {
        let mut st = lock(&self.state);
        match st.phase {
            Phase::Finished(_) => None,
            Phase::Closing { reason, deadline } => {
                if now >= deadline {
                    drop(st);
                    self.finish(reason);
                    None
                } else {
                    Some(deadline)
                }
            }
            Phase::Open => {
                if let Some(deadline) = st.pong_deadline {
                    if now >= deadline {
                        drop(st);
                        self.finish(CloseReason::PingTimeout);
                        return None;
                    }
                    return Some(deadline);
                }
                if now < st.next_ping {
                    return Some(st.next_ping);
                }
                if self.protocol == EngineProtocol::V3 {
                    // The client pings in v3, and has not.
                    drop(st);
                    self.finish(CloseReason::PingTimeout);
                    return None;
                }
                let deadline = now + self.context.config.ping_timeout;
                st.pong_deadline = Some(deadline);
                st.push(Outgoing::ping());
                st.ping_at = st.pushed;
                drop(st);
                self.wake();
                Some(deadline)
            }
        }
    }

    /// Handles one decoded packet from the client. Returns false when the
    /// session ended because of it.
    pub(crate) fn on_packet(&self, packet: Packet) -> bool {
        if self.is_closed() {
            return false;
        }
        match packet {
            Packet::Message(m) => {
                if let Some(this) = self.this.upgrade() {
                    // A bug above must not kill the transport's task and leave the
                    // session to leak: the session ends instead, and the process goes on.
                    let handled = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        self.context.handler.on_message(&this, m)
                    }));
                    if handled.is_err() {
                        tracing::error!(sid = %self.id, "message handler panicked: closing the session");
                        self.finish(CloseReason::TransportError);
                        return false;
                    }
                }
            }
            // v4 has the server ping, but answering a client ping costs
            // nothing and keeps probes and older tooling working.
            Packet::Ping(d) => {
                if self.protocol == EngineProtocol::V3 {
                    // The timer wakes at the old deadline, finds this one and sleeps again.
                    let config = &self.context.config;
                    lock(&self.state).next_ping =
                        Instant::now() + config.ping_interval + config.ping_timeout;
                }
                self.push_control(Outgoing::pong(&d));
            }
            Packet::Pong(_) if self.protocol == EngineProtocol::V3 => {
                // Only the client pings in v3: a pong is a client that does not
                // know its own protocol, which the reference server ends too.
                self.finish(CloseReason::TransportError);
                return false;
            }
            Packet::Pong(_) => {
                let rearm = {
                    let mut st = lock(&self.state);
                    let armed_for = st.pong_deadline.take();
                    if armed_for.is_some() {
                        st.confirmed = st.ping_at;
                    }
                    st.next_ping = Instant::now() + self.context.config.ping_interval;
                    // The timer still points at the old pong deadline; it wakes then,
                    // finds no outstanding ping and re-arms. Only when the next ping
                    // is due before that must it be woken now.
                    armed_for.is_some_and(|deadline| st.next_ping < deadline)
                };
                // A WebSocket driver sees the pong itself; a polling session's timer
                // task waits on the notification.
                if rearm && self.transport() == TransportKind::Polling {
                    self.notify.notify_waiters();
                }
            }
            Packet::Close => {
                self.finish(CloseReason::TransportClose);
                return false;
            }
            Packet::Open(_) | Packet::Upgrade | Packet::Noop => {}
        }
        true
    }
}
