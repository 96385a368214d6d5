//! The chat itself: the protocol's four events, and presence, names, typing, history,
//! notices and errors on events of their own.
//!
//! What a client may emit (each `ack` is the client's optional callback):
//!
//! | event | arguments | effect |
//! |---|---|---|
//! | `message` | payload | everyone gets `message`(payload), the sender included |
//! | `message` | payload, room | the room's sockets get `message`(payload, room) |
//! | `join` | room, ack | joins; `history`(room, entries) to the joiner, then `ack()` |
//! | `leave` | room, ack | leaves; `ack()` |
//! | `private_message` | payload, socketId | the target gets `private_message`(payload, senderId) |
//! | `set_name` | name, ack | changes the display name; `ack()` |
//! | `typing` | room or null, active? | others see `typing`; it expires by itself |
//!
//! `message` acks once the message is stored in the history; when it cannot be (on a
//! cluster, while Redis is away) it is relayed all the same and the ack is
//! `{error, code: "not_stored"}`. A refused request is
//! answered `ack({error, code})` when it has an ack, with an `error` event otherwise; the
//! rate limit also sends an `error` event (at most one a second). Successful acks carry
//! no arguments.
//!
//! What the server emits besides: `welcome`({id, name, recovery, limits}) on connection,
//! `message_info`({id, room, from, name, time}) just before each `message` (to the same
//! recipients; it describes that message), `history`(room or null, entries) with
//! entries `{id, room, from, name, time, payload}` (the lobby's on connection, a room's
//! on join), `users`([{id, name}]), `rooms`([{name, members}]), `room_members`(room,
//! [{id, name}]), `typing`({id, name, room, typing}), `notice`({room, text, time}),
//! `error`({code, message, event}).
//!
//! Names: a client may send one in its handshake (`auth: {name}`); one that sends none
//! (or an invalid one) is given a guest name (`guest-4821`, unique among those online on
//! the whole cluster; see `guests`), which `set_name` changes at any time. A page may send
//! its guest name back in the handshake of a reconnection (`auth: {guest}`) to keep it
//! while no one else has taken it meanwhile.
//!
//! Connection state recovery (`--recovery`): a socket offered it (`welcome.recovery`)
//! gets every event with one more last argument, its offset; when its connection drops
//! and it comes back within the window it is the same socket, in the same rooms, and
//! receives what it missed, with no second `welcome` or `history`; nobody is told it
//! left unless the window passes (`departures`).
//!
//! Presence is read from the adapter (`fetch_sockets`, names in `socket.data`), so it
//! spans every server of a cluster; it is published in coalesced snapshots, by the server
//! where something changed (and by every server when the cluster's Redis comes back,
//! `resync_presence`). While the cluster cannot be asked, a snapshot lists this server's
//! sockets only.
//!
//! On a cluster, the checks that a name is (or is not) a socket id ask every server, but
//! only for names shaped like one (20 base64url characters): other room names need no

mod departures;
mod messages;
mod names;
mod peer;
mod presence;
mod rooms;
mod typing;

use crate::guests::GuestNames;
use crate::history::{HistoryStore, StoredMessage};
use crate::limits::validate_room;
use crate::user::{name_of, ChatUser};
use departures::Departures;
use peer::Peer;
use presence::Presence;
use rally::{Ack, Args, Event, Server, Socket};
use serde_json::{json, Value};
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use typing::Typing;

/// Most chat rooms one socket may be in.
pub const MAX_ROOMS_PER_SOCKET: usize = 100;

#[derive(Clone, Debug)]
pub struct ChatConfig {
    /// Messages kept per room (and for the lobby).
    pub history_limit: usize,
    /// Most bytes of payload a `history` event carries (at least one message is always sent).
    pub history_bytes: usize,
    /// Messages (`message`, `private_message`) a socket may send in a burst.
    pub rate_burst: u32,
    /// Messages per second a socket may send once its burst is spent.
    pub rate_per_second: f64,
    /// How long a typing indicator lasts without a new `typing` signal.
    pub typing_timeout: Duration,
    /// How long presence changes are gathered before one snapshot is published.
    pub presence_delay: Duration,
}

impl Default for ChatConfig {
    fn default() -> Self {
        ChatConfig {
            history_limit: 100,
            history_bytes: 1_000_000,
            rate_burst: 1000,
            rate_per_second: 20.0,
            typing_timeout: Duration::from_secs(3),
            presence_delay: Duration::from_millis(100),
        }
    }
}

