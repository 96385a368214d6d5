//! Leaving, from either side, with the reason the server's handlers are given:
//! `socket.disconnect()` sends the client DISCONNECT and keeps the connection,
//! `socket.disconnect(true)` closes it too; a client's DISCONNECT, its closed
//! WebSocket and a server shutdown each reach `on_disconnecting` and
//! `on_disconnect` with socket.io's reason, rooms still readable in the first.
//!
//! User code compares these reasons against socket.io's strings, so they are
//! part of the contract, as is the packet the client sees.

mod common;

use common::{Reports, TestServer};
use rally::packet::{Packet, PacketKind};
use rally::{DisconnectReason, Server};

/// What a socket's handlers saw as it left.
#[derive(Debug, PartialEq)]
struct Left {
    id: String,
    /// Given to `on_disconnecting`, then to `on_disconnect`.
    reasons: [DisconnectReason; 2],
    /// Its rooms during `on_disconnecting` (its own id's room left out).
    rooms: Vec<String>,
}

/// Every socket of `/` joins "lobby"; each one's leaving is reported.
fn report_leaving(io: &Server) -> Reports<Left> {
    let (tx, reports) = common::report();
    io.on_connection(move |socket| {
        socket.join("lobby");
        let tx = tx.clone();
        socket.on_disconnecting(move |socket, first| {
            let rooms: Vec<String> = socket
                .rooms()
                .iter()
                .filter(|r| *r != socket.id())
                .map(|r| r.to_string())
                .collect();
            let tx = tx.clone();
            socket.on_disconnect(move |socket, second| {
                let _ = tx.send(Left {
                    id: socket.id().to_string(),
                    reasons: [first, second],
                    rooms: rooms.clone(),
                });
                async {}
            });
            async {}
        });
    });
    reports
}

/// A server reporting how its sockets leave, and one client.
async fn one_client() -> (TestServer, common::Client, Reports<Left>) {
    let srv = TestServer::with_defaults().await;
    let reports = report_leaving(&srv.io);
    let c = srv.client().await;
    (srv, c, reports)
}

fn left(c: &common::Client, reason: DisconnectReason) -> Left {
    Left {
        id: c.sid.clone(),
        reasons: [reason, reason],
        rooms: vec!["lobby".into()],
    }
}

#[tokio::test]
async fn server_disconnect_sends_disconnect_and_keeps_the_connection() {
    let (srv, mut c, mut reports) = one_client().await;
    srv.socket(&c).disconnect(false);
    c.expect_disconnect().await;
    assert_eq!(
        reports.next().await,
        left(&c, DisconnectReason::ServerNamespaceDisconnect)
    );
    assert!(srv.io.sockets().socket(&c.sid).is_none());
    assert!(srv.io.to("lobby").fetch_sockets().await.unwrap().is_empty());
    // The connection is still there: the client may join again.
    let again = c.try_join("/", None).await;
    assert_eq!(again.kind, PacketKind::Connect);
}

#[tokio::test]
async fn server_disconnect_with_close_ends_the_connection() {
    let (srv, mut c, mut reports) = one_client().await;
    srv.socket(&c).disconnect(true);
    c.expect_disconnect().await;
    c.expect_closed().await;
    assert_eq!(
        reports.next().await,
        left(&c, DisconnectReason::ServerNamespaceDisconnect)
    );
}

#[tokio::test]
async fn client_disconnect_is_a_client_namespace_disconnect() {
    let (srv, mut c, mut reports) = one_client().await;
    c.disconnect().await;
    assert_eq!(
        reports.next().await,
        left(&c, DisconnectReason::ClientNamespaceDisconnect)
    );
    assert!(srv.io.sockets().socket(&c.sid).is_none());
    // Nothing is sent back, and the connection stays for other namespaces.
    let again = c.try_join("/", None).await;
    assert_eq!(again.kind, PacketKind::Connect);
    assert_eq!(c.received().len(), 2, "two CONNECT answers only");
}

#[tokio::test]
async fn a_closed_websocket_is_a_transport_close() {
    let (_srv, c, mut reports) = one_client().await;
    let expected = left(&c, DisconnectReason::TransportClose);
    c.close().await;
    assert_eq!(reports.next().await, expected);
}

#[tokio::test]
async fn a_shutdown_closes_every_client_with_server_shutting_down() {
    let (srv, mut c, mut reports) = one_client().await;
    let mut d = srv.client().await;
    let mut expected = vec![
        left(&c, DisconnectReason::ServerShuttingDown),
        left(&d, DisconnectReason::ServerShuttingDown),
    ];
    tokio::join!(srv.shutdown(), c.expect_closed(), d.expect_closed());
    let mut seen = vec![reports.next().await, reports.next().await];
    seen.sort_by(|x, y| x.id.cmp(&y.id));
    expected.sort_by(|x, y| x.id.cmp(&y.id));
    assert_eq!(seen, expected);
    assert_eq!(
        c.received(),
        [Packet::connect(
            "/",
            Some(serde_json::json!({ "sid": c.sid }))
        )]
    );
}
