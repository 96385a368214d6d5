//! HTTP long-polling: payloads, waiting polls, overlap, disconnects, limits.

mod common;

use std::time::Duration;

use common::*;
use rally_engine::{Bytes, CloseReason, EngineConfig, Message, OutMessage, SendError};
use tokio::io::AsyncWriteExt;

#[tokio::test]
async fn text_and_binary_round_trip() {
    let srv = start(EngineConfig::default()).await;
    let sid = srv.open_polling().await;
    let r = srv
        .push(&sid, b"4hello\x1ebAQIDBA==\x1e4\xc3\xa9t\xc3\xa9")
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "ok");
    assert_eq!(r.header("content-type"), Some("text/html"));
    let r = srv.poll(&sid).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/plain; charset=UTF-8"));
    assert_eq!(r.text(), "4hello\x1ebAQIDBA==\x1e4été");
    assert_eq!(
        srv.messages(),
        vec![
            Message::Text("hello".into()),
            Message::Binary(Bytes::from_static(&[1, 2, 3, 4])),
            Message::Text("été".into()),
        ]
    );
}

#[tokio::test]
async fn get_waits_until_something_is_queued() {
    let srv = start(EngineConfig::default()).await;
    let sid = srv.open_polling().await;
    let session = srv.session(&sid);
    let pending = srv.pending_poll(&sid).await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(!pending.is_finished());
    session
        .send_many(&[OutMessage::text("a"), OutMessage::binary(vec![0xffu8])])
        .unwrap();
    let r = pending.await.unwrap();
    assert_eq!(r.text(), "4a\x1eb/w==");
}

#[tokio::test]
async fn overlapping_polls_close_the_session() {
    let srv = start(EngineConfig::default()).await;
    let sid = srv.open_polling().await;
    let first = srv.pending_poll(&sid).await;
    srv.poll(&sid).await.assert_error(400, 3);
    let r = first.await.unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "1");
    assert_eq!(srv.wait_close(&sid).await, CloseReason::TransportError);
    srv.poll(&sid).await.assert_error(400, 1);
}

#[tokio::test]
async fn dropped_poll_closes_the_session() {
    let srv = start(EngineConfig::default()).await;
    let sid = srv.open_polling().await;
    let mut stream = tokio::net::TcpStream::connect(srv.addr).await.unwrap();
    let path = srv.url(&format!("EIO=4&transport=polling&sid={sid}"));
    stream
        .write_all(&raw_request(srv.addr, "GET", &path, b"", &[]))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    drop(stream);
    assert_eq!(srv.wait_close(&sid).await, CloseReason::TransportClose);
    assert_eq!(srv.engine.session_count(), 0);
}