/// A handle to the chat; clones share it.
#[derive(Clone)]
pub struct Chat(Arc<ChatInner>);

struct ChatInner {
    io: Server,
    store: Arc<dyn HistoryStore>,
    guests: GuestNames,
    config: ChatConfig,
    presence: Presence,
    typing: Typing,
    departures: Departures,
}

/// A refusal: what `ack({error, code})` and the `error` event carry.
struct Refusal {
    code: &'static str,
    message: String,
}

fn refusal(code: &'static str, message: impl Into<String>) -> Refusal {
    Refusal {
        code,
        message: message.into(),
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Whether a name has the shape of a socket id: Rally's and socket.io's are 15 random
/// bytes in base64 (20 characters; URL-safe for both, `+` and `/` let in to be safe).
fn could_be_socket_id(name: &str) -> bool {
    name.len() == 20
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'+' | b'/'))
}

/// The room named by argument `i`: absent or null is the lobby, a string a room.
fn room_arg(event: &Event, i: usize) -> Result<Option<String>, Refusal> {
    match event.args.values.get(i) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(room)) => Ok(Some(room.clone())),
        Some(_) => Err(refusal("invalid_room", "a room name must be a string")),
    }
}

impl Chat {
    pub fn new(
        io: Server,
        store: Arc<dyn HistoryStore>,
        guests: GuestNames,
        config: ChatConfig,
    ) -> Chat {
        Chat(Arc::new(ChatInner {
            io,
            store,
            guests,
            config,
            presence: Presence::default(),
            typing: Typing::default(),
            departures: Departures::default(),
        }))
    }

    pub fn config(&self) -> &ChatConfig {
        &self.0.config
    }

    pub fn store(&self) -> &Arc<dyn HistoryStore> {
        &self.0.store
    }

    /// Registers the chat on the server's main namespace.
    pub fn attach(&self) {
        let chat = self.clone();
        self.0.io.use_middleware(move |socket| {
            let chat = chat.clone();
            async move {
                let name = chat.name_on_arrival(&socket).await;
                socket.set_data(ChatUser { name });
                Ok(())
            }
        });
        let chat = self.clone();
        self.0
            .io
            .on_connection(move |socket| chat.connected(socket));
    }

    fn connected(&self, socket: Socket) {
        let name = name_of(&socket);
        tracing::info!(socket = %socket.id(), name = %name, transport = ?socket.transport(), "connected");
        let peer = Arc::new(Peer::new(&self.0.config));

        self.on(&socket, &peer, "message", messages::on_message);
        self.on(&socket, &peer, "join", rooms::on_join);
        self.on(&socket, &peer, "leave", rooms::on_leave);
        self.on(
            &socket,
            &peer,
            "private_message",
            messages::on_private_message,
        );
        self.on(&socket, &peer, "set_name", names::on_set_name);
        self.on(&socket, &peer, "typing", typing::on_typing);
        let chat = self.clone();
        socket.on_disconnecting(move |socket, reason| {
            chat.departing(&socket, reason);
            async {}
        });
        if socket.recovered() {
            // The same socket, back with its rooms and data, and with what it missed:
            // it needs no welcome or history, and nobody was told it left.
            tracing::info!(socket = %socket.id(), name = %name, "recovered");
            self.returned(&socket);
            return;
        }

        let config = &self.0.config;
        let welcome = json!({
            "id": &**socket.id(),
            "name": name,
            // The page reads each event's offset off its arguments when this is true.
            "recovery": socket.recovery_offered(),
            "limits": {
                "historyLimit": config.history_limit,
                "rateBurst": config.rate_burst,
                "ratePerSecond": config.rate_per_second,
                "typingTimeoutMs": config.typing_timeout.as_millis() as u64,
                "maxRoomChars": crate::limits::MAX_ROOM_CHARS,
                "maxNameChars": crate::limits::MAX_NAME_CHARS,
                "maxRooms": MAX_ROOMS_PER_SOCKET,
                "maxPayload": self.0.io.config().engine.max_payload,
            },
        });
        let _ = socket.emit("welcome", (welcome,));

        // The lobby's history; queued now, so no lobby message falls between it and live ones.
        let history = self.0.store.recent(None, config.history_limit);
        let chat = self.clone();
        tokio::spawn(async move {
            let entries = history.await.unwrap_or_else(|e| {
                tracing::warn!("lobby history not read: {e}");
                Vec::new()
            });
            let _ = socket.emit("history", chat.history_args(None, entries));
        });
        self.presence_changed(true, []);
    }

