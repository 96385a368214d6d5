//! One namespace's Redis adapter: Rally's `MemoryAdapter` for the local half, plus the
//! classic `@socket.io/redis-adapter` 8.3 protocol for the rest, as requester and as
//! responder.
//!
//! Differences from the Node adapter, all invisible on the wire:
//! - Room changes (`sockets_join`/`sockets_leave`/`disconnect_sockets`) apply locally at
//!   once and the node ignores its own request when it comes back (Node applies them only
//!   on the echo), so they keep working while Redis is away.
//! - While Redis is away, requests fail at once with `AdapterError::Unavailable` and acks
//!   with `AckError::NotSent`, instead of waiting in an offline queue.

use crate::transport::{FailHook, Shared};
use crate::wire::{self, kind, Channels};
use futures::future::{self, BoxFuture, FutureExt};
use rally::ack::ack_collector;
use rally::adapter::memory::MemoryAdapter;
use rally::broadcast::DEFAULT_ACK_TIMEOUT;
use rally::packet::Packet;
use rally::{
    AckCollector, AckError, Adapter, AdapterError, Args, BroadcastOptions, NamespaceRef, Room,
    ServerAck, SocketId, SocketInfo,
};
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;
use tokio::sync::oneshot;

/// Ack ids this adapter gives to broadcasts-with-ack from other servers. The namespace's own
/// counter starts at 0 and is not reachable from here, so these start far above it and stay
/// below 2^53, where JavaScript clients still read ids exactly.
const REMOTE_ACK_ID_BASE: u64 = 1 << 45;

/// `Arc<dyn Adapter>` for one namespace; dropping it (or `close`) unsubscribes.
pub struct RedisAdapter(pub(crate) Arc<NsAdapter>);

/// A cross-node request this node is waiting on.
enum Pending {
    Fetch {
        expected: usize,
        answered: usize,
        sockets: Vec<SocketInfo>,
        done: oneshot::Sender<Result<Vec<SocketInfo>, AdapterError>>,
    },
    AllRooms {
        expected: usize,
        answered: usize,
        rooms: HashSet<String>,
        done: oneshot::Sender<Result<Vec<Room>, AdapterError>>,
    },
    ServerSideEmit {
        acks: AckCollector,
    },
    BroadcastAck {
        acks: AckCollector,
    },
}

pub(crate) struct NsAdapter {
    shared: Arc<Shared>,
    local: MemoryAdapter,
    nsp: String,
    pub(crate) channels: Channels,
    /// The last server count Redis gave (`PUBSUB NUMSUB` of the request channel).
    known_servers: AtomicUsize,
    pending: Mutex<HashMap<String, Pending>>,
    ack_ids: AtomicU64,
    closed: AtomicBool,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl RedisAdapter {
    pub(crate) fn new(shared: Arc<Shared>, nsp: NamespaceRef) -> RedisAdapter {
        let name = nsp
            .upgrade()
            .map(|ns| ns.name().to_string())
            .unwrap_or_else(|| "/".to_owned());
        let channels = Channels::new(&shared.config.prefix, &name, &shared.uid);
        let inner = Arc::new(NsAdapter {
            local: MemoryAdapter::new(nsp),
            nsp: name,
            channels,
            known_servers: AtomicUsize::new(1),
            pending: Mutex::default(),
            ack_ids: AtomicU64::new(REMOTE_ACK_ID_BASE),
            closed: AtomicBool::new(false),
            shared,
        });
        inner.shared.register(&inner);
        RedisAdapter(inner)
    }

    /// The local half: this process's room index and sockets.
    pub fn local(&self) -> &MemoryAdapter {
        &self.0.local
    }
}

impl Drop for RedisAdapter {
    fn drop(&mut self) {
        self.0.close();
    }
}

impl NsAdapter {
    pub(crate) fn subscribed_channels(&self) -> Vec<String> {
        vec![
            self.channels.request.clone(),
            self.channels.response.clone(),
            self.channels.specific_response.clone(),
        ]
    }

