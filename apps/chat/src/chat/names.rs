//! Display names: the one a socket starts with (its handshake's choice, else a guest
//! name) and `set_name`.

use super::peer::Peer;
use super::{refusal, Chat};
use crate::guests::is_guest_name;
use crate::limits::validate_name;
use crate::user::{name_of, ChatUser};
use rally::{Event, Socket};
use std::sync::Arc;

impl Chat {
    /// The name a connecting socket starts with: the one its handshake chose, else a guest
    /// name (the one it had before a reconnection when that is still free).
    pub(super) async fn name_on_arrival(&self, socket: &Socket) -> String {
        let auth = &socket.handshake().auth;
        if let Some(name) = auth["name"].as_str().and_then(|n| validate_name(n).ok()) {
            return name;
        }
        let previous = auth["guest"].as_str().filter(|n| is_guest_name(n));
        self.0.guests.allocate(previous).await
    }
}

pub(super) async fn on_set_name(chat: Chat, peer: Arc<Peer>, socket: Socket, mut event: Event) {
    let ack = event.ack.take();
    if let Err(refused) = chat.allow_action(&peer) {
        return chat.refuse(&socket, ack, "set_name", refused);
    }
    let old = name_of(&socket);
    let name = match event
        .arg::<String>(0)
        .map_err(|_| "a name must be a string".to_owned())
        .and_then(|name| match name.trim() {
            // Keeping one's own guest name is no change.
            same if same == old => Ok(old.clone()),
            _ => validate_name(&name),
        }) {
        Ok(name) => name,
        Err(e) => return chat.refuse(&socket, ack, "set_name", refusal("invalid_name", e)),
    };
    if old != name {
        socket.set_data(ChatUser { name: name.clone() });
        tracing::debug!(socket = %socket.id(), from = %old, to = %name, "renamed");
        chat.0.guests.release(&old);
        chat.notice(None, format!("{old} is now {name}"));
        chat.presence_changed(true, chat.chat_rooms(&socket));
    }
    if let Some(ack) = ack {
        ack.send(());
    }
}