#[tokio::test]
async fn oversize_post_is_refused_and_closes() {
    let srv = start(EngineConfig {
        max_payload: 100,
        ..EngineConfig::default()
    })
    .await;
    let sid = srv.open_polling().await;
    let body = [b'4'; 101];
    let r = srv.push(&sid, &body).await;
    assert_eq!(r.status, 413);
    assert_eq!(srv.wait_close(&sid).await, CloseReason::TransportError);

    // Exactly at the limit is fine.
    let sid = srv.open_polling().await;
    let r = srv.push(&sid, &[b'4'; 100]).await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn oversize_chunked_post_is_refused() {
    let srv = start(EngineConfig {
        max_payload: 100,
        ..EngineConfig::default()
    })
    .await;
    let sid = srv.open_polling().await;
    let path = srv.url(&format!("EIO=4&transport=polling&sid={sid}"));
    let mut stream = tokio::net::TcpStream::connect(srv.addr).await.unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    for _ in 0..3 {
        let _ = stream.write_all(b"3C\r\n").await;
        let _ = stream.write_all(&[b'4'; 60]).await;
        let _ = stream.write_all(b"\r\n").await;
    }
    let _ = stream.write_all(b"0\r\n\r\n").await;
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(
        Duration::from_secs(3),
        tokio::io::AsyncReadExt::read_to_end(&mut stream, &mut buf),
    )
    .await;
    assert_eq!(parse_response(&buf).status, 413);
    assert_eq!(srv.wait_close(&sid).await, CloseReason::TransportError);
}

#[tokio::test]
async fn undecodable_posts_close_with_parse_error() {
    let srv = start(EngineConfig::default()).await;
    for body in [&b"abc"[..], b"4\xff", b"bnot base64!", b""] {
        let sid = srv.open_polling().await;
        srv.push(&sid, body).await.assert_error(400, 3);
        assert_eq!(srv.wait_close(&sid).await, CloseReason::ParseError);
        srv.poll(&sid).await.assert_error(400, 1);
    }
}

#[tokio::test]
async fn client_close_packet() {
    let srv = start(EngineConfig::default()).await;
    let sid = srv.open_polling().await;
    let pending = srv.pending_poll(&sid).await;
    let r = srv.push(&sid, b"1").await;
    assert_eq!(r.text(), "ok");
    let r = pending.await.unwrap();
    assert_eq!(r.text(), "6");
    assert_eq!(srv.wait_close(&sid).await, CloseReason::TransportClose);
    srv.poll(&sid).await.assert_error(400, 1);
}

#[tokio::test]
async fn client_ping_is_answered() {
    let srv = start(EngineConfig::default()).await;
    let sid = srv.open_polling().await;
    for _ in 0..3 {
        assert_eq!(srv.push(&sid, b"2probe").await.text(), "ok");
        assert_eq!(srv.poll(&sid).await.text(), "3probe");
    }
}

#[tokio::test]
async fn server_close_flushes_then_sends_close() {
    let srv = start(EngineConfig::default()).await;
    let sid = srv.open_polling().await;
    let session = srv.session(&sid);
    session.send(OutMessage::text("bye")).unwrap();
    session.close(CloseReason::ForcedClose);
    assert!(session.is_closed());
    assert!(matches!(
        session.send(OutMessage::text("late")),
        Err(SendError::Closed)
    ));
    // The messages first, then the close packet alone, so that the client has
    // handled every message before it learns the transport closed.
    assert_eq!(srv.poll(&sid).await.text(), "4bye");
    assert_eq!(srv.poll(&sid).await.text(), "1");
    assert_eq!(srv.wait_close(&sid).await, CloseReason::ForcedClose);
    assert_eq!(srv.closes(&sid), 1);
}

#[tokio::test]
async fn full_queue_closes_the_session() {
    let srv = start(EngineConfig {
        max_queue: 3,
        ..EngineConfig::default()
    })
    .await;
    let sid = srv.open_polling().await;
    let session = srv.session(&sid);
    session.send(OutMessage::text("1")).unwrap();
    // All or nothing: three more do not fit.
    let three = [
        OutMessage::text("2"),
        OutMessage::text("3"),
        OutMessage::text("4"),
    ];
    assert!(matches!(
        session.send_many(&three),
        Err(SendError::QueueFull)
    ));
    assert!(session.is_closed());
    assert_eq!(srv.wait_close(&sid).await, CloseReason::BufferFull);
    assert!(matches!(
        session.send(OutMessage::text("x")),
        Err(SendError::Closed)
    ));
}

#[tokio::test]
async fn queued_bytes_are_bounded_too() {
    let srv = start(EngineConfig {
        max_queued_bytes: 1000,
        ..EngineConfig::default()
    })
    .await;
    let sid = srv.open_polling().await;
    let session = srv.session(&sid);
    // One shared message sent again and again still counts each time.
    let big = OutMessage::text("x".repeat(400));
    session.send(big.clone()).unwrap();
    session.send(big.clone()).unwrap();
    assert!(matches!(session.send(big), Err(SendError::QueueFull)));
    assert_eq!(srv.wait_close(&sid).await, CloseReason::BufferFull);
}

#[tokio::test]
async fn a_client_that_stays_behind_longer_than_max_lag_is_closed() {
    let srv = start(EngineConfig {
        max_lag: Duration::from_millis(400),
        ..EngineConfig::default()
    })
    .await;
    let sid = srv.open_polling().await;
    let session = srv.session(&sid);
    // A burst queued at once is no lag: a client that comes for it gets all of it.
    let burst: Vec<String> = (0..1000).map(|i| format!("4{i}")).collect();
    for message in &burst {
        session.send(OutMessage::text(&message[1..])).unwrap();
    }
    assert_eq!(srv.poll(&sid).await.text(), burst.join("\x1e"));
    // Then it stops coming: what it has not taken ages, and past max_lag it is dropped.
    session.send(OutMessage::text("first")).unwrap();
    tokio::time::sleep(Duration::from_millis(150)).await;
    session.send(OutMessage::text("still in time")).unwrap();
    assert!(!session.is_closed());
    tokio::time::sleep(Duration::from_millis(350)).await;
    assert!(matches!(
        session.send(OutMessage::text("too late")),
        Err(SendError::QueueFull)
    ));
    assert_eq!(srv.wait_close(&sid).await, CloseReason::BufferFull);
}

#[tokio::test]
async fn one_message_over_the_byte_bound_reaches_a_caught_up_client() {
    let srv = start(EngineConfig {
        max_queued_bytes: 1000,
        ..EngineConfig::default()
    })
    .await;
    let sid = srv.open_polling().await;
    let session = srv.session(&sid);
    let big = "y".repeat(5000);
    session.send(OutMessage::text(big.clone())).unwrap();
    assert_eq!(srv.poll(&sid).await.text(), format!("4{big}"));
    // Behind by that much, though, the client is dropped.
    session.send(OutMessage::text(big.clone())).unwrap();
    assert!(matches!(
        session.send(OutMessage::text(big)),
        Err(SendError::QueueFull)
    ));
    assert_eq!(srv.wait_close(&sid).await, CloseReason::BufferFull);
}

#[tokio::test]
async fn volatile_messages_are_dropped_while_the_client_is_behind() {
    let srv = start(EngineConfig::default()).await;
    let sid = srv.open_polling().await;
    let session = srv.session(&sid);
    assert_eq!(session.send_volatile(&[OutMessage::text("a")]), Ok(true));
    // "a" has not been collected yet: the client is behind.
    assert_eq!(session.send_volatile(&[OutMessage::text("b")]), Ok(false));
    session.send(OutMessage::text("c")).unwrap();
    assert_eq!(srv.poll(&sid).await.text(), "4a\x1e4c");
    assert_eq!(session.send_volatile(&[OutMessage::text("d")]), Ok(true));
    assert_eq!(srv.poll(&sid).await.text(), "4d");
}

#[tokio::test]
async fn messages_arrive_in_order_across_posts() {
    let srv = start(EngineConfig::default()).await;
    let sid = srv.open_polling().await;
    for i in 0..5 {
        let body = format!("4m{}\x1e4n{}", i, i);
        assert_eq!(srv.push(&sid, body.as_bytes()).await.status, 200);
    }
    let r = srv.poll(&sid).await;
    let expected: Vec<String> = (0..5)
        .flat_map(|i| [format!("4m{i}"), format!("4n{i}")])
        .collect();
    assert_eq!(r.text(), expected.join("\x1e"));
}

/// A browser resends a request whose kept-alive connection broke before the answer
/// came, with the same URL and so the same cache-busting `t`: the answer it lost is
/// sent again, not the next one, or its packets would be gone while it stays connected.
#[tokio::test]
async fn a_poll_sent_again_gets_the_packets_its_first_answer_carried() {
    let srv = start(EngineConfig::default()).await;
    let sid = srv.open_polling().await;
    let session = srv.session(&sid);
    let poll = |t: &'static str| {
        let query = format!("EIO=4&transport=polling&sid={sid}&t={t}");
        let srv = &srv;
        async move { srv.get(&query).await }
    };
    session
        .send_many(&[OutMessage::text("a"), OutMessage::binary(vec![1u8])])
        .unwrap();
    assert_eq!(poll("Pq1abc").await.text(), "4a\x1ebAQ==");
    // Each request comes on a connection of its own here: the same `t` again is a resend.
    assert_eq!(poll("Pq1abc").await.text(), "4a\x1ebAQ==");
    session.send(OutMessage::text("b")).unwrap();
    assert_eq!(poll("Pq1abd").await.text(), "4b");
    // Once a new poll came, the old answer is forgotten: its `t` is a new poll.
    session.send(OutMessage::text("c")).unwrap();
    assert_eq!(poll("Pq1abc").await.text(), "4c");
    assert_eq!(srv.closes(&sid), 0);
}

