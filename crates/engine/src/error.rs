//! The protocol's request errors and their HTTP form.
//!
//! Engine.IO reports refused requests as a JSON body
//! `{"code":n,"message":"..."}` with a fixed code table shared by all
//! implementations; clients only look at the status, but tooling and the
//! protocol test suite look at the codes.

use axum::response::{IntoResponse, Response};
use http::{header, HeaderValue, StatusCode};

/// Why a request was refused; the discriminant is the protocol's error code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProtocolError {
    /// The `transport` query parameter is missing, unknown, or names a
    /// transport this server has disabled (code 0).
    UnknownTransport = 0,
    /// The `sid` query parameter names no live session (code 1).
    UnknownSid = 1,
    /// A handshake (a request without `sid`) came with a method other than
    /// GET (code 2).
    BadHandshakeMethod = 2,
    /// The request does not fit its session: an overlapping poll, polling
    /// after an upgrade, an undecodable or aborted POST, a method other than
    /// GET or POST, or a WebSocket request that is not a valid upgrade (code 3).
    /// Also sent, with HTTP 503, to handshakes made during shutdown.
    BadRequest = 3,
    /// The handshake was turned down by
    /// [`EngineConfig::allow_request`](crate::EngineConfig::allow_request)
    /// (code 4, HTTP 403).
    Forbidden = 4,
    /// The `EIO` query parameter is missing or is not `4`: the client speaks
    /// another protocol version (code 5).
    UnsupportedProtocolVersion = 5,
}

impl ProtocolError {
    /// The `code` of the JSON error body, the same in every Engine.IO
    /// implementation.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The `message` of the JSON error body, worded as the Node server words it.
    pub fn message(self) -> &'static str {
        match self {
            ProtocolError::UnknownTransport => "Transport unknown",
            ProtocolError::UnknownSid => "Session ID unknown",
            ProtocolError::BadHandshakeMethod => "Bad handshake method",
            ProtocolError::BadRequest => "Bad request",
            ProtocolError::Forbidden => "Forbidden",
            ProtocolError::UnsupportedProtocolVersion => "Unsupported protocol version",
        }
    }

    fn status(self) -> StatusCode {
        match self {
            ProtocolError::Forbidden => StatusCode::FORBIDDEN,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    pub(crate) fn response(self) -> Response {
        self.response_with(self.status(), self.message())
    }

    pub(crate) fn response_with(self, status: StatusCode, message: &str) -> Response {
        let body = serde_json::json!({ "code": self.code(), "message": message }).to_string();
        let mut resp = (status, body).into_response();
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        resp
    }
}
