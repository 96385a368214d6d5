//! HTTP long-polling: GET collects queued packets, POST delivers packets.
//!
//! A GET waits on the session's `Notify` until there is something to say
//! (at the latest the next ping). The request futures carry drop guards:
//! hyper drops a handler future when its client goes away, and a poll that
//! vanishes mid-wait means the client is gone, which must end the session
//! rather than leave it to time out.
//!
//! A small driver task per polling session runs the heartbeat, because a
//! polling client can simply stop sending requests; it exits as soon as the
//! session is upgraded (the WebSocket task takes the timers over) or ends.

use std::sync::Arc;

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures::StreamExt;
use http::{header, HeaderMap, HeaderValue, StatusCode};
use tokio::time::Instant;

use crate::codec::packet::{decode_payload, DecodeError, Packet};
use crate::codec::payload_v3::{
    decode_binary_payload, decode_text_payload, frame_payload, is_binary_framing, Piece,
};
use crate::error::ProtocolError;
use crate::handshake::{open_packet, HandshakeInfo};
use crate::registry::Registry;
use crate::session::polling::{PollRequest, Refusal};
use crate::session::{CloseReason, Session, Wire};
use crate::transport::http_compression::{compress, Coding};
use crate::transport_kind::TransportKind;

/// Opens a session over polling; the response is the open packet alone.
pub(crate) fn handshake(registry: &Registry, info: HandshakeInfo, wire: Wire) -> Response {
    let session = registry.open(info, TransportKind::Polling, wire);
    let open = open_packet(registry.config(), session.id(), TransportKind::Polling);
    tokio::spawn(drive(session));
    if wire.is_v3() {
        return payload_response(frame_payload(&[Piece::Text(&open)], false).body, false);
    }
    payload_response(open.into(), false)
}

/// Heartbeat and close timers for a polling session.
async fn drive(session: Arc<Session>) {
    loop {
        let notified = session.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if session.transport() != TransportKind::Polling {
            return;
        }
        let Some(wake) = session.tick(Instant::now()) else {
            return;
        };
        tokio::select! {
            _ = &mut notified => {}
            _ = tokio::time::sleep_until(wake) => {}
        }
    }
}

/// Ends the session if a request future is dropped before it completed.
struct Guard<'a> {
    session: &'a Session,
    get: bool,
    armed: bool,
}

impl Drop for Guard<'_> {
    fn drop(&mut self) {
        if self.armed {
            if self.get {
                self.session.end_get();
                self.session.finish(CloseReason::TransportClose);
            } else {
                self.session.end_post();
                self.session.finish(CloseReason::TransportError);
            }
        }
    }
}

fn refused(session: &Session, r: Refusal) -> Response {
    match r {
        Refusal::Overlap => {
            tracing::debug!(sid = session.id(), "overlapping polling request");
            session.finish(CloseReason::TransportError);
            ProtocolError::BadRequest.response()
        }
        Refusal::Upgraded => ProtocolError::BadRequest.response(),
        Refusal::Gone => ProtocolError::UnknownSid.response(),
    }
}

/// Answers a GET once there is something to say, compressed in `coding` when the
/// answer is long enough.
pub(crate) async fn get(
    session: Arc<Session>,
    request: PollRequest<'_>,
    coding: Option<Coding>,
) -> Response {
    let answer = |body: Bytes| {
        let binary = session.wire().is_v3() && is_binary_framing(&body);
        let threshold = session.config().http_compression.map(|c| c.threshold);
        match coding.zip(threshold) {
            Some((coding, threshold)) if body.len() >= threshold => {
                let mut response = payload_response(compress(coding, &body), binary);
                response.headers_mut().insert(
                    header::CONTENT_ENCODING,
                    HeaderValue::from_static(coding.name()),
                );
                response
            }
            _ => payload_response(body, binary),
        }
    };
    match session.begin_get(request) {
        Ok(None) => {}
        Ok(Some(again)) => {
            tracing::debug!(
                sid = session.id(),
                bytes = again.len(),
                "a poll came again from another connection; its answer is sent again"
            );
            return answer(again);
        }
        Err(r) => return refused(&session, r),
    }
    let mut guard = Guard {
        session: &session,
        get: true,
        armed: true,
    };
    loop {
        let notified = session.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if let Some(poll) = session.take_poll(request) {
            guard.armed = false;
            if let Some(reason) = poll.finish {
                session.finish(reason);
            }
            return answer(poll.body);
        }
        notified.await;
    }
}

