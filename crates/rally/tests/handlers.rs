//! The handler API: arguments typed in one step, handlers that return a `Result`
//! (an error logged and answered through the ack), application state, the server
//! reached from a socket, typed socket data that still crosses the cluster as JSON,
//! async `on_any` and `allow_request`, and settings whose path cannot go astray.
//!
//! Each test checks what the client receives, packet by packet: a handler that was
//! wrongly called, or an ack answered twice, shows as an extra packet before the fence.

mod common;

use common::{config, within, Client, TestServer};
use rally::engine::EngineConfig;
use rally::{EmitError, Event, Server, ServerConfig};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test]
async fn a_tuple_reads_the_arguments_in_order_with_left_out_ones_as_none() {
    let srv = TestServer::with_defaults().await;
    srv.io.on_connection(|socket| {
        socket.on(
            "greet",
            |_, (name, title): (String, Option<String>)| async move {
                Ok::<_, Infallible>((format!("{} {name}", title.as_deref().unwrap_or("dear")),))
            },
        );
    });
    let mut c = srv.client().await;
    assert_eq!(
        c.emit_with_ack("greet", json!(["ann", "dr"])).await,
        json!(["dr ann"])
    );
    assert_eq!(
        c.emit_with_ack("greet", json!(["bob"])).await,
        json!(["dear bob"])
    );
    // Extra arguments are ignored, as by a JavaScript listener.
    assert_eq!(
        c.emit_with_ack("greet", json!(["cy", null, 3, 4])).await,
        json!(["dear cy"])
    );
    srv.assert_quiet([&mut c]).await;
}

#[tokio::test]
async fn arguments_of_the_wrong_shape_never_reach_the_handler_and_the_ack_says_why() {
    let srv = TestServer::with_defaults().await;
    let calls = std::sync::Arc::new(AtomicUsize::new(0));
    let seen = calls.clone();
    srv.io.on_connection(move |socket| {
        let seen = seen.clone();
        socket.on("join", move |socket, (room,): (String,)| {
            seen.fetch_add(1, Ordering::SeqCst);
            async move {
                socket.join(room.as_str());
                Ok::<_, Infallible>(())
            }
        });
    });
    let mut c = srv.client().await;
    let answer = c.emit_with_ack("join", json!([42])).await;
    let message = answer[0]["error"].as_str().expect("an error answer");
    assert!(
        message.contains("argument 0") && message.contains("invalid type"),
        "{message}"
    );
    assert_eq!(answer.as_array().map(Vec::len), Some(1));
    // Without an ack nothing is sent back, and the handler is still not called.
    c.emit("join", json!([{ "room": "x" }])).await;
    srv.assert_quiet([&mut c]).await;
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    // The right shape: handled, answered with no arguments.
    assert_eq!(c.emit_with_ack("join", json!(["r1"])).await, json!([]));
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert!(srv.socket(&c).rooms().iter().any(|r| &**r == "r1"));
}

#[tokio::test]
async fn a_handler_error_answers_the_ack_once_unless_the_handler_answered() {
    let srv = TestServer::with_defaults().await;
    srv.io.on_connection(|socket| {
        // Fails without answering: the error answers.
        socket.on("fails", |_, _event: Event| async move {
            Err::<(), _>("the database is away")
        });
        // Answers, then fails: only its own answer goes out.
        socket.on("answers-then-fails", |_, mut event: Event| async move {
            event.ack(("done",));
            Err::<(), _>("too late to tell")
        });
        // Keeps the ack to answer later and succeeds now: nothing is answered for it.
        socket.on("answers-later", |_, mut event: Event| async move {
            let ack = event.ack.take();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(50)).await;
                if let Some(ack) = ack {
                    ack.send(("later",));
                }
            });
            Ok::<_, Infallible>(())
        });
        // Leaves the ack unanswered in its event and succeeds: its Ok value answers.
        socket.on("leaves-the-ack", |_, event: Event| async move {
            tracing::debug!("{} with {} arguments", event.name, event.args.len());
            Ok::<_, Infallible>(("from the result",))
        });
    });
    let mut c = srv.client().await;
    assert_eq!(
        c.emit_with_ack("fails", json!([])).await,
        json!([{ "error": "the database is away" }])
    );
    assert_eq!(
        c.emit_with_ack("answers-then-fails", json!([])).await,
        json!(["done"])
    );
    assert_eq!(
        c.emit_with_ack("answers-later", json!([])).await,
        json!(["later"])
    );
    assert_eq!(
        c.emit_with_ack("leaves-the-ack", json!([])).await,
        json!(["from the result"])
    );
    srv.assert_quiet([&mut c]).await;
}

