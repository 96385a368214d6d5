//! Handshake and request validation, over both transports.

mod common;

use std::time::Duration;

use common::*;
use rally_engine::{AllowRequest, EngineConfig, TransportKind};

#[tokio::test]
async fn polling_handshake_sends_open_packet() {
    let srv = start(EngineConfig::default()).await;
    let r = srv.get("EIO=4&transport=polling").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/plain; charset=UTF-8"));
    let v = open_json(&r.text());
    assert_eq!(v["upgrades"], serde_json::json!(["websocket"]));
    assert_eq!(v["pingInterval"], 25000);
    assert_eq!(v["pingTimeout"], 20000);
    assert_eq!(v["maxPayload"], 1_000_000);
    let sid = v["sid"].as_str().unwrap();
    assert!(sid.len() >= 20);
    assert_eq!(srv.events(), vec![Event::Open(sid.to_owned())]);
    assert_eq!(srv.engine.session_count(), 1);
    let s = srv.session(sid);
    assert_eq!(s.transport(), TransportKind::Polling);
    assert!(s.handshake().address.is_some());
    assert!(!s.handshake().xdomain);
}

#[tokio::test]
async fn path_without_trailing_slash_and_no_connect_info() {
    let srv = start_with(EngineConfig::default(), false).await;
    let r = request(
        srv.addr,
        "GET",
        "/engine.io?EIO=4&transport=polling",
        b"",
        &[("Origin", "http://x")],
    )
    .await;
    assert_eq!(r.status, 200);
    let sid = open_sid(&r.text());
    let s = srv.session(&sid);
    assert!(s.handshake().address.is_none());
    assert!(s.handshake().xdomain);
}

#[tokio::test]
async fn protocol_errors() {
    let srv = start(EngineConfig::default()).await;
    srv.get("transport=polling").await.assert_error(400, 5);
    srv.get("EIO=3&transport=polling")
        .await
        .assert_error(400, 5);
    srv.get("EIO=abc&transport=polling")
        .await
        .assert_error(400, 5);
    let r = srv.get("EIO=4").await;
    r.assert_error(400, 0);
    assert_eq!(r.json()["message"], "Transport unknown");
    srv.get("EIO=4&transport=abc").await.assert_error(400, 0);
    srv.get("EIO=4&transport=polling&sid=nope")
        .await
        .assert_error(400, 1);
    let r = srv.post("EIO=4&transport=polling", b"4x").await;
    r.assert_error(400, 2);
    assert_eq!(r.json()["message"], "Bad handshake method");
    request(
        srv.addr,
        "PUT",
        "/engine.io/?EIO=4&transport=polling",
        b"",
        &[],
    )
    .await
    .assert_error(400, 2);
    // The websocket transport on a plain (non-upgrade) GET.
    srv.get("EIO=4&transport=websocket")
        .await
        .assert_error(400, 3);
    assert_eq!(srv.engine.session_count(), 0);
    assert!(srv.events().is_empty());
}

#[tokio::test]
async fn disabled_transport_is_unknown() {
    let srv = start(EngineConfig {
        transports: vec![TransportKind::Polling],
        ..EngineConfig::default()
    })
    .await;
    srv.get("EIO=4&transport=websocket")
        .await
        .assert_error(400, 0);
    let r = srv.get("EIO=4&transport=polling").await;
    assert_eq!(open_json(&r.text())["upgrades"], serde_json::json!([]));
}

#[tokio::test]
async fn allow_request_refuses_with_403() {
    let srv = start(EngineConfig {
        allow_request: Some(AllowRequest::new(|parts: &http::request::Parts| {
            let token = parts.headers.get("x-token").map(|v| v.as_bytes().to_vec());
            async move {
                // Decided after a wait, as a lookup in a session store would be.
                tokio::time::sleep(Duration::from_millis(20)).await;
                match token.as_deref() {
                    Some(b"good") => Ok(()),
                    Some(_) => Err("bad token".to_owned()),
                    None => Err(String::new()),
                }
            }
        })),
        ..EngineConfig::default()
    })
    .await;
    let path = srv.url("EIO=4&transport=polling");
    let r = request(srv.addr, "GET", &path, b"", &[]).await;
    r.assert_error(403, 4);
    assert_eq!(r.json()["message"], "Forbidden");
    let r = request(srv.addr, "GET", &path, b"", &[("x-token", "bad")]).await;
    r.assert_error(403, 4);
    assert_eq!(r.json()["message"], "bad token");
    let r = request(srv.addr, "GET", &path, b"", &[("x-token", "good")]).await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn websocket_handshake_sends_open_packet() {
    let srv = start(EngineConfig::default()).await;
    let mut ws = srv.ws("EIO=4&transport=websocket").await;
    let v = open_json(&next_text(&mut ws).await);
    assert_eq!(v["upgrades"], serde_json::json!([]));
    assert_eq!(v["maxPayload"], 1_000_000);
    let sid = v["sid"].as_str().unwrap().to_owned();
    let s = srv.session(&sid);
    assert_eq!(s.transport(), TransportKind::WebSocket);
    assert!(s.handshake().address.is_some());
}

#[tokio::test]
async fn websocket_handshake_errors_refuse_upgrade() {
    let srv = start(EngineConfig::default()).await;
    for q in [
        "transport=websocket",
        "EIO=abc&transport=websocket",
        "EIO=4",
        "EIO=4&transport=abc",
    ] {
        let url = format!("ws://{}/engine.io/?{q}", srv.addr);
        match tokio_tungstenite::connect_async(url).await {
            Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
                assert_eq!(resp.status(), 400)
            }
            other => panic!("{q}: expected HTTP 400, got {:?}", other.map(|_| ())),
        }
    }
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(srv.engine.session_count(), 0);
}
