//! WebSocket transport: the HTTP upgrade, the polling→WebSocket probe, and
//! the hand-off to the connection's driver (`ws_driver.rs`).
//!
//! The upgrade is answered here rather than through axum's `WebSocketUpgrade`
//! so that the task living as long as the connection is exactly the driver,
//! with nothing of the HTTP request or the handshake kept in it: that task is
//! most of what an idle connection costs.
//!
//! A WebSocket opened with a `sid` is an upgrade probe: it answers `2probe`
//! with `3probe`, releases the pending poll with a noop, and becomes the
//! session's transport on `5`. No noop is ever written on the WebSocket: it
//! exists only to make a pending GET return. Until then the polling side stays in charge,
//! and a probe that stalls past `upgrade_timeout` is simply dropped.

use std::future::poll_fn;
use std::ops::ControlFlow;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use axum::body::Body;
use axum::response::Response;
use http::{header, HeaderValue, StatusCode};
use hyper::upgrade::OnUpgrade;
use tokio::time::{sleep_until, timeout, Instant};
use tungstenite::handshake::derive_accept_key;

use crate::codec::message::OutMessage;
use crate::codec::packet::{decode_text, Packet};
use crate::codec::ws_frame::{close_frame, NORMAL_CLOSURE};
use crate::codec::ws_message::Incoming;
use crate::error::ProtocolError;
use crate::handshake::{open_packet, HandshakeInfo};
use crate::registry::Registry;
use crate::session::{Session, Wire};
use crate::transport::ws_driver::Driver;
use crate::transport::ws_io::{ReadEnd, WsIo};
use crate::transport_kind::TransportKind;

/// Bound on a single write during the upgrade dance.
const PROBE_WRITE_TIMEOUT: Duration = Duration::from_secs(1);

/// A request asking to become a WebSocket, checked as RFC 6455 asks.
pub(crate) struct WsRequest {
    accept: String,
    on_upgrade: OnUpgrade,
}

impl WsRequest {
    /// `None` when the request is not a valid WebSocket upgrade.
    pub(crate) fn from_parts(parts: &mut http::request::Parts) -> Option<WsRequest> {
        let has_token = |name: header::HeaderName, token: &str| {
            parts.headers.get_all(name).iter().any(|v| {
                v.to_str()
                    .is_ok_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
            })
        };
        if parts.method != http::Method::GET
            || !has_token(header::CONNECTION, "upgrade")
            || !has_token(header::UPGRADE, "websocket")
            || parts
                .headers
                .get(header::SEC_WEBSOCKET_VERSION)
                .map(|v| v.as_bytes())
                != Some(b"13")
        {
            return None;
        }
        let key = parts.headers.get(header::SEC_WEBSOCKET_KEY)?;
        let accept = derive_accept_key(key.as_bytes());
        let on_upgrade = parts.extensions.remove::<OnUpgrade>()?;
        Some(WsRequest { accept, on_upgrade })
    }

    /// Answers 101 and runs `then` on the upgraded connection.
    fn accept<F, Fut>(self, max_payload: usize, then: F) -> Response
    where
        F: FnOnce(WsIo) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        let on_upgrade = self.on_upgrade;
        tokio::spawn(async move {
            match on_upgrade.await {
                Ok(upgraded) => then(WsIo::from_upgraded(upgraded, max_payload)).await,
                Err(e) => tracing::debug!(error = %e, "websocket upgrade failed"),
            }
        });
        let mut response = Response::new(Body::empty());
        *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
        let headers = response.headers_mut();
        headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
        headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        if let Ok(accept) = HeaderValue::from_str(&self.accept) {
            headers.insert(header::SEC_WEBSOCKET_ACCEPT, accept);
        }
        response
    }
}

/// Opens a session directly over WebSocket.
pub(crate) fn handshake(
    registry: Arc<Registry>,
    info: HandshakeInfo,
    request: WsRequest,
    wire: Wire,
) -> Response {
    let max_payload = registry.config().max_payload;
    request.accept(max_payload, move |ws| async move {
        let session = registry.open(info, TransportKind::WebSocket, wire);
        let open = open_packet(registry.config(), session.id(), TransportKind::WebSocket);
        // The connection's own task: nothing of the upgrade stays in it.
        tokio::spawn(Driver::new(session, ws, Some(OutMessage::control(&open))));
    })
}

