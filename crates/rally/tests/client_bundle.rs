//! `serve_client`: with the `client-bundle` feature the official browser client is served
//! at `<path>socket.io.js` (and its minified form and source maps); without it those paths
//! answer 404 with a body that names the feature, and nothing else changes.

mod common;

use common::TestServer;
use rally::{Server, ServerConfig, CLIENT_BUNDLE, CLIENT_VERSION};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A plain GET over its own connection: the status code and the body.
async fn get(server: &TestServer, path: &str) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(server.addr)
        .await
        .expect("connect");
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.expect("read");
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .expect("a status line");
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default();
    (status, body)
}

#[tokio::test]
async fn the_bundle_is_served_with_the_feature_and_named_without_it() {
    let server = TestServer::start(Server::new(ServerConfig::default())).await;
    for path in [
        "/socket.io/socket.io.js",
        "/socket.io/socket.io.min.js",
        "/socket.io/socket.io.js.map",
        "/socket.io/socket.io.min.js.map",
    ] {
        let (status, body) = get(&server, path).await;
        if CLIENT_BUNDLE {
            assert_eq!(status, 200, "{path}");
            assert!(body.len() > 1000, "{path}: {} bytes", body.len());
        } else {
            assert_eq!(status, 404, "{path}");
            assert!(body.contains("client-bundle"), "{path}: {body}");
        }
    }
    if CLIENT_BUNDLE {
        let (_, body) = get(&server, "/socket.io/socket.io.js").await;
        assert!(
            body.contains(&format!("v{CLIENT_VERSION}")),
            "the pinned version's bundle"
        );
    }
    // The engine answers next to it either way.
    let (status, body) = get(&server, "/socket.io/?EIO=4&transport=polling").await;
    assert_eq!(status, 200);
    assert!(body.starts_with("0{"), "{body}");
}

#[tokio::test]
async fn serve_client_off_serves_nothing() {
    let server = TestServer::with_defaults().await;
    let (status, _) = get(&server, "/socket.io/socket.io.js").await;
    assert_ne!(status, 200);
}
