//! The task behind one WebSocket session, written as a plain future.
//!
//! It reads frames, writes the session's queue, and runs the heartbeat, all
//! from one `poll`: one task per connection, one timer, no channel and no
//! per-wait `Notified` future, so an idle connection costs little more than
//! its socket state. The session wakes it through an `AtomicWaker`.
//!
//! A write that makes no progress for a whole heartbeat cycle means the
//! client is as good as gone: the session ends with a transport error.

use std::future::Future;
use std::ops::ControlFlow;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use tokio::time::{Instant, Sleep};

use crate::codec::message::OutMessage;
use crate::codec::packet::{decode_binary, decode_text, DecodeError, Packet};
use crate::codec::payload_v3::{decode_binary_packet, decode_packet};
use crate::codec::ws_frame::{close_frame, NORMAL_CLOSURE};
use crate::codec::ws_message::Incoming;
use crate::session::websocket::WsNext;
use crate::session::{CloseReason, Session, Wire};
use crate::transport::ws_io::{ReadEnd, WsIo};

/// Frames read in one poll before yielding to other tasks.
const READ_BUDGET: usize = 64;
/// Bound on saying goodbye to a peer that may be gone.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);

pub(crate) struct Driver {
    session: Arc<Session>,
    /// How frames look to this client: fixed once the socket carries the session.
    wire: Wire,
    ws: WsIo,
    /// Heartbeat, stalled-write and close deadlines share this one timer.
    timer: Pin<Box<Sleep>>,
    armed: Option<Instant>,
    /// A packet to send before anything queued (the open packet, a noop).
    first: Option<OutMessage>,
    stalled_since: Option<Instant>,
    closing: Option<Closing>,
}

struct Closing {
    /// The reason to end the session with once the close frame is out; `None`
    /// when the session has already ended.
    reason: Option<CloseReason>,
    /// The close frame's status code, until it is queued.
    code: Option<u16>,
    deadline: Instant,
}

impl Driver {
    pub(crate) fn new(session: Arc<Session>, ws: WsIo, first: Option<OutMessage>) -> Driver {
        let now = Instant::now();
        Driver {
            wire: session.wire(),
            session,
            ws,
            timer: Box::pin(tokio::time::sleep_until(now)),
            armed: None,
            first,
            stalled_since: None,
            closing: None,
        }
    }

    /// Hands one message to the session. `Break` carries the close code to
    /// answer with: the session is over.
    fn on_message(
        session: &Session,
        wire: Wire,
        message: Incoming<'_>,
        ponged: &mut bool,
    ) -> ControlFlow<u16> {
        let decoded = match message {
            // v3 text frames may also carry base64 binary (`b4...`), and v3
            // binary frames start with their packet type.
            Incoming::Text(text) if wire.is_v3() => decode_packet(text),
            Incoming::Text(text) => decode_text(text),
            Incoming::Binary(data) if wire.is_v3() => decode_binary_packet(data),
            Incoming::Binary(data) => Ok(decode_binary(Bytes::copy_from_slice(data))),
            Incoming::Close(code) => {
                session.finish(CloseReason::TransportClose);
                return ControlFlow::Break(code.unwrap_or(NORMAL_CLOSURE));
            }
            Incoming::Ping(_) | Incoming::Pong => return ControlFlow::Continue(()),
        };
        let packet = match decoded {
            Ok(packet) => packet,
            Err(e) => return Self::undecodable(session, e),
        };
        *ponged |= matches!(packet, Packet::Pong(_));
        if session.on_packet(packet) {
            ControlFlow::Continue(())
        } else {
            ControlFlow::Break(NORMAL_CLOSURE)
        }
    }

    fn undecodable(session: &Session, e: DecodeError) -> ControlFlow<u16> {
        tracing::debug!(sid = session.id(), error = %e, "invalid websocket packet");
        session.finish(CloseReason::ParseError);
        ControlFlow::Break(NORMAL_CLOSURE)
    }

    fn start_closing(&mut self, reason: Option<CloseReason>, code: u16) {
        self.closing = Some(Closing {
            reason,
            code: Some(code),
            deadline: Instant::now() + CLOSE_TIMEOUT,
        });
    }

    fn finish(&self, reason: Option<CloseReason>) -> Poll<()> {
        match reason {
            Some(reason) => {
                self.session.finish(reason);
            }
            // The session usually ended already (that is why the driver closes), but one
            // the layer above is closing gracefully has not: this task was its last timer.
            None => {
                self.session.finish_closing_or(CloseReason::TransportClose);
            }
        }
        Poll::Ready(())
    }

    /// Flushes what is queued, sends a close frame, then ends the session.
    fn poll_closing(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let Some(closing) = self.closing.as_mut() else {
            return Poll::Ready(());
        };
        let (reason, deadline) = (closing.reason, closing.deadline);
        if Instant::now() >= deadline {
            return self.finish(reason);
        }
        if let Some(code) = closing.code.take() {
            self.ws.push(close_frame(code));
        }
        match self.ws.poll_drain(cx) {
            Poll::Pending => self.arm(cx, deadline),
            Poll::Ready(_) => self.finish(reason),
        }
    }

