//! Serving an app over plain TCP: Rally's `axum::serve`.
//!
//! `axum::serve` works with the engine, but it hands hyper each connection
//! wrapped in a private type, so an upgraded WebSocket reaches the engine as a
//! boxed stream behind two rewind buffers, and the engine cannot set its
//! socket options. Serving HTTP/1.1 straight from the `TcpStream` gives every
//! WebSocket back as the socket it is: Rally's options set ([`tune_tcp`]),
//! frames written with `sendmsg`, nothing boxed. Socket.IO needs nothing of
//! HTTP/2, and browsers speak it only over TLS, which a proxy in front does.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};

use crate::tune_tcp;

/// How long a client may take to send a request's headers.
const HEADER_TIMEOUT: Duration = Duration::from_secs(30);

/// Serves `app` on `listener` until `shutdown` completes, then lets the
/// requests in flight finish (an upgraded WebSocket is the engine's to close:
/// call `Engine::close` first) and returns. Each request carries the client's
/// address as `ConnectInfo<SocketAddr>`.
pub async fn serve<F>(listener: TcpListener, app: Router, shutdown: F) -> io::Result<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    let (stop_tx, stop_rx) = watch::channel(false);
    // Each connection holds a sender; when all are gone, every connection is.
    let (alive_tx, mut alive_rx) = mpsc::channel::<Infallible>(1);
    tokio::pin!(shutdown);
    loop {
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
            tcp,
            remote,
            app.clone(),
            stop_rx.clone(),
            alive_tx.clone(),
        ));
    }
    let _ = stop_tx.send(true);
    drop(alive_tx);
    let _ = alive_rx.recv().await;
    Ok(())
}

async fn serve_connection(
    mut tcp: tokio::net::TcpStream,
    remote: SocketAddr,
    app: Router,
    mut stop: watch::Receiver<bool>,
    _alive: mpsc::Sender<Infallible>,
) {
    tune_tcp(&mut tcp);
    let service = hyper::service::service_fn(move |mut request: http::Request<Incoming>| {
        request.extensions_mut().insert(ConnectInfo(remote));
        let mut app = app.clone();
        async move { tower::Service::call(&mut app, request).await }
    });
    let connection = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT)
        .serve_connection(TokioIo::new(tcp), service)
        .with_upgrades();
    tokio::pin!(connection);
    let stopping = async move {
        // A dropped sender means the server is gone: stop as well.
        let _ = stop.wait_for(|stop| *stop).await;
    };
    let outcome = tokio::select! {
        outcome = connection.as_mut() => outcome,
        () = stopping => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(e) = outcome {
        tracing::debug!(%remote, error = %e, "HTTP connection ended with an error");
    }
}
