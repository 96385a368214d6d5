//! WebSocket transport: framing, errors, closes.

mod common;

use common::*;
use futures::SinkExt;
use rally_engine::{Bytes, CloseReason, EngineConfig, Message, OutMessage};
use tokio_tungstenite::tungstenite::Message as Ws;

#[tokio::test]
async fn echoes_text_and_binary_frames() {
    let srv = start(EngineConfig::default()).await;
    let (mut ws, sid) = srv.open_ws().await;
    send_text(&mut ws, "4hello").await;
    assert_eq!(next_text(&mut ws).await, "4hello");
    ws.send(Ws::binary(vec![1u8, 2, 3, 4])).await.unwrap();
    match next_frame(&mut ws).await {
        Ws::Binary(b) => assert_eq!(&b[..], &[1, 2, 3, 4]),
        other => panic!("expected binary, got {other:?}"),
    }
    assert!(srv.events().contains(&Event::Message(
        sid.clone(),
        Message::Binary(Bytes::from_static(&[1, 2, 3, 4]))
    )));
    // A ping from the client (v3 direction) is answered in kind.
    send_text(&mut ws, "2probe").await;
    assert_eq!(next_text(&mut ws).await, "3probe");
}

#[tokio::test]
async fn invalid_packet_closes_with_parse_error() {
    let srv = start(EngineConfig::default()).await;
    let (mut ws, sid) = srv.open_ws().await;
    send_text(&mut ws, "abc").await;
    expect_closed(&mut ws).await;
    assert_eq!(srv.wait_close(&sid).await, CloseReason::ParseError);
}

#[tokio::test]
async fn client_close_packet_and_close_frame() {
    let srv = start(EngineConfig::default()).await;
    let (mut ws, sid) = srv.open_ws().await;
    send_text(&mut ws, "1").await;
    expect_closed(&mut ws).await;
    assert_eq!(srv.wait_close(&sid).await, CloseReason::TransportClose);

    let (mut ws, sid) = srv.open_ws().await;
    ws.close(None).await.unwrap();
    assert_eq!(srv.wait_close(&sid).await, CloseReason::TransportClose);

    let (ws, sid) = srv.open_ws().await;
    drop(ws);
    assert_eq!(srv.wait_close(&sid).await, CloseReason::TransportClose);
    assert_eq!(srv.engine.session_count(), 0);
}

#[tokio::test]
async fn oversize_message_closes_the_connection() {
    let srv = start(EngineConfig {
        max_payload: 100,
        ..EngineConfig::default()
    })
    .await;
    let (mut ws, sid) = srv.open_ws().await;
    send_text(&mut ws, &format!("4{}", "x".repeat(99))).await;
    assert_eq!(next_text(&mut ws).await.len(), 100);
    send_text(&mut ws, &format!("4{}", "x".repeat(100))).await;
    expect_closed(&mut ws).await;
    assert_eq!(srv.wait_close(&sid).await, CloseReason::TransportError);
}

#[tokio::test]
async fn server_close_flushes_then_closes() {
    let srv = start(EngineConfig::default()).await;
    let (mut ws, sid) = srv.open_ws().await;
    let session = srv.session(&sid);
    session
        .send_many(&[OutMessage::text("a"), OutMessage::binary(vec![9u8])])
        .unwrap();
    session.close(CloseReason::ForcedClose);
    assert_eq!(next_text(&mut ws).await, "4a");
    assert!(matches!(next_frame(&mut ws).await, Ws::Binary(b) if b[..] == [9]));
    expect_closed(&mut ws).await;
    assert_eq!(srv.wait_close(&sid).await, CloseReason::ForcedClose);
}

#[tokio::test]
async fn many_messages_keep_order() {
    let srv = start(EngineConfig::default()).await;
    let (mut ws, sid) = srv.open_ws().await;
    let session = srv.session(&sid);
    for i in 0..500 {
        session.send(OutMessage::text(format!("{i}"))).unwrap();
    }
    for i in 0..500 {
        assert_eq!(next_text(&mut ws).await, format!("4{i}"));
    }
}

#[tokio::test]
async fn a_panicking_handler_closes_only_its_session() {
    let srv = start(EngineConfig::default()).await;
    let (mut bad, bad_sid) = srv.open_ws().await;
    let (mut good, _) = srv.open_ws().await;
    bad.send(Ws::text("4panic")).await.unwrap();
    assert_eq!(srv.wait_close(&bad_sid).await, CloseReason::TransportError);
    good.send(Ws::text("4still here")).await.unwrap();
    assert_eq!(next_text(&mut good).await, "4still here");
}

#[tokio::test]
async fn large_frames_take_the_long_length_forms() {
    for srv in both_servers(EngineConfig::default()).await {
        let (mut ws, _) = srv.open_ws().await;
        // Past 16 bits of length: the 64-bit form (1 KiB frames elsewhere take the 16-bit one).
        let text = format!("4{}", "t".repeat(70_000));
        send_text(&mut ws, &text).await;
        assert_eq!(next_text(&mut ws).await, text);
        let data: Vec<u8> = (0..200_000u32).map(|i| i as u8).collect();
        ws.send(Ws::binary(data.clone())).await.unwrap();
        match next_frame(&mut ws).await {
            Ws::Binary(b) => assert_eq!(&b[..], &data[..]),
            other => panic!("expected binary, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn websocket_pings_are_answered_between_whole_data_frames() {
    use futures::StreamExt;
    for srv in both_servers(EngineConfig::default()).await {
        let (mut ws, sid) = srv.open_ws().await;
        let session = srv.session(&sid);
        // The server writes while the client pings: each pong must land between
        // two whole frames, however the socket splits the writes.
        let writer = tokio::spawn(async move {
            for i in 0..2_000 {
                session
                    .send(OutMessage::text(format!("{i}:{}", "p".repeat(1_000))))
                    .unwrap();
                if i % 100 == 0 {
                    tokio::task::yield_now().await;
                }
            }
        });
        for p in 0..50u8 {
            ws.send(Ws::Ping(vec![p].into())).await.unwrap();
        }
        let (mut next, mut pongs) = (0, Vec::new());
        while next < 2_000 || pongs.len() < 50 {
            let frame = tokio::time::timeout(std::time::Duration::from_secs(5), ws.next())
                .await
                .expect("frame timeout")
                .expect("stream ended")
                .expect("websocket error: a frame was cut");
            match frame {
                Ws::Text(t) => {
                    assert_eq!(t.as_str(), format!("4{next}:{}", "p".repeat(1_000)));
                    next += 1;
                }
                Ws::Pong(data) => pongs.push(data[0]),
                other => panic!("unexpected frame {other:?}"),
            }
        }
        writer.await.unwrap();
        assert_eq!(pongs, (0..50u8).collect::<Vec<_>>());
    }
}

/// The layer above closes the session over a message, more messages follow in the same
/// read, and the client goes away: the session still ends (it used to stay closing
/// forever, with nothing left to time it out).
#[tokio::test]
async fn a_session_closed_above_ends_when_its_client_goes() {
    for srv in both_servers(EngineConfig::default()).await {
        let (mut ws, sid) = srv.open_ws().await;
        ws.feed(Ws::text("4refuse")).await.unwrap();
        ws.feed(Ws::text("4more")).await.unwrap();
        ws.feed(Ws::text("4and more")).await.unwrap();
        ws.flush().await.unwrap();
        drop(ws);
        let reason = tokio::time::timeout(std::time::Duration::from_secs(3), srv.wait_close(&sid))
            .await
            .expect("the session ended");
        assert_eq!(reason, CloseReason::ParseError);
    }
}
