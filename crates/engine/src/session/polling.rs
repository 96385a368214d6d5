//! The session as the long-polling transport sees it: at most one GET and
//! one POST in flight, and the queue drained into one payload per GET.
//!
//! Kept apart from the session's core because none of it applies to a
//! WebSocket session: the request slots, the refusals the protocol defines
//! for overlapping or late requests, and the batching of a payload (the
//! close packet goes alone, after what was queued before it).

use std::collections::VecDeque;

use bytes::{BufMut, Bytes, BytesMut};

use super::reason::CloseReason;
use super::{Phase, Session, State, Upgrade, KEPT_CAPACITY};
use crate::codec::packet::SEPARATOR;
use crate::sync::lock;

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
                    if item.is_close() && !body.is_empty() {
                        st.queue.push_front(item);
                        break;
                    }
                    if !body.is_empty() {
                        body.put_u8(SEPARATOR);
                    }
                    item.put_polling(&mut body);
                    if item.is_close() {
                        if let Phase::Closing { reason, .. } = phase {
                            finish = Some(reason);
                        }
                        break;
                    }
                }
                if st.queue.capacity() > KEPT_CAPACITY {
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
