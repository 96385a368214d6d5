//! The protocol's request errors and their HTTP form.
//!
//! Engine.IO reports refused requests as a JSON body
//! `{"code":n,"message":"..."}` with a fixed code table shared by all
//! implementations; clients only look at the status, but tooling and the
//! protocol test suite look at the codes.

use axum::response::{IntoResponse, Response};
use http::{header, HeaderValue, StatusCode};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProtocolError {
    UnknownTransport = 0,
    UnknownSid = 1,
    BadHandshakeMethod = 2,
    BadRequest = 3,
    Forbidden = 4,
    UnsupportedProtocolVersion = 5,
}

impl ProtocolError {
    pub fn code(self) -> u8 {
        self as u8
    }

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
