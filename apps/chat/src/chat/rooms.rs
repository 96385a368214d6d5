//! Joining and leaving rooms: checks, the room's history to the joiner (before the
//! join's ack), notices and presence.

use super::peer::Peer;
use super::{refusal, room_arg, Chat, MAX_ROOMS_PER_SOCKET};
use crate::user::name_of;
use rally::{Event, Socket};
use std::sync::Arc;

pub(super) async fn on_join(chat: Chat, peer: Arc<Peer>, socket: Socket, mut event: Event) {
    let ack = event.ack.take();
    if let Err(refused) = chat.allow_action(&peer) {
        return chat.refuse(&socket, ack, "join", refused);
    }
    let room = match room_arg(&event, 0) {
        Ok(Some(room)) => room,
        Ok(None) => {
            let refused = refusal("invalid_room", "join needs a room name");
            return chat.refuse(&socket, ack, "join", refused);
        }
        Err(refused) => return chat.refuse(&socket, ack, "join", refused),
    };
    if let Err(refused) = chat.check_room(&room).await {
        return chat.refuse(&socket, ack, "join", refused);
    }
    let rooms = chat.chat_rooms(&socket);
    let member = rooms.contains(&room);
    if !member && rooms.len() >= MAX_ROOMS_PER_SOCKET {
        let refused = refusal(
            "too_many_rooms",
            format!("a socket may be in at most {MAX_ROOMS_PER_SOCKET} rooms"),
        );
        return chat.refuse(&socket, ack, "join", refused);
    }
    socket.join(room.as_str());
    // Queued after the join: every message from now on reaches the joiner live.
    let history = chat
        .0
        .store
        .recent(Some(&room), chat.0.config.history_limit);
    if !member {
        tracing::debug!(socket = %socket.id(), room = %room, "join");
        chat.notice(Some(&room), format!("{} joined", name_of(&socket)));
        chat.presence_changed(false, [room.clone()]);
    }
    let entries = history.await.unwrap_or_else(|e| {
        tracing::warn!(room = %room, "history not read: {e}");
        Vec::new()
    });
    let _ = socket.emit("history", chat.history_args(Some(&room), entries));
    if let Some(ack) = ack {
        ack.send(());
    }
}

pub(super) async fn on_leave(chat: Chat, peer: Arc<Peer>, socket: Socket, mut event: Event) {
    let ack = event.ack.take();
    if let Err(refused) = chat.allow_action(&peer) {
        return chat.refuse(&socket, ack, "leave", refused);
    }
    let room = match room_arg(&event, 0) {
        Ok(Some(room)) => room,
        Ok(None) => {
            let refused = refusal("invalid_room", "leave needs a room name");
            return chat.refuse(&socket, ack, "leave", refused);
        }
        Err(refused) => return chat.refuse(&socket, ack, "leave", refused),
    };
    if room == **socket.id() {
        let refused = refusal("forbidden_room", "a socket cannot leave its own room");
        return chat.refuse(&socket, ack, "leave", refused);
    }
    if chat.chat_rooms(&socket).contains(&room) {
        chat.stop_typing(&socket, Some(room.clone()));
        socket.leave(&room);
        tracing::debug!(socket = %socket.id(), room = %room, "leave");
        chat.notice(Some(&room), format!("{} left", name_of(&socket)));
        chat.presence_changed(false, [room]);
    }
    if let Some(ack) = ack {
        ack.send(());
    }
}
