//! The byte stream under a WebSocket session: the one reader of it and the
//! one writer to it.
//!
//! Served by [`serve`](crate::serve), an upgraded connection is taken back down
//! to its `TcpStream`: no boxed trait object and no rewind buffer stay in
//! every connection. Any other stream (TLS, a test harness, or `axum::serve`,
//! which wraps its connections in a private type) is driven through hyper's
//! `Upgraded` as it is.
//!
//! Reads land in a buffer on the stack, where the frames that arrived whole
//! are unmasked and handed on (`codec::ws_message`); only the piece of a frame cut
//! off by the end of a read is kept, so an idle connection holds no read
//! buffer at all.
//!
//! Writes go through one ordered queue of whole frames. The session's
//! messages are queued as the shared frames they already are (see
//! `OutMessage`), so a broadcast writes the same bytes to every socket with no
//! per-connection copy; pongs and the close frame join the same queue, so
//! frames never interleave, even when the socket takes only part of a write.

use std::collections::VecDeque;
use std::io::{self, IoSlice};
use std::mem::MaybeUninit;
use std::ops::ControlFlow;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::{Buf, Bytes, BytesMut};
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf};
use tokio::net::TcpStream;

use crate::codec::ws_frame::{control_frame, Opcode};
use crate::codec::ws_message::{Assembler, Incoming, ReadError, Step};

/// Pieces gathered into one vectored write.
const MAX_PIECES: usize = 64;
/// Bytes gathered into one write at most. A client that fell behind (one
/// that stopped reading, before its socket buffers are full) is written in
/// few large writes, so that it takes little of the time the clients that
/// keep up are waiting for.
const WRITE_BATCH: usize = 64 * 1024;
/// A client keeping up has a few frames queued at a time: their write takes a
/// smaller slice array to fill.
const FEW_PIECES: usize = 8;
/// Queued bytes past which pings go unanswered: a client that sends pings
/// and never reads cannot grow the queue.
const PONG_LIMIT: usize = 64 * 1024;
/// Slots the queue keeps once empty; a longer one is given back, so that
/// idle connections stay small.
const KEPT_SLOTS: usize = 8;
/// Bytes one read asks for, into a buffer on the stack.
const READ_CHUNK: usize = 4 * 1024;
/// Most room made at once for the rest of a large frame.
const READ_STEP_MAX: usize = 64 * 1024;

pub(crate) struct WsIo {
    stream: Stream,
    outbox: Outbox,
    /// Bytes read and not yet taken: a frame that is not all there yet, or
    /// frames left over when a read budget ran out. Empty, with no
    /// allocation, on an idle connection.
    unread: BytesMut,
    assembler: Assembler,
}

struct Outbox {
    /// Whole frames (or frame pieces, header then payload) not yet written;
    /// the first may be partly written already.
    out: VecDeque<Bytes>,
    /// Bytes in `out`.
    queued: usize,
}

/// Why reading stopped.
pub(crate) enum ReadEnd {
    /// Nothing more to read for now; the task will be woken.
    Pending,
    /// The frame budget is spent; more may be there already.
    Budget,
    /// The caller's callback asked to stop.
    Stopped,
    /// The peer closed the connection, or it failed.
    Closed,
    /// The peer broke the protocol.
    Invalid(ReadError),
}

enum Stream {
    Tcp(TcpStream),
    Upgraded(TokioIo<Upgraded>),
}

impl WsIo {
    /// The connection hyper upgraded; messages over `max_message` bytes are
    /// refused.
    pub(crate) fn from_upgraded(upgraded: Upgraded, max_message: usize) -> WsIo {
        let (stream, read) = match upgraded.downcast::<TokioIo<TcpStream>>() {
            // Its options were set when it was accepted (`serve`).
            Ok(parts) => (Stream::Tcp(parts.io.into_inner()), parts.read_buf),
            Err(upgraded) => (Stream::Upgraded(TokioIo::new(upgraded)), Bytes::new()),
        };
        WsIo {
            stream,
            outbox: Outbox {
                out: VecDeque::new(),
                queued: 0,
            },
            // What hyper had read past the HTTP request: the client's first frames.
            unread: BytesMut::from(&read[..]),
            assembler: Assembler::new(max_message),
        }
    }

