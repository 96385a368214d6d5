//! Serves the official browser client, as socket.io's `serveClient` does:
//! `<path>socket.io.js`, `socket.io.min.js`, `socket.io.msgpack.min.js` (the bundle for
//! a server whose parser is msgpack) and their source maps.
//!
//! The files come from the npm package `socket.io-client` at a pinned version, fetched
//! by build.rs into OUT_DIR; nothing third-party lives in this repository. Only with the
//! `client-bundle` feature: without it the paths answer 404, and the build never needs
//! npm or the network.

use axum::http::StatusCode;
#[cfg(feature = "client-bundle")]
use axum::http::{header, HeaderMap, HeaderValue};
#[cfg(feature = "client-bundle")]
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

/// The socket.io-client version the bundle comes from.
pub const CLIENT_VERSION: &str = env!("RALLY_CLIENT_VERSION");

/// Whether this build serves the bundle (the `client-bundle` feature).
pub const CLIENT_BUNDLE: bool = cfg!(feature = "client-bundle");

/// The bundle's files: name, body, content type.
#[cfg(feature = "client-bundle")]
const FILES: [(&str, &[u8], &str); 6] = [
    (
        "socket.io.js",
        include_bytes!(concat!(env!("OUT_DIR"), "/socket.io.js")),
        "application/javascript; charset=utf-8",
    ),
    (
        "socket.io.min.js",
        include_bytes!(concat!(env!("OUT_DIR"), "/socket.io.min.js")),
        "application/javascript; charset=utf-8",
    ),
    (
        "socket.io.msgpack.min.js",
        include_bytes!(concat!(env!("OUT_DIR"), "/socket.io.msgpack.min.js")),
        "application/javascript; charset=utf-8",
    ),
    (
        "socket.io.js.map",
        include_bytes!(concat!(env!("OUT_DIR"), "/socket.io.js.map")),
        "application/json; charset=utf-8",
    ),
    (
        "socket.io.min.js.map",
        include_bytes!(concat!(env!("OUT_DIR"), "/socket.io.min.js.map")),
        "application/json; charset=utf-8",
    ),
    (
        "socket.io.msgpack.min.js.map",
        include_bytes!(concat!(env!("OUT_DIR"), "/socket.io.msgpack.min.js.map")),
        "application/json; charset=utf-8",
    ),
];

#[cfg(feature = "client-bundle")]
pub(crate) fn router(path: &str) -> Router {
    let base = path.trim_end_matches('/');
    FILES
        .iter()
        .fold(Router::new(), |router, &(name, body, content_type)| {
            router.route(
                &format!("{base}/{name}"),
                get(move |headers: HeaderMap| async move { serve(&headers, body, content_type) }),
            )
        })
}

/// Without the bundle, its paths answer 404 and say (once in the log) how to get it.
#[cfg(not(feature = "client-bundle"))]
pub(crate) fn router(path: &str) -> Router {
    use std::sync::atomic::{AtomicBool, Ordering};
    static LOGGED: AtomicBool = AtomicBool::new(false);
    const WHY: &str = "rally was built without its `client-bundle` feature, so it does not \
                       serve the browser client: enable it (rally = { features = [\"client-bundle\"] }) \
                       or serve socket.io-client's dist files yourself";
    let base = path.trim_end_matches('/');
    let names = [
        "socket.io.js",
        "socket.io.min.js",
        "socket.io.msgpack.min.js",
        "socket.io.js.map",
        "socket.io.min.js.map",
        "socket.io.msgpack.min.js.map",
    ];
    names.iter().fold(Router::new(), |router, name| {
        router.route(
            &format!("{base}/{name}"),
            get(|| async {
                if !LOGGED.swap(true, Ordering::Relaxed) {
                    tracing::warn!("{WHY}");
                }
                (StatusCode::NOT_FOUND, WHY)
            }),
        )
    })
}

#[cfg(feature = "client-bundle")]
fn serve(headers: &HeaderMap, body: &'static [u8], content_type: &'static str) -> Response {
    // The bundle changes only with the pinned version, so the version is a strong ETag.
    let etag = concat!("\"", env!("RALLY_CLIENT_VERSION"), "\"");
    if headers
        .get(header::IF_NONE_MATCH)
        .is_some_and(|v| v.as_bytes() == etag.as_bytes())
    {
        return (
            StatusCode::NOT_MODIFIED,
            [(header::ETAG, HeaderValue::from_static(etag))],
        )
            .into_response();
    }
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=0"),
            ),
            (header::ETAG, HeaderValue::from_static(etag)),
        ],
        body,
    )
        .into_response()
}
