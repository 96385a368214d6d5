//! `serve`'s connection limits: no connection lingers before or between its
//! requests. Raw TCP clients, so each test controls every byte and every pause.

mod common;

use std::time::{Duration, Instant};

use common::*;
use rally_engine::{EngineConfig, OutMessage, ServeConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn limits(header_ms: u64, idle_ms: u64, max_handshakes: usize) -> ServeConfig {
    ServeConfig {
        header_timeout: Duration::from_millis(header_ms),
        idle_timeout: Duration::from_millis(idle_ms),
        max_handshakes,
    }
}

const HANDSHAKE: &[u8] = b"GET /engine.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n\r\n";

/// Reads until the server closes the connection (or `within` passes); returns the bytes
/// read and when it closed.
async fn until_closed(tcp: &mut TcpStream, within: Duration) -> (Vec<u8>, Option<Instant>) {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, tcp.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return (got, Some(Instant::now())),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Err(_) => return (got, None),
        }
    }
}

#[tokio::test]
async fn half_a_header_trickled_is_closed_after_the_header_timeout() {
    let srv = start_served_with(EngineConfig::default(), limits(500, 60_000, 64)).await;
    let mut tcp = TcpStream::connect(srv.addr).await.unwrap();
    let started = Instant::now();
    tcp.write_all(b"GET /engine.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    // One more header byte every 50 ms: never a whole header.
    let (mut read, mut write) = tcp.into_split();
    let trickle = tokio::spawn(async move {
        for _ in 0..60 {
            if write.write_all(b"X").await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    let mut buf = [0u8; 1024];
    let closed = tokio::time::timeout(Duration::from_secs(3), async {
        loop {
            match read.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    })
    .await;
    trickle.abort();
    assert!(
        closed.is_ok(),
        "still open 3 s after a 500 ms header timeout"
    );
    let open_for = started.elapsed();
    assert!(
        open_for >= Duration::from_millis(450),
        "closed after {open_for:?}"
    );
}

#[tokio::test]
async fn an_idle_kept_alive_connection_is_closed() {
    let srv = start_served_with(EngineConfig::default(), limits(5_000, 300, 64)).await;
    let mut tcp = TcpStream::connect(srv.addr).await.unwrap();
    tcp.write_all(HANDSHAKE).await.unwrap();
    let started = Instant::now();
    let (answer, closed) = until_closed(&mut tcp, Duration::from_secs(3)).await;
    assert!(
        String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    let closed = closed.expect("an idle connection is closed");
    assert!(closed - started >= Duration::from_millis(250));
}

#[tokio::test]
async fn a_long_poll_is_not_idle() {
    let srv = start_served_with(EngineConfig::default(), limits(5_000, 200, 64)).await;
    let sid = srv.open_polling().await;
    let mut tcp = TcpStream::connect(srv.addr).await.unwrap();
    let poll =
        format!("GET /engine.io/?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\nHost: x\r\n\r\n");
    tcp.write_all(poll.as_bytes()).await.unwrap();
    // The GET waits far longer than the idle timeout, then gets its message.
    tokio::time::sleep(Duration::from_millis(700)).await;
    srv.session(&sid).send(OutMessage::text("late")).unwrap();
    let (answer, _) = until_closed(&mut tcp, Duration::from_millis(500)).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.starts_with("HTTP/1.1 200") && answer.ends_with("4late"),
        "{answer}"
    );
}

#[tokio::test]
async fn connections_waiting_for_their_headers_are_bounded() {
    let srv = start_served_with(EngineConfig::default(), limits(800, 60_000, 2)).await;
    // Two connections that never send a byte hold both places.
    let _a = TcpStream::connect(srv.addr).await.unwrap();
    let _b = TcpStream::connect(srv.addr).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut c = TcpStream::connect(srv.addr).await.unwrap();
    let asked = Instant::now();
    c.write_all(HANDSHAKE).await.unwrap();
    let mut buf = [0u8; 1024];
    let n = tokio::time::timeout(Duration::from_secs(3), c.read(&mut buf))
        .await
        .expect("answered once the silent connections timed out")
        .unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    let waited = asked.elapsed();
    assert!(
        waited >= Duration::from_millis(500),
        "answered after {waited:?}, while two silent connections held both places"
    );
}
