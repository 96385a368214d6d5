//! The test client's WebSocket floor: the HTTP upgrade, done by hand on a
//! `TcpStream`, then masked client frames out and server frames in.
//!
//! `rally_engine::ws` is the server's side of RFC 6455: it writes unmasked
//! headers and parses only masked ones (a server must refuse an unmasked
//! frame). So a client frame is the engine's `write_header` with the mask bit
//! set and a key appended, its payload masked with `unmask` (the same XOR);
//! and a server frame's header (2, 4 or 10 bytes, never masked) is read here.
//! Every frame written is checked with the engine's `parse_header`, so the
//! two sides cannot drift apart silently.

use bytes::Bytes;
use rally_engine::ws::{parse_header, unmask, write_header, Opcode, MAX_HEADER};
use std::net::SocketAddr;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tungstenite::handshake::client::generate_key;
use tungstenite::handshake::derive_accept_key;

/// One message from the server. Pings are answered and pongs dropped on the way.
#[derive(Debug, PartialEq)]
pub enum WsMessage {
    Text(String),
    Binary(Bytes),
    /// The server's close frame, with its status code.
    Close(Option<u16>),
}

pub struct WsConn {
    tcp: TcpStream,
    /// Bytes read and not yet taken as frames.
    buf: Vec<u8>,
}

impl WsConn {
    /// Connects to `addr` and upgrades `GET path_and_query` to a WebSocket.
    pub async fn open(addr: SocketAddr, path_and_query: &str) -> WsConn {
        let mut tcp = TcpStream::connect(addr).await.expect("connect");
        tcp.set_nodelay(true).expect("nodelay");
        let key = generate_key();
        let request = format!(
            "GET {path_and_query} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\n\
             Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        );
        tcp.write_all(request.as_bytes())
            .await
            .expect("write upgrade");
        let mut buf = Vec::new();
        let end = loop {
            if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break at + 4;
            }
            let n = tcp.read_buf(&mut buf).await.expect("read upgrade answer");
            assert!(n > 0, "connection closed during the upgrade");
        };
        let head = String::from_utf8(buf[..end].to_vec()).expect("ASCII headers");
        assert!(head.starts_with("HTTP/1.1 101"), "upgrade refused:\n{head}");
        let accept = head
            .lines()
            .find_map(|line| {
                let (name, value) = line.split_once(':')?;
                name.eq_ignore_ascii_case("sec-websocket-accept")
                    .then(|| value.trim())
            })
            .expect("Sec-WebSocket-Accept header");
        assert_eq!(accept, derive_accept_key(key.as_bytes()));
        // Frames the server sent right after its answer stay for `next`.
        buf.drain(..end);
        WsConn { tcp, buf }
    }

    /// Writes one final frame, masked with a fresh key as a client must.
    pub async fn send(&mut self, opcode: Opcode, payload: &[u8]) {
        let frame = client_frame(opcode, payload);
        // Errors are left to the reading side: a closed connection shows there.
        let _ = self.tcp.write_all(&frame).await;
    }

    /// The next message, or `None` once the connection is gone.
    pub async fn next(&mut self) -> Option<WsMessage> {
        loop {
            if let Some((first, header_len, payload_len)) = server_header(&self.buf) {
                let end = header_len + payload_len;
                if self.buf.len() >= end {
                    let payload: Vec<u8> = self.buf.drain(..end).skip(header_len).collect();
                    assert!(
                        first & 0x80 != 0,
                        "the server sends every message in one final frame"
                    );
                    match first & 0x0F {
                        0x1 => {
                            let text = String::from_utf8(payload).expect("UTF-8 text frame");
                            return Some(WsMessage::Text(text));
                        }
                        0x2 => return Some(WsMessage::Binary(payload.into())),
                        0x8 => {
                            let code = payload.get(..2).map(|c| u16::from_be_bytes([c[0], c[1]]));
                            return Some(WsMessage::Close(code));
                        }
                        0x9 => self.send(Opcode::Pong, &payload).await,
                        0xA => {}
                        op => panic!("unexpected opcode {op:#x} from the server"),
                    }
                    continue;
                }
            }
            match self.tcp.read_buf(&mut self.buf).await {
                Ok(0) | Err(_) => return None,
                Ok(_) => {}
            }
        }
    }
}

/// A client frame: the engine's server header with the mask bit and a key added.
fn client_frame(opcode: Opcode, payload: &[u8]) -> Vec<u8> {
    let mut header = [0u8; MAX_HEADER];
    let used = write_header(&mut header, opcode, payload.len());
    let key: [u8; 4] = rand::random();
    let mut frame = Vec::with_capacity(used + 4 + payload.len());
    frame.extend_from_slice(&header[MAX_HEADER - used..]);
    frame[1] |= 0x80;
    frame.extend_from_slice(&key);
    let start = frame.len();
    frame.extend_from_slice(payload);
    unmask(&mut frame[start..], key);
    let parsed = parse_header(&frame)
        .expect("a valid client header")
        .expect("a whole header");
    assert_eq!(
        (parsed.opcode, parsed.mask, parsed.len, parsed.payload_len),
        (opcode, key, start, payload.len() as u64)
    );
    frame
}

/// A server frame's first byte, header length and payload length, once the
/// whole header is in `buf`.
fn server_header(buf: &[u8]) -> Option<(u8, usize, usize)> {
    let [first, second, ..] = *buf else {
        return None;
    };
    assert_eq!(first & 0x70, 0, "reserved bits set by the server");
    assert_eq!(second & 0x80, 0, "server frames are never masked");
    let (len, header_len) = match second & 0x7F {
        126 => (
            u64::from(u16::from_be_bytes(buf.get(2..4)?.try_into().ok()?)),
            4,
        ),
        127 => (u64::from_be_bytes(buf.get(2..10)?.try_into().ok()?), 10),
        n => (u64::from(n), 2),
    };
    Some((
        first,
        header_len,
        usize::try_from(len).expect("frame fits memory"),
    ))
}
