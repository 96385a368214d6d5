//! Engine.IO protocol v3 clients, let in by `EngineConfig::allow_eio3`: the
//! length-framed polling payloads in both framings, the heartbeat the client
//! drives, type-prefixed binary WebSocket frames, and the upgrade.

mod common;

use std::time::{Duration, Instant};

use common::*;
use futures::SinkExt;
use rally_engine::{CloseReason, EngineConfig, EngineProtocol, Message, OutMessage, TransportKind};
use tokio_tungstenite::tungstenite::Message as Ws;

fn v3() -> EngineConfig {
    EngineConfig {
        allow_eio3: true,
        ..EngineConfig::default()
    }
}

/// The text-framed packets of a v3 payload, checking each length in UTF-16
/// code units as a JavaScript client reads it.
fn unframe(body: &str) -> Vec<String> {
    let mut packets = Vec::new();
    let mut rest = body;
    while !rest.is_empty() {
        let (len, after) = rest.split_once(':').expect("a length");
        let len: usize = len.parse().expect("a decimal length");
        let mut units = 0;
        let end = after
            .char_indices()
            .find_map(|(i, c)| {
                let at = (units == len).then_some(i);
                units += c.len_utf16();
                at
            })
            .unwrap_or(after.len());
        packets.push(after[..end].to_owned());
        rest = &after[end..];
    }
    packets
}

/// One packet of a binary-framed payload: 0 text or 1 binary, the length's
/// digits as bytes, 255, the data.
fn binary_framed(kind: u8, data: &[u8]) -> Vec<u8> {
    let mut out = vec![kind];
    out.extend(data.len().to_string().bytes().map(|d| d - b'0'));
    out.push(255);
    out.extend_from_slice(data);
    out
}

/// Opens a v3 polling session with `extra` query parameters; returns the sid.
async fn open_v3(srv: &Server, extra: &str) -> String {
    let r = srv.get(&format!("EIO=3&transport=polling{extra}")).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let packets = unframe(&r.text());
    assert_eq!(packets.len(), 1, "{}", r.text());
    open_sid(&packets[0])
}

async fn poll3(srv: &Server, sid: &str) -> Resp {
    srv.get(&format!("EIO=3&transport=polling&sid={sid}")).await
}

/// A GET for the session, left pending on the server.
async fn pending_poll3(srv: &Server, sid: &str) -> tokio::task::JoinHandle<Resp> {
    srv.pending_get(&format!("EIO=3&transport=polling&sid={sid}"))
        .await
}

async fn push3(srv: &Server, sid: &str, body: &[u8]) -> Resp {
    srv.post(&format!("EIO=3&transport=polling&sid={sid}"), body)
        .await
}

async fn push3_binary(srv: &Server, sid: &str, body: &[u8]) -> Resp {
    let path = srv.url(&format!("EIO=3&transport=polling&sid={sid}"));
    request(
        srv.addr,
        "POST",
        &path,
        body,
        &[("Content-Type", "application/octet-stream")],
    )
    .await
}

#[tokio::test]
async fn refused_unless_allowed() {
    let srv = start(EngineConfig::default()).await;
    srv.get("EIO=3&transport=polling")
        .await
        .assert_error(400, 5);
    let r = tokio_tungstenite::connect_async(format!(
        "ws://{}/engine.io/?EIO=3&transport=websocket",
        srv.addr
    ))
    .await;
    assert!(r.is_err(), "a v3 WebSocket must be refused");
    assert!(srv.events().is_empty());

    // Allowed, v3 is the only other revision let in.
    let srv = start(v3()).await;
    srv.get("EIO=2&transport=polling")
        .await
        .assert_error(400, 5);
    srv.get("transport=polling").await.assert_error(400, 5);
}

#[tokio::test]
async fn handshake_sends_a_length_framed_open_packet() {
    let srv = start(v3()).await;
    let r = srv.get("EIO=3&transport=polling").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/plain; charset=UTF-8"));
    let body = r.text();
    let packets = unframe(&body);
    assert_eq!(packets.len(), 1);
    assert_eq!(body, format!("{}:{}", packets[0].len(), packets[0]));
    let open = open_json(&packets[0]);
    assert_eq!(open["upgrades"], serde_json::json!(["websocket"]));
    assert_eq!(open["pingInterval"], 25_000);
    assert_eq!(open["pingTimeout"], 20_000);
    // As the reference server, which sends it to either revision.
    assert_eq!(open["maxPayload"], 1_000_000);
    let sid = open["sid"].as_str().unwrap();
    let session = srv.session(sid);
    assert_eq!(session.protocol(), EngineProtocol::V3);

    // A v4 session stays v4, and neither revision may borrow the other's session.
    let sid4 = srv.open_polling().await;
    assert_eq!(srv.session(&sid4).protocol(), EngineProtocol::V4);
    poll3(&srv, &sid4).await.assert_error(400, 3);
    srv.poll(sid).await.assert_error(400, 3);
}

