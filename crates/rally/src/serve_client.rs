//! Serves the official browser client, as socket.io's `serveClient` does:
//! `<path>socket.io.js`, `socket.io.min.js` and their source maps.
//!
//! The files come from the npm package `socket.io-client` at a pinned version, fetched
//! by build.rs into OUT_DIR; nothing third-party lives in this repository.

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

/// The socket.io-client version the bundle comes from.
pub const CLIENT_VERSION: &str = env!("RALLY_CLIENT_VERSION");

const FILES: [(&str, &[u8], &str); 4] = [
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
        "socket.io.js.map",
        include_bytes!(concat!(env!("OUT_DIR"), "/socket.io.js.map")),
        "application/json; charset=utf-8",
    ),
    (
        "socket.io.min.js.map",
        include_bytes!(concat!(env!("OUT_DIR"), "/socket.io.min.js.map")),
        "application/json; charset=utf-8",
    ),
];

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
