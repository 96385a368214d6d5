//! Rooms and the broadcast operators: join and leave, `io.to(room)`, several
//! rooms as a union without duplicates, `except`, `socket.to(room)` and
//! `socket.broadcast()` leaving the sender out, `socket.to(id)` as a private
//! message, `sockets_join` / `sockets_leave` / `fetch_sockets` /
//! `disconnect_sockets`, `local()`, and namespaces kept apart.
//!
//! A broadcast is right only if it reaches exactly its recipients, once: so
//! every test also checks that everyone else got nothing (with
//! `TestServer::assert_quiet`, which proves it by packet order instead of by
//! waiting, and once with a timed `expect_no_event`).

mod common;

use common::{Client, TestServer, QUIET};
use rally::Event;
use serde_json::json;

/// A server and `N` clients of `/`, client `i` in `rooms[i]` (joined server-side).
async fn in_rooms<const N: usize>(rooms: [&[&str]; N]) -> (TestServer, [Client; N]) {
    let srv = TestServer::with_defaults().await;
    let clients = srv.clients::<N>().await;
    for (client, rooms) in clients.iter().zip(rooms) {
        srv.socket(client).join(rooms.to_vec());
    }
    (srv, clients)
}

fn sorted_strings(mut list: Vec<String>) -> Vec<String> {
    list.sort();
    list
}

/// Exactly the clients at `recipients` got `m(n)`, once, and no one anything else.
async fn expect_only(srv: &TestServer, clients: &mut [Client], recipients: &[usize], n: u32) {
    for &i in recipients {
        clients[i].expect_event("m", json!([n])).await;
    }
    srv.assert_quiet(clients).await;
}

#[tokio::test]
async fn join_and_leave_decide_whom_a_room_reaches() {
    let srv = TestServer::with_defaults().await;
    srv.io.on_connection(|socket| {
        socket.on("join", |socket, mut event: Event| async move {
            socket.join(event.arg::<String>(0).unwrap());
            event.ack(());
        });
    });
    let mut cs = srv.clients::<3>().await;
    for client in &mut cs[..2] {
        assert_eq!(client.emit_with_ack("join", json!(["r"])).await, json!([]));
    }
    let rooms = srv
        .socket(&cs[0])
        .rooms()
        .iter()
        .map(|r| r.to_string())
        .collect();
    assert_eq!(
        sorted_strings(rooms),
        sorted_strings(vec![cs[0].sid.clone(), "r".into()])
    );

    srv.io.to("r").emit("m", (1,)).unwrap();
    expect_only(&srv, &mut cs, &[0, 1], 1).await;

    srv.socket(&cs[0]).leave("r");
    srv.io.to("r").emit("m", (2,)).unwrap();
    expect_only(&srv, &mut cs, &[1], 2).await;
}

#[tokio::test]
async fn several_rooms_reach_each_member_once() {
    let (srv, mut cs) = in_rooms([&["r1"], &["r1", "r2"], &["r2"], &[]]).await;
    srv.io.to("r1").to("r2").emit("m", (1,)).unwrap();
    expect_only(&srv, &mut cs, &[0, 1, 2], 1).await;
    srv.io.to(["r2", "r1"]).emit("m", (2,)).unwrap();
    expect_only(&srv, &mut cs, &[0, 1, 2], 2).await;
}

#[tokio::test]
async fn except_leaves_out_the_members_of_its_rooms() {
    let (srv, mut cs) = in_rooms([&["r"], &["r", "x"], &[]]).await;
    srv.io.to("r").except("x").emit("m", (1,)).unwrap();
    expect_only(&srv, &mut cs, &[0], 1).await;
    srv.io.except("x").emit("m", (2,)).unwrap();
    expect_only(&srv, &mut cs, &[0, 2], 2).await;
}

#[tokio::test]
async fn socket_to_a_room_leaves_out_the_sender() {
    let (srv, mut cs) = in_rooms([&["r"], &["r"], &["r"], &[]]).await;
    srv.socket(&cs[0]).to("r").emit("m", (1,)).unwrap();
    expect_only(&srv, &mut cs, &[1, 2], 1).await;
}

#[tokio::test]
async fn socket_broadcast_reaches_everyone_but_the_sender() {
    let (srv, mut cs) = in_rooms([&[], &["r"], &[]]).await;
    srv.socket(&cs[0]).broadcast().emit("m", (1,)).unwrap();
    expect_only(&srv, &mut cs, &[1, 2], 1).await;
}

