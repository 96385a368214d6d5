//! The requester: the half of a namespace's adapter that speaks first. It publishes
//! broadcasts and requests, keeps the requests this node waits on (by request id), collects
//! the responses other nodes send back, and ends each request when every server answered,
//! when it times out, or at once when Redis is away.

use super::ns::{random_id, Ns};
use crate::stats::Counters;
use crate::transport::FailHook;
use crate::wire::{self, kind, IncomingResponse};
use parking_lot::Mutex;
use rally::broadcast::DEFAULT_ACK_TIMEOUT;
use rally::packet::Packet;
use rally::{AckCollector, AdapterError, Args, BroadcastOptions, Room, SocketInfo};
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;
use tokio::sync::oneshot;

/// A cross-node request this node is waiting on.
enum Pending {
    Fetch(Gather<Vec<SocketInfo>>),
    AllRooms(Gather<HashSet<Room>>),
    ServerSideEmit { acks: AckCollector },
    BroadcastAck { acks: AckCollector },
}

/// Answers gathered into `gathered` until every server reported.
struct Gather<T> {
    expected: usize,
    answered: usize,
    gathered: T,
    done: oneshot::Sender<Result<T, AdapterError>>,
}

impl<T> Gather<T> {
    /// One more server reported, with `answer` when it held a usable list; true when that
    /// was the last one.
    fn report<I>(&mut self, answer: Option<I>) -> bool
    where
        T: Extend<I::Item>,
        I: IntoIterator,
    {
        self.answered += 1;
        let Some(items) = answer else {
            return false;
        };
        self.gathered.extend(items);
        self.answered >= self.expected
    }

    fn fail(self, error: AdapterError) {
        let _ = self.done.send(Err(error));
    }

    fn finish(self) {
        let _ = self.done.send(Ok(self.gathered));
    }
}

pub(super) struct Requester {
    ns: Arc<Ns>,
    /// The last server count Redis gave (`PUBSUB NUMSUB` of the request channel).
    known_servers: AtomicUsize,
    pending: Mutex<HashMap<String, Pending>>,
}

impl Requester {
    pub fn new(ns: Arc<Ns>) -> Self {
        Requester {
            ns,
            known_servers: AtomicUsize::new(1),
            pending: Mutex::default(),
        }
    }

    pub fn set_known_servers(&self, count: usize) {
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
        Counters::add(&self.ns.transport().stats.requests_failed, 1);
    }

    fn publish_request(&self, payload: Vec<u8>, on_fail: Option<FailHook>) {
        self.ns
            .publish(self.ns.channels.request.clone(), payload, on_fail);
    }

    fn take_pending(&self, request_id: &str) -> Option<Pending> {
        self.pending.lock().remove(request_id)
    }

    /// This node is waiting on the request `request_id` (so it is its own).
    pub fn is_pending(&self, request_id: Option<&str>) -> bool {
        request_id.is_some_and(|id| self.pending.lock().contains_key(id))
    }

    /// A new request id (Node: `uid2(6)`), unused by this adapter.
    fn new_request_id(&self) -> String {
        loop {
            let id = random_id();
            if !self.pending.lock().contains_key(&id) {
                return id;
            }
        }
    }

    /// Starts waiting on `request_id`, publishes the request, and ends the wait with an
    /// error if it cannot be published.
    fn send(self: &Arc<Self>, request_id: &str, pending: Pending, payload: Vec<u8>) {
        self.pending.lock().insert(request_id.to_owned(), pending);
        let hook = self.fail_pending_hook(request_id.to_owned());
        self.publish_request(payload, Some(hook));
    }

    /// Forgets a request after `after` (the answers that count have arrived by then).
    fn forget_later(self: &Arc<Self>, request_id: String, after: Duration) {
        let weak = Arc::downgrade(self);
        self.ns.transport().spawn(async move {
            tokio::time::sleep(after).await;
            if let Some(requester) = weak.upgrade() {
                requester.take_pending(&request_id);
            }
        });
    }

    /// A failure hook that ends the pending request `request_id`, whatever its kind.
    fn fail_pending_hook(self: &Arc<Self>, request_id: String) -> FailHook {
        let weak: Weak<Requester> = Arc::downgrade(self);
        Box::new(move |why: &str| {
            let Some(requester) = weak.upgrade() else {
                return;
            };
            if let Some(pending) = requester.take_pending(&request_id) {
                requester.fail_pending(pending, why);
            }
        })
    }