    /// `socket.on(event, handler)` with the chat and the socket's limits at hand.
    fn on<F, Fut>(&self, socket: &Socket, peer: &Arc<Peer>, event: &'static str, handler: F)
    where
        F: Fn(Chat, Arc<Peer>, Socket, Event) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let chat = self.clone();
        let peer = peer.clone();
        socket.on(event, move |socket, event: Event| {
            handler(chat.clone(), peer.clone(), socket, event)
        });
    }

    /// The socket's chat rooms: its rooms but its own id's.
    fn chat_rooms(&self, socket: &Socket) -> Vec<String> {
        socket
            .rooms()
            .iter()
            .filter(|room| *room != socket.id())
            .map(|room| room.to_string())
            .collect()
    }

    /// Answers a refused request: in its ack when it has one, else with an `error` event.
    fn refuse(&self, socket: &Socket, ack: Option<Ack>, event: &str, refusal: Refusal) {
        tracing::debug!(socket = %socket.id(), event, code = refusal.code, "refused: {}", refusal.message);
        match ack {
            Some(ack) => ack.send((json!({ "error": refusal.message, "code": refusal.code }),)),
            None => self.error_event(socket, event, &refusal),
        }
    }

    fn error_event(&self, socket: &Socket, event: &str, refusal: &Refusal) {
        let _ = socket.emit(
            "error",
            (json!({ "code": refusal.code, "message": refusal.message, "event": event }),),
        );
    }

    /// Whether a socket of the namespace, on any server, has this id.
    async fn is_socket_id(&self, name: &str) -> Result<bool, Refusal> {
        if self.0.io.sockets().socket(name).is_some() {
            return Ok(true);
        }
        if !could_be_socket_id(name) {
            return Ok(false);
        }
        match self.0.io.in_(name).fetch_sockets().await {
            Ok(sockets) => Ok(sockets.iter().any(|s| s.id == name)),
            Err(e) => Err(refusal(
                "unavailable",
                format!("cannot check the other servers for this socket id now: {e}"),
            )),
        }
    }

    /// Checks a room a client names: the rules, and never a socket's own room.
    async fn check_room(&self, room: &str) -> Result<(), Refusal> {
        validate_room(room).map_err(|e| refusal("invalid_room", e))?;
        if self.is_socket_id(room).await? {
            return Err(refusal(
                "forbidden_room",
                "this room name is a socket id: socket rooms are private (use private_message)",
            ));
        }
        Ok(())
    }

    fn notice(&self, room: Option<&str>, text: String) {
        let notice = json!({ "room": room, "text": text, "time": now_ms() });
        let sent = match room {
            Some(room) => self.0.io.to(room).emit("notice", (notice,)),
            None => self.0.io.emit("notice", (notice,)),
        };
        if let Err(e) = sent {
            tracing::warn!("notice not sent: {e}");
        }
    }

    /// `history`(room, entries), the entries' payloads keeping their binary parts; the most
    /// recent entries that fit in `history_bytes`, oldest first.
    fn history_args(&self, room: Option<&str>, entries: Vec<StoredMessage>) -> Args {
        let budget = self.0.config.history_bytes;
        let mut used = 0usize;
        let mut kept = Vec::new();
        for entry in entries.into_iter().rev() {
            let size = entry.payload.to_string().len()
                + entry.attachments.iter().map(|a| a.len()).sum::<usize>();
            if !kept.is_empty() && used + size > budget {
                break;
            }
            used += size;
            kept.push(entry);
        }
        kept.reverse();
        let mut payloads = Args::default();
        let mut list = Vec::with_capacity(kept.len());
        for entry in kept {
            payloads.append(Args {
                values: vec![entry.payload],
                attachments: entry.attachments,
            });
            list.push(json!({
                "id": entry.id,
                "room": entry.room,
                "from": entry.from,
                "name": entry.name,
                "time": entry.time,
            }));
        }
        for (item, payload) in list.iter_mut().zip(payloads.values) {
            item["payload"] = payload;
        }
        Args {
            values: vec![json!(room), Value::Array(list)],
            attachments: payloads.attachments,
        }
    }
}