    pub(crate) fn set_known_servers(&self, count: usize) {
        self.known_servers.store(count.max(1), Ordering::Relaxed);
    }

    fn known_servers(&self) -> usize {
        self.known_servers.load(Ordering::Relaxed).max(1)
    }

    /// How many `fail` reports make a waiting ack collector give up: one per other server
    /// the caller will wait for (it asks `server_count`, which answers the known count
    /// while Redis is away), and at least one.
    fn fail_acks(&self, acks: &AckCollector, why: &str) {
        self.count_failure();
        for _ in 0..self.known_servers().saturating_sub(1).max(1) {
            acks.fail(why);
        }
    }

    fn count_failure(&self) {
        self.shared
            .stats
            .requests_failed
            .fetch_add(1, Ordering::Relaxed);
    }

    fn publish(&self, channel: String, payload: Vec<u8>, on_fail: Option<FailHook>) {
        self.shared.publish(channel, payload, on_fail);
    }

    fn publish_request(&self, payload: Vec<u8>, on_fail: Option<FailHook>) {
        self.publish(self.channels.request.clone(), payload, on_fail);
    }

    fn respond(&self, requester: Option<&str>, payload: Vec<u8>) {
        let channel = self.channels.response_channel(
            self.shared.config.publish_on_specific_response_channel,
            requester,
        );
        self.publish(channel, payload, None);
    }

    fn take_pending(&self, request_id: &str) -> Option<Pending> {
        lock(&self.pending).remove(request_id)
    }

    fn is_pending(&self, request_id: Option<&str>) -> bool {
        request_id.is_some_and(|id| lock(&self.pending).contains_key(id))
    }

    /// A new request id (Node: `uid2(6)`), unused by this adapter.
    fn new_request_id(&self) -> String {
        loop {
            let id = crate::random_id();
            if !lock(&self.pending).contains_key(&id) {
                return id;
            }
        }
    }

    /// Forgets a request after `after` (the answers that count have arrived by then).
    fn forget_later(self: &Arc<Self>, request_id: String, after: Duration) {
        let weak = Arc::downgrade(self);
        self.shared.spawn(async move {
            tokio::time::sleep(after).await;
            if let Some(adapter) = weak.upgrade() {
                adapter.take_pending(&request_id);
            }
        });
    }

    /// A failure hook that ends the pending request `request_id`, whatever its kind.
    fn fail_pending_hook(self: &Arc<Self>, request_id: String) -> FailHook {
        let weak: Weak<NsAdapter> = Arc::downgrade(self);
        Box::new(move |why: &str| {
            let Some(adapter) = weak.upgrade() else {
                return;
            };
            if let Some(pending) = adapter.take_pending(&request_id) {
                adapter.fail_pending(pending, why);
            }
        })
    }

    fn fail_pending(&self, pending: Pending, why: &str) {
        let error = AdapterError::Unavailable(why.to_owned());
        match pending {
            Pending::Fetch { done, .. } => {
                self.count_failure();
                let _ = done.send(Err(error));
            }
            Pending::AllRooms { done, .. } => {
                self.count_failure();
                let _ = done.send(Err(error));
            }
            Pending::ServerSideEmit { acks } | Pending::BroadcastAck { acks } => {
                self.fail_acks(&acks, why)
            }
        }
    }

    /// `PUBSUB NUMSUB` of the request channel: this node and every other one.
    async fn query_servers(&self) -> Result<usize, AdapterError> {
        if !self.shared.available() {
            return Err(AdapterError::Unavailable("redis is unreachable".into()));
        }
        let counts = self
            .shared
            .numsub(vec![self.channels.request.clone()])
            .await
            .map_err(AdapterError::Unavailable)?;
        let count = counts.first().copied().unwrap_or(0).max(1);
        self.set_known_servers(count);
        Ok(count)
    }

    fn close(&self) {
        if self.closed.swap(true, Ordering::AcqRel) {
            return;
        }
        self.shared.unregister(self);
        let pending: Vec<Pending> = lock(&self.pending).drain().map(|(_, p)| p).collect();
        for p in pending {
            self.fail_pending(p, "the namespace's adapter was closed");
        }
    }