/// Accepts a WebSocket for an existing session: an upgrade probe. `binary`:
/// whether this socket's client takes binary frames (v3 lets it ask for base64).
pub(crate) fn upgrade(session: Arc<Session>, request: WsRequest, binary: bool) -> Response {
    let max_payload = session.config().max_payload;
    request.accept(max_payload, move |ws| probe(session, ws, binary))
}

/// A request that asked for the websocket transport without being an upgrade.
pub(crate) fn not_an_upgrade() -> Response {
    ProtocolError::BadRequest.response()
}

async fn probe(session: Arc<Session>, mut ws: WsIo, binary: bool) {
    if !session.try_begin_probe() {
        // Already upgraded or upgrading: this socket is surplus.
        close(&mut ws).await;
        return;
    }
    match upgrade_dance(&session, &mut ws, binary).await {
        Ok(true) => {
            tokio::spawn(Driver::new(session, ws, None));
        }
        Ok(false) => close(&mut ws).await,
        Err(()) => {
            session.abort_probe();
            close(&mut ws).await;
        }
    }
}

/// Runs the probe until the client sends `5`. `Ok(true)`: the session now
/// runs on this socket; `Ok(false)`: the session ended meanwhile; `Err`: the
/// probe failed and the session stays on polling.
async fn upgrade_dance(session: &Session, ws: &mut WsIo, binary: bool) -> Result<bool, ()> {
    let deadline = Instant::now() + session.config().upgrade_timeout;
    loop {
        let notified = session.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if session.is_finished() {
            return Ok(false);
        }
        tokio::select! {
            text = next_text(ws) => {
                match decode_text(&text?) {
                    Ok(Packet::Ping(d)) if d == "probe" => {
                        ws.push(OutMessage::control("3probe").ws_frame().0);
                        if !matches!(timeout(PROBE_WRITE_TIMEOUT, drain(ws)).await, Ok(Ok(()))) {
                            return Err(());
                        }
                        session.probe_answered();
                    }
                    Ok(Packet::Upgrade) => {
                        if !session.complete_upgrade(binary) {
                            return Ok(false);
                        }
                        tracing::debug!(sid = session.id(), "upgraded to websocket");
                        return Ok(true);
                    }
                    // Anything else is not the upgrade dance: drop the probe,
                    // the session carries on over polling.
                    _ => return Err(()),
                }
            }
            _ = &mut notified => {}
            _ = sleep_until(deadline) => {
                tracing::debug!(sid = session.id(), "upgrade timed out");
                return Err(());
            }
        }
    }
}

/// The next text message of the upgrade dance; anything else ends it.
async fn next_text(ws: &mut WsIo) -> Result<String, ()> {
    poll_fn(|cx| {
        let mut text = Err(());
        match ws.poll_read(cx, 1, |message| {
            if let Incoming::Text(t) = message {
                text = Ok(t.to_owned());
            }
            ControlFlow::Break(())
        }) {
            ReadEnd::Pending => Poll::Pending,
            // A ping or a pong: answered, and the dance goes on.
            ReadEnd::Budget => {
                let _ = ws.poll_drain(cx);
                cx.waker().wake_by_ref();
                Poll::Pending
            }
            ReadEnd::Stopped => Poll::Ready(text),
            ReadEnd::Closed | ReadEnd::Invalid(_) => Poll::Ready(Err(())),
        }
    })
    .await
}

async fn drain(ws: &mut WsIo) -> std::io::Result<()> {
    poll_fn(|cx| ws.poll_drain(cx)).await
}

/// Best-effort close handshake on a socket that never became a session's transport.
async fn close(ws: &mut WsIo) {
    ws.push(close_frame(NORMAL_CLOSURE));
    let _ = timeout(PROBE_WRITE_TIMEOUT, drain(ws)).await;
}
