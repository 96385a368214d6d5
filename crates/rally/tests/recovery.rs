//! Connection state recovery, seen from the wire: a client that drops and comes back
//! with the `pid` and last offset it was given gets, before its CONNECT answer, every
//! event it missed (in order, once, offsets appended), then its old socket id; and
//! each case where recovery cannot be whole gives a fresh session instead.
//!
//! The test client reads every packet, so "missed" is exact here: an event the server
//! sent that the client did not read before closing is one it lost in transit.

mod common;

use common::{Client, Reports, TestServer};
use rally::packet::{Packet, PacketKind};
use rally::{Binary, RecoveryConfig, RecoveryOffer, RecoveryStats, Server, ServerConfig};
use serde_json::{json, Value};
use std::time::Duration;

/// What the connection handler saw of each socket.
#[derive(Debug)]
struct Joined {
    sid: String,
    recovered: bool,
    rooms: Vec<String>,
    data: Value,
    /// The data read as the type it was stored as.
    name: Option<String>,
}

/// The data each new socket gets: the application's own type.
#[derive(serde::Serialize, serde::Deserialize)]
struct Person {
    name: String,
}

/// A server with recovery on (`tune` adjusts it) whose new sockets join "room1" and
/// get data; every socket that joins is reported.
async fn recovering(tune: impl FnOnce(&mut RecoveryConfig)) -> (TestServer, Reports<Joined>) {
    let mut recovery = RecoveryConfig::default();
    tune(&mut recovery);
    let io = Server::new(ServerConfig {
        connection_state_recovery: Some(recovery),
        ..common::config()
    });
    let (tx, reports) = common::report();
    io.on_connection(move |socket| {
        if !socket.recovered() {
            socket.join("room1");
            socket.set_data(Person { name: "ann".into() });
        }
        let mut rooms: Vec<String> = socket.rooms().iter().map(|r| r.to_string()).collect();
        rooms.sort();
        let _ = tx.send(Joined {
            sid: socket.id().to_string(),
            recovered: socket.recovered(),
            rooms,
            data: socket.data_json(),
            name: socket.data::<Person>().map(|p| p.name.clone()),
        });
    });
    (TestServer::start(io).await, reports)
}

/// A client's CONNECT with `auth`, and the answer's `sid` and `pid`.
async fn join(srv: &TestServer, auth: Value) -> (Client, String, String) {
    let mut client = Client::open(srv.addr).await;
    let answer = client.try_join("/", Some(auth)).await;
    let (sid, pid) = connect_answer(&answer);
    client.sid = sid.clone();
    (client, sid, pid)
}

/// The `sid` and `pid` of a CONNECT answer, which must carry both and nothing else.
fn connect_answer(answer: &Packet) -> (String, String) {
    assert_eq!(answer.kind, PacketKind::Connect, "{answer:?}");
    let data = answer.data.as_ref().expect("CONNECT answer data");
    let fields = data.as_object().expect("an object");
    assert_eq!(fields.len(), 2, "sid and pid only: {data}");
    let sid = data["sid"].as_str().expect("sid").to_owned();
    let pid = data["pid"].as_str().expect("pid").to_owned();
    (sid, pid)
}

/// The next event, which must carry an offset as its last argument: its name, the
/// other arguments, and the offset.
async fn stored_event(client: &mut Client) -> (String, Value, String) {
    let (name, args) = client.next_event().await;
    let mut args = args.as_array().expect("array").clone();
    let Some(Value::String(offset)) = args.pop() else {
        panic!("{name}: no offset as last argument: {args:?}");
    };
    (name, Value::Array(args), offset)
}

