//! CORS headers and preflight.

mod common;

use common::*;
use rally_engine::{Cors, CorsOrigin, EngineConfig};

fn with_cors(origin: CorsOrigin, credentials: bool) -> EngineConfig {
    EngineConfig {
        cors: Some(Cors {
            origin,
            credentials,
        }),
        ..EngineConfig::default()
    }
}

const HANDSHAKE: &str = "/engine.io/?EIO=4&transport=polling";

#[tokio::test]
async fn no_cors_by_default() {
    let srv = start(EngineConfig::default()).await;
    let r = request(
        srv.addr,
        "GET",
        HANDSHAKE,
        b"",
        &[("Origin", "http://a.test")],
    )
    .await;
    assert_eq!(r.status, 200);
    assert!(r.header("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn any_origin() {
    let srv = start(with_cors(CorsOrigin::Any, false)).await;
    let r = request(
        srv.addr,
        "GET",
        HANDSHAKE,
        b"",
        &[("Origin", "http://a.test")],
    )
    .await;
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    assert!(r.header("access-control-allow-credentials").is_none());
    // Errors carry the headers too, so the browser can read them.
    let r = request(
        srv.addr,
        "GET",
        "/engine.io/?EIO=4",
        b"",
        &[("Origin", "http://a.test")],
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
}

#[tokio::test]
async fn any_origin_with_credentials_reflects() {
    let srv = start(with_cors(CorsOrigin::Any, true)).await;
    let r = request(
        srv.addr,
        "GET",
        HANDSHAKE,
        b"",
        &[("Origin", "http://a.test")],
    )
    .await;
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("http://a.test")
    );
    assert_eq!(r.header("access-control-allow-credentials"), Some("true"));
}

#[tokio::test]
async fn origin_list() {
    let srv = start(with_cors(
        CorsOrigin::List(vec!["http://ok.test".into()]),
        false,
    ))
    .await;
    let r = request(
        srv.addr,
        "GET",
        HANDSHAKE,
        b"",
        &[("Origin", "http://ok.test")],
    )
    .await;
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("http://ok.test")
    );
    let r = request(
        srv.addr,
        "GET",
        HANDSHAKE,
        b"",
        &[("Origin", "http://evil.test")],
    )
    .await;
    assert!(r.header("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn preflight() {
    let srv = start(with_cors(CorsOrigin::Any, true)).await;
    let r = request(
        srv.addr,
        "OPTIONS",
        HANDSHAKE,
        b"",
        &[
            ("Origin", "http://a.test"),
            ("Access-Control-Request-Method", "POST"),
            ("Access-Control-Request-Headers", "content-type,x-custom"),
        ],
    )
    .await;
    assert_eq!(r.status, 204);
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("http://a.test")
    );
    assert_eq!(r.header("access-control-allow-methods"), Some("GET,POST"));
    assert_eq!(
        r.header("access-control-allow-headers"),
        Some("content-type,x-custom")
    );
    assert_eq!(r.header("access-control-allow-credentials"), Some("true"));
}
