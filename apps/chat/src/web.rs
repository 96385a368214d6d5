//! The HTTP side besides Socket.IO: the page, its script and style, and `GET /health`.
//!
//! The page's files are compiled in. They are served with a strict Content-Security-Policy
//! (scripts and styles from this origin only, no inline code, connections to this origin
//! and WebSockets) and `X-Content-Type-Options: nosniff`.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use rally::Server;
use rally_redis::RedisAdapterFactory;
use serde_json::json;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

const INDEX_HTML: &str = include_str!("../static/index.html");
const APP_JS: &str = include_str!("../static/app.js");
const APP_CSS: &str = include_str!("../static/app.css");
const FAVICON_SVG: &str = include_str!("../static/favicon.svg");

/// The page's Content-Security-Policy.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    img-src 'self' data:; connect-src 'self' ws: wss:; base-uri 'none'; form-action 'self'; \
    frame-ancestors 'none'";

/// What `/health` reports.
pub struct Health {
    pub io: Server,
    /// The cluster's adapter, when clustered: `/health` shows its connection state and counters.
    pub redis: Option<RedisAdapterFactory>,
    pub started: Instant,
    pub shutting_down: AtomicBool,
}

impl Health {
    pub fn new(io: Server, redis: Option<RedisAdapterFactory>) -> Arc<Health> {
        Arc::new(Health {
            io,
            redis,
            started: Instant::now(),
            shutting_down: AtomicBool::new(false),
        })
    }

    pub fn set_shutting_down(&self) {
        self.shutting_down.store(true, Ordering::Release);
    }
}

/// The page's routes and `/health`; merge with the Socket.IO router.
pub fn router(health: Arc<Health>) -> Router {
    Router::new()
        .route(
            "/",
            get(|| async { page(INDEX_HTML, "text/html; charset=utf-8") }),
        )
        .route(
            "/index.html",
            get(|| async { page(INDEX_HTML, "text/html; charset=utf-8") }),
        )
        .route(
            "/app.js",
            get(|| async { page(APP_JS, "text/javascript; charset=utf-8") }),
        )
        .route(
            "/app.css",
            get(|| async { page(APP_CSS, "text/css; charset=utf-8") }),
        )
        .route(
            "/favicon.svg",
            get(|| async { page(FAVICON_SVG, "image/svg+xml") }),
        )
        .route("/health", get(move || health_report(health.clone())))
}

fn page(body: &'static str, content_type: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(CSP),
            ),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
            (
                header::REFERRER_POLICY,
                HeaderValue::from_static("no-referrer"),
            ),
            (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        body,
    )
        .into_response()
}

async fn health_report(health: Arc<Health>) -> Response {
    let shutting_down = health.shutting_down.load(Ordering::Acquire);
    let mut body = json!({
        "status": if shutting_down { "shutting_down" } else { "ok" },
        "connections": health.io.engine().session_count(),
        "sockets": health.io.sockets().local_sockets().len(),
        "uptime_seconds": health.started.elapsed().as_secs(),
        "version": env!("CARGO_PKG_VERSION"),
    });
    if let Some(redis) = &health.redis {
        // Still 200 while Redis is away: this server serves its own clients meanwhile.
        body["redis"] = json!(redis.stats());
    }
    let status = if shutting_down {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    (
        status,
        [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))],
        Json(body),
    )
        .into_response()
}
