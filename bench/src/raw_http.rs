//! A bare HTTP/1.1 client over one kept-alive TCP connection, for tools that open tens
//! of thousands of Engine.IO sessions: each request is written by hand and its answer
//! read by `Content-Length` (or chunks), so a tool controls exactly which connection
//! carries what, and when it goes away. Connections can come from any loopback source
//! address (`127.0.0.x`), so that a large run does not exhaust one address's ports.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::time::timeout;

/// Each request waits at most this long for its whole answer.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(10);

/// Opens a TCP connection to `port` on 127.0.0.1 from `127.0.0.<source>`.
pub async fn connect_from(source: u8, port: u16) -> std::io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::V4(SocketAddrV4::new(
        Ipv4Addr::new(127, 0, 0, source),
        0,
    )))?;
    socket
        .connect(SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, port)))
        .await
}

/// An answer: its status and its body.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// One kept-alive connection; requests go one after the other.
pub struct Connection {
    stream: TcpStream,
    /// Bytes read past the end of the previous answer.
    buffered: Vec<u8>,
}

impl Connection {
    pub fn new(stream: TcpStream) -> Self {
        Connection {
            stream,
            buffered: Vec::new(),
        }
    }

    /// The connection itself, for a protocol that takes over after HTTP (a WebSocket
    /// upgrade); `None` when bytes past the last answer were already read.
    pub fn into_stream(self) -> Option<TcpStream> {
        self.buffered.is_empty().then_some(self.stream)
    }

    /// Sends a request and reads its answer.
    pub async fn request(
        &mut self,
        method: &str,
        path: &str,
        body: &[u8],
    ) -> Result<Answer, String> {
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain;charset=UTF-8\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        let mut out = head.into_bytes();
        out.extend_from_slice(body);
        self.stream
            .write_all(&out)
            .await
            .map_err(|e| format!("write: {e}"))?;
        timeout(ANSWER_TIMEOUT, self.read_answer())
            .await
            .map_err(|_| "no answer in time".to_owned())?
    }

    async fn fill(&mut self) -> Result<(), String> {
        let mut chunk = [0u8; 8192];
        let n = self
            .stream
            .read(&mut chunk)
            .await
            .map_err(|e| format!("read: {e}"))?;
        if n == 0 {
            return Err("connection closed".into());
        }
        self.buffered.extend_from_slice(&chunk[..n]);
        Ok(())
    }

    async fn read_answer(&mut self) -> Result<Answer, String> {
        let head_end = loop {
            if let Some(at) = find(&self.buffered, b"\r\n\r\n") {
                break at;
            }
            self.fill().await?;
        };
        let head = String::from_utf8_lossy(&self.buffered[..head_end]).into_owned();
        self.buffered.drain(..head_end + 4);
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("not an HTTP answer: {head:?}"))?;
        let header = |name: &str| {
            head.lines().skip(1).find_map(|line| {
                let (key, value) = line.split_once(':')?;
                key.trim()
                    .eq_ignore_ascii_case(name)
                    .then(|| value.trim().to_owned())
            })
        };
        let body = if let Some(length) = header("content-length") {
            let length: usize = length.parse().map_err(|_| "bad content-length")?;
            while self.buffered.len() < length {
                self.fill().await?;
            }
            self.buffered.drain(..length).collect()
        } else if header("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
            let mut body = Vec::new();
            loop {
                let line_end = loop {
                    if let Some(at) = find(&self.buffered, b"\r\n") {
                        break at;
                    }
                    self.fill().await?;
                };
                let size_text = String::from_utf8_lossy(&self.buffered[..line_end]).into_owned();
                let size = usize::from_str_radix(size_text.trim(), 16)
                    .map_err(|_| format!("bad chunk size {size_text:?}"))?;
                self.buffered.drain(..line_end + 2);
                while self.buffered.len() < size + 2 {
                    self.fill().await?;
                }
                body.extend(self.buffered.drain(..size));
                self.buffered.drain(..2);
                if size == 0 {
                    break body;
                }
            }
        } else {
            Vec::new()
        };
        Ok(Answer { status, body })
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
