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
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::{Sink, Stream};
use tokio::time::{Instant, Sleep};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{Error as WsError, Message as WsMessage};
use tokio_tungstenite::WebSocketStream;

use crate::message::OutMessage;
use crate::packet::{decode_binary, decode_text};
use crate::session::{CloseReason, Session, WsNext};
use crate::transport::ws_io::WsIo;

pub(crate) type WsStream = WebSocketStream<WsIo>;

/// Frames read in one poll before yielding to other tasks.
const READ_BUDGET: usize = 64;
/// Frames are gathered up to this size before a write to the socket.
const WRITE_BUFFER: usize = 4 * 1024;
/// Bound on saying goodbye to a peer that may be gone.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);

pub(crate) struct Driver {
    session: Arc<Session>,
    ws: WsStream,
    /// Heartbeat, stalled-write and close deadlines share this one timer.
    timer: Pin<Box<Sleep>>,
    armed: Option<Instant>,
    /// A packet to send before anything queued (the open packet, a noop).
    first: Option<OutMessage>,
    unflushed: bool,
    stalled_since: Option<Instant>,
    closing: Option<Closing>,
}

struct Closing {
    /// The reason to end the session with once the close frame is out; `None`
    /// when the session has already ended.
    reason: Option<CloseReason>,
    frame_sent: bool,
    deadline: Instant,
}

/// What one incoming frame means for the connection.
enum Flow {
    Continue,
    /// The session is over; say goodbye on the socket.
    Close,
    /// The peer is gone; nothing more to send.
    Done,
}

impl Driver {
    pub(crate) fn new(session: Arc<Session>, ws: WsStream, first: Option<OutMessage>) -> Driver {
        let now = Instant::now();
        Driver {
            session,
            ws,
            timer: Box::pin(tokio::time::sleep_until(now)),
            armed: None,
            first,
            unflushed: false,
            stalled_since: None,
            closing: None,
        }
    }

    fn on_frame(&mut self, frame: Option<Result<WsMessage, WsError>>) -> Flow {
        let packet = match frame {
            Some(Ok(WsMessage::Text(text))) => match decode_text(&text) {
                Ok(packet) => packet,
                Err(e) => {
                    tracing::debug!(sid = self.session.id(), error = %e, "invalid websocket packet");
                    self.session.finish(CloseReason::ParseError);
                    return Flow::Close;
                }
            },
            Some(Ok(WsMessage::Binary(data))) => decode_binary(data),
            // tungstenite queues the pong itself; it goes out with the next flush.
            Some(Ok(WsMessage::Ping(_))) => {
                self.unflushed = true;
                return Flow::Continue;
            }
            Some(Ok(WsMessage::Pong(_) | WsMessage::Frame(_))) => return Flow::Continue,
            Some(Ok(WsMessage::Close(_))) | None => {
                self.session.finish(CloseReason::TransportClose);
                return Flow::Done;
            }
            Some(Err(e)) => {
                tracing::debug!(sid = self.session.id(), error = %e, "websocket error");
                self.session.finish(classify(&e));
                return Flow::Close;
            }
        };
        if self.session.on_packet(packet) {
            Flow::Continue
        } else {
            Flow::Close
        }
    }

    fn start_closing(&mut self, reason: Option<CloseReason>) {
        self.closing = Some(Closing {
            reason,
            frame_sent: false,
            deadline: Instant::now() + CLOSE_TIMEOUT,
        });
    }

    fn finish(&self, reason: Option<CloseReason>) -> Poll<()> {
        if let Some(reason) = reason {
            self.session.finish(reason);
        }
        Poll::Ready(())
    }

    /// Flushes what is buffered, sends a close frame, then ends the session.
    fn poll_closing(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let Some(closing) = self.closing.as_mut() else {
            return Poll::Ready(());
        };
        let (reason, deadline) = (closing.reason, closing.deadline);
        if Instant::now() >= deadline {
            return self.finish(reason);
        }
        if !closing.frame_sent {
            match Pin::new(&mut self.ws).poll_ready(cx) {
                Poll::Ready(Ok(())) => {
                    let frame = WsMessage::Close(Some(CloseFrame {
                        code: CloseCode::Normal,
                        reason: "".into(),
                    }));
                    if Pin::new(&mut self.ws).start_send(frame).is_err() {
                        return self.finish(reason);
                    }
                    closing.frame_sent = true;
                }
                Poll::Ready(Err(_)) => return self.finish(reason),
                Poll::Pending => return self.arm(cx, deadline),
            }
        }
        match Pin::new(&mut self.ws).poll_flush(cx) {
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
        for _ in 0..READ_BUDGET {
            let frame = match Pin::new(&mut self.ws).poll_next(cx) {
                Poll::Pending => return None,
                Poll::Ready(frame) => frame,
            };
            match self.on_frame(frame) {
                Flow::Continue => {}
                Flow::Close => {
                    self.start_closing(None);
                    return Some(self.poll_closing(cx));
                }
                Flow::Done => return Some(Poll::Ready(())),
            }
        }
        // A client that never stops sending must not starve the others.
        cx.waker().wake_by_ref();
        None
    }

    /// Writes the session's queue. Returns `Some` when the connection is over.
    fn poll_write(&mut self, cx: &mut Context<'_>) -> Option<Poll<()>> {
        // A pong tungstenite queued while reading joins the socket's queue first.
        if self.unflushed {
            match Pin::new(&mut self.ws).poll_flush(cx) {
                Poll::Ready(Ok(())) => self.unflushed = false,
                Poll::Ready(Err(_)) => return Some(self.finish(Some(CloseReason::TransportError))),
                Poll::Pending => {}
            }
        }
        loop {
            // Frames are gathered up to WRITE_BUFFER bytes, so that one write
            // carries many when the client is behind.
            let mut exhausted = false;
            while !exhausted && self.ws.get_ref().queued() < WRITE_BUFFER {
                let (head, body) = match self.first.take() {
                    Some(first) => first.ws_frame(),
                    None => match self.session.pop_ws() {
                        WsNext::Send(item, queued_behind) => {
                            exhausted = !queued_behind;
                            item.ws_frame()
                        }
                        WsNext::Close(reason) => {
                            self.start_closing(Some(reason));
                            return Some(self.poll_closing(cx));
                        }
                        WsNext::Finished => {
                            self.start_closing(None);
                            return Some(self.poll_closing(cx));
                        }
                        WsNext::Empty => {
                            exhausted = true;
                            break;
                        }
                    },
                };
                let io = self.ws.get_mut();
                io.push(head);
                if let Some(body) = body {
                    io.push(body);
                }
            }
            match self.ws.get_mut().poll_drain(cx) {
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
                    this.start_closing(None);
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

/// A peer that vanished (no close frame, reset, EOF) closed the transport;
/// anything else, such as a message over `max_payload` or a protocol
/// violation, is a transport error.
fn classify(e: &WsError) -> CloseReason {
    use tokio_tungstenite::tungstenite::error::ProtocolError;
    match e {
        WsError::ConnectionClosed
        | WsError::AlreadyClosed
        | WsError::Io(_)
        | WsError::Protocol(ProtocolError::ResetWithoutClosingHandshake) => {
            CloseReason::TransportClose
        }
        _ => CloseReason::TransportError,
    }
}