#[tokio::test]
async fn a_handler_that_returns_unit_answers_nothing_by_itself() {
    let srv = TestServer::with_defaults().await;
    srv.io.on_connection(|socket| {
        socket.on("note", |_, (_text,): (String,)| async move {});
    });
    let mut c = srv.client().await;
    c.send(&rally::packet::Packet::event(
        "/",
        json!(["note", "hello"]),
        vec![],
        Some(7),
    ))
    .await;
    srv.assert_quiet([&mut c]).await;
}

#[derive(Default)]
struct Counter(AtomicUsize);

#[tokio::test]
async fn handlers_share_application_state_and_reach_the_server_from_the_socket() {
    let io = Server::builder()
        .config(config())
        .state(Counter::default())
        .build();
    io.on_connection(|socket| {
        socket.on("count", |socket, ()| async move {
            let n = socket.state::<Counter>().0.fetch_add(1, Ordering::SeqCst) + 1;
            socket.server().emit("counted", (n,))
        });
    });
    let srv = TestServer::start(io).await;
    let [mut a, mut b] = srv.clients().await;
    a.emit("count", json!([])).await;
    a.expect_event("counted", json!([1])).await;
    b.expect_event("counted", json!([1])).await;
    b.emit("count", json!([])).await;
    a.expect_event("counted", json!([2])).await;
    b.expect_event("counted", json!([2])).await;
    assert_eq!(
        srv.io
            .state::<Counter>()
            .map(|c| c.0.load(Ordering::SeqCst)),
        Some(2)
    );
    assert!(srv.io.state::<String>().is_none());
    srv.assert_quiet([&mut a, &mut b]).await;
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct User {
    name: String,
    admin: bool,
}

#[tokio::test]
async fn typed_socket_data_is_read_without_copies_and_crosses_fetch_sockets_as_json() {
    let srv = TestServer::with_defaults().await;
    srv.io.use_middleware(|socket| async move {
        let name = socket.handshake().auth["name"]
            .as_str()
            .unwrap_or("anon")
            .to_owned();
        socket.set_data(User { name, admin: false });
        Ok(())
    });
    srv.io.on_connection(|socket| {
        socket.on("whoami", |socket, ()| async move {
            let user = socket.data::<User>().expect("set by the middleware");
            Ok::<_, Infallible>((user.name.clone(), user.admin))
        });
        socket.on("everyone", |socket, ()| async move {
            let sockets = socket.server().fetch_sockets().await?;
            let mut names: Vec<String> = sockets
                .iter()
                .map(|s| s.data_as::<User>().map(|u| u.name).unwrap_or_default())
                .collect();
            names.sort();
            let raw: Vec<Value> = sockets.iter().map(|s| s.data.clone()).collect();
            Ok::<_, rally::AdapterError>((names, raw.len(), raw[0].clone()))
        });
    });
    let mut ann = Client::connect(srv.addr, "/", Some(json!({ "name": "ann" }))).await;
    let _bob = Client::connect(srv.addr, "/", Some(json!({ "name": "bob" }))).await;
    assert_eq!(
        ann.emit_with_ack("whoami", json!([])).await,
        json!(["ann", false])
    );
    let answer = ann.emit_with_ack("everyone", json!([])).await;
    assert_eq!(answer[0], json!(["ann", "bob"]));
    assert_eq!(answer[1], json!(2));
    assert_eq!(answer[2]["admin"], json!(false));
    let socket = srv.socket(&ann);
    assert!(std::sync::Arc::ptr_eq(
        &socket.data::<User>().unwrap(),
        &socket.data::<User>().unwrap()
    ));
    assert_eq!(socket.data_json(), json!({ "name": "ann", "admin": false }));
}

#[tokio::test]
async fn server_methods_act_on_the_main_namespace_across_its_sockets() {
    let srv = TestServer::with_defaults().await;
    let [mut a, mut b] = srv.clients().await;
    srv.io.sockets_join("everyone");
    let rooms = within(srv.io.all_rooms()).await.unwrap();
    assert!(rooms.iter().any(|r| &**r == "everyone"));
    assert_eq!(within(srv.io.fetch_sockets()).await.unwrap().len(), 2);
    srv.io.sockets_leave("everyone");
    let rooms = within(srv.io.all_rooms()).await.unwrap();
    assert!(!rooms.iter().any(|r| &**r == "everyone"));

    // Everyone is asked, and every answer comes back.
    let io = srv.io.clone();
    let asked = tokio::spawn(async move { io.emit_with_ack("ping", ("?",)).await });
    for client in [&mut a, &mut b] {
        let (name, args, id) = client.next_event_with_ack().await;
        assert_eq!((name.as_str(), args), ("ping", json!(["?"])));
        client.ack(id, json!(["pong"])).await;
    }
    let answers = within(asked).await.unwrap().unwrap();
    assert_eq!(answers.len(), 2);
    assert!(answers.iter().all(|a| a.values == [json!("pong")]));

    srv.io.disconnect_sockets(false);
    a.expect_disconnect().await;
    b.expect_disconnect().await;
}

#[tokio::test]
async fn on_any_may_wait_and_still_sees_every_event_in_order() {
    let (tx, mut seen) = common::report::<String>();
    let srv = TestServer::with_defaults().await;
    srv.io.on_connection(move |socket| {
        let tx = tx.clone();
        socket.on_any(move |_, name, args| {
            let entry = format!("{name}:{}", args.len());
            let tx = tx.clone();
            async move {
                tokio::task::yield_now().await;
                let _ = tx.send(entry);
            }
        });
    });
    let mut c = srv.client().await;
    c.emit("a", json!([1])).await;
    c.emit("b", json!([1, 2])).await;
    assert_eq!(seen.next().await, "a:1");
    assert_eq!(seen.next().await, "b:2");
}

/// Another engine setting changed with struct update syntax leaves Socket.IO where
/// clients look for it.
#[tokio::test]
async fn changing_an_engine_setting_keeps_the_socket_io_path() {
    let io = Server::new(ServerConfig {
        engine: EngineConfig {
            ping_interval: Duration::from_secs(5),
            ..EngineConfig::default()
        },
        ..config()
    });
    let srv = TestServer::start(io).await;
    let mut c = srv.client().await;
    srv.assert_quiet([&mut c]).await;
}

async fn handshake_status(addr: std::net::SocketAddr, token: &str) -> String {
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\nX-Token: {token}\r\nConnection: close\r\n\r\n"
    );
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    within(tcp.read_to_string(&mut response)).await.unwrap();
    response.lines().next().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn allow_request_may_wait_before_it_decides() {
    let io = Server::builder()
        .config(config())
        .allow_request(|request| {
            let token = request.headers.get("x-token").cloned();
            async move {
                // As a lookup in a session store would.
                tokio::time::sleep(Duration::from_millis(20)).await;
                match token {
                    Some(t) if t == "good" => Ok(()),
                    _ => Err("unknown token".to_owned()),
                }
            }
        })
        .build();
    let srv = TestServer::start(io).await;
    assert!(handshake_status(srv.addr, "good").await.contains(" 200 "));
    assert!(handshake_status(srv.addr, "bad").await.contains(" 403 "));
}

#[tokio::test]
async fn the_tutorial_reads_without_a_clone_of_the_server() {
    let io = Server::builder().config(config()).build();
    io.on_connection(|socket| {
        socket.on("chat message", |socket, event: Event| async move {
            socket.server().emit("chat message", event.args)
        });
        socket.on(
            "private message",
            |socket, (to, msg): (String, Value)| async move {
                socket.to(to).emit("private message", (socket.id(), msg))
            },
        );
        socket.on("join", |socket, (room,): (String,)| async move {
            socket.join(room.as_str());
            Ok::<_, EmitError>(json!({ "joined": room }))
        });
    });
    let srv = TestServer::start(io).await;
    let [mut a, mut b] = srv.clients().await;
    a.emit("chat message", json!(["hi"])).await;
    a.expect_event("chat message", json!(["hi"])).await;
    b.expect_event("chat message", json!(["hi"])).await;
    let b_id = b.sid.clone();
    a.emit("private message", json!([b_id, "psst"])).await;
    b.expect_event("private message", json!([a.sid.clone(), "psst"]))
        .await;
    assert_eq!(
        b.emit_with_ack("join", json!(["r"])).await,
        json!([{ "joined": "r" }])
    );
    srv.assert_quiet([&mut a, &mut b]).await;
}