    fn fail_pending(&self, pending: Pending, why: &str) {
        let error = AdapterError::Unavailable(why.to_owned());
        match pending {
            Pending::Fetch(gather) => {
                self.count_failure();
                gather.fail(error);
            }
            Pending::AllRooms(gather) => {
                self.count_failure();
                gather.fail(error);
            }
            Pending::ServerSideEmit { acks } | Pending::BroadcastAck { acks } => {
                self.fail_acks(&acks, why)
            }
        }
    }

    /// `PUBSUB NUMSUB` of the request channel: this node and every other one.
    async fn query_servers(&self) -> Result<usize, AdapterError> {
        if !self.ns.transport().available() {
            return Err(AdapterError::Unavailable("redis is unreachable".into()));
        }
        let counts = self
            .ns
            .transport()
            .numsub(vec![self.ns.channels.request.clone()])
            .await
            .map_err(AdapterError::Unavailable)?;
        let count = counts.first().copied().unwrap_or(0).max(1);
        self.set_known_servers(count);
        Ok(count)
    }

    /// Ends every request still waiting: the namespace's adapter is closing.
    pub fn close(&self) {
        let pending: Vec<Pending> = self.pending.lock().drain().map(|(_, p)| p).collect();
        for p in pending {
            self.fail_pending(p, "the namespace's adapter was closed");
        }
    }

    /// A message on `P-response#NSP#` or `P-response#NSP#uid#` (Node's `onresponse`).
    pub fn on_response(&self, channel: &str, payload: &[u8]) {
        let mut response = match IncomingResponse::decode(payload) {
            Ok(response) => response,
            Err(e) => return self.ns.malformed(channel, &e),
        };
        let Some(request_id) = response.request_id.take() else {
            return;
        };
        let mut pending = self.pending.lock();
        let Some(entry) = pending.get_mut(&request_id) else {
            // Another node's request, or one this node gave up on.
            return;
        };
        match entry {
            Pending::BroadcastAck { acks } => match response.kind() {
                Some(kind::BROADCAST_CLIENT_COUNT) => acks.expect(response.client_count()),
                Some(kind::BROADCAST_ACK) => acks.answer(response.broadcast_ack()),
                _ => {}
            },
            Pending::ServerSideEmit { acks } => {
                // One server reported, with its one answer (the collector counts servers
                // by their reports).
                acks.expect(1);
                acks.answer(response.server_side_emit_ack());
            }
            Pending::Fetch(gather) => {
                if gather.report(response.sockets()) {
                    if let Some(Pending::Fetch(gather)) = pending.remove(&request_id) {
                        gather.finish();
                    }
                }
            }
            Pending::AllRooms(gather) => {
                if gather.report(response.rooms()) {
                    if let Some(Pending::AllRooms(gather)) = pending.remove(&request_id) {
                        gather.finish();
                    }
                }
            }
        }
    }

