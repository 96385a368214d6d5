//! Joining a namespace: the CONNECT answer and its socket id, custom
//! namespaces, the auth payload reaching the handshake, the refusals
//! (unknown namespace, middleware with message and data), middleware order,
//! `socket.data` set by middleware, and the Engine.IO heartbeat underneath.
//!
//! The first thing any client does; each test checks the exact packets the
//! client received, not only the ones it waited for.

mod common;

use common::{config, report, Client, TestServer, QUIET};
use rally::packet::Packet;
use rally::{ConnectError, Server};
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn the_main_namespace_answers_connect_with_the_socket_id() {
    let srv = TestServer::with_defaults().await;
    let (seen, mut ids) = report();
    srv.io.on_connection(move |socket| {
        let _ = seen.send(socket.id().to_string());
    });
    let c = srv.client().await;
    assert_eq!(ids.next().await, c.sid);
    assert_ne!(c.sid, c.engine_sid, "the socket id is not the session's");
    assert_eq!(
        c.received(),
        [Packet::connect("/", Some(json!({ "sid": c.sid })))]
    );
    assert!(srv.socket(&c).connected());
}

#[tokio::test]
async fn a_custom_namespace_has_its_own_sockets() {
    let srv = TestServer::with_defaults().await;
    let (seen, mut names) = report();
    srv.io.of("/admin").on_connection(move |socket| {
        let _ = seen.send(socket.ns().name().to_owned());
    });
    let c = srv.client_in("/admin").await;
    assert_eq!(names.next().await, "/admin");
    assert_eq!(
        c.received(),
        [Packet::connect("/admin", Some(json!({ "sid": c.sid })))]
    );
    assert!(srv.io.of("/admin").socket(&c.sid).is_some());
    assert!(srv.io.sockets().socket(&c.sid).is_none());
}

#[tokio::test]
async fn auth_reaches_the_handshake() {
    let srv = TestServer::with_defaults().await;
    let (seen, mut auths) = report();
    srv.io.on_connection(move |socket| {
        let _ = seen.send(socket.handshake().auth.clone());
    });
    let token = json!({ "token": "abc", "n": 1 });
    Client::connect(srv.addr, "/", Some(token.clone())).await;
    assert_eq!(auths.next().await, token);
    // Without a payload the handshake holds an empty object, as in socket.io.
    srv.client().await;
    assert_eq!(auths.next().await, json!({}));
}

#[tokio::test]
async fn an_unknown_namespace_is_refused_and_the_connection_stays() {
    let srv = TestServer::with_defaults().await;
    let mut c = Client::open(srv.addr).await;
    let answer = c.try_join("/nowhere", None).await;
    assert_eq!(
        answer,
        Packet::connect_error("/nowhere", json!({ "message": "Invalid namespace" }))
    );
    let answer = c.try_join("/", None).await;
    assert_eq!(answer.kind, rally::packet::PacketKind::Connect);
}

/// `/private` admits only `{token: "secret"}`; its connection handler reports each socket id.
fn private_namespace(io: &Server) -> common::Reports<String> {
    let private = io.of("/private");
    private.use_middleware(|socket| async move {
        if socket.handshake().auth["token"] == "secret" {
            Ok(())
        } else {
            Err(ConnectError::new("unauthorized").with_data(json!({ "reason": "bad token" })))
        }
    });
    let (seen, ids) = report();
    private.on_connection(move |socket| {
        let _ = seen.send(socket.id().to_string());
    });
    ids
}

#[tokio::test]
async fn a_refusing_middleware_answers_connect_error_with_its_message_and_data() {
    let srv = TestServer::with_defaults().await;
    let mut ids = private_namespace(&srv.io);
    let mut c = Client::open(srv.addr).await;
    let answer = c
        .try_join("/private", Some(json!({ "token": "guess" })))
        .await;
    assert_eq!(
        answer,
        Packet::connect_error(
            "/private",
            json!({ "message": "unauthorized", "data": { "reason": "bad token" } })
        )
    );
    let admitted = Client::connect(srv.addr, "/private", Some(json!({ "token": "secret" }))).await;
    // Only the admitted socket reached the connection handler.
    assert_eq!(ids.next().await, admitted.sid);
    assert!(ids.drain().is_empty());
}

#[tokio::test]
async fn middlewares_run_in_order_and_stop_at_the_first_refusal() {
    let srv = TestServer::with_defaults().await;
    let (ran, mut order) = report();
    for n in 1..=3 {
        let ran = ran.clone();
        srv.io.use_middleware(move |socket| {
            let ran = ran.clone();
            async move {
                // Each one really waits: the order must hold across awaits.
                tokio::task::yield_now().await;
                let _ = ran.send(n);
                if n == 2 && socket.handshake().auth["refuse"] == true {
                    return Err(ConnectError::new("no"));
                }
                Ok(())
            }
        });
    }
    srv.client().await;
    assert_eq!(order.drain(), [1, 2, 3]);

    let mut c = Client::open(srv.addr).await;
    let answer = c.try_join("/", Some(json!({ "refuse": true }))).await;
    assert_eq!(
        answer,
        Packet::connect_error("/", json!({ "message": "no" }))
    );
    assert_eq!(order.drain(), [1, 2]);
}

#[tokio::test]
async fn data_set_by_middleware_is_seen_by_the_connection_handler() {
    let srv = TestServer::with_defaults().await;
    srv.io.use_middleware(|socket| async move {
        let user = socket.handshake().auth["user"].clone();
        socket.set_data(json!({ "user": user }));
        Ok(())
    });
    srv.io.on_connection(|socket| {
        // Emitted before the client is told it joined: it follows the CONNECT answer.
        socket.emit("whoami", (socket.data_json(),)).unwrap();
    });
    let mut c = Client::connect(srv.addr, "/", Some(json!({ "user": "ann" }))).await;
    assert_eq!(
        c.next_event().await,
        ("whoami".into(), json!([{ "user": "ann" }]))
    );
    assert_eq!(c.received().len(), 2, "CONNECT, then the event");
}

#[tokio::test]
async fn pings_are_answered_and_the_session_lives_on() {
    let mut cfg = config();
    cfg.engine.ping_interval = Duration::from_millis(40);
    cfg.engine.ping_timeout = Duration::from_millis(40);
    let srv = TestServer::start(Server::new(cfg)).await;
    common::on_echo(&srv.io);
    let mut c = srv.client().await;
    // Several times the interval and the timeout together: without pongs it would close.
    c.expect_no_event(QUIET * 3).await;
    assert!(c.pings >= 3, "{} pings", c.pings);
    assert_eq!(
        c.emit_with_ack("echo", json!([1, "a"])).await,
        json!([1, "a"])
    );
}