    // --------------------------------------------------------------------- incoming

    /// A message on `P#NSP#` or `P#NSP#room#` (Node's `onmessage`).
    pub(crate) fn on_broadcast(&self, channel: &str, payload: &[u8]) {
        let Some(rest) = channel.strip_prefix(self.channels.broadcast.as_str()) else {
            return;
        };
        // A single-room channel is dropped unread when no local socket is in that room.
        let room = rest.strip_suffix('#').unwrap_or(rest);
        if !room.is_empty() {
            let only_room = BroadcastOptions {
                rooms: vec![room.into()],
                ..BroadcastOptions::default()
            };
            if self.local.local_sockets(&only_room).is_empty() {
                return;
            }
        }
        let msg = match wire::parse_broadcast(payload) {
            Ok(msg) => msg,
            Err(e) => return self.shared.malformed(channel, &e.to_string()),
        };
        if msg.uid.as_deref() == Some(self.shared.uid.as_str()) {
            return;
        }
        if msg.nsp != self.nsp {
            tracing::debug!(%channel, nsp = %msg.nsp, "broadcast for another namespace");
            return;
        }
        let packet = Packet::event(&self.nsp, msg.data, msg.attachments, None);
        if let Err(e) = packet.validate() {
            return self.shared.malformed(channel, &e.to_string());
        }
        self.local.broadcast_local(&packet, &msg.opts);
    }

    /// A message on `P-request#NSP#` (Node's `onrequest`).
    pub(crate) fn on_request(self: &Arc<Self>, channel: &str, payload: &[u8]) {
        let (request, attachments) = match wire::decode_message(payload) {
            Ok(decoded) => decoded,
            Err(e) => return self.shared.malformed(channel, &e.to_string()),
        };
        let uid = request
            .get("uid")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let uid = uid.as_deref();
        let own = uid == Some(self.shared.uid.as_str());
        let request_id = request_id(&request);
        let request_id = request_id.as_deref();
        let Some(ty) = request.get("type").and_then(Value::as_u64) else {
            return self.shared.malformed(channel, "a request without a type");
        };
        match ty {
            kind::SOCKETS => {
                if self.is_pending(request_id) {
                    return;
                }
                let opts = BroadcastOptions {
                    rooms: wire::rooms_of(request.get("rooms")),
                    ..BroadcastOptions::default()
                };
                let sockets: Vec<Value> = self
                    .local
                    .local_sockets(&opts)
                    .iter()
                    .map(|sid| Value::from(&**sid))
                    .collect();
                self.respond(
                    uid,
                    wire::json(vec![
                        ("requestId", id_value(request_id)),
                        ("sockets", Value::Array(sockets)),
                    ]),
                );
            }
            kind::ALL_ROOMS => {
                if self.is_pending(request_id) {
                    return;
                }
                let rooms: Vec<Value> = self
                    .local
                    .rooms_local()
                    .iter()
                    .map(|r| Value::from(&**r))
                    .collect();
                self.respond(
                    uid,
                    wire::json(vec![
                        ("requestId", id_value(request_id)),
                        ("rooms", Value::Array(rooms)),
                    ]),
                );
            }
            kind::REMOTE_JOIN | kind::REMOTE_LEAVE | kind::REMOTE_DISCONNECT => {
                if let Some(opts) = request.get("opts") {
                    // Applied here already when it was sent.
                    if own {
                        return;
                    }
                    let opts = wire::parse_opts(opts, false);
                    let rooms = wire::rooms_of(request.get("rooms"));
                    match ty {
                        kind::REMOTE_JOIN => self.local.add_sockets_local(&opts, &rooms),
                        kind::REMOTE_LEAVE => self.local.del_sockets_local(&opts, &rooms),
                        _ => {
                            let close = request.get("close").is_some_and(wire::truthy);
                            self.local.disconnect_sockets_local(&opts, close)
                        }
                    }
                    return;
                }
                // The legacy form: one socket, answered by the node that has it.
                let Some(sid) = request.get("sid").and_then(Value::as_str) else {
                    return;
                };
                let Some(socket) = self.local.namespace().and_then(|ns| ns.socket(sid)) else {
                    return;
                };
                let room = request.get("room").and_then(Value::as_str).unwrap_or("");
                match ty {
                    kind::REMOTE_JOIN => socket.join(room),
                    kind::REMOTE_LEAVE => socket.leave(room),
                    _ => socket.disconnect(request.get("close").is_some_and(wire::truthy)),
                }
                self.respond(uid, wire::json(vec![("requestId", id_value(request_id))]));
            }
            kind::REMOTE_FETCH => {
                if self.is_pending(request_id) {
                    return;
                }
                let opts = request
                    .get("opts")
                    .map(|o| wire::parse_opts(o, false))
                    .unwrap_or_default();
                let sockets = self.local.fetch_sockets_local(&opts);
                self.respond(
                    uid,
                    wire::json(vec![
                        ("requestId", id_value(request_id)),
                        (
                            "sockets",
                            serde_json::to_value(&sockets).unwrap_or(Value::Array(vec![])),
                        ),
                    ]),
                );
            }
            kind::SERVER_SIDE_EMIT => {
                if own {
                    return;
                }
                self.on_server_side_emit(channel, request, attachments, request_id);
            }
            kind::BROADCAST => {
                if own || self.is_pending(request_id) {
                    return;
                }
                self.on_broadcast_request(channel, request, attachments, uid);
            }
            other => tracing::debug!(%channel, "ignoring request type {other}"),
        }
    }

