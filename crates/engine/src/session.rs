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

use std::any::Any;
use std::collections::VecDeque;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::task::Waker;

use futures::task::AtomicWaker;

use bytes::{BufMut, Bytes, BytesMut};
use tokio::sync::futures::Notified;
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::codec::message::OutMessage;
use crate::codec::packet::{Message, Packet, SEPARATOR};
use crate::config::EngineConfig;
use crate::handshake::HandshakeInfo;
use crate::server::Shared;
use crate::sync::lock;
use crate::transport_kind::TransportKind;

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

/// Why a session ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CloseReason {
    /// The client closed (close packet, WebSocket close, dropped request).
    TransportClose,
    /// The transport failed: I/O error, overlapping polls, oversize
    /// payload, full outgoing queue.
    TransportError,
    /// No pong within `ping_timeout` of a ping.
    PingTimeout,
    /// The client sent something that does not decode.
    ParseError,
    /// Closed by the layer above.
    ForcedClose,
    /// Closed by [`Engine::close`](crate::Engine::close).
    ServerShutdown,
    /// The client stopped reading and its outgoing queue reached
    /// `max_queue` messages or `max_queued_bytes`.
    BufferFull,
}

impl CloseReason {
    pub fn as_str(&self) -> &'static str {
        match self {
            CloseReason::TransportClose => "transport close",
            CloseReason::TransportError => "transport error",
            CloseReason::PingTimeout => "ping timeout",
            CloseReason::ParseError => "parse error",
            CloseReason::ForcedClose => "forced close",
            CloseReason::ServerShutdown => "server shutting down",
            CloseReason::BufferFull => "transport buffer full",
        }
    }
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why [`Session::send`] refused a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendError {
    /// The session is closing or closed.
    Closed,
    /// The outgoing queue hit its bound; the session is being closed.
    QueueFull,
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::Closed => f.write_str("session closed"),
            SendError::QueueFull => f.write_str("session outgoing queue full"),
        }
    }
}

impl std::error::Error for SendError {}

/// One queued packet. Data messages are shared `OutMessage`s and the rare
/// pong is framed as one too, so an entry is two words: a stalled client's
/// backlog costs 16 bytes a message.
pub(crate) enum Outgoing {
    Message(OutMessage),
    Ping,
    /// The answer to a client's ping, framed ("3" + its data).
    Pong(OutMessage),
    /// End of a graceful close: everything before it is flushed first.
    Close,
}

impl Outgoing {
    /// Bytes this entry counts against `max_queued_bytes`.
    fn queued_bytes(&self) -> usize {
        match self {
            Outgoing::Message(m) => m.len(),
            _ => 0,
        }
    }

    /// The entry's complete WebSocket frame, in one or two shared pieces.
    pub(crate) fn ws_frame(&self) -> (Bytes, Option<Bytes>) {
        match self {
            Outgoing::Message(m) | Outgoing::Pong(m) => m.ws_frame(),
            // Final text frames of one byte: "2" (ping) and "1" (close).
            Outgoing::Ping => (Bytes::from_static(b"\x81\x012"), None),
            Outgoing::Close => (Bytes::from_static(b"\x81\x011"), None),
        }
    }

    fn put_polling(&self, out: &mut BytesMut) {
        match self {
            Outgoing::Message(m) => out.put_slice(&m.polling_bytes()),
            Outgoing::Ping => out.put_u8(b'2'),
            Outgoing::Pong(m) => out.put_slice(&m.polling_bytes()),
            Outgoing::Close => out.put_u8(b'1'),
        }
    }
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
    /// When the next ping is due (meaningful while no ping is outstanding).
    next_ping: Instant,
    /// Set while a ping is outstanding.
    pong_deadline: Option<Instant>,
    get_active: bool,
    post_active: bool,
    upgrade: Upgrade,
    /// The probe was answered; the pending (or next) poll must end with a
    /// noop so the client can pause polling.
    noop_pending: bool,
}

