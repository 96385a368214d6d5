//! Serving an app over plain TCP: Rally's `axum::serve`.
//!
//! `axum::serve` works with the engine, but it hands hyper each connection
//! wrapped in a private type, so an upgraded WebSocket reaches the engine as a
//! boxed stream behind two rewind buffers, and the engine cannot set its
//! socket options. Serving HTTP/1.1 straight from the `TcpStream` gives every
//! WebSocket back as the socket it is: Rally's options set ([`tune_tcp`]),
//! frames written with `sendmsg`, nothing boxed. Socket.IO needs nothing of
//! HTTP/2, and browsers speak it only over TLS, which a proxy in front does.
//!
//! No connection lingers before or between requests ([`ServeConfig`]): a
//! request's headers must arrive whole within `header_timeout` (a client that
//! sends half a header and trickles the rest is closed), a kept-alive
//! connection with no request under way is closed after `idle_timeout`, and at
//! most `max_handshakes` connections may be waiting for their first request's
//! headers at once (further ones wait in the kernel's listen queue). An
//! upgraded WebSocket leaves all of this behind: the engine's heartbeat
//! watches it from then on.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use crate::sync::lock;
use crate::tune_tcp;

/// How [`serve_with`] treats connections before and between requests.
#[derive(Clone, Debug)]
pub struct ServeConfig {
    /// A request's headers must arrive whole within this, counted from the
    /// connection's start (first request) or the request's first byte.
    pub header_timeout: Duration,
    /// A kept-alive connection with no request under way for this long is
    /// closed (Node.js: `keepAliveTimeout`, 5 s).
    pub idle_timeout: Duration,
    /// Connections still waiting for their first request's headers, at most;
    /// while that many are, no new connection is accepted.
    pub max_handshakes: usize,
}

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig {
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_handshakes: 1024,
        }
    }
}

/// [`serve_with`] and the default [`ServeConfig`].
pub async fn serve<F>(listener: TcpListener, app: Router, shutdown: F) -> io::Result<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    serve_with(listener, app, ServeConfig::default(), shutdown).await
}

/// Serves `app` on `listener` until `shutdown` completes, then lets the
/// requests in flight finish (an upgraded WebSocket is the engine's to close:
/// call `Engine::close` first) and returns. Each request carries the client's
/// address as `ConnectInfo<SocketAddr>`.
pub async fn serve_with<F>(
    listener: TcpListener,
    app: Router,
    config: ServeConfig,
    shutdown: F,
) -> io::Result<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    let (stop_tx, stop_rx) = watch::channel(false);
    // Each connection holds a sender; when all are gone, every connection is.
    let (alive_tx, mut alive_rx) = mpsc::channel::<Infallible>(1);
    let handshakes = Arc::new(Semaphore::new(config.max_handshakes.max(1)));
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            _ = &mut shutdown => break,
            permit = handshakes.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
        };
        let (tcp, remote) = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of descriptors, or a connection reset before it was
                    // accepted: say so and go on, without spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        tokio::spawn(serve_connection(
            Connection {
                tcp,
                remote,
                handshake: permit,
            },
            app.clone(),
            config.clone(),
            stop_rx.clone(),
            alive_tx.clone(),
        ));
    }
    let _ = stop_tx.send(true);
    drop(alive_tx);
    let _ = alive_rx.recv().await;
    Ok(())
}

/// An accepted connection, holding its place among the handshakes.
struct Connection {
    tcp: tokio::net::TcpStream,
    remote: SocketAddr,
    handshake: OwnedSemaphorePermit,
}

/// What the idle watch needs to know of a connection's requests.
struct Requests {
    under_way: AtomicUsize,
    /// When the last request ended (or the connection started).
    last_end: Mutex<Instant>,
}

/// Counts a request as under way until its response is ready.
struct UnderWay(Arc<Requests>);

impl Drop for UnderWay {
    fn drop(&mut self) {
        *lock(&self.0.last_end) = Instant::now();
        self.0.under_way.fetch_sub(1, Ordering::Release);
    }
}

async fn serve_connection(
    connection: Connection,
    app: Router,
    config: ServeConfig,
    mut stop: watch::Receiver<bool>,
    _alive: mpsc::Sender<Infallible>,
) {
    let Connection {
        mut tcp,
        remote,
        handshake,
    } = connection;
    tune_tcp(&mut tcp);
    // Given back once the first request's headers have arrived.
    let handshake = Mutex::new(Some(handshake));
    let requests = Arc::new(Requests {
        under_way: AtomicUsize::new(0),
        last_end: Mutex::new(Instant::now()),
    });
    let counted = requests.clone();
    let service = hyper::service::service_fn(move |mut request: http::Request<Incoming>| {
        lock(&handshake).take();
        counted.under_way.fetch_add(1, Ordering::Acquire);
        let under_way = UnderWay(counted.clone());
        request.extensions_mut().insert(ConnectInfo(remote));
        let mut app = app.clone();
        async move {
            let response = tower::Service::call(&mut app, request).await;
            drop(under_way);
            response
        }
    });
    let connection = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(config.header_timeout)
        .serve_connection(TokioIo::new(tcp), service)
        .with_upgrades();
    tokio::pin!(connection);
    let stopping = async move {
        // A dropped sender means the server is gone: stop as well.
        let _ = stop.wait_for(|stop| *stop).await;
    };
    let idle = idle(&requests, config.idle_timeout);
    let outcome = tokio::select! {
        outcome = connection.as_mut() => outcome,
        () = stopping => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
        () = idle => {
            tracing::debug!(%remote, "idle HTTP connection closed");
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(e) = outcome {
        tracing::debug!(%remote, error = %e, "HTTP connection ended with an error");
    }
}

/// Resolves once the connection has had no request under way for `timeout`.
async fn idle(requests: &Requests, timeout: Duration) {
    loop {
        let since = *lock(&requests.last_end);
        tokio::time::sleep_until(since + timeout).await;
        if requests.under_way.load(Ordering::Acquire) > 0 {
            // A long poll, most likely: look again a while after it ends.
            tokio::time::sleep(timeout).await;
        } else if *lock(&requests.last_end) == since {
            return;
        }
    }
}