    fn on_server_side_emit(
        &self,
        channel: &str,
        request: Value,
        attachments: Vec<bytes::Bytes>,
        request_id: Option<&str>,
    ) {
        let Some(Value::Array(mut data)) = request.get("data").cloned() else {
            return self
                .shared
                .malformed(channel, "a server-side emit without data");
        };
        if data.is_empty() {
            return self
                .shared
                .malformed(channel, "a server-side emit without an event");
        }
        let event = match data.remove(0) {
            Value::String(name) => name,
            Value::Number(n) => n.to_string(),
            _ => {
                return self
                    .shared
                    .malformed(channel, "a server-side emit's event is not a string")
            }
        };
        let Some(ns) = self.local.namespace() else {
            return;
        };
        let ack = request_id.map(|id| {
            let shared = self.shared.clone();
            let response = self.channels.response.clone();
            let id = id.to_owned();
            // Node answers on the shared response channel whatever its options, with the
            // first ack argument only.
            ServerAck::new(move |args: Args| {
                let payload =
                    wire::server_side_emit_response(&id, args.values.first(), &args.attachments);
                shared.publish(response, payload, None);
            })
        });
        let args = Args {
            values: data,
            attachments,
        };
        ns.dispatch_server_event(&event, args, ack);
    }

    /// BROADCAST (7): deliver with a local ack id, report the client count (8), then each
    /// client's answer (9) as it comes.
    fn on_broadcast_request(
        self: &Arc<Self>,
        channel: &str,
        request: Value,
        attachments: Vec<bytes::Bytes>,
        uid: Option<&str>,
    ) {
        let Some(request_id) = request_id(&request) else {
            return self
                .shared
                .malformed(channel, "a broadcast request without requestId");
        };
        let Some(packet) = request.get("packet").cloned() else {
            return self
                .shared
                .malformed(channel, "a broadcast request without packet");
        };
        let data = match wire::parse_packet(packet) {
            Ok((_, data)) => data,
            Err(e) => return self.shared.malformed(channel, &e.to_string()),
        };
        let raw_opts = request.get("opts").cloned().unwrap_or(Value::Null);
        // Node delivers with rooms and except only; the timeout bounds how long we relay acks.
        let opts = wire::parse_opts(&raw_opts, false);
        let wait_for = wire::parse_opts(&raw_opts, true)
            .flags
            .timeout
            .unwrap_or(self.shared.config.request_timeout);
        let id = self.ack_ids.fetch_add(1, Ordering::Relaxed);
        let packet = Packet::event(&self.nsp, data, attachments, Some(id));
        if let Err(e) = packet.validate() {
            return self.shared.malformed(channel, &e.to_string());
        }
        // One collector per client, so each answer is relayed as soon as it arrives.
        let mut waits = Vec::new();
        for sid in self.local.local_sockets(&opts) {
            let one = BroadcastOptions {
                rooms: vec![sid],
                ..BroadcastOptions::default()
            };
            let (collector, wait) = ack_collector();
            let sent = self
                .local
                .broadcast_with_ack_local(&packet, &one, &collector);
            if sent > 0 {
                collector.expect(sent);
                waits.push(wait);
            }
        }
        let response_channel = self
            .channels
            .response_channel(self.shared.config.publish_on_specific_response_channel, uid);
        self.publish(
            response_channel.clone(),
            wire::client_count_response(&request_id, waits.len()),
            None,
        );
        for wait in waits {
            let shared = self.shared.clone();
            let channel = response_channel.clone();
            let request_id = request_id.clone();
            self.shared.spawn(async move {
                let answers = match wait.collect(1, wait_for).await {
                    Ok(answers) => answers,
                    Err(AckError::Timeout { partial }) => partial,
                    Err(_) => Vec::new(),
                };
                for answer in answers {
                    let payload = wire::broadcast_ack_response(
                        &request_id,
                        answer.values.first(),
                        &answer.attachments,
                    );
                    shared.publish(channel.clone(), payload, None);
                }
            });
        }
    }

