//! The session as the WebSocket transport sees it: a queue drained frame by
//! frame by the connection's driver, and the upgrade of a polling session
//! (probe claimed, answered, aborted or completed).
//!
//! The driver is a plain future woken through the session's `AtomicWaker`
//! rather than a `Notify`: one connection, one waker, nothing allocated per
//! wait. The polling transport's pending GET learns of a completed upgrade
//! through the `Notify` all the same, since it still waits there.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::task::Waker;

use super::outgoing::Outgoing;
use super::reason::CloseReason;
use super::{Phase, Session, Upgrade, KEPT_CAPACITY};
use crate::sync::lock;
use crate::transport_kind::TransportKind;

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

impl Session {
    /// Registers the WebSocket driver to be woken on any change.
    pub(crate) fn register_writer(&self, waker: &Waker) {
        self.writer.register(waker);
    }

    /// Forgets the driver's waker while the driver itself runs, so that what
    /// its own reading queues (an ack, say) does not wake it a second time.
    pub(crate) fn unregister_writer(&self) {
        drop(self.writer.take());
    }

    /// The next thing to write: the front of the queue, the close marker, or
    /// nothing.
    pub(crate) fn pop_ws(&self) -> WsNext {
        let mut st = lock(&self.state);
        match st.phase {
            Phase::Finished(_) => WsNext::Finished,
            phase => match st.queue.pop_front() {
                Some(item) if item.is_close() => match phase {
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
                    if st.queue.capacity() > KEPT_CAPACITY {
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

    /// Switches the session to WebSocket, whose opening request said whether
    /// its client takes `binary` data (v3); false if the session is gone. A
    /// noop the polling side never collected is dropped: it exists only to
    /// release a pending GET, so it is never written on the WebSocket (as in
    /// Node).
    pub(crate) fn complete_upgrade(&self, binary: bool) -> bool {
        {
            let mut st = lock(&self.state);
            if matches!(st.phase, Phase::Finished(_)) || st.upgrade != Upgrade::Probing {
                return false;
            }
            st.upgrade = Upgrade::Done;
            // Polling is over: no GET or POST of it can come again.
            st.served_get = None;
            st.served_post = None;
            st.noop_pending = false;
            self.binary.store(binary, Ordering::Relaxed);
            self.transport
                .store(TransportKind::WebSocket as u8, Ordering::Release);
        }
        // The poll still pending on the old transport must learn it is over.
        self.notify.notify_waiters();
        self.writer.wake();
        true
    }
}
