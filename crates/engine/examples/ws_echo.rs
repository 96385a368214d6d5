//! A plain WebSocket echo server (no Engine.IO) on `rally_engine::ws`: the
//! engine's own frame codec under a conformance suite such as Autobahn's.
//!
//! ```text
//! cargo run -p rally-engine --example ws_echo -- --port 9001 --max-message 16777216
//! ```
//!
//! It echoes every text and binary message, answers pings, answers a close
//! frame with its own code, and fails the connection with the close code of
//! any protocol error. One task per connection, sequential reads and writes:
//! the point is the codec, not throughput.

use std::io;
use std::time::Duration;

use rally_engine::ws::{close_frame, control_frame, frame, Assembler, Incoming, Opcode, Step};
use rally_engine::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tungstenite::handshake::derive_accept_key;

/// Largest opening handshake request read.
const MAX_REQUEST: usize = 16 * 1024;

#[tokio::main]
async fn main() -> io::Result<()> {
    let mut port = 9001u16;
    let mut max_message = 16 << 20;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = args.next().unwrap_or_default();
        match arg.as_str() {
            "--port" => port = value.parse().expect("--port takes a port number"),
            "--max-message" => max_message = value.parse().expect("--max-message takes bytes"),
            _ => panic!("usage: ws_echo [--port N] [--max-message BYTES]"),
        }
    }
    let listener = TcpListener::bind(("0.0.0.0", port)).await?;
    println!("ws_echo listening on {}", listener.local_addr()?);
    run(listener, max_message).await
}

/// Serves every connection `listener` accepts; messages over `max_message`
/// bytes are refused with close code 1009.
pub async fn run(listener: TcpListener, max_message: usize) -> io::Result<()> {
    loop {
        let (tcp, _) = listener.accept().await?;
        tokio::spawn(async move {
            if let Err(e) = connection(tcp, max_message).await {
                eprintln!("connection failed: {e}");
            }
        });
    }
}

async fn connection(mut tcp: TcpStream, max_message: usize) -> io::Result<()> {
    tcp.set_nodelay(true)?;
    let mut buf = Vec::new();
    let request_end = loop {
        if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        if buf.len() > MAX_REQUEST || read_more(&mut tcp, &mut buf).await? == 0 {
            return Ok(());
        }
    };
    let Some(key) = websocket_key(&buf[..request_end]) else {
        let refusal = "HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n";
        return tcp.write_all(refusal.as_bytes()).await;
    };
    let accept = derive_accept_key(key.as_bytes());
    let response = format!(
        "HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\n\
         connection: Upgrade\r\nsec-websocket-accept: {accept}\r\n\r\n"
    );
    tcp.write_all(response.as_bytes()).await?;
    buf.drain(..request_end);

    let mut assembler = Assembler::new(max_message);
    loop {
        // The answer to one frame, if any, and whether it ends the connection.
        let (consumed, answer, last) = match assembler.step(&mut buf) {
            Ok(Step::NeedMore(size)) => {
                buf.reserve(size.saturating_sub(buf.len()));
                if read_more(&mut tcp, &mut buf).await? == 0 {
                    return Ok(());
                }
                continue;
            }
            Ok(Step::Frame { consumed, incoming }) => {
                let (answer, last) = incoming.map_or((None, false), answer);
                (consumed, answer, last)
            }
            Err(e) => (0, Some(close_frame(e.close_code())), true),
        };
        buf.drain(..consumed);
        if let Some(answer) = answer {
            tcp.write_all(&answer).await?;
        }
        if last {
            return close(tcp).await;
        }
    }
}

/// What answers one of the client's messages, and whether it ends the connection.
fn answer(incoming: Incoming<'_>) -> (Option<Bytes>, bool) {
    match incoming {
        Incoming::Text(text) => (Some(frame(Opcode::Text, text.as_bytes())), false),
        Incoming::Binary(data) => (Some(frame(Opcode::Binary, data)), false),
        Incoming::Ping(data) => (Some(control_frame(Opcode::Pong, data)), false),
        Incoming::Pong => (None, false),
        Incoming::Close(Some(code)) => (Some(close_frame(code)), true),
        Incoming::Close(None) => (Some(control_frame(Opcode::Close, &[])), true),
    }
}

/// The `Sec-WebSocket-Key` of an opening handshake request.
fn websocket_key(request: &[u8]) -> Option<String> {
    let request = std::str::from_utf8(request).ok()?;
    request.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.eq_ignore_ascii_case("sec-websocket-key")
            .then(|| value.trim().to_owned())
    })
}

async fn read_more(tcp: &mut TcpStream, buf: &mut Vec<u8>) -> io::Result<usize> {
    buf.reserve(4096);
    tcp.read_buf(buf).await
}

/// After the close frame, the server closes the TCP connection first (RFC 6455
/// 7.1.1): it stops writing, then reads what the client still sends until it
/// closes too, so that no unread byte turns the close into a reset.
async fn close(mut tcp: TcpStream) -> io::Result<()> {
    tcp.shutdown().await?;
    let mut sink = [0u8; 4096];
    let drain = async { while tcp.read(&mut sink).await.is_ok_and(|n| n > 0) {} };
    let _ = tokio::time::timeout(Duration::from_secs(1), drain).await;
    Ok(())
}