pub(crate) async fn post(
    session: Arc<Session>,
    request: PollRequest<'_>,
    headers: &HeaderMap,
    body: Body,
) -> Response {
    let resent = match session.begin_post(request) {
        Ok(resent) => resent,
        Err(r) => return refused(&session, r),
    };
    let mut guard = Guard {
        session: &session,
        get: false,
        armed: true,
    };
    let max = session.config().max_payload;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let mut stream = body.into_data_stream();
    let too_large = |stream| async {
        tracing::debug!(sid = session.id(), max, "POST payload too large");
        drain(stream, max.saturating_mul(DRAIN_FACTOR)).await;
        // The guard ends the session on the way out.
        StatusCode::PAYLOAD_TOO_LARGE.into_response()
    };
    if declared.is_some_and(|n| n > max as u64) {
        return too_large(stream).await;
    }
    let mut data = Vec::new();
    while let Some(chunk) = stream.next().await {
        let Ok(chunk) = chunk else {
            // The guard ends the session: the client aborted the upload.
            return ProtocolError::BadRequest.response();
        };
        if data.len() + chunk.len() > max {
            return too_large(stream).await;
        }
        data.extend_from_slice(&chunk);
    }
    guard.armed = false;
    session.end_post();
    if resent {
        tracing::debug!(
            sid = session.id(),
            "a POST came again from another connection; its packets were taken in already"
        );
        return ok_response();
    }
    let packets = match decode_post(&session, headers, &data) {
        Ok(p) => p,
        Err(e) => {
            tracing::debug!(sid = session.id(), error = %e, "undecodable POST payload");
            session.finish(CloseReason::ParseError);
            return ProtocolError::BadRequest.response();
        }
    };
    for p in packets {
        if !session.on_packet(p) {
            break;
        }
    }
    ok_response()
}

/// The packets of a POST body, framed as the session's protocol frames them:
/// v3 bodies come length-framed as text, or in the binary framing when the
/// client says `application/octet-stream`, which is all the reference server
/// looks at.
fn decode_post(
    session: &Session,
    headers: &HeaderMap,
    data: &[u8],
) -> Result<Vec<Packet>, DecodeError> {
    if !session.wire().is_v3() {
        return decode_payload(data);
    }
    let octet_stream = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/octet-stream"));
    if octet_stream {
        decode_binary_payload(data)
    } else {
        decode_text_payload(std::str::from_utf8(data).map_err(|_| DecodeError::InvalidUtf8)?)
    }
}

fn ok_response() -> Response {
    let mut resp = "ok".into_response();
    let h = resp.headers_mut();
    // text/html rather than text/plain, as the reference server does, to
    // keep old user agents from offering the body as a download.
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// How much of an oversize body is read and thrown away, in multiples of `max_payload`.
const DRAIN_FACTOR: usize = 4;
/// How long an oversize body is read and thrown away at most.
const DRAIN_TIME: std::time::Duration = std::time::Duration::from_secs(1);

/// Reads and discards the rest of a refused body, within bounds, so that the 413 reaches
/// a client still uploading: answering mid-upload makes the server close the connection
/// under the client's writes, which the client sees as a reset instead of the answer.
async fn drain(mut stream: axum::body::BodyDataStream, budget: usize) {
    let discard = async {
        let mut read = 0usize;
        while let Some(Ok(chunk)) = stream.next().await {
            read += chunk.len();
            if read > budget {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(DRAIN_TIME, discard).await;
}

/// A poll's answer; `binary` for a v3 payload in the binary framing.
fn payload_response(body: Bytes, binary: bool) -> Response {
    let mut resp = body.into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(if binary {
            "application/octet-stream"
        } else {
            "text/plain; charset=UTF-8"
        }),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}
