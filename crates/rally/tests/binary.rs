//! Binary attachments both ways: the server's `Binary` arguments arrive as a
//! BINARY_EVENT whose placeholders point at the binary messages that follow;
//! a client's BINARY_EVENT reaches the handler as bytes and its BINARY_ACK
//! comes back the same way; a relayed binary event is re-emitted unchanged;
//! and attachments big enough for every WebSocket length form cross intact.
//!
//! The wire form (text part, then one binary message per attachment) is what
//! the client checks here, placeholder by placeholder.

mod common;

use bytes::Bytes;
use common::{placeholder, TestServer};
use rally::packet::PacketKind;
use rally::{Binary, Event};
use serde_json::{json, Value};

#[derive(serde::Serialize)]
struct Meta {
    meta: Binary,
}

#[tokio::test]
async fn server_binary_arrives_as_placeholders_and_attachments() {
    let srv = TestServer::with_defaults().await;
    let mut c = srv.client().await;
    // A `Binary` becomes a placeholder wherever it sits, here inside an object.
    srv.socket(&c)
        .emit(
            "file",
            (
                "name.bin",
                Binary::from(vec![1u8, 2, 3]),
                Meta {
                    meta: Binary::from(vec![4u8, 5]),
                },
            ),
        )
        .unwrap();
    let packet = c.next_event_packet().await;
    assert_eq!(packet.kind, PacketKind::BinaryEvent);
    assert_eq!(
        packet.data,
        Some(json!(["file", "name.bin", placeholder(0), { "meta": placeholder(1) }]))
    );
    assert_eq!(
        packet.attachments,
        [Bytes::from_static(&[1, 2, 3]), Bytes::from_static(&[4, 5])]
    );
}

#[tokio::test]
async fn client_binary_reaches_the_handler_and_the_binary_ack_comes_back() {
    let srv = TestServer::with_defaults().await;
    srv.io.on_connection(|socket| {
        socket.on("upload", |_, mut event: Event| async move {
            let data: Binary = event.arg(0).unwrap();
            let label: String = event.arg(1).unwrap();
            let mut reversed = data.0.to_vec();
            reversed.reverse();
            event.ack((label, Binary::from(reversed)));
        });
    });
    let mut c = srv.client().await;
    let answer = c
        .emit_packet_with_ack(
            json!(["upload", placeholder(0), "x"]),
            vec![Bytes::from_static(&[1, 2, 3])],
        )
        .await;
    assert_eq!(answer.kind, PacketKind::BinaryAck);
    assert_eq!(answer.data, Some(json!(["x", placeholder(0)])));
    assert_eq!(answer.attachments, [Bytes::from_static(&[3, 2, 1])]);
}

#[tokio::test]
async fn a_relayed_binary_event_is_re_emitted_unchanged() {
    let srv = TestServer::with_defaults().await;
    srv.io.on_connection(|socket| {
        socket.on("relay", |socket, event: Event| async move {
            socket.broadcast().emit("relayed", event.args).unwrap();
        });
    });
    let [mut a, mut b] = srv.clients().await;
    let args = json!([{ "parts": [placeholder(1), placeholder(0)] }, "tail"]);
    let attachments = vec![Bytes::from_static(b"first"), Bytes::from_static(b"second")];
    a.send(&rally::packet::Packet::event(
        "/",
        common::client::event_data("relay", args.clone()),
        attachments.clone(),
        None,
    ))
    .await;
    let packet = b.next_event_packet().await;
    assert_eq!(
        packet.data,
        Some(common::client::event_data("relayed", args))
    );
    assert_eq!(packet.attachments, attachments);
    srv.assert_quiet([&mut a, &mut b]).await;
}

#[tokio::test]
async fn attachments_of_every_frame_length_cross_both_ways() {
    let srv = TestServer::with_defaults().await;
    common::on_echo(&srv.io);
    let mut c = srv.client().await;
    // 7-bit, 16-bit and 64-bit WebSocket lengths, and an empty attachment.
    let sizes = [0usize, 100, 1_000, 70_000];
    let attachments: Vec<Bytes> = sizes
        .iter()
        .map(|&n| (0..n).map(|i| (i % 251) as u8).collect::<Vec<u8>>().into())
        .collect();
    let placeholders: Vec<Value> = (0..sizes.len()).map(placeholder).collect();
    let mut data = vec![json!("echo")];
    data.extend(placeholders.clone());
    let answer = c
        .emit_packet_with_ack(data.into(), attachments.clone())
        .await;
    assert_eq!(answer.data, Some(placeholders.into()));
    assert_eq!(answer.attachments, attachments);
}
