//! The session as the long-polling transport sees it: at most one GET and
//! one POST in flight, and the queue drained into one payload per GET.
//!
//! Kept apart from the session's core because none of it applies to a
//! WebSocket session: the request slots, the refusals the protocol defines
//! for overlapping or late requests, and the batching of a payload (the
//! close packet goes alone, after what was queued before it), framed as the
//! session's protocol revision frames payloads.
//!
//! A request whose answer was lost can come again. A browser resends a request
//! by itself, on a new connection and with the same URL, when the kept-alive
//! connection it went out on breaks before the answer arrives (Chromium does so
//! after a network drop, and a proxy may too); engine.io's clients never reuse a
//! URL, since each request carries a fresh cache-busting `t`. So a GET or POST
//! with the `t` of the one before it, from another connection, is that request
//! again: the GET gets the same packets, which would otherwise be lost while the
//! client stays connected, and the POST is not taken in twice.

use std::collections::VecDeque;
use std::net::SocketAddr;

use bytes::{BufMut, Bytes, BytesMut};

use super::outgoing::Outgoing;
use super::reason::CloseReason;
use super::{Phase, Session, State, Upgrade, KEPT_CAPACITY};
use crate::codec::packet::SEPARATOR;
use crate::codec::payload_v3::frame_payload;
use crate::sync::lock;

/// Why a poll request may not attach to the session.
pub(crate) enum Refusal {
    /// Another request of the same kind is in flight (a protocol violation).
    Overlap,
    /// The session moved to WebSocket.
    Upgraded,
    Gone,
}

/// What tells a request apart from a resent one: the client's cache-busting `t`
/// (absent when a client turned `timestampRequests` off) and the connection it
/// came on (absent when the app serves the engine without `ConnectInfo`).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct PollRequest<'a> {
    pub t: Option<&'a str>,
    pub from: Option<SocketAddr>,
}

/// A request the session answered, kept until the next one of its kind.
pub(crate) struct Served {
    t: Box<str>,
    from: Option<SocketAddr>,
    /// The GET's answer; empty for a POST.
    body: Bytes,
}

impl Served {
    fn remember(request: PollRequest<'_>, body: Bytes) -> Option<Box<Self>> {
        request.t.map(|t| {
            Box::new(Self {
                t: t.into(),
                from: request.from,
                body,
            })
        })
    }

    /// True when `request` is this one resent: the same `t`, which no client
    /// reuses, over another connection, since a resend never comes on the one
    /// that broke.
    fn is_resent_as(&self, request: PollRequest<'_>) -> bool {
        request.t == Some(&*self.t) && (request.from.is_none() || request.from != self.from)
    }
}

/// A poll response body, and the reason to finish the session with once it
/// is written (set when the body carries the graceful close packet).
pub(crate) struct PollBody {
    pub body: Bytes,
    pub finish: Option<CloseReason>,
}

impl Session {
    /// Takes the GET slot for `request`; or, when `request` is the last answered
    /// GET resent, returns that answer to send again.
    pub(crate) fn begin_get(&self, request: PollRequest<'_>) -> Result<Option<Bytes>, Refusal> {
        let mut st = lock(&self.state);
        if !matches!(st.phase, Phase::Finished(_)) {
            if let Some(served) = st.served_get.as_ref().filter(|s| s.is_resent_as(request)) {
                return Ok(Some(served.body.clone()));
            }
        }
        Self::refusal(&st, st.get_active)?;
        st.get_active = true;
        // A new poll: the client has what the last one carried.
        st.served_get = None;
        Ok(None)
    }

    pub(crate) fn end_get(&self) {
        lock(&self.state).get_active = false;
    }

    /// Takes the POST slot for `request`. True when `request` is the last POST
    /// resent, whose packets were taken in already.
    pub(crate) fn begin_post(&self, request: PollRequest<'_>) -> Result<bool, Refusal> {
        let mut st = lock(&self.state);
        Self::refusal(&st, st.post_active)?;
        st.post_active = true;
        if st
            .served_post
            .as_ref()
            .is_some_and(|s| s.is_resent_as(request))
        {
            return Ok(true);
        }
        st.served_post = Served::remember(request, Bytes::new());
        Ok(false)
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
    /// slot when it returns a body, which is kept for `request` resent when it
    /// carries packets.
    pub(crate) fn take_poll(&self, request: PollRequest<'_>) -> Option<PollBody> {
        let wire = self.wire();
        let mut st = lock(&self.state);
        // A lone packet, as v4 writes it and length-framed as v3 does.
        let fixed = |v4: &'static [u8], v3: &'static [u8]| PollBody {
            body: Bytes::from_static(if wire.is_v3() { v3 } else { v4 }),
            finish: None,
        };
        let out = match st.phase {
            // The client asked to close: end its poll quietly. Otherwise tell
            // it the session is over.
            Phase::Finished(CloseReason::TransportClose) => fixed(b"6", b"1:6"),
            Phase::Finished(_) => fixed(b"1", b"1:1"),
            _ if st.upgrade == Upgrade::Done => fixed(b"6", b"1:6"),
            phase if !st.queue.is_empty() => {
                let mut items = Vec::new();
                let mut finish = None;
                while let Some(item) = st.queue.pop_front() {
                    st.queued_bytes -= item.queued_bytes();
                    // The close packet goes alone in the next poll, as Node does: the
                    // client handles the messages before it (a Socket.IO DISCONNECT
                    // among them) before it sees the transport close.
                    if item.is_close() && !items.is_empty() {
                        st.queue.push_front(item);
                        break;
                    }
                    let close = item.is_close();
                    items.push(item);
                    if close {
                        if let Phase::Closing { reason, .. } = phase {
                            finish = Some(reason);
                        }
                        break;
                    }
                }
                if st.queue.capacity() > KEPT_CAPACITY {
                    st.queue = VecDeque::new();
                }
                let body = if wire.is_v3() {
                    let pieces: Vec<_> = items.iter().map(Outgoing::v3_piece).collect();
                    frame_payload(&pieces, wire.binary).body
                } else {
                    let mut body = BytesMut::new();
                    for (i, item) in items.iter().enumerate() {
                        if i > 0 {
                            body.put_u8(SEPARATOR);
                        }
                        item.put_polling(&mut body);
                    }
                    body.freeze()
                };
                st.served_get = Served::remember(request, body.clone());
                PollBody { body, finish }
            }
            _ if st.noop_pending => {
                st.noop_pending = false;
                fixed(b"6", b"1:6")
            }
            _ => return None,
        };
        st.get_active = false;
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::{PollRequest, Served};
    use bytes::Bytes;

    #[test]
    fn only_the_same_url_from_another_connection_is_a_resend() {
        let a = Some("127.0.0.1:4001".parse().unwrap());
        let b = Some("127.0.0.1:4002".parse().unwrap());
        let served = Served::remember(
            PollRequest {
                t: Some("x1"),
                from: a,
            },
            Bytes::new(),
        )
        .expect("a stamped request is kept");
        let resent = |t, from| served.is_resent_as(PollRequest { t, from });
        assert!(resent(Some("x1"), b));
        // Served without `ConnectInfo`: the `t` alone tells.
        assert!(resent(Some("x1"), None));
        // The same connection asking with the same `t` is a client that reused one.
        assert!(!resent(Some("x1"), a));
        assert!(!resent(Some("x2"), b));
        assert!(!resent(None, b));
        assert!(Served::remember(PollRequest { t: None, from: a }, Bytes::new()).is_none());
    }
}