/// Waits until the namespace keeps `n` sessions (the server saw the connection go).
async fn kept(srv: &TestServer, n: usize) {
    common::within(async {
        while stats(srv).kept_sessions != n {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
}

fn stats(srv: &TestServer) -> RecoveryStats {
    srv.io.sockets().recovery_stats().expect("recovery is on")
}

/// Sends a reconnecting client's CONNECT and reads everything up to the CONNECT answer:
/// the events before it (name, args, offset) and its `sid`/`pid`.
async fn reclaim(
    srv: &TestServer,
    auth: Value,
) -> (Client, Vec<(String, Value, String)>, String, String) {
    let mut client = Client::open(srv.addr).await;
    client.send(&Packet::connect("/", Some(auth))).await;
    let mut missed = Vec::new();
    loop {
        let packet = client.next_packet().await;
        if packet.kind == PacketKind::Connect {
            let (sid, pid) = connect_answer(&packet);
            client.sid = sid.clone();
            return (client, missed, sid, pid);
        }
        let Some(Value::Array(mut data)) = packet.data.clone() else {
            panic!("expected an event, got {packet:?}");
        };
        let name = data.remove(0).as_str().expect("name").to_owned();
        let Some(Value::String(offset)) = data.pop() else {
            panic!("a replayed event without offset: {packet:?}");
        };
        missed.push((name, Value::Array(data), offset));
    }
}

fn names(missed: &[(String, Value, String)]) -> Vec<(&str, &Value)> {
    missed.iter().map(|(n, a, _)| (n.as_str(), a)).collect()
}

#[tokio::test]
async fn a_dropped_client_gets_its_socket_and_every_missed_event_back() {
    let (srv, mut joined) = recovering(|_| {}).await;
    let (mut c, sid, pid) = join(&srv, json!({})).await;
    assert!(!joined.next().await.recovered);

    srv.io.emit("tick", (1,)).unwrap();
    let (name, args, offset) = stored_event(&mut c).await;
    assert_eq!((name.as_str(), args), ("tick", json!([1])));
    // Sent before the drop but never read: lost in transit.
    srv.io.emit("tick", (2,)).unwrap();
    c.close().await;
    kept(&srv, 1).await;

    srv.io.emit("tick", (3,)).unwrap();
    srv.io.to("room1").emit("room", (4,)).unwrap();
    srv.io.to("elsewhere").emit("not-mine", ()).unwrap();
    srv.io.except("room1").emit("not-mine", ()).unwrap();
    srv.io.to(sid.as_str()).emit("direct", (5,)).unwrap();
    let blob = Binary(bytes::Bytes::from_static(b"\x00\x01"));
    srv.io.emit("bin", (blob,)).unwrap();

    let mut c2 = Client::open(srv.addr).await;
    c2.send(&Packet::connect(
        "/",
        Some(json!({"pid": pid, "offset": offset})),
    ))
    .await;
    for (name, value) in [("tick", 2), ("tick", 3), ("room", 4), ("direct", 5)] {
        let (got, args, _) = stored_event(&mut c2).await;
        assert_eq!((got.as_str(), args), (name, json!([value])));
    }
    let bin = c2.next_event_packet().await;
    assert_eq!(bin.attachments, [bytes::Bytes::from_static(b"\x00\x01")]);
    let data = bin.data.unwrap();
    assert_eq!(data[0], "bin");
    assert!(data[2].is_string(), "offset after the placeholder: {data}");
    let (sid2, pid2) = connect_answer(&c2.next_packet().await);
    c2.sid = sid2.clone();
    assert_eq!(sid2, sid, "the same socket id");
    assert_ne!(pid2, pid, "a pid is used once");

    let back = joined.next().await;
    assert!(back.recovered);
    assert_eq!(back.sid, sid);
    let mut rooms = vec!["room1".to_owned(), sid.clone()];
    rooms.sort();
    assert_eq!(back.rooms, rooms);
    assert_eq!(back.data, json!({"name": "ann"}));
    // Kept as JSON, read back as the application's type.
    assert_eq!(back.name.as_deref(), Some("ann"));
    assert!(srv.socket(&c2).recovered());
    srv.assert_quiet([&mut c2]).await;

    // Live events follow, offsets and all.
    srv.io.to("room1").emit("live", (6,)).unwrap();
    let (name, args, _) = stored_event(&mut c2).await;
    assert_eq!((name.as_str(), args), ("live", json!([6])));
    let figures = stats(&srv);
    assert_eq!((figures.recovered, figures.kept_sessions), (1, 0));
}

#[tokio::test]
async fn a_client_with_no_offset_yet_gets_everything_since_it_joined() {
    let (srv, _joined) = recovering(|_| {}).await;
    let (c, sid, pid) = join(&srv, json!({})).await;
    srv.io.emit("first", ()).unwrap(); // never read
    c.close().await;
    kept(&srv, 1).await;
    srv.io.emit("second", ()).unwrap();

    let (mut c2, missed, sid2, _) = reclaim(&srv, json!({ "pid": pid })).await;
    assert_eq!(
        names(&missed),
        [("first", &json!([])), ("second", &json!([]))]
    );
    assert_eq!(sid2, sid);
    srv.assert_quiet([&mut c2]).await;
}

#[tokio::test]
async fn a_client_whose_last_event_is_older_than_the_window_still_recovers() {
    let window = Duration::from_millis(600);
    let (srv, _joined) = recovering(|r| r.max_disconnection_duration = window).await;
    let (mut c, sid, pid) = join(&srv, json!({})).await;
    srv.io.emit("old", ()).unwrap();
    let (_, _, offset) = stored_event(&mut c).await;
    tokio::time::sleep(window + Duration::from_millis(300)).await;
    c.close().await;
    kept(&srv, 1).await;
    srv.io.emit("new", ()).unwrap();

    let (_c2, missed, sid2, _) = reclaim(&srv, json!({"pid": pid, "offset": offset})).await;
    assert_eq!(names(&missed), [("new", &json!([]))]);
    assert_eq!(sid2, sid);
}

#[tokio::test]
async fn a_volatile_last_event_with_a_string_argument_does_not_stop_recovery() {
    let (srv, _joined) = recovering(|_| {}).await;
    let (mut c, sid, pid) = join(&srv, json!({})).await;
    srv.io.emit("stored", (1,)).unwrap();
    stored_event(&mut c).await;
    srv.io.volatile().emit("typing", ("hello",)).unwrap();
    // What the official client keeps as its offset: the last string argument.
    assert_eq!(
        c.next_event().await,
        ("typing".to_owned(), json!(["hello"]))
    );
    c.close().await;
    kept(&srv, 1).await;
    srv.io.emit("after", ()).unwrap();

    let (_c2, missed, sid2, _) = reclaim(&srv, json!({"pid": pid, "offset": "hello"})).await;
    assert_eq!(names(&missed), [("after", &json!([]))]);
    assert_eq!(sid2, sid);
}

#[tokio::test]
async fn recovery_works_every_time_with_a_new_pid_each_time() {
    let (srv, _joined) = recovering(|_| {}).await;
    let (mut c, sid, mut pid) = join(&srv, json!({})).await;
    let mut offset = None::<String>;
    for round in 0..4 {
        c.close().await;
        kept(&srv, 1).await;
        srv.io.emit("round", (round,)).unwrap();
        let auth = match &offset {
            Some(o) => json!({"pid": pid, "offset": o}),
            None => json!({"pid": pid}),
        };
        let (next, missed, sid2, pid2) = reclaim(&srv, auth).await;
        assert_eq!(names(&missed), [("round", &json!([round]))]);
        assert_eq!(sid2, sid, "round {round}");
        assert_ne!(pid2, pid);
        offset = Some(missed[0].2.clone());
        pid = pid2;
        c = next;
    }
    assert_eq!(stats(&srv).recovered, 4);
}

#[tokio::test]
async fn an_expired_window_or_a_foreign_offset_give_a_fresh_session() {
    let window = Duration::from_millis(300);
    let (srv, _joined) = recovering(|r| r.max_disconnection_duration = window).await;

    // The window passed.
    let (c, sid, pid) = join(&srv, json!({})).await;
    c.close().await;
    kept(&srv, 1).await;
    tokio::time::sleep(window + Duration::from_millis(100)).await;
    let (_c4, missed, sid4, _) = reclaim(&srv, json!({ "pid": pid })).await;
    assert!(missed.is_empty());
    assert_ne!(sid4, sid);

    // An offset this server never gave, and a pid that is not a string.
    let (c, sid, pid) = join(&srv, json!({})).await;
    c.close().await;
    kept(&srv, 1).await;
    srv.io.emit("lost", ()).unwrap();
    let (mut c5, missed, sid5, _) = reclaim(&srv, json!({"pid": pid, "offset": "garbage"})).await;
    assert!(missed.is_empty(), "never a partial replay");
    assert_ne!(sid5, sid);
    srv.assert_quiet([&mut c5]).await;
    let (_c6, missed, _, _) = reclaim(&srv, json!({"pid": 42})).await;
    assert!(missed.is_empty());

    let figures = stats(&srv);
    assert_eq!(figures.recovered, 0);
    assert_eq!(figures.unknown, 1);
    assert_eq!(figures.malformed, 2);
}

#[tokio::test]
async fn a_log_that_lost_part_of_the_gap_gives_a_fresh_session() {
    let (srv, _joined) = recovering(|r| r.max_packets = 2).await;
    let (c, sid, pid) = join(&srv, json!({})).await;
    c.close().await;
    kept(&srv, 1).await;
    for n in 0..5 {
        srv.io.emit("n", (n,)).unwrap();
    }
    let (_c2, missed, sid2, _) = reclaim(&srv, json!({ "pid": pid })).await;
    assert!(missed.is_empty(), "never a partial replay");
    assert_ne!(sid2, sid);
    assert_eq!(stats(&srv).trimmed, 1);
}

#[tokio::test]
async fn leaving_on_purpose_keeps_nothing() {
    let (srv, _joined) = recovering(|_| {}).await;
    let (mut c, sid, pid) = join(&srv, json!({})).await;
    c.disconnect().await;
    c.close().await;
    let (_c2, missed, sid2, _) = reclaim(&srv, json!({ "pid": pid })).await;
    assert!(missed.is_empty());
    assert_ne!(sid2, sid);
    assert_eq!(stats(&srv).unknown, 1);
}

#[tokio::test]
async fn a_reconnection_takes_over_the_connection_the_server_still_holds() {
    let (srv, _joined) = recovering(|_| {}).await;
    let (mut c1, sid, pid) = join(&srv, json!({})).await;
    srv.io.emit("seen", ()).unwrap();
    let (_, _, offset) = stored_event(&mut c1).await;
    srv.io.emit("unseen", ()).unwrap(); // the old connection is a black hole now

    let (mut c2, missed, sid2, _) = reclaim(&srv, json!({"pid": pid, "offset": offset})).await;
    assert_eq!(names(&missed), [("unseen", &json!([]))]);
    assert_eq!(sid2, sid);
    // The old connection is closed: it still holds the packet it never delivered.
    assert_eq!(c1.next_event().await.0, "unseen");
    c1.expect_closed().await;
    srv.io.emit("after", ()).unwrap();
    assert_eq!(stored_event(&mut c2).await.0, "after");
    assert_eq!(stats(&srv).taken_over, 1);
    assert_eq!(srv.io.sockets().local_sockets().len(), 1);
}

#[tokio::test]
async fn only_connections_offered_recovery_see_offsets_and_pids() {
    let io = Server::new(ServerConfig {
        connection_state_recovery: Some(RecoveryConfig {
            offer: Some(RecoveryOffer::new(|h| h.auth["recover"] == json!(true))),
            ..RecoveryConfig::default()
        }),
        ..common::config()
    });
    let srv = TestServer::start(io).await;
    let mut plain = Client::open(srv.addr).await;
    let answer = plain.try_join("/", Some(json!({}))).await;
    let data = answer.data.unwrap();
    assert_eq!(data.as_object().unwrap().len(), 1, "sid only: {data}");
    plain.sid = data["sid"].as_str().unwrap().to_owned();
    let (mut asking, _, pid) = join(&srv, json!({"recover": true})).await;

    srv.io.emit("m", (1,)).unwrap();
    assert_eq!(plain.next_event().await, ("m".to_owned(), json!([1])));
    let (_, args, _) = stored_event(&mut asking).await;
    assert_eq!(args, json!([1]));

    asking.close().await;
    kept(&srv, 1).await;
    let (_back, _, _, _) = reclaim(&srv, json!({"recover": true, "pid": pid})).await;
    // The pid is never part of the handshake anyone can read.
    let sockets = srv.io.sockets().fetch_sockets().await.unwrap();
    for socket in sockets {
        let auth = &socket.handshake["auth"];
        assert!(
            auth.get("pid").is_none() && auth.get("offset").is_none(),
            "{auth}"
        );
    }
}

#[tokio::test]
async fn a_recovered_socket_skips_the_middleware_unless_told_otherwise() {
    for skip in [true, false] {
        let io = Server::new(ServerConfig {
            connection_state_recovery: Some(RecoveryConfig {
                skip_middlewares: skip,
                ..RecoveryConfig::default()
            }),
            ..common::config()
        });
        let (tx, mut ran) = common::report();
        io.use_middleware(move |socket| {
            let _ = tx.send(socket.recovered());
            async { Ok(()) }
        });
        let srv = TestServer::start(io).await;
        let (c, _, pid) = join(&srv, json!({})).await;
        assert!(!ran.next().await);
        c.close().await;
        kept(&srv, 1).await;
        let (_c2, _, _, _) = reclaim(&srv, json!({ "pid": pid })).await;
        let seen = ran.drain();
        assert_eq!(
            seen,
            if skip { vec![] } else { vec![true] },
            "skip = {skip}"
        );
    }
}

#[tokio::test]
async fn without_pid_rotation_the_pid_stays_as_in_socket_io() {
    let (srv, _joined) = recovering(|r| r.rotate_pid = false).await;
    let (c, sid, pid) = join(&srv, json!({})).await;
    c.close().await;
    kept(&srv, 1).await;
    let (c2, _, sid2, pid2) = reclaim(&srv, json!({ "pid": pid })).await;
    assert_eq!((sid2.as_str(), pid2.as_str()), (sid.as_str(), pid.as_str()));
    c2.close().await;
    kept(&srv, 1).await;
    let (_c3, _, sid3, _) = reclaim(&srv, json!({ "pid": pid })).await;
    assert_eq!(sid3, sid, "the same pid serves the next drop too");
}

#[tokio::test]
async fn sessions_and_events_go_once_their_window_passed_with_nothing_else_happening() {
    let window = Duration::from_millis(400);
    let (srv, _joined) = recovering(|r| r.max_disconnection_duration = window).await;
    let (c, _, _) = join(&srv, json!({})).await;
    c.close().await;
    kept(&srv, 1).await;
    srv.io.emit("kept for the dropped client", ()).unwrap();
    assert_eq!(stats(&srv).stored_packets, 1);
    // The sweep runs every second at most: the window and one sweep later, all is gone.
    tokio::time::sleep(window + Duration::from_millis(1_300)).await;
    let figures = stats(&srv);
    assert_eq!(
        (
            figures.kept_sessions,
            figures.stored_packets,
            figures.stored_bytes
        ),
        (0, 0, 0)
    );
}

/// A server with recovery on and a fast heartbeat, so that a client confirms what it
/// read (its pong) within the test.
async fn recovering_with_heartbeat() -> (TestServer, Reports<Joined>) {
    let io = Server::new(ServerConfig {
        engine: rally::engine::EngineConfig {
            ping_interval: Duration::from_millis(50),
            ping_timeout: Duration::from_secs(2),
            ..rally::engine::EngineConfig::default()
        },
        connection_state_recovery: Some(RecoveryConfig::default()),
        ..common::config()
    });
    let (tx, reports) = common::report();
    io.on_connection(move |socket| {
        let _ = tx.send(Joined {
            sid: socket.id().to_string(),
            recovered: socket.recovered(),
            rooms: vec![],
            data: Value::Null,
            name: None,
        });
    });
    (TestServer::start(io).await, reports)
}

#[tokio::test]
async fn a_used_pid_gives_a_fresh_session_once_the_client_has_the_new_one() {
    let (srv, mut joined) = recovering_with_heartbeat().await;
    let (c, _, pid) = join(&srv, json!({})).await;
    joined.next().await;
    c.close().await;
    kept(&srv, 1).await;
    let (mut c2, _, sid2, pid2) = reclaim(&srv, json!({ "pid": pid })).await;
    assert!(joined.next().await.recovered);
    assert_ne!(pid2, pid);
    // Reading answers the pings: the server learns the client read the new pid.
    c2.expect_no_event(Duration::from_millis(300)).await;
    let (_c3, missed, sid3, _) = reclaim(&srv, json!({ "pid": pid })).await;
    assert!(missed.is_empty());
    assert_ne!(sid3, sid2);
    assert!(!joined.next().await.recovered);
    // The socket that holds the session was not taken over.
    assert!(srv.io.sockets().socket(&sid2).is_some());
    assert_eq!(stats(&srv).taken_over, 0);
}

#[tokio::test]
async fn a_client_that_never_read_its_recovery_answer_comes_back_with_the_old_pid() {
    let (srv, mut joined) = recovering(|_| {}).await;
    let (mut c, sid, pid) = join(&srv, json!({})).await;
    joined.next().await;
    srv.io.emit("tick", (1,)).unwrap();
    let (_, _, offset) = stored_event(&mut c).await;
    c.close().await;
    kept(&srv, 1).await;
    let claim = json!({ "pid": pid, "offset": offset });

    // The recovery goes through, but its connection dies before the answer is read.
    let mut lost = Client::open(srv.addr).await;
    lost.send(&Packet::connect("/", Some(claim.clone()))).await;
    assert!(joined.next().await.recovered);
    lost.close().await;
    kept(&srv, 1).await;
    srv.io.emit("tick", (2,)).unwrap();
    let (back, missed, sid2, pid2) = reclaim(&srv, claim.clone()).await;
    assert_eq!(sid2, sid, "the same socket, not a fresh one");
    assert_eq!(names(&missed), [("tick", &json!([2]))]);
    assert!(joined.next().await.recovered);

    // Again, with the connection that never read its answer still open: it is taken over.
    let claim = json!({ "pid": pid2, "offset": missed[0].2 });
    back.close().await;
    kept(&srv, 1).await;
    let mut silent = Client::open(srv.addr).await;
    silent
        .send(&Packet::connect("/", Some(claim.clone())))
        .await;
    assert!(joined.next().await.recovered);
    srv.io.emit("tick", (3,)).unwrap();
    let (_again, missed, sid3, _) = reclaim(&srv, claim).await;
    assert_eq!(sid3, sid);
    assert_eq!(names(&missed), [("tick", &json!([3]))]);
    assert_eq!(stats(&srv).taken_over, 1);
}