    /// Sets the timer to `at` (if it is not set there already) and waits.
    /// A timer left at the same deadline keeps the waker it registered, so it
    /// is polled only when it moves.
    fn arm(&mut self, cx: &mut Context<'_>, at: Instant) -> Poll<()> {
        if self.armed != Some(at) {
            self.timer.as_mut().reset(at);
            self.armed = Some(at);
            if self.timer.as_mut().poll(cx).is_ready() {
                // Already due: come round again at once rather than sleep.
                self.armed = None;
                cx.waker().wake_by_ref();
            }
        }
        Poll::Pending
    }

    /// Reads what the client sent. Returns `Some` when the connection is over.
    fn poll_read(&mut self, cx: &mut Context<'_>) -> Option<Poll<()>> {
        let (session, wire) = (&self.session, self.wire);
        let mut close_code = NORMAL_CLOSURE;
        let mut ponged = false;
        let end = self.ws.poll_read(cx, READ_BUDGET, |message| {
            Self::on_message(session, wire, message, &mut ponged)
                .map_break(|code| close_code = code)
        });
        if ponged {
            // The next ping is due an interval after this pong, which may come before
            // the pong deadline the timer is armed for: the heartbeat takes a look.
            self.armed = None;
        }
        match end {
            ReadEnd::Pending => None,
            ReadEnd::Budget => {
                // A client that never stops sending must not starve the others.
                cx.waker().wake_by_ref();
                None
            }
            ReadEnd::Stopped => {
                self.start_closing(None, close_code);
                Some(self.poll_closing(cx))
            }
            ReadEnd::Closed => Some(self.finish(Some(CloseReason::TransportClose))),
            ReadEnd::Invalid(e) => {
                tracing::debug!(sid = self.session.id(), error = %e, "websocket protocol error");
                // A message over `max_payload` or a protocol violation.
                self.start_closing(Some(CloseReason::TransportError), e.close_code());
                Some(self.poll_closing(cx))
            }
        }
    }

    /// Writes the session's queue. Returns `Some` when the connection is over.
    fn poll_write(&mut self, cx: &mut Context<'_>) -> Option<Poll<()>> {
        loop {
            // Frames are gathered into one write, so that it carries many
            // when the client is behind.
            let mut exhausted = false;
            while !exhausted && self.ws.wants_more() {
                let (head, body) = match self.first.take() {
                    Some(first) => first.ws_frame(),
                    None => match self.session.pop_ws() {
                        WsNext::Send(item, queued_behind) => {
                            exhausted = !queued_behind;
                            item.ws_frame_for(self.wire)
                        }
                        WsNext::Close(reason) => {
                            self.start_closing(Some(reason), NORMAL_CLOSURE);
                            return Some(self.poll_closing(cx));
                        }
                        WsNext::Finished => {
                            self.start_closing(None, NORMAL_CLOSURE);
                            return Some(self.poll_closing(cx));
                        }
                        WsNext::Empty => {
                            exhausted = true;
                            break;
                        }
                    },
                };
                self.ws.push(head);
                if let Some(body) = body {
                    self.ws.push(body);
                }
            }
            match self.ws.poll_drain(cx) {
                Poll::Ready(Ok(())) if exhausted => {
                    self.stalled_since = None;
                    return None;
                }
                Poll::Ready(Ok(())) => self.stalled_since = None,
                Poll::Ready(Err(_)) => return Some(self.finish(Some(CloseReason::TransportError))),
                Poll::Pending => {
                    self.stalled_since.get_or_insert_with(Instant::now);
                    return None;
                }
            }
        }
    }
}

impl Future for Driver {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        if this.closing.is_some() {
            return this.poll_closing(cx);
        }
        this.session.unregister_writer();
        if let Some(done) = this.poll_read(cx) {
            return done;
        }
        // Registered before the queue is read: anything queued from here on wakes us.
        this.session.register_writer(cx.waker());
        if let Some(done) = this.poll_write(cx) {
            return done;
        }
        // The heartbeat only needs a look when its deadline came (or was never set).
        // `is_elapsed` looks without registering: the waker registered when the
        // timer was armed still stands.
        let timer_due = this.armed.is_none() || this.timer.is_elapsed();
        let now = Instant::now();
        let mut wake = match (timer_due, this.armed) {
            (false, Some(armed)) => armed,
            _ => match this.session.tick(now) {
                Some(wake) => wake,
                None => {
                    this.start_closing(None, NORMAL_CLOSURE);
                    return this.poll_closing(cx);
                }
            },
        };
        if let Some(since) = this.stalled_since {
            let cfg = this.session.config();
            let give_up = since + cfg.ping_interval + cfg.ping_timeout;
            if now >= give_up {
                tracing::debug!(sid = this.session.id(), "client stopped reading: closing");
                return this.finish(Some(CloseReason::TransportError));
            }
            wake = wake.min(give_up);
        }
        this.arm(cx, wake)
    }
}
