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
//! What the server emits besides: `welcome`({id, name, limits}) on connection,
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
//! Presence is read from the adapter (`fetch_sockets`, names in `socket.data`), so it
//! spans every server of a cluster; it is published in coalesced snapshots, by the server
//! where something changed (and by every server when the cluster's Redis comes back,
//! `resync_presence`). While the cluster cannot be asked, a snapshot lists this server's
//! sockets only.
//!
//! On a cluster, the checks that a name is (or is not) a socket id ask every server, but
//! only for names shaped like one (20 base64url characters): other room names need no
//! round trip. `message` and `private_message` of one socket are relayed in the order they
//! were sent even when a check has to wait for the other servers.

use crate::guests::{is_guest_name, GuestNames};
use crate::history::{HistoryStore, StoredMessage};
use crate::limits::{validate_name, validate_room, DropReporter, TokenBucket};
use rally::{Ack, AdapterError, Args, Event, Server, Socket};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Most chat rooms one socket may be in.
pub const MAX_ROOMS_PER_SOCKET: usize = 100;

/// Joins, leaves, renames and typing signals a socket may send in a burst, and per second after.
const ACTION_BURST: u32 = 200;
const ACTION_PER_SECOND: f64 = 10.0;

/// How often at most a flooding socket hears about its dropped messages.
const DROP_REPORT_EVERY: Duration = Duration::from_secs(1);

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
    presence: Mutex<PendingPresence>,
    typing: Mutex<HashMap<TypingKey, TypingEntry>>,
    typing_generation: AtomicU64,
}

/// Presence changes not yet published.
#[derive(Default)]
struct PendingPresence {
    scheduled: bool,
    users: bool,
    rooms: BTreeSet<String>,
}

/// Who is typing where (`None`: the lobby).
type TypingKey = (String, Option<String>);

struct TypingEntry {
    generation: u64,
    deadline: Instant,
}

/// Per-socket limits.
struct Peer {
    messages: Mutex<TokenBucket>,
    actions: Mutex<TokenBucket>,
    drops: Mutex<DropReporter>,
    /// Held by `message` and `private_message` from their start until they are relayed:
    /// taken in the order the events came (handlers run in place until their first pending
    /// await, and the lock is fair), so a check waiting for the cluster keeps the order.
    order: tokio::sync::Mutex<()>,
}

