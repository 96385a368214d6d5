//! The `ws_echo` example (a plain WebSocket server on `rally_engine::ws`),
//! run in-process and spoken to by tungstenite: echo, ping, the size limit and
//! the close handshake.

#[path = "../examples/ws_echo.rs"]
#[allow(dead_code)]
mod ws_echo;

use std::net::SocketAddr;

use futures::{SinkExt, StreamExt};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{connect_async, MaybeTlsStream, WebSocketStream};

type Client = WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>;

async fn start(max_message: usize) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(ws_echo::run(listener, max_message));
    addr
}

async fn connect(addr: SocketAddr) -> Client {
    connect_async(format!("ws://{addr}/")).await.unwrap().0
}

async fn next(ws: &mut Client) -> Message {
    ws.next().await.expect("a message").expect("no error")
}

#[tokio::test]
async fn echoes_text_and_binary_and_closes_cleanly() {
    let mut ws = connect(start(1 << 20).await).await;
    ws.send(Message::text("héllo")).await.unwrap();
    assert_eq!(next(&mut ws).await, Message::text("héllo"));
    ws.send(Message::binary(vec![0u8, 1, 254, 255]))
        .await
        .unwrap();
    assert_eq!(next(&mut ws).await, Message::binary(vec![0u8, 1, 254, 255]));
    ws.send(Message::Ping(b"hb".to_vec().into())).await.unwrap();
    assert_eq!(next(&mut ws).await, Message::Pong(b"hb".to_vec().into()));

    let bye = CloseFrame {
        code: CloseCode::Away,
        reason: "bye".into(),
    };
    ws.close(Some(bye)).await.unwrap();
    match next(&mut ws).await {
        // The server answers with the client's code, then ends the connection.
        Message::Close(Some(frame)) => assert_eq!(frame.code, CloseCode::Away),
        other => panic!("expected the close answer, got {other:?}"),
    }
    assert!(ws.next().await.is_none());
}

#[tokio::test]
async fn a_message_over_the_limit_is_refused_with_1009() {
    let mut ws = connect(start(1000).await).await;
    ws.send(Message::binary(vec![7u8; 1000])).await.unwrap();
    assert!(matches!(next(&mut ws).await, Message::Binary(b) if b.len() == 1000));
    ws.send(Message::binary(vec![7u8; 1001])).await.unwrap();
    match next(&mut ws).await {
        Message::Close(Some(frame)) => assert_eq!(frame.code, CloseCode::Size),
        other => panic!("expected a close frame, got {other:?}"),
    }
}
