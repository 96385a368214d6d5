//! The handshake as socket.io shapes it: `socket.handshake` in Node.js.
//!
//! Every socket of a connection shares the engine's record of the handshake
//! request; only the namespace's auth payload is the socket's own. The socket.io
//! fields (`headers`, `time`, `query`, …) are derived on demand, so an idle socket
//! does not carry a JSON copy of its request.

use rally_engine::HandshakeInfo;
use serde::ser::{Serialize, SerializeStruct, Serializer};
use serde_json::{Map, Value};
use std::sync::Arc;
use std::time::UNIX_EPOCH;

/// `socket.handshake`: the request that opened the connection, and the auth payload the
/// client sent to join this namespace. Serializes to socket.io's JSON shape.
#[derive(Clone, Debug)]
pub struct Handshake {
    request: Arc<HandshakeInfo>,
    /// The CONNECT packet's payload (`{}` when the client sent none).
    pub auth: Value,
}

impl Handshake {
    pub(crate) fn new(request: &Arc<HandshakeInfo>, auth: Value) -> Self {
        let auth = if auth.is_null() {
            Value::Object(Map::new())
        } else {
            auth
        };
        Handshake {
            request: request.clone(),
            auth,
        }
    }

    /// The request headers, built on each call.
    pub fn headers(&self) -> http::HeaderMap {
        self.request.header_map()
    }

    /// One header's first value (`name` in lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.request.header(name)
    }

    /// Request headers as socket.io shows them: lower-case names, repeated values joined with ", ".
    pub fn headers_json(&self) -> Map<String, Value> {
        let mut headers = Map::new();
        for (name, value) in self.request.headers() {
            match headers.get_mut(name) {
                Some(Value::String(existing)) => {
                    existing.push_str(", ");
                    existing.push_str(value);
                }
                _ => {
                    headers.insert(name.to_owned(), Value::String(value.to_owned()));
                }
            }
        }
        headers
    }

    /// The query string's parameters, percent-decoded.
    pub fn query(&self) -> Map<String, Value> {
        self.request.query().map(query_object).unwrap_or_default()
    }

    /// The remote IP address, or "" when the server was not given connection info.
    pub fn address(&self) -> String {
        self.request
            .address
            .map(|a| a.ip().to_string())
            .unwrap_or_default()
    }

    /// When the connection was opened, in milliseconds since the Unix epoch.
    pub fn issued(&self) -> u64 {
        self.request
            .issued
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0)
    }

    /// When the connection was opened, as an HTTP date.
    pub fn time(&self) -> String {
        httpdate::fmt_http_date(self.request.issued)
    }

    /// The request URL of the handshake (path and query).
    pub fn url(&self) -> String {
        self.request.url().to_owned()
    }

    /// Whether the connection is over TLS.
    pub fn secure(&self) -> bool {
        self.request.secure
    }

    /// Whether the request came from another origin (it carried an `Origin` header).
    pub fn xdomain(&self) -> bool {
        self.request.xdomain
    }
}

/// socket.io's shape: `{headers, time, address, xdomain, secure, issued, url, query, auth}`.
impl Serialize for Handshake {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut out = serializer.serialize_struct("Handshake", 9)?;
        out.serialize_field("headers", &self.headers_json())?;
        out.serialize_field("time", &self.time())?;
        out.serialize_field("address", &self.address())?;
        out.serialize_field("xdomain", &self.xdomain())?;
        out.serialize_field("secure", &self.secure())?;
        out.serialize_field("issued", &self.issued())?;
        out.serialize_field("url", &self.url())?;
        out.serialize_field("query", &self.query())?;
        out.serialize_field("auth", &self.auth)?;
        out.end()
    }
}
/// A query string's parameters as a JSON object of strings, percent-decoded: what
/// Node's `url.parse(…, true)` gives for the keys a client sends once.
pub(crate) fn query_object(query: &str) -> Map<String, Value> {
    form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
        .collect()
}