#[tokio::test]
async fn polling_text_round_trip() {
    let srv = start(v3()).await;
    let sid = open_v3(&srv, "").await;
    let r = push3(&srv, &sid, "6:4hello4:4é😀".as_bytes()).await;
    assert_eq!((r.status, r.text().as_str()), (200, "ok"));
    let r = poll3(&srv, &sid).await;
    assert_eq!(r.header("content-type"), Some("text/plain; charset=UTF-8"));
    // "4é😀" is 4 UTF-16 code units (7 bytes): the length says 4.
    assert_eq!(r.text(), "6:4hello4:4é😀");
    assert_eq!(
        srv.messages(),
        vec![Message::Text("hello".into()), Message::Text("é😀".into())]
    );
}

#[tokio::test]
async fn polling_binary_as_base64() {
    let srv = start(v3()).await;
    // `b64=1` on the handshake: binary goes inside text payloads.
    let sid = open_v3(&srv, "&b64=1").await;
    push3(&srv, &sid, b"10:b4AQIDBA==2:4a").await;
    let r = poll3(&srv, &sid).await;
    assert_eq!(r.header("content-type"), Some("text/plain; charset=UTF-8"));
    assert_eq!(r.text(), "10:b4AQIDBA==2:4a");
    assert_eq!(
        srv.messages(),
        vec![
            Message::Binary(vec![1, 2, 3, 4].into()),
            Message::Text("a".into())
        ]
    );
}

#[tokio::test]
async fn polling_binary_framing() {
    let srv = start(v3()).await;
    let sid = open_v3(&srv, "").await;
    let mut body = binary_framed(0, "4é".as_bytes());
    body.extend(binary_framed(1, &[4, 0, 255, 7]));
    let r = push3_binary(&srv, &sid, &body).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        srv.messages(),
        vec![
            Message::Text("é".into()),
            Message::Binary(vec![0, 255, 7].into())
        ]
    );
    // One binary packet makes the whole answer binary-framed.
    let r = poll3(&srv, &sid).await;
    assert_eq!(r.header("content-type"), Some("application/octet-stream"));
    assert_eq!(r.body, body);
    // Text alone goes text-framed again.
    push3(&srv, &sid, b"2:4z").await;
    assert_eq!(poll3(&srv, &sid).await.text(), "2:4z");
}

#[tokio::test]
async fn client_ping_gets_pong() {
    let srv = start(v3()).await;
    let sid = open_v3(&srv, "").await;
    push3(&srv, &sid, b"1:2").await;
    assert_eq!(poll3(&srv, &sid).await.text(), "1:3");
    push3(&srv, &sid, b"6:2probe").await;
    assert_eq!(poll3(&srv, &sid).await.text(), "6:3probe");
    assert_eq!(srv.closes(&sid), 0);
}

#[tokio::test]
async fn a_server_close_is_length_framed_and_goes_alone() {
    let srv = start(v3()).await;
    let sid = open_v3(&srv, "").await;
    let session = srv.session(&sid);
    session.send(OutMessage::text("bye")).unwrap();
    session.close(CloseReason::ForcedClose);
    assert_eq!(poll3(&srv, &sid).await.text(), "4:4bye");
    assert_eq!(poll3(&srv, &sid).await.text(), "1:1");
    assert_eq!(srv.wait_close(&sid).await, CloseReason::ForcedClose);
}

