//! WebSocket framing as a raw client sees it: frames cut anywhere by the
//! network or packed together, fragmented messages, control frames between
//! fragments, and the close codes that answer a broken frame. The client
//! here writes bytes, not messages, so the server's reader is all that
//! stands between them and the session.

mod common;

use std::time::Duration;

use common::client_frame::client_frame;
use common::*;
use rally_engine::{CloseReason, EngineConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const MASK: [u8; 4] = [0x37, 0xFA, 0x21, 0x3D];

fn frame(first: u8, payload: &[u8]) -> Vec<u8> {
    client_frame(first, payload, MASK)
}

/// A server frame: its first byte and its payload.
struct ServerFrame {
    first: u8,
    payload: Vec<u8>,
}

impl ServerFrame {
    fn text(&self) -> &str {
        assert_eq!(self.first, 0x81, "not a final text frame");
        std::str::from_utf8(&self.payload).unwrap()
    }

    fn close_code(&self) -> u16 {
        assert_eq!(self.first, 0x88, "not a close frame");
        u16::from_be_bytes([self.payload[0], self.payload[1]])
    }
}

struct RawWs {
    stream: TcpStream,
    sid: String,
}

impl RawWs {
    async fn open(srv: &Server) -> RawWs {
        let mut stream = TcpStream::connect(srv.addr).await.unwrap();
        let request = format!(
            "GET /engine.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: {}\r\n\
             Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
            srv.addr
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            head.push(stream.read_u8().await.unwrap());
        }
        assert!(
            head.starts_with(b"HTTP/1.1 101"),
            "{}",
            String::from_utf8_lossy(&head)
        );
        let mut ws = RawWs {
            stream,
            sid: String::new(),
        };
        let open = ws.next().await;
        ws.sid = open_sid(open.text());
        ws
    }

    async fn next(&mut self) -> ServerFrame {
        tokio::time::timeout(Duration::from_secs(5), async {
            let first = self.stream.read_u8().await.unwrap();
            let len = match self.stream.read_u8().await.unwrap() {
                126 => u64::from(self.stream.read_u16().await.unwrap()),
                127 => self.stream.read_u64().await.unwrap(),
                n => u64::from(n),
            };
            let mut payload = vec![0; len as usize];
            self.stream.read_exact(&mut payload).await.unwrap();
            ServerFrame { first, payload }
        })
        .await
        .expect("no frame from the server")
    }

    /// Writes `bytes` in pieces of the given sizes, each its own write, with
    /// a pause so that the server reads them apart.
    async fn write_in_pieces(&mut self, bytes: &[u8], sizes: &[usize]) {
        let mut at = 0;
        for size in sizes.iter().cycle() {
            if at == bytes.len() {
                break;
            }
            let end = (at + size).min(bytes.len());
            self.stream.write_all(&bytes[at..end]).await.unwrap();
            self.stream.flush().await.unwrap();
            tokio::time::sleep(Duration::from_millis(1)).await;
            at = end;
        }
    }

    /// The server's close frame, then the end of the stream.
    async fn expect_close(&mut self) -> u16 {
        let code = self.next().await.close_code();
        let mut rest = Vec::new();
        tokio::time::timeout(Duration::from_secs(5), self.stream.read_to_end(&mut rest))
            .await
            .expect("the server kept the socket open")
            .unwrap();
        assert!(rest.is_empty(), "bytes after the close frame");
        code
    }
}

#[tokio::test]
async fn frames_cut_anywhere_or_packed_together_arrive_whole() {
    for srv in both_servers(EngineConfig::default()).await {
        let mut ws = RawWs::open(&srv).await;
        let long = format!("4{}", "é".repeat(40_000));
        let mut bytes = Vec::new();
        for text in ["4a", "4bb", &long, "4c"] {
            bytes.extend(frame(0x81, text.as_bytes()));
        }
        // One byte at a time through the headers, odd sizes through the rest:
        // a UTF-8 character and a mask's four bytes are cut too.
        ws.write_in_pieces(&bytes, &[1, 1, 1, 2, 3, 5, 7, 4_099, 11])
            .await;
        for text in ["4a", "4bb", &long, "4c"] {
            assert_eq!(ws.next().await.text(), text);
        }
        // And all in one write: four messages from one read.
        ws.stream.write_all(&bytes).await.unwrap();
        for text in ["4a", "4bb", &long, "4c"] {
            assert_eq!(ws.next().await.text(), text);
        }
    }
}

#[tokio::test]
async fn fragments_are_joined_and_pings_between_them_answered() {
    for srv in both_servers(EngineConfig::default()).await {
        let mut ws = RawWs::open(&srv).await;
        let mut bytes = frame(0x01, b"4hel");
        bytes.extend(frame(0x89, b"ping!"));
        bytes.extend(frame(0x00, b"lo "));
        bytes.extend(frame(0x80, "wörld".as_bytes()));
        ws.write_in_pieces(&bytes, &[3]).await;
        let pong = ws.next().await;
        assert_eq!((pong.first, &pong.payload[..]), (0x8A, &b"ping!"[..]));
        assert_eq!(ws.next().await.text(), "4hello wörld");
    }
}

#[tokio::test]
async fn broken_frames_close_with_the_rfc_codes() {
    let config = EngineConfig {
        max_payload: 1_000,
        ..EngineConfig::default()
    };
    let srv = start_served(config).await;
    // An unmasked frame, a reserved opcode, a continuation of nothing: 1002.
    for bad in [
        vec![0x81, 0x02, b'4', b'x'],
        frame(0x83, b"4x"),
        frame(0x80, b"4x"),
    ] {
        let mut ws = RawWs::open(&srv).await;
        ws.stream.write_all(&bad).await.unwrap();
        assert_eq!(ws.expect_close().await, 1002);
        assert_eq!(srv.wait_close(&ws.sid).await, CloseReason::TransportError);
    }
    // Text that is not UTF-8: 1007.
    let mut ws = RawWs::open(&srv).await;
    ws.stream
        .write_all(&frame(0x81, &[b'4', 0xC3, 0x28]))
        .await
        .unwrap();
    assert_eq!(ws.expect_close().await, 1007);
    assert_eq!(srv.wait_close(&ws.sid).await, CloseReason::TransportError);
    // Refused as soon as the bytes that break it arrive, not when its frame is
    // whole: here most of the frame is never sent.
    let mut ws = RawWs::open(&srv).await;
    let text = frame(0x81, &[&[b'4', 0xC3, 0x28][..], &[b'x'; 500]].concat());
    ws.stream.write_all(&text[..11]).await.unwrap();
    assert_eq!(ws.expect_close().await, 1007);
    assert_eq!(srv.wait_close(&ws.sid).await, CloseReason::TransportError);
    // Over max_payload: 1009 on the header alone, before any payload is sent.
    let mut ws = RawWs::open(&srv).await;
    let header = &frame(0x82, &[0; 1_001])[..8];
    ws.stream.write_all(header).await.unwrap();
    assert_eq!(ws.expect_close().await, 1009);
    assert_eq!(srv.wait_close(&ws.sid).await, CloseReason::TransportError);
    // Other sessions never noticed.
    let mut ws = RawWs::open(&srv).await;
    ws.stream.write_all(&frame(0x81, b"4fine")).await.unwrap();
    assert_eq!(ws.next().await.text(), "4fine");
}

#[tokio::test]
async fn a_client_close_frame_is_answered_with_its_code() {
    let srv = start_served(EngineConfig::default()).await;
    let mut ws = RawWs::open(&srv).await;
    let mut close = 1001u16.to_be_bytes().to_vec();
    close.extend_from_slice(b"going away");
    ws.stream.write_all(&frame(0x88, &close)).await.unwrap();
    assert_eq!(ws.expect_close().await, 1001);
    assert_eq!(srv.wait_close(&ws.sid).await, CloseReason::TransportClose);
}
