//! The requests a node waits on, whatever the protocol that carries them: what both Redis
//! adapters keep after they asked the other servers something. A request is kept under its
//! id until every server answered, until it times out, or until it could not be published
//! (Redis away), and each kind of answer goes where its request wants it: a socket or room
//! list gathered across servers, or an ack collector.
//!
//! The protocols differ only in how a request is written and where it goes, so the callers
//! pass the channel and the payload, and hand each answer back as an [`Answer`].

use crate::node::Node;
use crate::peers::Peers;
use crate::stats::Counters;
use crate::transport::{FailHook, Transport};
use parking_lot::Mutex;
use rally::{AckCollector, AdapterError, Args, Room, SocketInfo};
use rand::distributions::Alphanumeric;
use rand::Rng;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;
use tokio::sync::oneshot;

/// Six random alphanumerics: a node uid or a request id (Node: `uid2(6)`).
pub(crate) fn random_id() -> String {
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(6)
        .map(char::from)
        .collect()
}

/// A cross-node request this node is waiting on.
pub(crate) enum Pending {
    Fetch(Gather<Vec<SocketInfo>>),
    AllRooms(Gather<HashSet<Room>>),
    ServerSideEmit(AckCollector),
    BroadcastAck(AckCollector),
}

/// What a pending request waits for, so that a protocol whose answers do not say what they
/// answer can read them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Waiting {
    Sockets,
    Rooms,
    ServerSideEmitAcks,
    BroadcastAcks,
}

/// One server's answer to a request, as the protocol read it.
pub(crate) enum Answer {
    /// How many clients a broadcast with acks reached on that server.
    ClientCount(usize),
    /// One client's ack to a broadcast.
    BroadcastAck(Args),
    /// That server's answer to a server-side emit.
    ServerSideEmitAck(Args),
    /// That server's sockets (`None`: an answer that held no usable list).
    Sockets(Option<Vec<SocketInfo>>),
    /// That server's rooms (`None`: an answer that held no usable list).
    Rooms(Option<Vec<Room>>),
}

/// Answers gathered into `gathered` until every server reported.
pub(crate) struct Gather<T> {
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

/// The requests of one namespace's adapter, and the server count they are sized by.
pub(crate) struct Requests {
    transport: Arc<Transport>,
    peers: Arc<Peers>,
    /// The channel whose `PUBSUB NUMSUB` counts the servers (this one included).
    counted: String,
    /// What a node's own channel starts with (`<base><uid>#`): a server counted as gone
    /// but still subscribed there is frozen, and still in the count of `counted`.
    per_node: String,
    /// The last server count Redis gave.
    known_servers: AtomicUsize,
    pending: Mutex<HashMap<String, Pending>>,
}

impl Requests {
    pub fn new(node: &Node, counted: String, per_node: String) -> Self {
        Requests {
            transport: node.transport.clone(),
            peers: node.peers.clone(),
            counted,
            per_node,
            known_servers: AtomicUsize::new(1),
            pending: Mutex::default(),
        }
    }

    fn set_known_servers(&self, count: usize) {
        self.known_servers.store(count.max(1), Ordering::Relaxed);
    }

    /// The periodic count from Redis: fewer servers than before means one left (its
    /// connection closed), which those who show cluster-wide state want to know.
    pub fn on_server_count(&self, count: usize) {
        let before = self.known_servers.swap(count.max(1), Ordering::Relaxed);
        if count.max(1) < before {
            self.peers.changed();
        }
    }

    fn known_servers(&self) -> usize {
        self.known_servers.load(Ordering::Relaxed).max(1)
    }

    /// How many `fail` reports make a waiting ack collector give up: one per other server
    /// the caller will wait for (it asks `server_count`, which answers the known count
    /// while Redis is away), and at least one.
    pub fn fail_acks(&self, acks: &AckCollector, why: &str) {
        self.count_failure();
        for _ in 0..self.known_servers().saturating_sub(1).max(1) {
            acks.fail(why);
        }
    }

    /// Fails `acks` at once when Redis is away (before any local client is counted, so the
    /// waiting emit sees the failure even if every local client answers); true if it did.
    fn failed_unavailable(&self, acks: &AckCollector) -> bool {
        if self.transport.available() {
            return false;
        }
        self.fail_acks(
            acks,
            "redis is unreachable: the other servers were not reached",
        );
        true
    }

    fn count_failure(&self) {
        Counters::add(&self.transport.stats.requests_failed, 1);
    }

    fn take_pending(&self, request_id: &str) -> Option<Pending> {
        self.pending.lock().remove(request_id)
    }

    /// This node is waiting on the request `request_id` (so it is its own).
    pub fn is_pending(&self, request_id: Option<&str>) -> bool {
        request_id.is_some_and(|id| self.pending.lock().contains_key(id))
    }

    /// A new request id (Node: `uid2(6)`), unused by this adapter.
    pub fn new_request_id(&self) -> String {
        loop {
            let id = random_id();
            if !self.pending.lock().contains_key(&id) {
                return id;
            }
        }
    }

    /// Starts waiting on `request_id`, publishes the request, and ends the wait with an
    /// error if it cannot be published.
    pub fn send(
        self: &Arc<Self>,
        request_id: &str,
        pending: Pending,
        channel: String,
        payload: Vec<u8>,
    ) {
        self.pending.lock().insert(request_id.to_owned(), pending);
        let hook = self.fail_pending_hook(request_id.to_owned());
        self.transport.publish(channel, payload, Some(hook));
    }

