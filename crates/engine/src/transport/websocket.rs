//! WebSocket transport: one task per connection does everything.
//!
//! The connection task selects over the socket's next frame, the session's
//! queue notification and the heartbeat timer, so an idle WebSocket session
//! costs one parked task, one small socket buffer pair and the session
//! itself: no separate reader/writer tasks, no channel, no timer task.
//!
//! A WebSocket opened with a `sid` is an upgrade probe: it answers
//! `2probe` with `3probe`, releases the pending poll with a noop, and
//! becomes the session's transport on `5`. Until then the polling side
//! stays in charge, and a probe that stalls past `upgrade_timeout` is
//! simply dropped.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message as WsMessage, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use futures::{SinkExt, StreamExt};
use tokio::time::{sleep_until, timeout, Instant};

use crate::handshake::HandshakeInfo;
use crate::packet::{decode_binary, decode_text, Packet};
use crate::server::Shared;
use crate::session::{CloseReason, Session, WsNext};
use crate::transport::TransportKind;

/// Socket buffer sizes. Small on purpose: the server must hold very many
/// idle connections, and tungstenite grows its buffers for large messages
/// anyway.
const READ_BUFFER: usize = 1024;
const WRITE_BUFFER: usize = 4 * 1024;

/// Bound on sending a close frame to a peer that may be gone.
const CLOSE_WRITE_TIMEOUT: Duration = Duration::from_secs(1);

fn configure(ws: WebSocketUpgrade, max_payload: usize) -> WebSocketUpgrade {
    ws.read_buffer_size(READ_BUFFER)
        .write_buffer_size(WRITE_BUFFER)
        .max_message_size(max_payload)
        .max_frame_size(max_payload)
}

/// Opens a session directly over WebSocket.
pub(crate) fn handshake(
    shared: Arc<Shared>,
    info: HandshakeInfo,
    ws: WebSocketUpgrade,
) -> Response {
    configure(ws, shared.config.max_payload).on_upgrade(move |mut socket| async move {
        let session = shared.open(info, TransportKind::WebSocket);
        let open = shared.open_packet(session.id(), TransportKind::WebSocket);
        if socket.send(WsMessage::Text(open.into())).await.is_err() {
            session.finish(CloseReason::TransportClose);
            return;
        }
        drive(session, socket).await;
    })
}

/// Accepts a WebSocket for an existing session: an upgrade probe.
pub(crate) fn upgrade(session: Arc<Session>, ws: WebSocketUpgrade) -> Response {
    configure(ws, session.config().max_payload).on_upgrade(move |socket| probe(session, socket))
}

async fn probe(session: Arc<Session>, mut socket: WebSocket) {
    if !session.try_begin_probe() {
        // Already upgraded or upgrading: this socket is surplus.
        close_socket(&mut socket).await;
        return;
    }
    match upgrade_dance(&session, &mut socket).await {
        Ok(true) => drive(session, socket).await,
        Ok(false) => {}
        Err(()) => {
            session.abort_probe();
            close_socket(&mut socket).await;
        }
    }
}