    /// Sends a request whose answers complete `pending`, and waits for them.
    async fn request<T>(
        self: &Arc<Self>,
        payload: Vec<u8>,
        request_id: String,
        pending: Pending,
        answer: oneshot::Receiver<Result<T, AdapterError>>,
    ) -> Result<T, AdapterError> {
        self.send(&request_id, pending, payload);
        match tokio::time::timeout(self.ns.config().request_timeout, answer).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(AdapterError::Unavailable("the request was dropped".into())),
            Err(_) => {
                self.take_pending(&request_id);
                Counters::add(&self.ns.transport().stats.requests_timed_out, 1);
                Err(AdapterError::Timeout)
            }
        }
    }

    // ------------------------------------------------------------------- operations

    /// Publishes a broadcast for the other nodes.
    pub fn broadcast(&self, packet: &Packet, opts: &BroadcastOptions) {
        let ns = &self.ns;
        let data = packet.data.as_ref().unwrap_or(&Value::Null);
        let payload = wire::broadcast_message(ns.uid(), &ns.nsp, data, &packet.attachments, opts);
        ns.publish(ns.channels.broadcast_channel(opts), payload, None);
    }

    /// Publishes a broadcast whose receivers' acks are to reach `acks`, or fails it at once
    /// when Redis is away.
    pub fn broadcast_with_ack(
        self: &Arc<Self>,
        packet: &Packet,
        opts: &BroadcastOptions,
        acks: &AckCollector,
    ) {
        if !self.ns.transport().available() {
            // Reported before the local count, so the waiting emit sees the failure
            // even if every local client answers.
            self.fail_acks(
                acks,
                "redis is unreachable: the other servers were not reached",
            );
            return;
        }
        let request_id = self.new_request_id();
        let data = packet.data.as_ref().unwrap_or(&Value::Null);
        let payload = wire::broadcast_request(
            self.ns.uid(),
            &request_id,
            &self.ns.nsp,
            data,
            &packet.attachments,
            opts,
        );
        let pending = Pending::BroadcastAck { acks: acks.clone() };
        self.send(&request_id, pending, payload);
        // Like Node: the bookkeeping goes when the emit's own timeout is over.
        let timeout = opts.flags.timeout.unwrap_or(DEFAULT_ACK_TIMEOUT);
        self.forget_later(request_id, timeout + Duration::from_millis(100));
    }

    /// How many servers there are; the last known count while Redis is away.
    pub async fn server_count(&self) -> usize {
        match self.query_servers().await {
            Ok(count) => count,
            Err(_) => self.known_servers(),
        }
    }

    /// Asks every other server, when there are any, and gathers their answers after this
    /// node's own (`local`) with what `wrap` makes of a [`Gather`].
    async fn gather<T>(
        self: Arc<Self>,
        local: T,
        request: impl FnOnce(&str, &str) -> Vec<u8>,
        wrap: fn(Gather<T>) -> Pending,
    ) -> Result<T, AdapterError> {
        let servers = self
            .query_servers()
            .await
            .inspect_err(|_| self.count_failure())?;
        if servers <= 1 {
            return Ok(local);
        }
        let request_id = self.new_request_id();
        let payload = request(self.ns.uid(), &request_id);
        let (done, answer) = oneshot::channel();
        let pending = wrap(Gather {
            expected: servers,
            answered: 1,
            gathered: local,
            done,
        });
        self.request(payload, request_id, pending, answer).await
    }

    /// The sockets of every server matching `opts`, this one's (`local`) first.
    pub async fn fetch_sockets(
        self: Arc<Self>,
        opts: BroadcastOptions,
        local: Vec<SocketInfo>,
    ) -> Result<Vec<SocketInfo>, AdapterError> {
        let request = |uid: &str, id: &str| wire::fetch_request(uid, id, &opts);
        self.gather(local, request, Pending::Fetch).await
    }

    /// The rooms of every server, this one's (`local`) included.
    pub async fn all_rooms(
        self: Arc<Self>,
        local: HashSet<Room>,
    ) -> Result<Vec<Room>, AdapterError> {
        let rooms = self
            .gather(local, wire::all_rooms_request, Pending::AllRooms)
            .await?;
        Ok(rooms.into_iter().collect())
    }

    /// REMOTE_JOIN or REMOTE_LEAVE (`ty`) of the sockets matching `opts`, elsewhere.
    pub fn change_rooms(&self, ty: u64, opts: &BroadcastOptions, rooms: &[Room]) {
        let payload = wire::rooms_request(self.ns.uid(), ty, opts, rooms);
        self.publish_request(payload, None);
    }

    /// REMOTE_DISCONNECT of the sockets matching `opts`, elsewhere.
    pub fn disconnect_sockets(&self, opts: &BroadcastOptions, close: bool) {
        let payload = wire::disconnect_request(self.ns.uid(), opts, close);
        self.publish_request(payload, None);
    }

    /// A server-side emit to the other servers, whose acks (if any) are to reach `acks`.
    pub fn server_side_emit(self: &Arc<Self>, event: &str, args: Args, acks: Option<AckCollector>) {
        let uid = self.ns.uid();
        let Some(acks) = acks else {
            let payload =
                wire::server_side_emit_request(uid, None, event, &args.values, &args.attachments);
            self.publish_request(payload, None);
            return;
        };
        if !self.ns.transport().available() {
            self.fail_acks(
                &acks,
                "redis is unreachable: the other servers were not reached",
            );
            return;
        }
        let request_id = self.new_request_id();
        let payload = wire::server_side_emit_request(
            uid,
            Some(&request_id),
            event,
            &args.values,
            &args.attachments,
        );
        self.send(&request_id, Pending::ServerSideEmit { acks }, payload);
        // Node keeps the request for `requestsTimeout`; later answers are not counted.
        self.forget_later(request_id, self.ns.config().request_timeout);
    }
}
