//! Acknowledgements both ways: a client's event answered by the server's
//! handler, the server's `emit_with_ack` answered by the client, the timeout
//! and disconnection that end an unanswered wait, and a broadcast with acks
//! that collects one answer per client (or times out with those that came).
//!
//! Acks are where ids, namespaces and waiting tasks meet; a mix-up shows as an
//! answer reaching the wrong waiter or none, which these tests would see.

mod common;

use common::{within, TestServer};
use rally::{AckError, Args, Event};
use serde_json::{json, Value};
use std::time::Duration;

const SHORT: Duration = Duration::from_millis(100);

#[tokio::test]
async fn a_client_event_with_an_ack_is_answered_by_the_handler() {
    let srv = TestServer::with_defaults().await;
    srv.io.on_connection(|socket| {
        socket.on("add", |_, mut event: Event| async move {
            let (a, b): (i64, i64) = (event.arg(0).unwrap(), event.arg(1).unwrap());
            event.ack((a + b, "sum"));
        });
    });
    let mut c = srv.client().await;
    assert_eq!(
        c.emit_with_ack("add", json!([2, 3])).await,
        json!([5, "sum"])
    );
    // Ids count up; the second answer must carry the second id (checked by the client).
    assert_eq!(
        c.emit_with_ack("add", json!([-1, 1])).await,
        json!([0, "sum"])
    );
}

#[tokio::test]
async fn the_server_emit_with_ack_gets_the_client_answer() {
    let srv = TestServer::with_defaults().await;
    let mut c = srv.client().await;
    let socket = srv.socket(&c);
    let asked = tokio::spawn(async move { socket.emit_with_ack("question", ("name?",)).await });
    let (name, args, id) = c.next_event_with_ack().await;
    assert_eq!((name.as_str(), args), ("question", json!(["name?"])));
    c.ack(id, json!(["ann", { "age": 3 }])).await;
    let answer = within(asked).await.unwrap().expect("answered");
    assert_eq!(answer.values, [json!("ann"), json!({ "age": 3 })]);
}

#[tokio::test]
async fn an_unanswered_emit_with_ack_times_out_and_a_late_answer_is_ignored() {
    let srv = TestServer::with_defaults().await;
    let mut c = srv.client().await;
    let socket = srv.socket(&c);
    let asked =
        tokio::spawn(async move { socket.timeout(SHORT).emit_with_ack("question", ()).await });
    let (_, _, id) = c.next_event_with_ack().await;
    match within(asked).await.unwrap() {
        Err(AckError::Timeout { partial }) => assert!(partial.is_empty()),
        other => panic!("expected a timeout, got {other:?}"),
    }
    c.ack(id, json!(["too late"])).await;
    srv.assert_quiet([&mut c]).await;
    assert!(srv.socket(&c).connected());
}

#[tokio::test]
async fn a_wait_ends_when_the_client_leaves() {
    let srv = TestServer::with_defaults().await;
    let mut c = srv.client().await;
    let socket = srv.socket(&c);
    let asked = tokio::spawn(async move { socket.emit_with_ack("question", ()).await });
    c.next_event_with_ack().await;
    c.disconnect().await;
    assert!(matches!(
        within(asked).await.unwrap(),
        Err(AckError::Disconnected)
    ));
}

/// Each client answers the broadcast's `poll` with its index, if `answers` says so;
/// returns the ack id every one of them saw.
async fn answer_poll(clients: &mut [common::Client], answers: &[bool]) -> u64 {
    let mut ids = Vec::new();
    for (i, c) in clients.iter_mut().enumerate() {
        let (name, _, id) = c.next_event_with_ack().await;
        assert_eq!(name, "poll");
        if answers[i] {
            c.ack(id, json!([i])).await;
        }
        ids.push(id);
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "one ack id for the whole broadcast");
    ids[0]
}

fn first_values(answers: Vec<Args>) -> Vec<Value> {
    common::sorted(answers.into_iter().map(|a| a.values[0].clone()).collect())
}

#[tokio::test]
async fn a_broadcast_with_acks_collects_every_client_answer() {
    let srv = TestServer::with_defaults().await;
    let mut clients = srv.clients::<3>().await;
    let io = srv.io.clone();
    let asked =
        tokio::spawn(async move { io.timeout(common::WAIT).emit_with_ack("poll", ("?",)).await });
    answer_poll(&mut clients, &[true, true, true]).await;
    let answers = within(asked).await.unwrap().expect("every answer");
    assert_eq!(first_values(answers), [json!(0), json!(1), json!(2)]);
}

#[tokio::test]
async fn a_broadcast_with_acks_times_out_with_the_answers_that_came() {
    let srv = TestServer::with_defaults().await;
    let mut clients = srv.clients::<2>().await;
    let io = srv.io.clone();
    let asked = tokio::spawn(async move { io.timeout(SHORT).emit_with_ack("poll", ()).await });
    answer_poll(&mut clients, &[true, false]).await;
    match within(asked).await.unwrap() {
        Err(AckError::Timeout { partial }) => assert_eq!(first_values(partial), [json!(0)]),
        other => panic!("expected a timeout, got {other:?}"),
    }
}