/// One client session.
pub struct Session {
    id: String,
    handshake: Arc<HandshakeInfo>,
    shared: Arc<Shared>,
    this: Weak<Session>,
    transport: AtomicU8,
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

/// What a WebSocket writer should do next.
pub(crate) enum WsNext {
    /// The next item, and whether more were queued behind it (so the writer
    /// need not take the lock again just to find the queue empty).
    Send(Outgoing, bool),
    /// The graceful close marker was reached: close the socket, then finish.
    Close(CloseReason),
    Empty,
    Finished,
}

/// Why a poll request may not attach to the session.
pub(crate) enum Refusal {
    /// Another request of the same kind is in flight (a protocol violation).
    Overlap,
    /// The session moved to WebSocket.
    Upgraded,
    Gone,
}

/// A poll response body, and the reason to finish the session with once it
/// is written (set when the body carries the graceful close packet).
pub(crate) struct PollBody {
    pub body: Bytes,
    pub finish: Option<CloseReason>,
}

impl Session {
    pub(crate) fn new(
        id: String,
        handshake: HandshakeInfo,
        shared: Arc<Shared>,
        transport: TransportKind,
    ) -> Arc<Session> {
        let next_ping = Instant::now() + shared.config.ping_interval;
        Arc::new_cyclic(|this| Session {
            id,
            handshake: Arc::new(handshake),
            shared,
            this: this.clone(),
            transport: AtomicU8::new(transport as u8),
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
            }),
            notify: Notify::new(),
            writer: AtomicWaker::new(),
            extensions: OnceLock::new(),
        })
    }

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
            let config = &self.shared.config;
            // The bound measures how far behind a client is: one emit larger
            // than it still goes to a client that has caught up.
            if !was_empty
                && (st.queue.len() + msgs.len() > config.max_queue
                    || st.queued_bytes + bytes > config.max_queued_bytes)
            {
                let (queued, queued_bytes) = (st.queue.len(), st.queued_bytes);
                drop(st);
                tracing::warn!(
                    sid = %self.id,
                    queued,
                    queued_bytes,
                    "outgoing queue full, the client does not keep up; closing the session"
                );
                self.closed.store(true, Ordering::Release);
                self.finish_deferred(CloseReason::BufferFull);
                return Err(SendError::QueueFull);
            }
            st.queued_bytes += bytes;
            match msgs {
                // A broadcast's usual case, without the iterator machinery.
                [one] => st.queue.push_back(Outgoing::Message(one.clone())),
                _ => st.queue.extend(msgs.iter().cloned().map(Outgoing::Message)),
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
    /// then `on_close(reason)`. A polling client that never comes back to
    /// collect the close packet is finished after `ping_timeout`.
    pub fn close(&self, reason: CloseReason) {
        {
            let mut st = lock(&self.state);
            if st.phase != Phase::Open {
                return;
            }
            let deadline = Instant::now() + self.shared.config.ping_timeout;
            st.phase = Phase::Closing { reason, deadline };
            st.queue.push_back(Outgoing::Close);
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
        &self.shared.config
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

    /// Registers the WebSocket driver to be woken on any change.
    pub(crate) fn register_writer(&self, waker: &Waker) {
        self.writer.register(waker);
    }

    /// Forgets the driver's waker while the driver itself runs, so that what
    /// its own reading queues (an ack, say) does not wake it a second time.
    pub(crate) fn unregister_writer(&self) {
        drop(self.writer.take());
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
        self.shared.remove(&self.id);
        self.wake();
        tracing::debug!(sid = %self.id, reason = reason.as_str(), "session closed");
        if let Some(this) = self.this.upgrade() {
            self.shared.handler.on_close(&this, reason);
        }
        true
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
            st.queue.push_back(item);
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
                let deadline = now + self.shared.config.ping_timeout;
                st.pong_deadline = Some(deadline);
                st.queue.push_back(Outgoing::Ping);
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
                        self.shared.handler.on_message(&this, m)
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
                self.push_control(Outgoing::Pong(OutMessage::control(&format!("3{d}"))))
            }
            Packet::Pong(_) => {
                let mut st = lock(&self.state);
                st.pong_deadline = None;
                st.next_ping = Instant::now() + self.shared.config.ping_interval;
                // The writer's timer still points at the old pong deadline;
                // it wakes then, finds no outstanding ping and re-arms, so no
                // wake-up is needed here.
            }
            Packet::Close => {
                self.finish(CloseReason::TransportClose);
                return false;
            }
            Packet::Open(_) | Packet::Upgrade | Packet::Noop => {}
        }
        true
    }

    // ---- WebSocket side ----

    pub(crate) fn pop_ws(&self) -> WsNext {
        let mut st = lock(&self.state);
        match st.phase {
            Phase::Finished(_) => WsNext::Finished,
            phase => match st.queue.pop_front() {
                Some(Outgoing::Close) => match phase {
                    Phase::Closing { reason, .. } => WsNext::Close(reason),
                    _ => WsNext::Close(CloseReason::ForcedClose),
                },
                Some(item) => {
                    st.queued_bytes -= item.queued_bytes();
                    WsNext::Send(item, !st.queue.is_empty())
                }
                None => {
                    // Give back the memory of a past burst: idle sessions
                    // must stay small.
                    if st.queue.capacity() > 64 {
                        st.queue = VecDeque::new();
                    }
                    WsNext::Empty
                }
            },
        }
    }

    /// Claims the upgrade slot for a probing WebSocket.
    pub(crate) fn try_begin_probe(&self) -> bool {
        let mut st = lock(&self.state);
        if st.phase != Phase::Open
            || st.upgrade != Upgrade::None
            || self.transport() != TransportKind::Polling
        {
            return false;
        }
        st.upgrade = Upgrade::Probing;
        true
    }

    /// The probe ping was answered: release the pending poll with a noop.
    pub(crate) fn probe_answered(&self) {
        lock(&self.state).noop_pending = true;
        self.wake();
    }

    pub(crate) fn abort_probe(&self) {
        let mut st = lock(&self.state);
        if st.upgrade == Upgrade::Probing {
            st.upgrade = Upgrade::None;
            st.noop_pending = false;
        }
    }

    /// Switches the session to WebSocket; false if the session is gone. A noop
    /// the polling side never collected is dropped: it exists only to release
    /// a pending GET, so it is never written on the WebSocket (as in Node).
    pub(crate) fn complete_upgrade(&self) -> bool {
        {
            let mut st = lock(&self.state);
            if matches!(st.phase, Phase::Finished(_)) || st.upgrade != Upgrade::Probing {
                return false;
            }
            st.upgrade = Upgrade::Done;
            st.noop_pending = false;
            self.transport
                .store(TransportKind::WebSocket as u8, Ordering::Release);
        }
        // The poll still pending on the old transport must learn it is over.
        self.notify.notify_waiters();
        self.writer.wake();
        true
    }

    // ---- polling side ----

    pub(crate) fn begin_get(&self) -> Result<(), Refusal> {
        let mut st = lock(&self.state);
        Self::refusal(&st, st.get_active)?;
        st.get_active = true;
        Ok(())
    }

    pub(crate) fn end_get(&self) {
        lock(&self.state).get_active = false;
    }

    pub(crate) fn begin_post(&self) -> Result<(), Refusal> {
        let mut st = lock(&self.state);
        Self::refusal(&st, st.post_active)?;
        st.post_active = true;
        Ok(())
    }

    pub(crate) fn end_post(&self) {
        lock(&self.state).post_active = false;
    }

    fn refusal(st: &State, active: bool) -> Result<(), Refusal> {
        if matches!(st.phase, Phase::Finished(_)) {
            Err(Refusal::Gone)
        } else if st.upgrade == Upgrade::Done {
            Err(Refusal::Upgraded)
        } else if active {
            Err(Refusal::Overlap)
        } else {
            Ok(())
        }
    }

    /// Takes what a pending GET should answer, if anything; releases the GET
    /// slot when it returns a body.
    pub(crate) fn take_poll(&self) -> Option<PollBody> {
        let mut st = lock(&self.state);
        let fixed = |b: &'static [u8]| PollBody {
            body: Bytes::from_static(b),
            finish: None,
        };
        let out = match st.phase {
            // The client asked to close: end its poll quietly. Otherwise tell
            // it the session is over.
            Phase::Finished(CloseReason::TransportClose) => fixed(b"6"),
            Phase::Finished(_) => fixed(b"1"),
            _ if st.upgrade == Upgrade::Done => fixed(b"6"),
            phase if !st.queue.is_empty() => {
                let mut body = BytesMut::new();
                let mut finish = None;
                while let Some(item) = st.queue.pop_front() {
                    st.queued_bytes -= item.queued_bytes();
                    // The close packet goes alone in the next poll, as Node does: the
                    // client handles the messages before it (a Socket.IO DISCONNECT
                    // among them) before it sees the transport close.
                    if matches!(item, Outgoing::Close) && !body.is_empty() {
                        st.queue.push_front(item);
                        break;
                    }
                    if !body.is_empty() {
                        body.put_u8(SEPARATOR);
                    }
                    item.put_polling(&mut body);
                    if let Outgoing::Close = item {
                        if let Phase::Closing { reason, .. } = phase {
                            finish = Some(reason);
                        }
                        break;
                    }
                }
                if st.queue.capacity() > 64 {
                    st.queue = VecDeque::new();
                }
                PollBody {
                    body: body.freeze(),
                    finish,
                }
            }
            _ if st.noop_pending => {
                st.noop_pending = false;
                fixed(b"6")
            }
            _ => return None,
        };
        st.get_active = false;
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::Outgoing;

    #[test]
    fn a_queued_entry_is_two_words() {
        // What a stalled client's backlog costs per message.
        assert_eq!(
            std::mem::size_of::<Outgoing>(),
            2 * std::mem::size_of::<usize>()
        );
    }
}