/// Runs the probe until the client sends `5`. `Ok(true)`: the session now
/// runs on this socket; `Ok(false)`: the session ended meanwhile; `Err`: the
/// probe failed and the session stays on polling.
async fn upgrade_dance(session: &Session, socket: &mut WebSocket) -> Result<bool, ()> {
    let deadline = Instant::now() + session.config().upgrade_timeout;
    loop {
        let notified = session.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if session.is_finished() {
            close_socket(socket).await;
            return Ok(false);
        }
        tokio::select! {
            frame = socket.next() => {
                let text = match frame {
                    Some(Ok(WsMessage::Text(t))) => t,
                    Some(Ok(WsMessage::Ping(_) | WsMessage::Pong(_))) => continue,
                    _ => return Err(()),
                };
                match decode_text(&text) {
                    Ok(Packet::Ping(d)) if d == "probe" => {
                        let pong = WsMessage::Text(Utf8Bytes::from_static("3probe"));
                        if !matches!(timeout(CLOSE_WRITE_TIMEOUT, socket.send(pong)).await, Ok(Ok(()))) {
                            return Err(());
                        }
                        session.probe_answered();
                    }
                    Ok(Packet::Upgrade) => {
                        let Some(noop) = session.complete_upgrade() else {
                            close_socket(socket).await;
                            return Ok(false);
                        };
                        tracing::debug!(sid = session.id(), "upgraded to websocket");
                        if noop {
                            let frame = WsMessage::Text(Utf8Bytes::from_static("6"));
                            // A failed send surfaces in drive() at once.
                            let _ = timeout(CLOSE_WRITE_TIMEOUT, socket.send(frame)).await;
                        }
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

/// Runs a WebSocket that is the session's transport, until the session ends.
async fn drive(session: Arc<Session>, mut socket: WebSocket) {
    let cfg = session.config();
    // A client that cannot absorb our writes for a whole heartbeat cycle is
    // as good as gone.
    let write_budget = cfg.ping_interval + cfg.ping_timeout;
    loop {
        let notified = session.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();

        let mut wrote = false;
        loop {
            match session.pop_ws() {
                WsNext::Send(item) => {
                    if !matches!(
                        timeout(write_budget, socket.feed(item.ws_frame())).await,
                        Ok(Ok(()))
                    ) {
                        session.finish(CloseReason::TransportError);
                        return;
                    }
                    wrote = true;
                }
                WsNext::Close(reason) => {
                    let _ = timeout(write_budget, socket.flush()).await;
                    close_socket(&mut socket).await;
                    session.finish(reason);
                    return;
                }
                WsNext::Finished => {
                    close_socket(&mut socket).await;
                    return;
                }
                WsNext::Empty => break,
            }
        }
        if wrote && !matches!(timeout(write_budget, socket.flush()).await, Ok(Ok(()))) {
            session.finish(CloseReason::TransportError);
            return;
        }

        let Some(wake) = session.tick(Instant::now()) else {
            close_socket(&mut socket).await;
            return;
        };

        tokio::select! {
            frame = socket.next() => {
                let packet = match frame {
                    Some(Ok(WsMessage::Text(t))) => match decode_text(&t) {
                        Ok(p) => p,
                        Err(e) => {
                            tracing::debug!(sid = session.id(), error = %e, "invalid websocket packet");
                            session.finish(CloseReason::ParseError);
                            close_socket(&mut socket).await;
                            return;
                        }
                    },
                    Some(Ok(WsMessage::Binary(b))) => decode_binary(b),
                    Some(Ok(WsMessage::Ping(_) | WsMessage::Pong(_))) => continue,
                    Some(Ok(WsMessage::Close(_))) | None => {
                        session.finish(CloseReason::TransportClose);
                        return;
                    }
                    Some(Err(e)) => {
                        tracing::debug!(sid = session.id(), error = %e, "websocket error");
                        session.finish(classify(e));
                        close_socket(&mut socket).await;
                        return;
                    }
                };
                if !session.on_packet(packet) {
                    close_socket(&mut socket).await;
                    return;
                }
            }
            _ = &mut notified => {}
            _ = sleep_until(wake) => {}
        }
    }
}

/// A peer that vanished (no close frame, reset, EOF) closed the transport;
/// anything else, such as a message over `max_payload` or a protocol
/// violation, is a transport error.
fn classify(e: axum::Error) -> CloseReason {
    use tokio_tungstenite::tungstenite::error::{Error as WsError, ProtocolError};
    match e.into_inner().downcast::<WsError>().map(|b| *b) {
        Ok(WsError::ConnectionClosed | WsError::AlreadyClosed | WsError::Io(_))
        | Ok(WsError::Protocol(ProtocolError::ResetWithoutClosingHandshake)) => {
            CloseReason::TransportClose
        }
        _ => CloseReason::TransportError,
    }
}

/// Best-effort close handshake; the peer may already be gone.
async fn close_socket(socket: &mut WebSocket) {
    let frame = WsMessage::Close(Some(CloseFrame {
        code: 1000,
        reason: Utf8Bytes::from_static(""),
    }));
    let _ = timeout(CLOSE_WRITE_TIMEOUT, socket.send(frame)).await;
}