    /// Sends the request `build` writes (given its id) on `channel`, whose answers go to
    /// `acks` (`wait` says as what), and forgets it after `forget_after`; fails `acks` at
    /// once when Redis is away.
    pub fn ask_for_acks(
        self: &Arc<Self>,
        acks: AckCollector,
        wait: fn(AckCollector) -> Pending,
        channel: String,
        build: impl FnOnce(&str) -> Vec<u8>,
        forget_after: Duration,
    ) {
        if self.failed_unavailable(&acks) {
            return;
        }
        let request_id = self.new_request_id();
        let payload = build(&request_id);
        self.send(&request_id, wait(acks), channel, payload);
        self.forget_later(request_id, forget_after);
    }

    /// Forgets a request after `after` (the answers that count have arrived by then).
    pub fn forget_later(self: &Arc<Self>, request_id: String, after: Duration) {
        let weak = Arc::downgrade(self);
        self.transport.spawn(async move {
            tokio::time::sleep(after).await;
            if let Some(requests) = weak.upgrade() {
                requests.take_pending(&request_id);
            }
        });
    }

    /// A failure hook that ends the pending request `request_id`, whatever its kind.
    fn fail_pending_hook(self: &Arc<Self>, request_id: String) -> FailHook {
        let weak: Weak<Requests> = Arc::downgrade(self);
        Box::new(move |why: &str| {
            let Some(requests) = weak.upgrade() else {
                return;
            };
            if let Some(pending) = requests.take_pending(&request_id) {
                requests.fail_pending(pending, why);
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
            Pending::ServerSideEmit(acks) | Pending::BroadcastAck(acks) => {
                self.fail_acks(&acks, why)
            }
        }
    }

    /// `PUBSUB NUMSUB` of the counted channel: this node and every other one, less the
    /// servers counted as gone that are still subscribed (frozen: they would not answer).
    async fn query_servers(&self) -> Result<usize, AdapterError> {
        if !self.transport.available() {
            return Err(AdapterError::Unavailable("redis is unreachable".into()));
        }
        let gone = self.peers.gone();
        let mut channels = Vec::with_capacity(1 + gone.len());
        channels.push(self.counted.clone());
        channels.extend(gone.iter().map(|uid| format!("{}{uid}#", self.per_node)));
        let counts = self
            .transport
            .numsub(channels)
            .await
            .map_err(AdapterError::Unavailable)?;
        let subscribed = counts.first().copied().unwrap_or(0);
        let frozen = counts.iter().skip(1).filter(|&&n| n > 0).count();
        let count = subscribed.saturating_sub(frozen).max(1);
        self.set_known_servers(count);
        Ok(count)
    }

    /// How many servers there are; the last known count while Redis is away.
    pub async fn server_count(&self) -> usize {
        match self.query_servers().await {
            Ok(count) => count,
            Err(_) => self.known_servers(),
        }
    }

    /// Ends every request still waiting: the namespace's adapter is closing.
    pub fn close(&self) {
        let pending: Vec<Pending> = self.pending.lock().drain().map(|(_, p)| p).collect();
        for p in pending {
            self.fail_pending(p, "the namespace's adapter was closed");
        }
    }

    /// One server's answer to the request `request_id`, read by `read` once it knows what
    /// the request waits for; ignored when this node is not waiting on it (another node's
    /// request, or one it gave up on) or when `read` makes nothing of it.
    pub fn on_answer(&self, request_id: &str, read: impl FnOnce(Waiting) -> Option<Answer>) {
        let mut pending = self.pending.lock();
        let Some(entry) = pending.get_mut(request_id) else {
            return;
        };
        let waiting = match entry {
            Pending::Fetch(_) => Waiting::Sockets,
            Pending::AllRooms(_) => Waiting::Rooms,
            Pending::ServerSideEmit(_) => Waiting::ServerSideEmitAcks,
            Pending::BroadcastAck(_) => Waiting::BroadcastAcks,
        };
        let Some(answer) = read(waiting) else {
            return;
        };
        let finished = match (entry, answer) {
            (Pending::BroadcastAck(acks), Answer::ClientCount(count)) => {
                acks.expect(count);
                false
            }
            (Pending::BroadcastAck(acks), Answer::BroadcastAck(args)) => {
                acks.answer(args);
                false
            }
            (Pending::ServerSideEmit(acks), Answer::ServerSideEmitAck(args)) => {
                // One server reported, with its one answer (the collector counts servers
                // by their reports).
                acks.expect(1);
                acks.answer(args);
                false
            }
            (Pending::Fetch(gather), Answer::Sockets(sockets)) => gather.report(sockets),
            (Pending::AllRooms(gather), Answer::Rooms(rooms)) => gather.report(rooms),
            _ => false,
        };
        if finished {
            match pending.remove(request_id) {
                Some(Pending::Fetch(gather)) => gather.finish(),
                Some(Pending::AllRooms(gather)) => gather.finish(),
                _ => {}
            }
        }
    }

    /// Asks every other server, when there are any, on `channel` with the payload `request`
    /// builds from the request id, and gathers their answers after this node's own
    /// (`local`) with what `wrap` makes of a [`Gather`].
    pub async fn gather<T>(
        self: Arc<Self>,
        local: T,
        channel: String,
        request: impl FnOnce(&str) -> Vec<u8>,
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
        let payload = request(&request_id);
        let (done, answer) = oneshot::channel();
        let pending = wrap(Gather {
            expected: servers,
            answered: 1,
            gathered: local,
            done,
        });
        self.send(&request_id, pending, channel, payload);
        match tokio::time::timeout(self.transport.config.request_timeout, answer).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(AdapterError::Unavailable("the request was dropped".into())),
            Err(_) => {
                self.take_pending(&request_id);
                Counters::add(&self.transport.stats.requests_timed_out, 1);
                Err(AdapterError::Timeout)
            }
        }
    }
}
