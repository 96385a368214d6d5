//! Heartbeat: server pings, client pongs, missed pongs end the session.

mod common;

use std::time::{Duration, Instant};

use common::*;
use rally_engine::CloseReason;

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
