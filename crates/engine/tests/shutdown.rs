//! Graceful engine shutdown.

mod common;

use std::time::{Duration, Instant};

use common::*;
use rally_engine::{CloseReason, EngineConfig, OutMessage};

#[tokio::test]
async fn close_ends_every_session() {
    let srv = start(EngineConfig::default()).await;
    let (mut ws, ws_sid) = srv.open_ws().await;
    let poll_sid = srv.open_polling().await;
    let idle_sid = srv.open_polling().await; // never polls again
    srv.session(&ws_sid).send(OutMessage::text("last")).unwrap();

    let pending = srv.pending_poll(&poll_sid).await;

    let started = Instant::now();
    srv.engine.close().await;
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(srv.engine.session_count(), 0);

    assert_eq!(pending.await.unwrap().text(), "1");
    assert_eq!(next_text(&mut ws).await, "4last");
    expect_closed(&mut ws).await;
    for sid in [&ws_sid, &poll_sid, &idle_sid] {
        assert_eq!(srv.wait_close(sid).await, CloseReason::ServerShutdown);
    }

    let r = srv.get("EIO=4&transport=polling").await;
    assert_eq!(r.status, 503);
    assert_eq!(r.json()["code"], 3);
}

#[tokio::test]
async fn close_returns_as_soon_as_the_last_session_is_gone() {
    let srv = start(EngineConfig::default()).await;
    let started = Instant::now();
    srv.engine.close().await;
    assert!(started.elapsed() < Duration::from_millis(100), "no session");

    let srv = start(EngineConfig::default()).await;
    let (mut ws, sid) = srv.open_ws().await;
    let started = Instant::now();
    srv.engine.close().await;
    // Woken by the session leaving, long before the grace period runs out.
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_eq!(srv.engine.session_count(), 0);
    expect_closed(&mut ws).await;
    assert_eq!(srv.wait_close(&sid).await, CloseReason::ServerShutdown);
}
