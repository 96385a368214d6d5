//! CORS headers for cross-origin polling.
//!
//! Hand-rolled rather than a tower layer so the Engine's router stays
//! self-contained when merged into an app that has its own CORS policy for
//! other routes, and so the behaviour matches what engine.io clients expect
//! from the Node server's `cors` option.

use axum::response::{IntoResponse, Response};
use http::{header, HeaderMap, HeaderValue, StatusCode};

use crate::config::{Cors, CorsOrigin};

/// The Allow-Origin value for this request, if it is allowed at all.
fn allowed_origin(cors: &Cors, req: &HeaderMap) -> Option<HeaderValue> {
    let origin = req.get(header::ORIGIN);
    match &cors.origin {
        // `*` is refused by browsers on credentialed requests, hence the
        // reflection.
        CorsOrigin::Any if cors.credentials => {
            Some(origin.cloned().unwrap_or(HeaderValue::from_static("*")))
        }
        CorsOrigin::Any => Some(HeaderValue::from_static("*")),
        CorsOrigin::List(list) => {
            let o = origin?;
            list.iter()
                .any(|allowed| allowed.as_bytes() == o.as_bytes())
                .then(|| o.clone())
        }
    }
}

/// Adds the CORS headers of an actual (non-preflight) response.
pub(crate) fn apply(cors: &Cors, req: &HeaderMap, resp: &mut HeaderMap) {
    let reflects = cors.credentials || matches!(cors.origin, CorsOrigin::List(_));
    if reflects {
        resp.append(header::VARY, HeaderValue::from_static("Origin"));
    }
    if let Some(origin) = allowed_origin(cors, req) {
        resp.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        if cors.credentials {
            resp.insert(
                header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
                HeaderValue::from_static("true"),
            );
        }
    }
}

/// Answers an OPTIONS preflight.
pub(crate) fn preflight(cors: &Cors, req: &HeaderMap) -> Response {
    let mut resp = StatusCode::NO_CONTENT.into_response();
    let h = resp.headers_mut();
    apply(cors, req, h);
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET,POST"),
    );
    if let Some(requested) = req.get(header::ACCESS_CONTROL_REQUEST_HEADERS) {
        h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, requested.clone());
        h.append(
            header::VARY,
            HeaderValue::from_static("Access-Control-Request-Headers"),
        );
    }
    h.insert(header::CONTENT_LENGTH, HeaderValue::from_static("0"));
    resp
}
