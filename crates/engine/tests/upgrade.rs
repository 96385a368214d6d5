//! Upgrade from polling to WebSocket.

mod common;

use std::time::Duration;

use common::*;
use rally_engine::{CloseReason, EngineConfig, OutMessage, TransportKind};

#[tokio::test]
async fn upgrade_with_pending_poll() {
    let srv = start(EngineConfig::default()).await;
    let sid = srv.open_polling().await;
    let pending = srv.pending_poll(&sid).await;

    let mut ws = srv.probe(&sid).await;
    // The pending poll is released with a noop so the client can pause.
    assert_eq!(pending.await.unwrap().text(), "6");
    let session = srv.session(&sid);
    assert_eq!(session.transport(), TransportKind::Polling);
    // Sent during the probe: still owed, it must come out on the websocket.
    session.send(OutMessage::text("queued")).unwrap();
    send_text(&mut ws, "5").await;
    assert_eq!(next_text(&mut ws).await, "4queued");
    assert_eq!(session.transport(), TransportKind::WebSocket);

    send_text(&mut ws, "4hello").await;
    assert_eq!(next_text(&mut ws).await, "4hello");
    // Polling is over for this session, but the session lives on.
    srv.poll(&sid).await.assert_error(400, 3);
    srv.push(&sid, b"4x").await.assert_error(400, 3);
    send_text(&mut ws, "4still").await;
    assert_eq!(next_text(&mut ws).await, "4still");
    assert_eq!(srv.closes(&sid), 0);
}

#[tokio::test]
async fn poll_arriving_between_probe_and_upgrade_gets_noop() {
    let srv = start(EngineConfig::default()).await;
    let sid = srv.open_polling().await;
    let mut ws = srv.probe(&sid).await;
    // No GET was pending when the probe was answered: the next one collects the noop.
    assert_eq!(srv.poll(&sid).await.text(), "6");
    send_text(&mut ws, "5").await;
    // The noop went to the poll: the first frame on the WebSocket is the echo.
    send_text(&mut ws, "4hello").await;
    assert_eq!(next_text(&mut ws).await, "4hello");
    srv.poll(&sid).await.assert_error(400, 3);
}

#[tokio::test]
async fn upgrade_without_any_poll_sends_no_noop() {
    let srv = start(EngineConfig::default()).await;
    let sid = srv.open_polling().await;
    let mut ws = srv.probe(&sid).await;
    send_text(&mut ws, "5").await;
    // A noop exists to release a GET; none is pending, so none is written anywhere:
    // the first frame after `5` is the echo of the client's next message.
    send_text(&mut ws, "4hello").await;
    assert_eq!(next_text(&mut ws).await, "4hello");
    srv.poll(&sid).await.assert_error(400, 3);
    send_text(&mut ws, "4again").await;
    assert_eq!(next_text(&mut ws).await, "4again");
}

#[tokio::test]
async fn second_websocket_after_upgrade_is_closed() {
    let srv = start(EngineConfig::default()).await;
    let sid = srv.open_polling().await;
    let mut ws = srv.probe(&sid).await;
    send_text(&mut ws, "5").await;

    let mut ws2 = srv
        .ws(&format!("EIO=4&transport=websocket&sid={sid}"))
        .await;
    expect_closed(&mut ws2).await;
    send_text(&mut ws, "4hello").await;
    assert_eq!(next_text(&mut ws).await, "4hello");
    assert_eq!(srv.closes(&sid), 0);
}

#[tokio::test]
async fn upgrade_timeout_keeps_polling() {
    let srv = start(EngineConfig {
        upgrade_timeout: Duration::from_millis(100),
        ..EngineConfig::default()
    })
    .await;
    let sid = srv.open_polling().await;
    let mut ws = srv.probe(&sid).await;
    expect_closed(&mut ws).await;
    // The unclaimed noop is dropped with the probe; polling works as before.
    assert_eq!(srv.push(&sid, b"4after").await.text(), "ok");
    assert_eq!(srv.poll(&sid).await.text(), "4after");
    assert_eq!(srv.session(&sid).transport(), TransportKind::Polling);
    assert_eq!(srv.closes(&sid), 0);
}

#[tokio::test]
async fn heartbeat_moves_to_websocket() {
    let srv = start(fast_heartbeat()).await;
    let sid = srv.open_polling().await;
    let mut ws = srv.probe(&sid).await;
    send_text(&mut ws, "5").await;
    let mut pings = 0;
    while pings < 3 {
        match next_text(&mut ws).await.as_str() {
            "2" => {
                pings += 1;
                send_text(&mut ws, "3").await;
            }
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(srv.closes(&sid), 0);
    // No more pongs.
    expect_closed(&mut ws).await;
    assert_eq!(srv.wait_close(&sid).await, CloseReason::PingTimeout);
}
