//! The Engine: request routing, handshakes, shutdown.
//!
//! Every Engine.IO request lands on one handler that validates the query
//! (transport, protocol revision, sid) in the reference server's order and
//! hands the request to the transport. Checks happen before any session
//! state is touched, so a refused request has no side effect except where
//! the protocol asks for one (an overlapping poll kills its session).
//!
//! The live sessions are the registry's (`registry.rs`); the server keeps it
//! and the shutdown flag, and nothing of the server reaches a session.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request};
use axum::response::Response;
use axum::routing::any;
use axum::Router;
use http::{Method, StatusCode};

use crate::config::EngineConfig;
use crate::cors;
use crate::error::ProtocolError;
use crate::handshake::{HandshakeInfo, Query};
use crate::protocol::EngineProtocol;
use crate::registry::Registry;
use crate::session::polling::PollRequest;
use crate::session::{CloseReason, EngineHandler, Session, Wire};
use crate::transport::{http_compression, polling, websocket};
use crate::transport_kind::TransportKind;

/// What the Engine and its routes share.
struct Shared {
    registry: Arc<Registry>,
    shutting_down: AtomicBool,
}

/// An Engine.IO server.
pub struct Engine {
    shared: Arc<Shared>,
}

/// How long [`Engine::close`] waits for clients to collect their close.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

impl Engine {
    /// An engine with no sessions yet, reporting to `handler`; clients reach
    /// it once its [`router`](Engine::router) is served.
    pub fn new(config: EngineConfig, handler: Arc<dyn EngineHandler>) -> Arc<Engine> {
        Arc::new(Engine {
            shared: Arc::new(Shared {
                registry: Registry::new(config, handler),
                shutting_down: AtomicBool::new(false),
            }),
        })
    }

    /// An axum Router serving `config.path`, with and without the trailing
    /// slash. Works with or without `ConnectInfo<SocketAddr>`.
    pub fn router(self: &Arc<Self>) -> Router {
        let shared = self.shared.clone();
        let route = any(move |req: Request| handle(shared.clone(), req));
        let trimmed = self.config().path.trim_end_matches('/');
        let router = Router::new().route(&format!("{trimmed}/"), route.clone());
        if trimmed.is_empty() {
            router
        } else {
            router.route(trimmed, route)
        }
    }

    /// The settings given to [`Engine::new`].
    pub fn config(&self) -> &EngineConfig {
        self.shared.registry.config()
    }

    /// Sessions not yet finished, those closing gracefully included.
    pub fn session_count(&self) -> usize {
        self.shared.registry.count()
    }

    /// Looks up a live session by id.
    pub fn session(&self, sid: &str) -> Option<Arc<Session>> {
        self.shared.registry.get(sid)
    }

    /// Graceful shutdown: refuses new handshakes (HTTP 503), closes every
    /// session with [`CloseReason::ServerShutdown`] (clients see a plain
    /// transport close and reconnect by themselves), and waits until all
    /// sessions are gone, for at most a couple of seconds; stragglers are
    /// then ended without waiting for their clients.
    pub async fn close(&self) {
        let registry = &self.shared.registry;
        self.shared.shutting_down.store(true, Ordering::Release);
        for s in registry.snapshot() {
            s.close(CloseReason::ServerShutdown);
        }
        // Each session leaves the registry as it finishes, and the last one
        // to leave wakes this wait: no polling of the count.
        let _ = tokio::time::timeout(SHUTDOWN_GRACE, registry.wait_empty()).await;
        for s in registry.snapshot() {
            s.finish(CloseReason::ServerShutdown);
        }
    }
}

async fn handle(shared: Arc<Shared>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let cors = shared.registry.config().cors.as_ref();
    if let (Some(cors), &Method::OPTIONS) = (cors, &parts.method) {
        return cors::preflight(cors, &parts.headers);
    }
    let req_headers = cors.map(|_| parts.headers.clone());
    let mut resp = route(&shared, parts, body).await;
    if let (Some(cors), Some(h)) = (cors, req_headers) {
        cors::apply(cors, &h, resp.headers_mut());
    }
    resp
}

async fn route(shared: &Shared, mut parts: http::request::Parts, body: Body) -> Response {
    let registry = &shared.registry;
    let config = registry.config();
    let query = parts.uri.query().map(str::to_owned);
    let q = Query::parse(query.as_deref());
    let Some(kind) = q
        .transport
        .and_then(TransportKind::parse)
        .filter(|k| config.allows(*k))
    else {
        return ProtocolError::UnknownTransport.response();
    };
    let Some(protocol) = q
        .eio
        .and_then(EngineProtocol::parse)
        .filter(|p| *p == EngineProtocol::V4 || config.allow_eio3)
    else {
        return ProtocolError::UnsupportedProtocolVersion.response();
    };
    // A v3 client asks for binary as base64 with any non-empty `b64`, as the
    // reference server reads it; v4 has no such choice.
    let wire = Wire {
        protocol,
        binary: protocol == EngineProtocol::V4 || q.b64.is_none_or(str::is_empty),
    };

    if let Some(sid) = q.sid {
        let Some(session) = registry.get(sid) else {
            return ProtocolError::UnknownSid.response();
        };
        // A session speaks the revision it was opened with.
        if session.protocol() != protocol {
            return ProtocolError::BadRequest.response();
        }
        return match kind {
            TransportKind::Polling => {
                // After an upgrade the session belongs to its WebSocket.
                if session.transport() != TransportKind::Polling {
                    return ProtocolError::BadRequest.response();
                }
                let request = PollRequest {
                    t: q.t,
                    from: remote_address(&parts),
                };
                match parts.method {
                    Method::GET => {
                        let coding = config
                            .http_compression
                            .and_then(|_| http_compression::negotiate(&parts.headers));
                        polling::get(session, request, coding).await
                    }
                    Method::POST => polling::post(session, request, &parts.headers, body).await,
                    _ => ProtocolError::BadRequest.response(),
                }
            }
            TransportKind::WebSocket => {
                if !config.allow_upgrades {
                    return ProtocolError::BadRequest.response();
                }
                match websocket::WsRequest::from_parts(&mut parts) {
                    Some(request) => websocket::upgrade(session, request, wire.binary),
                    None => websocket::not_an_upgrade(),
                }
            }
        };
    }

    if parts.method != Method::GET {
        return ProtocolError::BadHandshakeMethod.response();
    }
    if shared.shutting_down.load(Ordering::Acquire) {
        return ProtocolError::BadRequest
            .response_with(StatusCode::SERVICE_UNAVAILABLE, "Server shutting down");
    }
    if let Some(allow) = &config.allow_request {
        if let Err(message) = allow.check(&parts).await {
            let message = if message.is_empty() {
                ProtocolError::Forbidden.message()
            } else {
                &message
            };
            return ProtocolError::Forbidden.response_with(StatusCode::FORBIDDEN, message);
        }
    }
    let info = HandshakeInfo::from_parts(&parts, remote_address(&parts));
    match kind {
        TransportKind::Polling => polling::handshake(registry, info, wire),
        TransportKind::WebSocket => {
            match websocket::WsRequest::from_parts(&mut parts) {
                Some(request) => websocket::handshake(registry.clone(), info, request, wire),
                // A plain GET asking for the websocket transport.
                None => websocket::not_an_upgrade(),
            }
        }
    }
}

/// The client's address, when the app is served with `ConnectInfo` (as `rally_engine::serve`
/// and `into_make_service_with_connect_info` do).
fn remote_address(parts: &http::request::Parts) -> Option<SocketAddr> {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0)
}