    /// A message on `P-response#NSP#` or `P-response#NSP#uid#` (Node's `onresponse`).
    pub(crate) fn on_response(&self, channel: &str, payload: &[u8]) {
        let (response, attachments) = match wire::decode_message(payload) {
            Ok(decoded) => decoded,
            Err(e) => return self.shared.malformed(channel, &e.to_string()),
        };
        let Some(request_id) = request_id(&response) else {
            return;
        };
        let mut pending = lock(&self.pending);
        let Some(entry) = pending.get_mut(&request_id) else {
            // Another node's request, or one this node gave up on.
            return;
        };
        match entry {
            Pending::BroadcastAck { acks } => match response.get("type").and_then(Value::as_u64) {
                Some(kind::BROADCAST_CLIENT_COUNT) => {
                    let count = response
                        .get("clientCount")
                        .and_then(Value::as_u64)
                        .unwrap_or(0);
                    acks.expect(usize::try_from(count).unwrap_or(0));
                }
                Some(kind::BROADCAST_ACK) => acks.answer(Args {
                    values: response.get("packet").cloned().into_iter().collect(),
                    attachments,
                }),
                _ => {}
            },
            Pending::ServerSideEmit { acks } => {
                // One server reported, with its one answer (the collector counts servers
                // by their reports).
                acks.expect(1);
                acks.answer(Args {
                    values: response.get("data").cloned().into_iter().collect(),
                    attachments,
                });
            }
            Pending::Fetch {
                expected,
                answered,
                sockets,
                ..
            } => {
                *answered += 1;
                let Some(Value::Array(list)) = response.get("sockets") else {
                    return;
                };
                sockets.extend(list.iter().filter_map(socket_info));
                if *answered >= *expected {
                    if let Some(Pending::Fetch { sockets, done, .. }) = pending.remove(&request_id)
                    {
                        let _ = done.send(Ok(sockets));
                    }
                }
            }
            Pending::AllRooms {
                expected,
                answered,
                rooms,
                ..
            } => {
                *answered += 1;
                let Some(Value::Array(list)) = response.get("rooms") else {
                    return;
                };
                rooms.extend(
                    wire::rooms_of(Some(&Value::Array(list.clone())))
                        .iter()
                        .map(|r| r.to_string()),
                );
                if *answered >= *expected {
                    if let Some(Pending::AllRooms { rooms, done, .. }) = pending.remove(&request_id)
                    {
                        let _ = done.send(Ok(rooms.into_iter().map(Room::from).collect()));
                    }
                }
            }
        }
    }

    // --------------------------------------------------------------------- outgoing

