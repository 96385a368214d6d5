//! What the server knew about the client when the session was opened, and
//! the query parameters that steer routing.
//!
//! The handshake request is kept (headers, URI, peer address) because the
//! layer above authenticates from it long after the HTTP request is gone.
//! It is copied out of the request: hyper's header values are slices of the
//! connection's read buffer, and keeping one would keep that whole buffer
//! (8–16 KiB) alive for the life of every session.

use std::net::SocketAddr;
use std::time::SystemTime;

/// The handshake request of a session.
#[derive(Debug, Clone)]
pub struct HandshakeInfo {
    pub headers: http::HeaderMap,
    pub uri: http::Uri,
    /// Peer address, when the app is served with
    /// `into_make_service_with_connect_info::<SocketAddr>()`.
    pub address: Option<SocketAddr>,
    pub issued: SystemTime,
    /// Whether the request URI says https. Behind a TLS-terminating proxy
    /// this is false; look at forwarding headers in `headers` instead.
    pub secure: bool,
    /// Whether the request carried an Origin header (a cross-domain client).
    pub xdomain: bool,
}

impl HandshakeInfo {
    pub(crate) fn from_parts(parts: &http::request::Parts, address: Option<SocketAddr>) -> Self {
        let mut headers = http::HeaderMap::with_capacity(parts.headers.len());
        for (name, value) in &parts.headers {
            let owned = (
                http::HeaderName::from_bytes(name.as_str().as_bytes()),
                http::HeaderValue::from_bytes(value.as_bytes()),
            );
            if let (Ok(name), Ok(value)) = owned {
                headers.append(name, value);
            }
        }
        let uri = parts
            .uri
            .to_string()
            .parse()
            .unwrap_or_else(|_| parts.uri.clone());
        HandshakeInfo {
            headers,
            uri,
            address,
            issued: SystemTime::now(),
            secure: parts.uri.scheme() == Some(&http::uri::Scheme::HTTPS),
            xdomain: parts.headers.contains_key(http::header::ORIGIN),
        }
    }
}

/// The routing-relevant query parameters. Values are taken raw (not
/// percent-decoded): every legitimate value (`4`, `polling`, `websocket`,
/// base64url sids) is plain ASCII, and anything else must fail anyway.
#[derive(Debug, Default)]
pub(crate) struct Query<'a> {
    pub eio: Option<&'a str>,
    pub transport: Option<&'a str>,
    pub sid: Option<&'a str>,
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
    use super::Query;

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
