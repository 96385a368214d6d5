//! Typing indicators that the server ends by itself: a signal lasts `typing_timeout`
//! unless renewed, and a message, a leave or a disconnection ends it at once.

use super::peer::Peer;
use super::{room_arg, Chat};
use crate::lock;
use crate::user::name_of;
use rally::{Event, Socket};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Who is typing where, and the generation that tells a restarted indicator's timer from
/// a stale one.
#[derive(Default)]
pub(super) struct Typing {
    entries: Mutex<HashMap<TypingKey, TypingEntry>>,
    generation: AtomicU64,
}

/// Who is typing where (`None`: the lobby).
type TypingKey = (String, Option<String>);

struct TypingEntry {
    generation: u64,
    deadline: Instant,
}

impl Chat {
    fn start_typing(&self, socket: &Socket, room: Option<String>) {
        let key: TypingKey = (socket.id().to_string(), room.clone());
        let timeout = self.0.config.typing_timeout;
        let generation = {
            let mut typing = lock(&self.0.typing.entries);
            if let Some(entry) = typing.get_mut(&key) {
                entry.deadline = Instant::now() + timeout;
                return;
            }
            let generation = self.0.typing.generation.fetch_add(1, Ordering::Relaxed);
            typing.insert(
                key.clone(),
                TypingEntry {
                    generation,
                    deadline: Instant::now() + timeout,
                },
            );
            generation
        };
        self.emit_typing(socket, room.as_deref(), true);
        let chat = self.clone();
        let socket = socket.clone();
        tokio::spawn(async move {
            let mut deadline = Instant::now() + timeout;
            loop {
                tokio::time::sleep_until(deadline.into()).await;
                let mut typing = lock(&chat.0.typing.entries);
                match typing.get(&key) {
                    Some(entry) if entry.generation == generation => {
                        if entry.deadline <= Instant::now() {
                            typing.remove(&key);
                            drop(typing);
                            chat.emit_typing(&socket, key.1.as_deref(), false);
                            return;
                        }
                        deadline = entry.deadline;
                    }
                    // Stopped (and maybe started again, with a task of its own).
                    _ => return,
                }
            }
        });
    }

    pub(super) fn stop_typing(&self, socket: &Socket, room: Option<String>) {
        let key: TypingKey = (socket.id().to_string(), room);
        if lock(&self.0.typing.entries).remove(&key).is_some() {
            self.emit_typing(socket, key.1.as_deref(), false);
        }
    }

    /// To everyone else in the room (or the lobby).
    fn emit_typing(&self, socket: &Socket, room: Option<&str>, typing: bool) {
        let signal = json!({
            "id": &**socket.id(),
            "name": name_of(socket),
            "room": room,
            "typing": typing,
        });
        let _ = match room {
            Some(room) => socket.to(room).emit("typing", (signal,)),
            None => socket.broadcast().emit("typing", (signal,)),
        };
    }

    /// Ends every indicator of a socket that goes.
    pub(super) fn stop_all_typing(&self, socket: &Socket) {
        let rooms: Vec<Option<String>> = lock(&self.0.typing.entries)
            .keys()
            .filter(|(id, _)| id == &**socket.id())
            .map(|(_, room)| room.clone())
            .collect();
        for room in rooms {
            self.stop_typing(socket, room);
        }
    }
}

pub(super) async fn on_typing(chat: Chat, peer: Arc<Peer>, socket: Socket, event: Event) {
    // Typing signals are a courtesy: over the limit they are dropped without a word.
    if chat.allow_action(&peer).is_err() {
        return;
    }
    let Ok(room) = room_arg(&event, 0) else {
        return;
    };
    if let Some(room) = &room {
        if !chat.chat_rooms(&socket).contains(room) {
            return;
        }
    }
    let active = event.args.values.get(1).and_then(Value::as_bool) != Some(false);
    if active {
        chat.start_typing(&socket, room);
    } else {
        chat.stop_typing(&socket, room);
    }
}