    /// Sends a request whose answers complete `pending`, and waits for them.
    async fn request<T>(
        self: &Arc<Self>,
        payload: Vec<u8>,
        request_id: String,
        pending: Pending,
        answer: oneshot::Receiver<Result<T, AdapterError>>,
    ) -> Result<T, AdapterError> {
        lock(&self.pending).insert(request_id.clone(), pending);
        let hook = self.fail_pending_hook(request_id.clone());
        self.publish_request(payload, Some(hook));
        match tokio::time::timeout(self.shared.config.request_timeout, answer).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(AdapterError::Unavailable("the request was dropped".into())),
            Err(_) => {
                self.take_pending(&request_id);
                self.shared
                    .stats
                    .requests_timed_out
                    .fetch_add(1, Ordering::Relaxed);
                Err(AdapterError::Timeout)
            }
        }
    }
}

fn request_id(value: &Value) -> Option<String> {
    match value.get("requestId")? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn id_value(request_id: Option<&str>) -> Value {
    request_id.map_or(Value::Null, Value::from)
}

/// One entry of a REMOTE_FETCH answer: `{id, handshake, rooms, data}`.
fn socket_info(value: &Value) -> Option<SocketInfo> {
    Some(SocketInfo {
        id: value.get("id")?.as_str()?.to_owned(),
        handshake: value.get("handshake").cloned().unwrap_or(Value::Null),
        rooms: wire::rooms_of(value.get("rooms"))
            .iter()
            .map(|r| r.to_string())
            .collect(),
        data: value.get("data").cloned().unwrap_or(Value::Null),
    })
}

impl Adapter for RedisAdapter {
    fn add_all(&self, sid: &SocketId, rooms: &[Room]) {
        self.0.local.add_all(sid, rooms);
    }

    fn del(&self, sid: &SocketId, room: &str) {
        self.0.local.del(sid, room);
    }

    fn del_all(&self, sid: &SocketId) {
        self.0.local.del_all(sid);
    }

    fn socket_rooms(&self, sid: &str) -> Vec<Room> {
        self.0.local.socket_rooms(sid)
    }

    fn local_sockets(&self, opts: &BroadcastOptions) -> Vec<SocketId> {
        self.0.local.local_sockets(opts)
    }

    fn broadcast(&self, packet: Packet, opts: BroadcastOptions) {
        let a = &self.0;
        if !opts.flags.local {
            let data = packet.data.as_ref().unwrap_or(&Value::Null);
            let payload =
                wire::broadcast_message(&a.shared.uid, &a.nsp, data, &packet.attachments, &opts);
            a.publish(a.channels.broadcast_channel(&opts), payload, None);
        }
        a.local.broadcast_local(&packet, &opts);
    }

    fn broadcast_with_ack(&self, packet: Packet, opts: BroadcastOptions, acks: AckCollector) {
        let a = &self.0;
        if !opts.flags.local {
            if a.shared.available() {
                let request_id = a.new_request_id();
                let data = packet.data.as_ref().unwrap_or(&Value::Null);
                let payload = wire::broadcast_request(
                    &a.shared.uid,
                    &request_id,
                    &a.nsp,
                    data,
                    &packet.attachments,
                    &opts,
                );
                lock(&a.pending).insert(
                    request_id.clone(),
                    Pending::BroadcastAck { acks: acks.clone() },
                );
                let hook = a.fail_pending_hook(request_id.clone());
                a.publish_request(payload, Some(hook));
                // Like Node: the bookkeeping goes when the emit's own timeout is over.
                let timeout = opts.flags.timeout.unwrap_or(DEFAULT_ACK_TIMEOUT);
                a.forget_later(request_id, timeout + Duration::from_millis(100));
            } else {
                // Reported before the local count, so the waiting emit sees the failure
                // even if every local client answers.
                a.fail_acks(
                    &acks,
                    "redis is unreachable: the other servers were not reached",
                );
            }
        }
        let count = a.local.broadcast_with_ack_local(&packet, &opts, &acks);
        acks.expect(count);
    }

    fn server_count(&self) -> BoxFuture<'static, usize> {
        let a = self.0.clone();
        async move {
            match a.query_servers().await {
                Ok(count) => count,
                Err(_) => a.known_servers(),
            }
        }
        .boxed()
    }

    fn fetch_sockets(
        &self,
        opts: BroadcastOptions,
    ) -> BoxFuture<'static, Result<Vec<SocketInfo>, AdapterError>> {
        let local = self.0.local.fetch_sockets_local(&opts);
        if opts.flags.local {
            return future::ready(Ok(local)).boxed();
        }
        let a = self.0.clone();
        async move {
            let servers = a.query_servers().await.inspect_err(|_| a.count_failure())?;
            if servers <= 1 {
                return Ok(local);
            }
            let request_id = a.new_request_id();
            let payload = wire::fetch_request(&a.shared.uid, &request_id, &opts);
            let (done, answer) = oneshot::channel();
            let pending = Pending::Fetch {
                expected: servers,
                answered: 1,
                sockets: local,
                done,
            };
            a.request(payload, request_id, pending, answer).await
        }
        .boxed()
    }

    fn add_sockets(&self, opts: BroadcastOptions, rooms: Vec<Room>) {
        let a = &self.0;
        a.local.add_sockets_local(&opts, &rooms);
        if !opts.flags.local {
            a.publish_request(
                wire::rooms_request(&a.shared.uid, kind::REMOTE_JOIN, &opts, &rooms),
                None,
            );
        }
    }

    fn del_sockets(&self, opts: BroadcastOptions, rooms: Vec<Room>) {
        let a = &self.0;
        a.local.del_sockets_local(&opts, &rooms);
        if !opts.flags.local {
            a.publish_request(
                wire::rooms_request(&a.shared.uid, kind::REMOTE_LEAVE, &opts, &rooms),
                None,
            );
        }
    }

    fn disconnect_sockets(&self, opts: BroadcastOptions, close: bool) {
        let a = &self.0;
        if !opts.flags.local {
            a.publish_request(wire::disconnect_request(&a.shared.uid, &opts, close), None);
        }
        a.local.disconnect_sockets_local(&opts, close);
    }

    fn all_rooms(&self) -> BoxFuture<'static, Result<Vec<Room>, AdapterError>> {
        let a = self.0.clone();
        async move {
            let local: HashSet<String> = a
                .local
                .rooms_local()
                .iter()
                .map(|r| r.to_string())
                .collect();
            let servers = a.query_servers().await.inspect_err(|_| a.count_failure())?;
            if servers <= 1 {
                return Ok(local.into_iter().map(Room::from).collect());
            }
            let request_id = a.new_request_id();
            let payload = wire::all_rooms_request(&a.shared.uid, &request_id);
            let (done, answer) = oneshot::channel();
            let pending = Pending::AllRooms {
                expected: servers,
                answered: 1,
                rooms: local,
                done,
            };
            a.request(payload, request_id, pending, answer).await
        }
        .boxed()
    }

    fn server_side_emit(&self, event: &str, args: Args, acks: Option<AckCollector>) {
        let a = &self.0;
        let uid = a.shared.uid.as_str();
        let Some(acks) = acks else {
            let payload =
                wire::server_side_emit_request(uid, None, event, &args.values, &args.attachments);
            a.publish_request(payload, None);
            return;
        };
        if !a.shared.available() {
            a.fail_acks(
                &acks,
                "redis is unreachable: the other servers were not reached",
            );
            return;
        }
        let request_id = a.new_request_id();
        let payload = wire::server_side_emit_request(
            uid,
            Some(&request_id),
            event,
            &args.values,
            &args.attachments,
        );
        lock(&a.pending).insert(request_id.clone(), Pending::ServerSideEmit { acks });
        let hook = a.fail_pending_hook(request_id.clone());
        a.publish_request(payload, Some(hook));
        // Node keeps the request for `requestsTimeout`; later answers are not counted.
        a.forget_later(request_id, a.shared.config.request_timeout);
    }

    fn close(&self) {
        self.0.close();
    }
}
