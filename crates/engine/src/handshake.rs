//! What the server knew about the client when the session was opened, the
//! query parameters that steer routing, and the open packet that answers a
//! handshake.
//!
//! The handshake request is kept (headers, URI, peer address) because the
//! layer above authenticates from it long after the HTTP request is gone.
//! It is copied out of the request: hyper's header values are slices of the
//! connection's read buffer, and keeping one would keep that whole buffer
//! (8–16 KiB) alive for the life of every session.

use std::net::SocketAddr;
use std::time::SystemTime;

use crate::config::EngineConfig;
use crate::transport_kind::TransportKind;

/// The handshake request of a session.
///
/// Headers and URL are kept as text in one allocation each rather than as an
/// `http::HeaderMap` (a table, a bucket list and a buffer per value): every
/// session holds one of these for its whole life, and it is read rarely.
#[derive(Debug, Clone)]
pub struct HandshakeInfo {
    /// `name: value` lines, names lower-case, in request order.
    headers: Box<str>,
    /// Path and query of the request.
    url: Box<str>,
    /// Peer address, when the app is served with
    /// `into_make_service_with_connect_info::<SocketAddr>()`.
    pub address: Option<SocketAddr>,
    /// When the handshake arrived, by the system clock (socket.io's
    /// `handshake.issued`).
    pub issued: SystemTime,
    /// Whether the request URI says https. Behind a TLS-terminating proxy
    /// this is false; look at forwarding headers instead.
    pub secure: bool,
    /// Whether the request carried an Origin header (a cross-domain client).
    pub xdomain: bool,
}

impl HandshakeInfo {
    pub(crate) fn from_parts(parts: &http::request::Parts, address: Option<SocketAddr>) -> Self {
        let mut headers = String::new();
        for (name, value) in &parts.headers {
            // HTTP forbids CR and LF in values, so a line break separates safely.
            headers.push_str(name.as_str());
            headers.push_str(": ");
            headers.push_str(&String::from_utf8_lossy(value.as_bytes()));
            headers.push('\n');
        }
        let url = parts.uri.path_and_query().map_or("/", |pq| pq.as_str());
        HandshakeInfo {
            headers: headers.into_boxed_str(),
            url: url.into(),
            address,
            issued: SystemTime::now(),
            secure: parts.uri.scheme() == Some(&http::uri::Scheme::HTTPS),
            xdomain: parts.headers.contains_key(http::header::ORIGIN),
        }
    }

    /// Every header as (lower-case name, value), in request order; a repeated header appears once per value.
    pub fn headers(&self) -> impl Iterator<Item = (&str, &str)> {
        self.headers
            .lines()
            .filter_map(|line| line.split_once(": "))
    }

    /// The first value of a header (`name` in lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers().find(|(n, _)| *n == name).map(|(_, v)| v)
    }

    /// The headers as an `http::HeaderMap`, built on each call.
    pub fn header_map(&self) -> http::HeaderMap {
        let mut map = http::HeaderMap::new();
        for (name, value) in self.headers() {
            if let (Ok(name), Ok(value)) = (
                http::HeaderName::from_bytes(name.as_bytes()),
                http::HeaderValue::from_str(value),
            ) {
                map.append(name, value);
            }
        }
        map
    }

    /// Path and query of the handshake request.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The raw query string, without the `?`.
    pub fn query(&self) -> Option<&str> {
        self.url.split_once('?').map(|(_, q)| q)
    }
}

/// The open packet that answers the handshake of session `sid` on transport `kind`.
pub(crate) fn open_packet(config: &EngineConfig, sid: &str, kind: TransportKind) -> String {
    let data = serde_json::json!({
        "sid": sid,
        "upgrades": config.upgrades_for(kind),
        "pingInterval": config.ping_interval.as_millis() as u64,
        "pingTimeout": config.ping_timeout.as_millis() as u64,
        "maxPayload": config.max_payload,
    });
    format!("0{data}")
}

/// The routing-relevant query parameters. Values are taken raw (not
/// percent-decoded): every legitimate value (`4`, `polling`, `websocket`,
/// base64url sids) is plain ASCII, and anything else must fail anyway.
#[derive(Debug, Default)]
pub(crate) struct Query<'a> {
    pub eio: Option<&'a str>,
    pub transport: Option<&'a str>,
    pub sid: Option<&'a str>,
    pub t: Option<&'a str>,
    /// A v3 client's request for binary data as base64.
    pub b64: Option<&'a str>,
}

impl<'a> Query<'a> {
    pub(crate) fn parse(query: Option<&'a str>) -> Self {
        let mut q = Query::default();
        for pair in query.unwrap_or("").split('&') {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            // First occurrence wins: a repeated key must not let a request
            // pass one check with one value and be routed with another.
            let slot = match k {
                "EIO" => &mut q.eio,
                "transport" => &mut q.transport,
                "sid" => &mut q.sid,
                "t" => &mut q.t,
                "b64" => &mut q.b64,
                _ => continue,
            };
            if slot.is_none() {
                *slot = Some(v);
            }
        }
        q
    }
}

#[cfg(test)]
mod tests {
    use super::{HandshakeInfo, Query};

    #[test]
    fn keeps_headers_and_url_as_text() {
        let (parts, ()) = http::Request::builder()
            .uri("/socket.io/?EIO=4&transport=polling&x=1")
            .header("Host", "example.com")
            .header("X-Multi", "a")
            .header("X-Multi", "b")
            .header("Origin", "http://other")
            .body(())
            .unwrap()
            .into_parts();
        let info = HandshakeInfo::from_parts(&parts, None);
        assert_eq!(info.header("host"), Some("example.com"));
        assert_eq!(info.headers().filter(|(n, _)| *n == "x-multi").count(), 2);
        assert_eq!(info.header_map().get_all("x-multi").iter().count(), 2);
        assert_eq!(info.url(), "/socket.io/?EIO=4&transport=polling&x=1");
        assert_eq!(info.query(), Some("EIO=4&transport=polling&x=1"));
        assert!(info.xdomain);
    }

    #[test]
    fn parses_query() {
        let q = Query::parse(Some("EIO=4&transport=polling&t=abc&sid=x-y_z&sid=other"));
        assert_eq!(q.eio, Some("4"));
        assert_eq!(q.transport, Some("polling"));
        assert_eq!(q.sid, Some("x-y_z"));
        let q = Query::parse(None);
        assert!(q.eio.is_none() && q.transport.is_none() && q.sid.is_none());
        let q = Query::parse(Some("EIO&&=&transport="));
        assert_eq!(q.eio, Some(""));
        assert_eq!(q.transport, Some(""));
    }
}
