//! The tutorial's two message events: `message` (to everyone, or to a room) and
//! `private_message` (to one socket by its id). Each keeps the socket's order (the peer's
//! order lock) even when a check waits for the cluster, and `message` is stored in the
//! history before it is relayed.

use super::peer::Peer;
use super::{now_ms, refusal, room_arg, Chat};
use crate::history::StoredMessage;
use crate::user::name_of;
use rally::{Args, Event, Socket};
use serde_json::{json, Value};
use std::sync::Arc;

pub(super) async fn on_message(chat: Chat, peer: Arc<Peer>, socket: Socket, mut event: Event) {
    // Ready at once unless an earlier message of this socket is still being checked.
    let order = peer.order.lock().await;
    let ack = event.ack.take();
    let Some(ack) = chat.allow_message(&socket, &peer, ack, "message") else {
        return;
    };
    if event.args.is_empty() {
        return chat.refuse(
            &socket,
            ack,
            "message",
            refusal("invalid_payload", "message needs a payload"),
        );
    }
    let room = match room_arg(&event, 1) {
        Ok(room) => room,
        Err(refused) => return chat.refuse(&socket, ack, "message", refused),
    };
    if let Some(room) = &room {
        // Ready at once with the in-memory adapter, so the order of messages holds.
        if let Err(refused) = chat.check_room(room).await {
            return chat.refuse(&socket, ack, "message", refused);
        }
    }
    let args = event.args;
    let relayed = Args {
        values: args.values[..if room.is_some() { 2 } else { 1 }].to_vec(),
        attachments: args.attachments.clone(),
    };
    let message = StoredMessage {
        id: rally::engine::generate_id(),
        room: room.clone(),
        from: socket.id().to_string(),
        name: name_of(&socket),
        time: now_ms(),
        payload: args.values[0].clone(),
        attachments: args.attachments,
    };
    let info = json!({
        "id": message.id,
        "room": message.room,
        "from": message.from,
        "name": message.name,
        "time": message.time,
    });
    // Queued before the broadcast: whoever misses it live finds it in history.
    let stored = chat.0.store.append(message);
    let io = &chat.0.io;
    let target = match &room {
        Some(room) => io.to(room.as_str()),
        None => io.everyone(),
    };
    let sent = target
        .emit("message_info", (info,))
        .and_then(|()| target.emit("message", relayed));
    if let Err(e) = sent {
        tracing::warn!("message not relayed: {e}");
    }
    drop(order);
    chat.stop_typing(&socket, room);
    let result = stored.await;
    if let Some(ack) = ack {
        match result {
            Ok(()) => ack.send(()),
            Err(e) => ack.send((json!({
                "error": format!("the message was relayed but not stored: {e}"),
                "code": "not_stored",
            }),)),
        }
    }
}

pub(super) async fn on_private_message(
    chat: Chat,
    peer: Arc<Peer>,
    socket: Socket,
    mut event: Event,
) {
    let order = peer.order.lock().await;
    let ack = event.ack.take();
    let Some(ack) = chat.allow_message(&socket, &peer, ack, "private_message") else {
        return;
    };
    let target = match event.arg::<String>(1) {
        Ok(target) => target,
        Err(_) => {
            let refused = refusal(
                "invalid_target",
                "private_message needs a payload and the target's socket id",
            );
            return chat.refuse(&socket, ack, "private_message", refused);
        }
    };
    // Only a socket's own room: never a chat room that happens to have that name.
    match chat.is_socket_id(&target).await {
        Ok(true) => {}
        Ok(false) => {
            let refused = refusal("no_such_user", "no connected user has this socket id");
            return chat.refuse(&socket, ack, "private_message", refused);
        }
        Err(refused) => return chat.refuse(&socket, ack, "private_message", refused),
    }
    let relayed = Args {
        values: vec![
            event.args.values[0].clone(),
            Value::String(socket.id().to_string()),
        ],
        attachments: event.args.attachments,
    };
    if let Err(e) = chat
        .0
        .io
        .to(target.as_str())
        .emit("private_message", relayed)
    {
        tracing::warn!("private message not relayed: {e}");
    }
    drop(order);
    if let Some(ack) = ack {
        ack.send(());
    }
}
