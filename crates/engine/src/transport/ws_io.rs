//! The byte stream under a WebSocket session, and the one writer to it.
//!
//! Served by [`serve`](crate::serve), an upgraded connection is taken back down
//! to its `TcpStream`: no boxed trait object and no rewind buffer stay in
//! every connection. Any other stream (TLS, a test harness, or `axum::serve`,
//! which wraps its connections in a private type) is driven through hyper's
//! `Upgraded` as it is.
//!
//! Writes go through one ordered queue of whole frames. The session's
//! messages are queued as the shared frames they already are (see
//! `OutMessage`), so a broadcast writes the same bytes to every socket with no
//! per-connection copy; what tungstenite writes itself (a pong, the close
//! frame) is queued behind them as it comes. The two can therefore never
//! interleave inside a frame, even when the socket takes only part of a write.

use std::collections::VecDeque;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::{Buf, Bytes};
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf};
use tokio::net::TcpStream;

/// Pieces gathered into one vectored write.
const MAX_PIECES: usize = 64;
/// Queued bytes past which tungstenite's own writes wait for the socket: a
/// client that sends pings and never reads cannot grow the queue.
const OWN_WRITES_LIMIT: usize = 64 * 1024;
/// Slots the queue keeps once empty; a longer one is given back, so that
/// idle connections stay small.
const KEPT_SLOTS: usize = 8;

pub(crate) struct WsIo {
    stream: Stream,
    /// Whole frames (or frame pieces, header then payload) not yet written;
    /// the first may be partly written already.
    out: VecDeque<Bytes>,
    /// Bytes in `out`.
    queued: usize,
}

enum Stream {
    Tcp(TcpStream),
    Upgraded(TokioIo<Upgraded>),
}

impl WsIo {
    /// The stream, and the bytes hyper had already read past the HTTP request.
    pub(crate) fn from_upgraded(upgraded: Upgraded) -> (WsIo, Bytes) {
        let (stream, read) = match upgraded.downcast::<TokioIo<TcpStream>>() {
            // Its options were set when it was accepted (`serve`).
            Ok(parts) => (Stream::Tcp(parts.io.into_inner()), parts.read_buf),
            Err(upgraded) => (Stream::Upgraded(TokioIo::new(upgraded)), Bytes::new()),
        };
        let io = WsIo {
            stream,
            out: VecDeque::new(),
            queued: 0,
        };
        (io, read)
    }

    /// Queues a piece of a frame; `poll_drain` writes it.
    pub(crate) fn push(&mut self, piece: Bytes) {
        self.queued += piece.len();
        self.out.push_back(piece);
    }

    /// Bytes queued and not yet written.
    pub(crate) fn queued(&self) -> usize {
        self.queued
    }

    /// Writes what is queued; ready once all of it is out.
    pub(crate) fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while !self.out.is_empty() {
            let mut slices = [IoSlice::new(&[]); MAX_PIECES];
            let mut count = 0;
            for (slot, piece) in slices.iter_mut().zip(&self.out) {
                *slot = IoSlice::new(piece);
                count += 1;
            }
            let written = ready!(self.stream.poll_write_vectored(cx, &slices[..count]))?;
            if written == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.consume(written);
        }
        if self.out.capacity() > KEPT_SLOTS {
            self.out = VecDeque::new();
        }
        Poll::Ready(Ok(()))
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

impl AsyncRead for WsIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match &mut self.get_mut().stream {
            Stream::Tcp(io) => Pin::new(io).poll_read(cx, buf),
            Stream::Upgraded(io) => Pin::new(io).poll_read(cx, buf),
        }
    }
}

/// What tungstenite writes itself. It hands over its whole buffer, whole
/// frames, so each write joins the queue as one piece.
impl AsyncWrite for WsIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.queued >= OWN_WRITES_LIMIT {
            ready!(this.poll_drain(cx))?;
        }
        this.push(Bytes::copy_from_slice(data));
        Poll::Ready(Ok(data.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_drain(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_drain(cx))?;
        match &mut this.stream {
            Stream::Tcp(io) => Pin::new(io).poll_shutdown(cx),
            Stream::Upgraded(io) => Pin::new(io).poll_shutdown(cx),
        }
    }
}