    /// Queues a piece of a frame; `poll_drain` writes it.
    pub(crate) fn push(&mut self, piece: Bytes) {
        self.outbox.push(piece);
    }

    /// True while the frames gathered for the next write fit in one: fewer
    /// than `WRITE_BATCH` bytes and `MAX_PIECES` pieces.
    pub(crate) fn wants_more(&self) -> bool {
        self.outbox.queued < WRITE_BATCH && self.outbox.out.len() < MAX_PIECES
    }

    /// Reads the client's messages and hands each text, binary or close to
    /// `on`, for at most `budget` frames. Pings are answered here.
    pub(crate) fn poll_read(
        &mut self,
        cx: &mut Context<'_>,
        budget: usize,
        mut on: impl FnMut(Incoming<'_>) -> ControlFlow<()>,
    ) -> ReadEnd {
        let mut budget = budget;
        loop {
            if !self.unread.is_empty() {
                let (used, end) = take_frames(
                    &mut self.assembler,
                    &mut self.outbox,
                    &mut self.unread,
                    &mut budget,
                    &mut on,
                );
                self.unread.advance(used);
                match end {
                    // All of it taken: read onto the stack below, and let the
                    // buffer go, as an idle connection should.
                    Taken::NeedMore(_) if self.unread.is_empty() => {}
                    Taken::NeedMore(size) => {
                        // Room grows with what arrives: a header announcing a
                        // large frame reserves a step of it, not all of it.
                        let missing = size.saturating_sub(self.unread.len());
                        self.unread
                            .reserve(missing.clamp(READ_CHUNK, READ_STEP_MAX));
                        match ready_or(self.stream.poll_read_buf(cx, &mut self.unread)) {
                            Some(ReadEnd::Pending) => return ReadEnd::Pending,
                            Some(end) => return end,
                            None => continue,
                        }
                    }
                    Taken::Ended(end) => return end,
                }
            }
            // Nothing left over: read onto the stack, and keep only what a
            // frame cut in two leaves.
            self.unread = BytesMut::new();
            let mut chunk = [MaybeUninit::<u8>::uninit(); READ_CHUNK];
            let mut buf = ReadBuf::uninit(&mut chunk);
            if let Some(end) = ready_or(self.stream.poll_read(cx, &mut buf)) {
                return end;
            }
            let read = buf.filled_mut();
            let (used, end) = take_frames(
                &mut self.assembler,
                &mut self.outbox,
                read,
                &mut budget,
                &mut on,
            );
            self.unread.extend_from_slice(&read[used..]);
            match end {
                Taken::NeedMore(_) => continue,
                Taken::Ended(end) => return end,
            }
        }
    }

    /// Writes what is queued; ready once all of it is out.
    pub(crate) fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let outbox = &mut self.outbox;
        while !outbox.out.is_empty() {
            let written = ready!(if outbox.out.len() <= FEW_PIECES {
                outbox.poll_write::<FEW_PIECES>(&mut self.stream, cx)
            } else {
                outbox.poll_write::<MAX_PIECES>(&mut self.stream, cx)
            })?;
            if written == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            outbox.consume(written);
        }
        if outbox.out.capacity() > KEPT_SLOTS {
            outbox.out = VecDeque::new();
        }
        Poll::Ready(Ok(()))
    }
}

/// How `take_frames` stopped.
enum Taken {
    /// The next frame is not all there; the number is its size when known.
    NeedMore(usize),
    Ended(ReadEnd),
}