#[tokio::test]
async fn socket_to_another_id_is_a_private_message() {
    let (srv, mut cs) = in_rooms([&[], &[], &[]]).await;
    srv.socket(&cs[0])
        .to(cs[1].sid.as_str())
        .emit("m", (1,))
        .unwrap();
    expect_only(&srv, &mut cs, &[1], 1).await;
}

#[tokio::test]
async fn sockets_join_and_leave_move_the_targeted_sockets() {
    let (srv, mut cs) = in_rooms([&["r"], &["r"], &[]]).await;
    srv.io.in_("r").sockets_join("s");
    srv.io.to("s").emit("m", (1,)).unwrap();
    expect_only(&srv, &mut cs, &[0, 1], 1).await;

    srv.io.in_(cs[0].sid.as_str()).sockets_leave("s");
    srv.io.to("s").emit("m", (2,)).unwrap();
    expect_only(&srv, &mut cs, &[1], 2).await;
}

#[tokio::test]
async fn fetch_sockets_reports_the_targeted_sockets_with_rooms_and_data() {
    let (srv, [a, b, c]) = in_rooms([&["r"], &["r", "s"], &[]]).await;
    srv.socket(&b).set_data(json!({ "user": "bob" }));
    let found = srv.io.in_("r").fetch_sockets().await.unwrap();
    let mut seen: Vec<(String, Vec<String>, serde_json::Value)> = found
        .iter()
        .map(|s| {
            (
                s.id.clone(),
                sorted_strings(s.rooms.clone()),
                s.data.clone(),
            )
        })
        .collect();
    seen.sort_by(|x, y| x.0.cmp(&y.0));
    let mut expected = vec![
        (
            a.sid.clone(),
            sorted_strings(vec![a.sid.clone(), "r".into()]),
            json!(null),
        ),
        (
            b.sid.clone(),
            sorted_strings(vec![b.sid.clone(), "r".into(), "s".into()]),
            json!({ "user": "bob" }),
        ),
    ];
    expected.sort_by(|x, y| x.0.cmp(&y.0));
    assert_eq!(seen, expected);
    assert_eq!(srv.io.sockets().fetch_sockets().await.unwrap().len(), 3);
    let alone = srv.io.to(c.sid.as_str()).fetch_sockets().await.unwrap();
    assert_eq!(alone[0].rooms, std::slice::from_ref(&c.sid));
}

#[tokio::test]
async fn disconnect_sockets_removes_only_the_targeted_sockets() {
    let (srv, [mut a, mut b, mut c]) = in_rooms([&["r"], &["r"], &["s"]]).await;
    srv.io.in_("r").disconnect_sockets(false);
    a.expect_disconnect().await;
    b.expect_disconnect().await;
    assert_eq!(srv.io.sockets().local_sockets().len(), 1);
    srv.assert_quiet([&mut c]).await;

    // With `close`, the connection goes too.
    srv.io.in_("s").disconnect_sockets(true);
    c.expect_disconnect().await;
    c.expect_closed().await;
    assert!(srv.io.sockets().local_sockets().is_empty());
}

#[tokio::test]
async fn local_broadcasts_reach_this_servers_sockets() {
    let (srv, mut cs) = in_rooms([&["r"], &[], &[]]).await;
    srv.io.local().emit("m", (1,)).unwrap();
    expect_only(&srv, &mut cs, &[0, 1, 2], 1).await;
    srv.io.local().to("r").emit("m", (2,)).unwrap();
    expect_only(&srv, &mut cs, &[0], 2).await;
    srv.socket(&cs[0]).local().emit("m", (3,)).unwrap();
    expect_only(&srv, &mut cs, &[1, 2], 3).await;
}

#[tokio::test]
async fn a_namespace_broadcast_stays_in_its_namespace() {
    let srv = TestServer::with_defaults().await;
    let other_ns = srv.io.of("/other");
    let mut main = srv.client().await;
    let mut other = srv.client_in("/other").await;
    srv.io.emit("m", (1,)).unwrap();
    other_ns.emit("m", (2,)).unwrap();
    main.expect_event("m", json!([1])).await;
    other.expect_event("m", json!([2])).await;
    tokio::join!(main.expect_no_event(QUIET), other.expect_no_event(QUIET));
}