#[tokio::test]
async fn a_post_sent_again_is_taken_in_once() {
    let srv = start(EngineConfig::default()).await;
    let sid = srv.open_polling().await;
    let push = |t: &'static str, body: &'static [u8]| {
        let query = format!("EIO=4&transport=polling&sid={sid}&t={t}");
        let srv = &srv;
        async move { srv.post(&query, body).await }
    };
    for (t, body) in [("Pq2a", b"4one"), ("Pq2a", b"4one"), ("Pq2b", b"4two")] {
        let r = push(t, body).await;
        assert_eq!((r.status, r.text()), (200, "ok".to_owned()));
    }
    // A client that does not stamp its requests gets no such check.
    for _ in 0..2 {
        assert_eq!(srv.push(&sid, b"4three").await.text(), "ok");
    }
    let text = |s: &str| Message::Text(s.into());
    assert_eq!(
        srv.messages(),
        [text("one"), text("two"), text("three"), text("three")]
    );
}

/// Long-polling answers are compressed as Node's `httpCompression` does: gzip or deflate
/// as the request accepts, from 1 KiB on; shorter answers, clients that accept neither,
/// and a server configured without it get the bytes as they are.
#[tokio::test]
async fn long_answers_are_compressed_as_the_client_accepts() {
    use flate2::read::{GzDecoder, ZlibDecoder};
    use std::io::Read;

    let long = "x".repeat(2000);
    let short = "y".repeat(100);
    fn read_all(mut decoder: impl Read) -> String {
        let mut text = String::new();
        decoder.read_to_string(&mut text).unwrap();
        text
    }
    async fn poll_with(srv: &Server, sid: &str, accept: &str) -> Resp {
        let path = srv.url(&format!("EIO=4&transport=polling&sid={sid}"));
        request(srv.addr, "GET", &path, b"", &[("Accept-Encoding", accept)]).await
    }
    let srv = start(EngineConfig::default()).await;
    let sid = srv.open_polling().await;
    let session = srv.session(&sid);
    for (accept, coding) in [
        ("gzip, deflate, br", Some("gzip")),
        ("deflate", Some("deflate")),
        ("gzip;q=0, deflate;q=1", Some("deflate")),
        ("br, identity", None),
    ] {
        session.send(OutMessage::text(long.as_str())).unwrap();
        let r = poll_with(&srv, &sid, accept).await;
        assert_eq!(r.header("content-encoding"), coding, "{accept}");
        let body = match coding {
            Some("gzip") => read_all(GzDecoder::new(&r.body[..])),
            Some(_) => read_all(ZlibDecoder::new(&r.body[..])),
            None => r.text(),
        };
        assert_eq!(body, format!("4{long}"), "{accept}");
        if coding.is_some() {
            assert!(r.body.len() < 100, "{accept}: {} bytes", r.body.len());
        }
    }
    session.send(OutMessage::text(short.as_str())).unwrap();
    let r = poll_with(&srv, &sid, "gzip").await;
    assert_eq!(
        (r.header("content-encoding"), r.text()),
        (None, format!("4{short}"))
    );

    let plain = start(EngineConfig {
        http_compression: None,
        ..EngineConfig::default()
    })
    .await;
    let sid = plain.open_polling().await;
    plain
        .session(&sid)
        .send(OutMessage::text(long.as_str()))
        .unwrap();
    let r = poll_with(&plain, &sid, "gzip").await;
    assert_eq!(
        (r.header("content-encoding"), r.text()),
        (None, format!("4{long}"))
    );
}
