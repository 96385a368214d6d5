//! Heartbeat: server pings, client pongs, missed pongs end the session.

mod common;

use std::time::{Duration, Instant};

use common::*;
use rally_engine::{CloseReason, EngineConfig};

#[tokio::test]
async fn websocket_ping_pong_then_timeout() {
    let srv = start(fast_heartbeat()).await;
    let (mut ws, sid) = srv.open_ws().await;
    for _ in 0..3 {
        assert_eq!(next_text(&mut ws).await, "2");
        send_text(&mut ws, "3").await;
    }
    assert_eq!(srv.closes(&sid), 0);
    // Stop answering: the next ping goes unanswered.
    assert_eq!(next_text(&mut ws).await, "2");
    let started = Instant::now();
    expect_closed(&mut ws).await;
    assert_eq!(srv.wait_close(&sid).await, CloseReason::PingTimeout);
    assert!(started.elapsed() >= Duration::from_millis(100));
}

#[tokio::test]
async fn polling_ping_pong_then_timeout_without_polling() {
    let srv = start(fast_heartbeat()).await;
    let sid = srv.open_polling().await;
    for _ in 0..3 {
        assert_eq!(srv.poll(&sid).await.text(), "2");
        assert_eq!(srv.push(&sid, b"3").await.text(), "ok");
    }
    assert_eq!(srv.closes(&sid), 0);
    // The client vanishes entirely: no poll, no pong.
    assert_eq!(srv.wait_close(&sid).await, CloseReason::PingTimeout);
    srv.push(&sid, b"3").await.assert_error(400, 1);
}

#[tokio::test]
async fn pending_poll_gets_close_on_ping_timeout() {
    let srv = start(fast_heartbeat()).await;
    let sid = srv.open_polling().await;
    assert_eq!(srv.poll(&sid).await.text(), "2");
    // Poll again but never pong: the poll is answered with a close packet.
    let r = srv.poll(&sid).await;
    assert_eq!(r.text(), "1");
    assert_eq!(srv.wait_close(&sid).await, CloseReason::PingTimeout);
}

/// A session closed by the layer above (socket.io's connect timeout does this) while its
/// client has gone silent is gone when the heartbeat would have ended it, not a whole
/// `ping_timeout` after the close: whatever closes a session, it is gone by
/// `ping_interval + ping_timeout` after the client's last sign of life.
#[tokio::test]
async fn a_close_never_outlives_the_heartbeat() {
    let config = EngineConfig {
        ping_interval: Duration::from_millis(300),
        ping_timeout: Duration::from_millis(300),
        ..EngineConfig::default()
    };
    let srv = start(config).await;
    let opened = Instant::now();
    let sid = srv.open_polling().await;
    // The ping went out at 300 ms, unanswered; close just before its pong deadline.
    tokio::time::sleep(Duration::from_millis(500)).await;
    srv.session(&sid).close(CloseReason::ForcedClose);
    assert_eq!(srv.wait_close(&sid).await, CloseReason::ForcedClose);
    let gone = opened.elapsed();
    assert!(
        gone < Duration::from_millis(720),
        "gone {gone:?} after the handshake: ping_interval + ping_timeout is 600 ms"
    );
    srv.poll(&sid).await.assert_error(400, 1);
}

/// A live client that is closed still gets `ping_timeout` to collect its close packet.
#[tokio::test]
async fn a_closed_polling_client_collects_its_close_packet() {
    let srv = start(fast_heartbeat()).await;
    let sid = srv.open_polling().await;
    srv.session(&sid).close(CloseReason::ForcedClose);
    assert_eq!(srv.poll(&sid).await.text(), "1");
    assert_eq!(srv.wait_close(&sid).await, CloseReason::ForcedClose);
}

/// With `ping_interval` shorter than `ping_timeout`, pings still come every interval
/// after each pong (not at the old pong deadline).
#[tokio::test]
async fn pings_follow_the_interval_when_it_is_shorter_than_the_timeout() {
    let srv = start(EngineConfig {
        ping_interval: Duration::from_millis(50),
        ping_timeout: Duration::from_millis(400),
        ..EngineConfig::default()
    })
    .await;
    let (mut ws, _sid) = srv.open_ws().await;
    assert_eq!(next_text(&mut ws).await, "2");
    send_text(&mut ws, "3").await;
    let ponged = Instant::now();
    assert_eq!(next_text(&mut ws).await, "2");
    let gap = ponged.elapsed();
    assert!(
        gap < Duration::from_millis(250),
        "websocket: next ping {gap:?} after the pong; the interval is 50 ms"
    );

    let sid = srv.open_polling().await;
    assert_eq!(srv.poll(&sid).await.text(), "2");
    assert_eq!(srv.push(&sid, b"3").await.text(), "ok");
    let ponged = Instant::now();
    assert_eq!(srv.poll(&sid).await.text(), "2");
    let gap = ponged.elapsed();
    assert!(
        gap < Duration::from_millis(250),
        "polling: next ping {gap:?} after the pong; the interval is 50 ms"
    );
}