#[tokio::test]
async fn ping_timeout_when_the_client_stops_pinging() {
    // pingInterval + pingTimeout = 300 ms.
    let srv = start(EngineConfig {
        allow_eio3: true,
        ..fast_heartbeat()
    })
    .await;
    let sid = open_v3(&srv, "").await;
    let opened = Instant::now();
    // The client pings: the session outlives several timeouts.
    for _ in 0..6 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        push3(&srv, &sid, b"1:2").await;
        assert_eq!(poll3(&srv, &sid).await.text(), "1:3");
    }
    assert!(opened.elapsed() > Duration::from_millis(600));
    assert_eq!(srv.closes(&sid), 0);
    // It stops: the server never pings in v3, it waits and then gives up.
    let stopped = Instant::now();
    let pending = pending_poll3(&srv, &sid).await;
    assert_eq!(srv.wait_close(&sid).await, CloseReason::PingTimeout);
    assert!(
        stopped.elapsed() >= Duration::from_millis(250),
        "closed after {:?}, before interval + timeout",
        stopped.elapsed()
    );
    assert_eq!(pending.await.unwrap().text(), "1:1");
}

#[tokio::test]
async fn a_pong_from_a_v3_client_is_an_error() {
    let srv = start(v3()).await;
    let sid = open_v3(&srv, "").await;
    push3(&srv, &sid, b"1:3").await;
    assert_eq!(srv.wait_close(&sid).await, CloseReason::TransportError);
}

#[tokio::test]
async fn malformed_payloads_are_refused_and_close() {
    let bad: [(&[u8], bool); 7] = [
        (b"5:4hi", false),
        (b"4hi", false),
        (b"x:4", false),
        (b"1:9", false),
        (b"5:b4!!!", false),
        (&[0, 9, 255, b'4'], true),
        (&[7, 1, 255, b'4'], true),
    ];
    let srv = start(v3()).await;
    for (body, binary) in bad {
        let sid = open_v3(&srv, "").await;
        let r = if binary {
            push3_binary(&srv, &sid, body).await
        } else {
            push3(&srv, &sid, body).await
        };
        r.assert_error(400, 3);
        assert_eq!(
            srv.wait_close(&sid).await,
            CloseReason::ParseError,
            "{body:?}"
        );
    }
    assert!(srv.messages().is_empty());
}

#[tokio::test]
async fn upgrade_to_websocket_with_binary_frames() {
    let srv = start(v3()).await;
    let sid = open_v3(&srv, "").await;
    let pending = pending_poll3(&srv, &sid).await;
    let mut ws = srv
        .ws(&format!("EIO=3&transport=websocket&sid={sid}"))
        .await;
    // The client probes and the server answers, as in v4; the pending poll is
    // released with a noop, length-framed.
    send_text(&mut ws, "2probe").await;
    assert_eq!(next_text(&mut ws).await, "3probe");
    assert_eq!(pending.await.unwrap().text(), "1:6");
    send_text(&mut ws, "5").await;
    send_text(&mut ws, "4hi").await;
    assert_eq!(next_text(&mut ws).await, "4hi");
    let session = srv.session(&sid);
    assert_eq!(session.transport(), TransportKind::WebSocket);

    // A binary frame starts with the message type byte, both ways.
    ws.send(Ws::binary(vec![4u8, 1, 2, 3])).await.unwrap();
    match next_frame(&mut ws).await {
        Ws::Binary(b) => assert_eq!(&b[..], &[4, 1, 2, 3]),
        other => panic!("expected binary, got {other:?}"),
    }
    assert_eq!(
        srv.messages().last(),
        Some(&Message::Binary(vec![1, 2, 3].into()))
    );
    // The client keeps pinging over the WebSocket.
    send_text(&mut ws, "2").await;
    assert_eq!(next_text(&mut ws).await, "3");
    poll3(&srv, &sid).await.assert_error(400, 3);

    // A binary frame without a message type is not a v3 packet.
    ws.send(Ws::binary(vec![9u8, 1])).await.unwrap();
    assert_eq!(srv.wait_close(&sid).await, CloseReason::ParseError);
    expect_closed(&mut ws).await;
}

#[tokio::test]
async fn websocket_session_with_base64() {
    let srv = start(v3()).await;
    let mut ws = srv.ws("EIO=3&transport=websocket&b64=1").await;
    let open = next_text(&mut ws).await;
    let sid = open_sid(&open);
    assert_eq!(srv.session(&sid).protocol(), EngineProtocol::V3);
    // Binary travels as `b4` and base64 in text frames, both ways.
    send_text(&mut ws, "b4AQID").await;
    assert_eq!(next_text(&mut ws).await, "b4AQID");
    assert_eq!(srv.messages(), vec![Message::Binary(vec![1, 2, 3].into())]);
}