impl Peer {
    fn new(config: &ChatConfig) -> Self {
        Peer {
            messages: Mutex::new(TokenBucket::new(config.rate_burst, config.rate_per_second)),
            actions: Mutex::new(TokenBucket::new(ACTION_BURST, ACTION_PER_SECOND)),
            drops: Mutex::default(),
            order: tokio::sync::Mutex::new(()),
        }
    }
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

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// The display name kept in `socket.data`.
fn name_of(data: &Value) -> String {
    data["name"].as_str().unwrap_or("guest").to_owned()
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
            presence: Mutex::default(),
            typing: Mutex::default(),
            typing_generation: AtomicU64::new(0),
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
                socket.set_data(json!({ "name": name }));
                Ok(())
            }
        });
        let chat = self.clone();
        self.0
            .io
            .on_connection(move |socket| chat.connected(socket));
    }

    /// The name a connecting socket starts with: the one its handshake chose, else a guest
    /// name (the one it had before a reconnection when that is still free).
    async fn name_on_arrival(&self, socket: &Socket) -> String {
        let auth = &socket.handshake().auth;
        if let Some(name) = auth["name"].as_str().and_then(|n| validate_name(n).ok()) {
            return name;
        }
        let previous = auth["guest"].as_str().filter(|n| is_guest_name(n));
        self.0.guests.allocate(previous).await
    }

    fn connected(&self, socket: Socket) {
        let name = name_of(&socket.data());
        self.0.guests.settle(&name);
        tracing::info!(socket = %socket.id(), name = %name, transport = ?socket.transport(), "connected");
        let peer = Arc::new(Peer::new(&self.0.config));

        self.on(&socket, &peer, "message", on_message);
        self.on(&socket, &peer, "join", on_join);
        self.on(&socket, &peer, "leave", on_leave);
        self.on(&socket, &peer, "private_message", on_private_message);
        self.on(&socket, &peer, "set_name", on_set_name);
        self.on(&socket, &peer, "typing", on_typing);
        let chat = self.clone();
        socket.on_disconnecting(move |socket, reason| {
            chat.disconnecting(&socket, reason.as_str());
            async {}
        });

        let config = &self.0.config;
        let welcome = json!({
            "id": &**socket.id(),
            "name": name,
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

    fn disconnecting(&self, socket: &Socket, reason: &str) {
        let name = name_of(&socket.data());
        tracing::info!(socket = %socket.id(), name = %name, reason, "disconnected");
        let rooms = self.chat_rooms(socket);
        let typing: Vec<TypingKey> = lock(&self.0.typing)
            .keys()
            .filter(|(id, _)| id == &**socket.id())
            .cloned()
            .collect();
        for (_, room) in typing {
            self.stop_typing(socket, room);
        }
        for room in &rooms {
            self.notice(Some(room), format!("{name} left"));
        }
        self.presence_changed(true, rooms);
    }

    /// `socket.on(event, handler)` with the chat and the socket's limits at hand.
    fn on<F, Fut>(&self, socket: &Socket, peer: &Arc<Peer>, event: &'static str, handler: F)
    where
        F: Fn(Chat, Arc<Peer>, Socket, Event) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let chat = self.clone();
        let peer = peer.clone();
        socket.on(event, move |socket, event| {
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

    /// Takes a message token; on a flood, tells the socket (sparingly) and refuses.
    fn allow_message(
        &self,
        socket: &Socket,
        peer: &Peer,
        ack: Option<Ack>,
        event: &str,
    ) -> Option<Option<Ack>> {
        if lock(&peer.messages).try_take() {
            return Some(ack);
        }
        let config = &self.0.config;
        let text = format!(
            "rate limit: at most {} messages at once and {} per second after; this one was dropped",
            config.rate_burst, config.rate_per_second
        );
        if let Some(count) = lock(&peer.drops).dropped(Instant::now(), DROP_REPORT_EVERY) {
            tracing::warn!(socket = %socket.id(), dropped = count, "rate limit");
            let mut report = refusal("rate_limited", text.clone());
            if count > 1 {
                report.message = format!("{text} ({count} dropped since the last notice)");
            }
            self.error_event(socket, event, &report);
        }
        if let Some(ack) = ack {
            ack.send((json!({ "error": text, "code": "rate_limited" }),));
        }
        None
    }

    fn allow_action(&self, peer: &Peer) -> bool {
        lock(&peer.actions).try_take()
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

    // ---- presence: coalesced snapshots ----

    /// Publishes a whole snapshot: the users, the rooms, and the member list of every room
    /// this server's sockets are in (after the cluster's Redis came back).
    pub fn resync_presence(&self) {
        let mut rooms = BTreeSet::new();
        for socket in self.0.io.sockets().local_sockets() {
            rooms.extend(self.chat_rooms(&socket));
        }
        self.presence_changed(true, rooms);
    }

    /// Notes a change; one snapshot follows after `presence_delay`.
    fn presence_changed(&self, users: bool, rooms: impl IntoIterator<Item = String>) {
        let mut pending = lock(&self.0.presence);
        pending.users |= users;
        pending.rooms.extend(rooms);
        if pending.scheduled {
            return;
        }
        pending.scheduled = true;
        drop(pending);
        let chat = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(chat.0.config.presence_delay).await;
            let (users, rooms) = {
                let mut pending = lock(&chat.0.presence);
                pending.scheduled = false;
                (
                    std::mem::take(&mut pending.users),
                    std::mem::take(&mut pending.rooms),
                )
            };
            chat.publish_presence(users, rooms).await;
        });
    }

    /// `users` (when they changed) and `rooms` to everyone, `room_members` to each changed room.
    async fn publish_presence(&self, users_changed: bool, changed_rooms: BTreeSet<String>) {
        let io = &self.0.io;
        let sockets = match io.sockets().fetch_sockets().await {
            Ok(sockets) => sockets,
            // The cluster's Redis is away: this server's own sockets, for its own clients
            // (the broadcasts do not leave this server meanwhile).
            Err(AdapterError::Unavailable(why)) => {
                tracing::debug!("presence from this server only: {why}");
                match io.local().fetch_sockets().await {
                    Ok(sockets) => sockets,
                    Err(e) => {
                        tracing::warn!("presence not published: {e}");
                        return;
                    }
                }
            }
            Err(e) => {
                tracing::warn!("presence not published: {e}");
                return;
            }
        };
        let mut users = Vec::with_capacity(sockets.len());
        let mut members: BTreeMap<&str, Vec<Value>> = BTreeMap::new();
        for s in &sockets {
            let user = json!({ "id": s.id, "name": name_of(&s.data) });
            for room in s.rooms.iter().filter(|room| **room != s.id) {
                members.entry(room).or_default().push(user.clone());
            }
            users.push(user);
        }
        let by_name = |a: &Value, b: &Value| {
            let key = |v: &Value| (v["name"].to_string().to_lowercase(), v["id"].to_string());
            key(a).cmp(&key(b))
        };
        users.sort_by(by_name);
        if users_changed {
            let _ = io.emit("users", (users,));
        }
        let overview: Vec<Value> = members
            .iter()
            .map(|(name, list)| json!({ "name": name, "members": list.len() }))
            .collect();
        let _ = io.emit("rooms", (overview,));
        for room in &changed_rooms {
            let mut list = members.get(room.as_str()).cloned().unwrap_or_default();
            list.sort_by(by_name);
            let _ = io.to(room.as_str()).emit("room_members", (room, list));
        }
    }

    // ---- typing: server-side expiry ----

    fn start_typing(&self, socket: &Socket, room: Option<String>) {
        let key: TypingKey = (socket.id().to_string(), room.clone());
        let timeout = self.0.config.typing_timeout;
        let generation = {
            let mut typing = lock(&self.0.typing);
            if let Some(entry) = typing.get_mut(&key) {
                entry.deadline = Instant::now() + timeout;
                return;
            }
            let generation = self.0.typing_generation.fetch_add(1, Ordering::Relaxed);
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
                let mut typing = lock(&chat.0.typing);
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

    fn stop_typing(&self, socket: &Socket, room: Option<String>) {
        let key: TypingKey = (socket.id().to_string(), room);
        if lock(&self.0.typing).remove(&key).is_some() {
            self.emit_typing(socket, key.1.as_deref(), false);
        }
    }

    /// To everyone else in the room (or the lobby).
    fn emit_typing(&self, socket: &Socket, room: Option<&str>, typing: bool) {
        let signal = json!({
            "id": &**socket.id(),
            "name": name_of(&socket.data()),
            "room": room,
            "typing": typing,
        });
        let _ = match room {
            Some(room) => socket.to(room).emit("typing", (signal,)),
            None => socket.broadcast().emit("typing", (signal,)),
        };
    }
}

// ---- the handlers: each runs in place until its first pending await ----

async fn on_message(chat: Chat, peer: Arc<Peer>, socket: Socket, mut event: Event) {
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
        name: name_of(&socket.data()),
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
        None => io.to(Vec::<String>::new()),
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

async fn on_join(chat: Chat, peer: Arc<Peer>, socket: Socket, mut event: Event) {
    let ack = event.ack.take();
    if !chat.allow_action(&peer) {
        let refused = refusal(
            "rate_limited",
            "too many joins, leaves or renames: slow down",
        );
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
        chat.notice(Some(&room), format!("{} joined", name_of(&socket.data())));
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

async fn on_leave(chat: Chat, peer: Arc<Peer>, socket: Socket, mut event: Event) {
    let ack = event.ack.take();
    if !chat.allow_action(&peer) {
        let refused = refusal(
            "rate_limited",
            "too many joins, leaves or renames: slow down",
        );
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
        chat.notice(Some(&room), format!("{} left", name_of(&socket.data())));
        chat.presence_changed(false, [room]);
    }
    if let Some(ack) = ack {
        ack.send(());
    }
}

async fn on_private_message(chat: Chat, peer: Arc<Peer>, socket: Socket, mut event: Event) {
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

async fn on_set_name(chat: Chat, peer: Arc<Peer>, socket: Socket, mut event: Event) {
    let ack = event.ack.take();
    if !chat.allow_action(&peer) {
        let refused = refusal(
            "rate_limited",
            "too many joins, leaves or renames: slow down",
        );
        return chat.refuse(&socket, ack, "set_name", refused);
    }
    let old = name_of(&socket.data());
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
        let mut data = socket.data();
        data["name"] = json!(name);
        socket.set_data(data);
        tracing::debug!(socket = %socket.id(), from = %old, to = %name, "renamed");
        chat.notice(None, format!("{old} is now {name}"));
        chat.presence_changed(true, chat.chat_rooms(&socket));
    }
    if let Some(ack) = ack {
        ack.send(());
    }
}

async fn on_typing(chat: Chat, peer: Arc<Peer>, socket: Socket, event: Event) {
    // Typing signals are a courtesy: over the limit they are dropped without a word.
    if !chat.allow_action(&peer) {
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
