//! The handshake as socket.io shapes it: `socket.handshake` in Node.js.
//!
//! Built once per namespace connection from the engine's request details plus the
//! CONNECT packet's auth payload, and shared read-only by every handler.

use rally_engine::HandshakeInfo;
use serde::Serialize;
use serde_json::{Map, Value};
use std::time::UNIX_EPOCH;

#[derive(Clone, Debug, Serialize)]
pub struct Handshake {
    /// Request headers, lower-case names, values joined with ", " where repeated.
    pub headers: Map<String, Value>,
    /// When the connection was opened, as an HTTP date.
    pub time: String,
    /// The remote IP address, or "" when the server was not given connection info.
    pub address: String,
    /// Whether the request came from another origin (it carried an `Origin` header).
    pub xdomain: bool,
    /// Whether the connection is over TLS.
    pub secure: bool,
    /// When the connection was opened, in milliseconds since the Unix epoch.
    pub issued: u64,
    /// The request URL of the handshake (path and query).
    pub url: String,
    /// The query string's parameters.
    pub query: Map<String, Value>,
    /// The CONNECT packet's payload (`{}` when the client sent none).
    pub auth: Value,
}

impl Handshake {
    pub(crate) fn new(info: &HandshakeInfo, auth: Value) -> Self {
        let mut headers = Map::new();
        for (name, value) in &info.headers {
            let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
            match headers.get_mut(name.as_str()) {
                Some(Value::String(existing)) => {
                    existing.push_str(", ");
                    existing.push_str(&value);
                }
                _ => {
                    headers.insert(name.as_str().to_owned(), Value::String(value));
                }
            }
        }
        let query = info
            .uri
            .query()
            .map(|q| {
                form_urlencoded::parse(q.as_bytes())
                    .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
                    .collect()
            })
            .unwrap_or_default();
        let issued = info
            .issued
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        Handshake {
            headers,
            time: httpdate::fmt_http_date(info.issued),
            address: info.address.map(|a| a.ip().to_string()).unwrap_or_default(),
            xdomain: info.xdomain,
            secure: info.secure,
            issued,
            url: info.uri.to_string(),
            query,
            auth: if auth.is_null() {
                Value::Object(Map::new())
            } else {
                auth
            },
        }
    }
}