/// Takes the whole frames at the start of `buf`; returns the bytes they took.
fn take_frames(
    assembler: &mut Assembler,
    outbox: &mut Outbox,
    buf: &mut [u8],
    budget: &mut usize,
    on: &mut impl FnMut(Incoming<'_>) -> ControlFlow<()>,
) -> (usize, Taken) {
    let mut used = 0;
    while used < buf.len() {
        if *budget == 0 {
            return (used, Taken::Ended(ReadEnd::Budget));
        }
        let (consumed, incoming) = match assembler.step(&mut buf[used..]) {
            Ok(Step::Frame { consumed, incoming }) => (consumed, incoming),
            Ok(Step::NeedMore(size)) => return (used, Taken::NeedMore(size)),
            Err(e) => return (used, Taken::Ended(ReadEnd::Invalid(e))),
        };
        used += consumed;
        *budget -= 1;
        let flow = match incoming {
            Some(Incoming::Ping(payload)) => {
                outbox.pong(payload);
                ControlFlow::Continue(())
            }
            Some(Incoming::Pong) | None => ControlFlow::Continue(()),
            Some(message) => on(message),
        };
        if flow.is_break() {
            return (used, Taken::Ended(ReadEnd::Stopped));
        }
    }
    (used, Taken::NeedMore(0))
}

/// `None` when bytes were read; otherwise how reading ends.
fn ready_or(read: Poll<io::Result<usize>>) -> Option<ReadEnd> {
    match read {
        Poll::Ready(Ok(0)) | Poll::Ready(Err(_)) => Some(ReadEnd::Closed),
        Poll::Ready(Ok(_)) => None,
        Poll::Pending => Some(ReadEnd::Pending),
    }
}

impl Outbox {
    fn push(&mut self, piece: Bytes) {
        self.queued += piece.len();
        self.out.push_back(piece);
    }

    /// Answers a ping in kind, unless the client is not reading anyway.
    fn pong(&mut self, payload: &[u8]) {
        if self.queued >= PONG_LIMIT {
            tracing::debug!("websocket ping left unanswered: the client is not reading");
            return;
        }
        self.push(control_frame(Opcode::Pong, payload));
    }

    /// One vectored write of the first `N` pieces at most.
    fn poll_write<const N: usize>(
        &self,
        stream: &mut Stream,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<usize>> {
        let mut slices = [IoSlice::new(&[]); N];
        let mut count = 0;
        for (slot, piece) in slices.iter_mut().zip(&self.out) {
            *slot = IoSlice::new(piece);
            count += 1;
        }
        stream.poll_write_vectored(cx, &slices[..count])
    }

    fn consume(&mut self, mut written: usize) {
        self.queued -= written;
        while let Some(front) = self.out.front_mut() {
            if written < front.len() {
                front.advance(written);
                return;
            }
            written -= front.len();
            self.out.pop_front();
        }
    }
}

impl Stream {
    fn poll_read(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<usize>> {
        let before = buf.filled().len();
        ready!(match self {
            Stream::Tcp(io) => Pin::new(io).poll_read(cx, buf),
            Stream::Upgraded(io) => Pin::new(io).poll_read(cx, buf),
        })?;
        Poll::Ready(Ok(buf.filled().len() - before))
    }

    /// Reads into the spare room of `buf`.
    fn poll_read_buf(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut BytesMut,
    ) -> Poll<io::Result<usize>> {
        match self {
            Stream::Tcp(io) => tokio_util::io::poll_read_buf(Pin::new(io), cx, buf),
            Stream::Upgraded(io) => tokio_util::io::poll_read_buf(Pin::new(io), cx, buf),
        }
    }

    fn poll_write_vectored(
        &mut self,
        cx: &mut Context<'_>,
        slices: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self {
            // sendmsg(2) through socket2 rather than tokio's writev(2): a
            // socket written through the file layer pays for it on every call
            // (about 5% of a broadcast's CPU, measured).
            Stream::Tcp(tcp) => loop {
                ready!(tcp.poll_write_ready(cx))?;
                let sent = tcp.try_io(Interest::WRITABLE, || {
                    let socket = socket2::SockRef::from(&*tcp);
                    match slices {
                        [one] => socket.send(one),
                        _ => socket.send_vectored(slices),
                    }
                });
                match sent {
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                    done => return Poll::Ready(done),
                }
            },
            Stream::Upgraded(io) => Pin::new(io).poll_write_vectored(cx, slices),
        }
    }
}
