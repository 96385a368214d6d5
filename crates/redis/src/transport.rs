//! The two Redis connections a factory shares between all its namespaces, and the tasks
//! that keep them alive.
//!
//! - The **publisher** task owns a multiplexed connection and a FIFO queue. It sends what
//!   is queued in pipelined batches (one round trip per batch, order kept), so a node's
//!   broadcasts reach Redis in the order they were made. When Redis is away, queued
//!   messages fail at once (counted, logged once per outage, and each message's failure
//!   hook runs, which is how an emit with acks learns it), and the task reconnects with a
//!   capped exponential backoff.
//! - The **subscriber** task owns a RESP2 pub/sub connection: it (re)subscribes every
//!   registered namespace's channels on each connection, routes messages to the namespace
//!   adapters, pings to notice a dead connection, refreshes the server counts, and
//!   reconnects by itself.
//!
//! The tasks hold only weak references: dropping the factory and every adapter ends them.

use crate::adapter::NsAdapter;
use crate::{RedisAdapterConfig, RedisStats};
use redis::aio::MultiplexedConnection;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock, Weak};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::time::{timeout, Instant};

/// Called once, with the reason, when a queued message could not be published.
pub(crate) type FailHook = Box<dyn FnOnce(&str) + Send>;

/// How many queued commands go into one pipelined round trip at most.
const MAX_BATCH: usize = 512;
/// First and longest wait between reconnection attempts.
const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(2);
/// How often the subscriber pings Redis and refreshes the server counts.
const HEALTH_INTERVAL: Duration = Duration::from_secs(3);
/// Channels per SUBSCRIBE command when resubscribing.
const SUBSCRIBE_CHUNK: usize = 256;

pub(crate) enum PubCmd {
    Publish {
        channel: String,
        payload: Vec<u8>,
        on_fail: Option<FailHook>,
    },
    /// `PUBSUB NUMSUB channels…`: one count per channel.
    NumSub {
        channels: Vec<String>,
        reply: oneshot::Sender<Result<Vec<usize>, String>>,
    },
    /// The subscriber lost Redis: the publisher's connection is probably gone too.
    Reset,
}

pub(crate) enum SubCmd {
    Subscribe {
        pattern: String,
        channels: Vec<String>,
    },
    Unsubscribe {
        pattern: String,
        channels: Vec<String>,
    },
}

#[derive(Clone, Copy)]
pub(crate) enum ChannelKind {
    Request,
    Response,
}

/// Which namespace adapter listens on which channel or pattern.
#[derive(Default)]
pub(crate) struct Routes {
    patterns: HashMap<String, Weak<NsAdapter>>,
    channels: HashMap<String, (Weak<NsAdapter>, ChannelKind)>,
}

#[derive(Default)]
pub(crate) struct Counters {
    pub published: AtomicU64,
    pub publish_failures: AtomicU64,
    pub received: AtomicU64,
    pub malformed: AtomicU64,
    pub requests_timed_out: AtomicU64,
    pub requests_failed: AtomicU64,
    pub publisher_connects: AtomicU64,
    pub subscriber_connects: AtomicU64,
}

/// What a factory's adapters share: configuration, identity, the two task queues, routes,
/// counters and connection state.
pub(crate) struct Shared {
    pub config: RedisAdapterConfig,
    /// This node's id on the wire (6 random alphanumerics, like Node's `uid2(6)`).
    pub uid: String,
    publisher: mpsc::UnboundedSender<PubCmd>,
    subscriber: mpsc::UnboundedSender<SubCmd>,
    routes: RwLock<Routes>,
    pub stats: Counters,
    pub_up: AtomicBool,
    sub_up: AtomicBool,
    /// Set when an outage was logged at warn level, so the rest of it logs at debug.
    outage_logged: AtomicBool,
    /// Where the factory was made: timers and relays are spawned there, whatever thread
    /// calls the adapter.
    runtime: tokio::runtime::Handle,
}

fn read<T>(l: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(|e| e.into_inner())
}

fn write<T>(l: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    /// Makes the shared state and spawns both tasks on the current tokio runtime.
    pub fn start(
        config: RedisAdapterConfig,
        client: redis::Client,
        runtime: tokio::runtime::Handle,
    ) -> Arc<Shared> {
        let (pub_tx, pub_rx) = mpsc::unbounded_channel();
        let (sub_tx, sub_rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            config,
            uid: crate::random_id(),
            publisher: pub_tx,
            subscriber: sub_tx,
            routes: RwLock::default(),
            stats: Counters::default(),
            pub_up: AtomicBool::new(false),
            sub_up: AtomicBool::new(false),
            outage_logged: AtomicBool::new(false),
            runtime: runtime.clone(),
        });
        runtime.spawn(run_publisher(
            client.clone(),
            pub_rx,
            Arc::downgrade(&shared),
        ));
        runtime.spawn(run_subscriber(client, sub_rx, Arc::downgrade(&shared)));
        shared
    }

    pub fn spawn(&self, task: impl std::future::Future<Output = ()> + Send + 'static) {
        self.runtime.spawn(task);
    }

    /// Both connections are up: requests can be sent and their answers received.
    pub fn available(&self) -> bool {
        self.pub_up.load(Ordering::Acquire) && self.sub_up.load(Ordering::Acquire)
    }

    /// Queues a PUBLISH. Failures are counted and logged by the publisher, which then runs `on_fail`.
    pub fn publish(&self, channel: String, payload: Vec<u8>, on_fail: Option<FailHook>) {
        let cmd = PubCmd::Publish {
            channel,
            payload,
            on_fail,
        };
        if let Err(mpsc::error::SendError(cmd)) = self.publisher.send(cmd) {
            self.fail(vec![cmd], "the publisher task has stopped");
        }
    }

    /// `PUBSUB NUMSUB` for these channels, within the request timeout.
    pub async fn numsub(&self, channels: Vec<String>) -> Result<Vec<usize>, String> {
        let (reply, answer) = oneshot::channel();
        self.publisher
            .send(PubCmd::NumSub { channels, reply })
            .map_err(|_| "the publisher task has stopped".to_owned())?;
        match timeout(self.config.request_timeout, answer).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err("the publisher task has stopped".into()),
            Err(_) => Err("PUBSUB NUMSUB timed out".into()),
        }
    }

    /// Starts routing a namespace's channels to `adapter` and subscribes them.
    pub fn register(&self, adapter: &Arc<NsAdapter>) {
        let ch = &adapter.channels;
        {
            let mut routes = write(&self.routes);
            let weak = Arc::downgrade(adapter);
            routes.patterns.insert(ch.pattern.clone(), weak.clone());
            routes
                .channels
                .insert(ch.request.clone(), (weak.clone(), ChannelKind::Request));
            routes
                .channels
                .insert(ch.response.clone(), (weak.clone(), ChannelKind::Response));
            routes
                .channels
                .insert(ch.specific_response.clone(), (weak, ChannelKind::Response));
        }
        let _ = self.subscriber.send(SubCmd::Subscribe {
            pattern: ch.pattern.clone(),
            channels: adapter.subscribed_channels(),
        });
    }

    pub fn unregister(&self, adapter: &NsAdapter) {
        let ch = &adapter.channels;
        {
            let mut routes = write(&self.routes);
            routes.patterns.remove(&ch.pattern);
            for channel in adapter.subscribed_channels() {
                routes.channels.remove(&channel);
            }
        }
        let _ = self.subscriber.send(SubCmd::Unsubscribe {
            pattern: ch.pattern.clone(),
            channels: adapter.subscribed_channels(),
        });
    }

    /// Counts and logs failed publications and runs their hooks.
    fn fail(&self, cmds: Vec<PubCmd>, why: &str) {
        let mut dropped = 0u64;
        for cmd in cmds {
            match cmd {
                PubCmd::Publish {
                    channel, on_fail, ..
                } => {
                    dropped += 1;
                    tracing::trace!(%channel, "not published: {why}");
                    if let Some(hook) = on_fail {
                        hook(why);
                    }
                }
                PubCmd::NumSub { reply, .. } => {
                    let _ = reply.send(Err(why.to_owned()));
                }
                PubCmd::Reset => {}
            }
        }
        if dropped == 0 {
            return;
        }
        self.stats
            .publish_failures
            .fetch_add(dropped, Ordering::Relaxed);
        if !self.outage_logged.swap(true, Ordering::AcqRel) {
            tracing::warn!(
                "redis adapter: {dropped} message(s) not published ({why}); \
                 local delivery goes on, further failures are counted in stats()"
            );
        } else {
            tracing::debug!("redis adapter: {dropped} message(s) not published ({why})");
        }
    }

    pub fn malformed(&self, channel: &str, why: &str) {
        self.stats.malformed.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(%channel, "redis adapter: dropping a malformed message: {why}");
    }

    pub fn snapshot(&self) -> RedisStats {
        let s = &self.stats;
        RedisStats {
            published: s.published.load(Ordering::Relaxed),
            publish_failures: s.publish_failures.load(Ordering::Relaxed),
            received: s.received.load(Ordering::Relaxed),
            malformed: s.malformed.load(Ordering::Relaxed),
            requests_timed_out: s.requests_timed_out.load(Ordering::Relaxed),
            requests_failed: s.requests_failed.load(Ordering::Relaxed),
            publisher_connects: s.publisher_connects.load(Ordering::Relaxed),
            subscriber_connects: s.subscriber_connects.load(Ordering::Relaxed),
            publisher_connected: self.pub_up.load(Ordering::Acquire),
            subscriber_connected: self.sub_up.load(Ordering::Acquire),
        }
    }

    fn set_publisher_up(&self, up: bool) {
        self.pub_up.store(up, Ordering::Release);
        if up {
            self.stats
                .publisher_connects
                .fetch_add(1, Ordering::Relaxed);
            self.outage_logged.store(false, Ordering::Release);
        }
    }

    /// Routes one message from the subscriber connection.
    fn dispatch(&self, msg: &redis::Msg) {
        self.stats.received.fetch_add(1, Ordering::Relaxed);
        let channel = msg.get_channel_name();
        let payload = msg.get_payload_bytes();
        if msg.from_pattern() {
            let pattern: Option<String> = msg.get_pattern().ok();
            let adapter = pattern
                .and_then(|p| read(&self.routes).patterns.get(&p).cloned())
                .and_then(|w| w.upgrade());
            match adapter {
                Some(adapter) => adapter.on_broadcast(channel, payload),
                None => tracing::debug!(%channel, "message for no namespace"),
            }
            return;
        }
        let route = read(&self.routes).channels.get(channel).cloned();
        match route.and_then(|(w, kind)| Some((w.upgrade()?, kind))) {
            Some((adapter, ChannelKind::Request)) => adapter.on_request(channel, payload),
            Some((adapter, ChannelKind::Response)) => adapter.on_response(channel, payload),
            None => tracing::debug!(%channel, "message for no namespace"),
        }
    }

    /// Everything the subscriber must listen to: one pattern per namespace plus its channels.
    fn subscriptions(&self) -> (Vec<String>, Vec<String>) {
        let routes = read(&self.routes);
        (
            routes.patterns.keys().cloned().collect(),
            routes.channels.keys().cloned().collect(),
        )
    }

    fn live_adapters(&self) -> Vec<Arc<NsAdapter>> {
        read(&self.routes)
            .patterns
            .values()
            .filter_map(Weak::upgrade)
            .collect()
    }

    /// Asks Redis how many servers listen on each namespace's request channel.
    fn refresh_server_counts(self: &Arc<Self>) {
        if !self.available() {
            return;
        }
        let adapters = self.live_adapters();
        if adapters.is_empty() {
            return;
        }
        let shared = self.clone();
        self.spawn(async move {
            let channels = adapters
                .iter()
                .map(|a| a.channels.request.clone())
                .collect();
            if let Ok(counts) = shared.numsub(channels).await {
                for (adapter, count) in adapters.iter().zip(counts) {
                    adapter.set_known_servers(count);
                }
            }
        });
    }
}

struct Backoff(Duration);

impl Backoff {
    fn new() -> Self {
        Backoff(BACKOFF_MIN)
    }

    fn next(&mut self) -> Duration {
        let wait = self.0;
        self.0 = (self.0 * 2).min(BACKOFF_MAX);
        wait
    }

    fn reset(&mut self) {
        self.0 = BACKOFF_MIN;
    }
}

fn connection_config(config: &RedisAdapterConfig) -> redis::AsyncConnectionConfig {
    redis::AsyncConnectionConfig::new()
        .set_connection_timeout(Some(config.connect_timeout))
        .set_response_timeout(Some(config.command_timeout))
}

// ------------------------------------------------------------------------------ publisher

async fn run_publisher(
    client: redis::Client,
    mut rx: mpsc::UnboundedReceiver<PubCmd>,
    shared: Weak<Shared>,
) {
    let Some(config) = shared.upgrade().map(|s| s.config.clone()) else {
        return;
    };
    let conn_config = connection_config(&config);
    let mut conn: Option<MultiplexedConnection> = None;
    let mut backoff = Backoff::new();
    let mut next_attempt = Instant::now();
    let mut was_down = false;
    loop {
        // Without a connection, a due reconnection attempt goes first (a `Reset` without a
        // connection only wakes the loop), so the state is known before anything is queued.
        let first = if conn.is_some() {
            rx.recv().await
        } else if Instant::now() >= next_attempt {
            Some(PubCmd::Reset)
        } else {
            tokio::select! {
                cmd = rx.recv() => cmd,
                _ = tokio::time::sleep_until(next_attempt) => Some(PubCmd::Reset),
            }
        };
        let Some(first) = first else {
            return;
        };
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(cmd) => batch.push(cmd),
                Err(_) => break,
            }
        }
        let Some(shared) = shared.upgrade() else {
            return;
        };
        if batch.iter().any(|c| matches!(c, PubCmd::Reset)) {
            batch.retain(|c| !matches!(c, PubCmd::Reset));
            if conn.take().is_some() {
                shared.set_publisher_up(false);
                was_down = true;
                next_attempt = Instant::now();
            }
        }
        if conn.is_none() && Instant::now() >= next_attempt {
            let attempt = timeout(
                config.connect_timeout * 2,
                client.get_multiplexed_async_connection_with_config(&conn_config),
            )
            .await;
            match attempt {
                Ok(Ok(c)) => {
                    conn = Some(c);
                    backoff.reset();
                    shared.set_publisher_up(true);
                    if was_down {
                        tracing::info!("redis adapter: publisher reconnected");
                    }
                }
                Ok(Err(e)) => {
                    next_attempt = Instant::now() + backoff.next();
                    tracing::debug!("redis adapter: publisher cannot connect: {e}");
                }
                Err(_) => {
                    next_attempt = Instant::now() + backoff.next();
                    tracing::debug!("redis adapter: publisher connection attempt timed out");
                }
            }
        }
        if batch.is_empty() {
            continue;
        }
        let Some(connection) = conn.as_mut() else {
            shared.fail(batch, "redis is unreachable");
            continue;
        };
        let mut pipe = redis::pipe();
        for cmd in &batch {
            match cmd {
                PubCmd::Publish {
                    channel, payload, ..
                } => {
                    pipe.cmd("PUBLISH").arg(channel).arg(payload.as_slice());
                }
                PubCmd::NumSub { channels, .. } => {
                    pipe.cmd("PUBSUB").arg("NUMSUB").arg(channels);
                }
                PubCmd::Reset => {}
            }
        }
        let sent = timeout(
            config.command_timeout,
            pipe.query_async::<Vec<redis::Value>>(connection),
        )
        .await;
        let why = match sent {
            Ok(Ok(values)) => {
                let mut published = 0;
                for (cmd, value) in batch.into_iter().zip(values) {
                    match cmd {
                        PubCmd::Publish { .. } => published += 1,
                        PubCmd::NumSub { channels, reply } => {
                            let _ = reply.send(parse_numsub(&value, channels.len()));
                        }
                        PubCmd::Reset => {}
                    }
                }
                shared
                    .stats
                    .published
                    .fetch_add(published, Ordering::Relaxed);
                continue;
            }
            Ok(Err(e)) => format!("redis error: {e}"),
            Err(_) => "redis did not answer in time".to_owned(),
        };
        conn = None;
        shared.set_publisher_up(false);
        was_down = true;
        next_attempt = Instant::now() + backoff.next();
        shared.fail(batch, &why);
    }
}

/// `PUBSUB NUMSUB a b` answers `[a, 3, b, 1]`.
fn parse_numsub(value: &redis::Value, expected: usize) -> Result<Vec<usize>, String> {
    let redis::Value::Array(items) = value else {
        return Err(format!("unexpected PUBSUB NUMSUB answer {value:?}"));
    };
    let counts: Vec<usize> = items
        .iter()
        .skip(1)
        .step_by(2)
        .map(|v| match v {
            redis::Value::Int(n) => usize::try_from(*n).unwrap_or(0),
            _ => 0,
        })
        .collect();
    if counts.len() == expected {
        Ok(counts)
    } else {
        Err(format!("unexpected PUBSUB NUMSUB answer {value:?}"))
    }
}

// ----------------------------------------------------------------------------- subscriber

async fn run_subscriber(
    client: redis::Client,
    mut rx: mpsc::UnboundedReceiver<SubCmd>,
    shared: Weak<Shared>,
) {
    use futures::StreamExt;

    let Some(config) = shared.upgrade().map(|s| s.config.clone()) else {
        return;
    };
    let mut backoff = Backoff::new();
    let mut connected_before = false;
    loop {
        let attempt = timeout(config.connect_timeout * 2, client.get_async_pubsub()).await;
        let pubsub = match attempt {
            Ok(Ok(pubsub)) => Some(pubsub),
            Ok(Err(e)) => {
                tracing::debug!("redis adapter: subscriber cannot connect: {e}");
                None
            }
            Err(_) => {
                tracing::debug!("redis adapter: subscriber connection attempt timed out");
                None
            }
        };
        let Some(pubsub) = pubsub else {
            // Wait before the next attempt; commands only nudge a live connection (the
            // routes are the truth and are resubscribed whole), so they are dropped here.
            let wait = tokio::time::sleep(backoff.next());
            tokio::pin!(wait);
            loop {
                tokio::select! {
                    _ = &mut wait => break,
                    cmd = rx.recv() => if cmd.is_none() { return },
                }
            }
            continue;
        };
        let (mut sink, mut stream) = pubsub.split();
        let Some(strong) = shared.upgrade() else {
            return;
        };
        let (patterns, channels) = strong.subscriptions();
        let mut ok = true;
        for chunk in patterns.chunks(SUBSCRIBE_CHUNK) {
            ok &= sink.psubscribe(chunk).await.is_ok();
        }
        for chunk in channels.chunks(SUBSCRIBE_CHUNK) {
            ok &= sink.subscribe(chunk).await.is_ok();
        }
        if !ok {
            tracing::debug!("redis adapter: subscribing failed; reconnecting");
            drop(strong);
            tokio::time::sleep(backoff.next()).await;
            continue;
        }
        backoff.reset();
        strong.sub_up.store(true, Ordering::Release);
        strong
            .stats
            .subscriber_connects
            .fetch_add(1, Ordering::Relaxed);
        if connected_before {
            tracing::info!(
                "redis adapter: subscriber reconnected, {} namespace(s) resubscribed",
                patterns.len()
            );
        }
        connected_before = true;
        strong.refresh_server_counts();
        drop(strong);

        let mut health =
            tokio::time::interval_at(Instant::now() + HEALTH_INTERVAL, HEALTH_INTERVAL);
        let why = loop {
            tokio::select! {
                msg = stream.next() => match msg {
                    Some(msg) => match shared.upgrade() {
                        Some(shared) => shared.dispatch(&msg),
                        None => return,
                    },
                    None => break "connection closed",
                },
                cmd = rx.recv() => {
                    let result = match cmd {
                        Some(SubCmd::Subscribe { pattern, channels }) => {
                            match sink.psubscribe(&pattern).await {
                                Ok(()) => sink.subscribe(&channels).await,
                                Err(e) => Err(e),
                            }
                        }
                        Some(SubCmd::Unsubscribe { pattern, channels }) => {
                            match sink.punsubscribe(&pattern).await {
                                Ok(()) => sink.unsubscribe(&channels).await,
                                Err(e) => Err(e),
                            }
                        }
                        None => return,
                    };
                    if result.is_err() {
                        break "subscribe command failed";
                    }
                }
                _ = health.tick() => {
                    let ping = timeout(config.command_timeout, sink.ping::<redis::Value>()).await;
                    if !matches!(ping, Ok(Ok(_))) {
                        break "ping failed";
                    }
                    match shared.upgrade() {
                        Some(shared) => shared.refresh_server_counts(),
                        None => return,
                    }
                }
            }
        };
        let Some(strong) = shared.upgrade() else {
            return;
        };
        strong.sub_up.store(false, Ordering::Release);
        tracing::warn!("redis adapter: subscriber lost Redis ({why}); reconnecting");
        let _ = strong.publisher.send(PubCmd::Reset);
        drop(strong);
        tokio::time::sleep(backoff.next()).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numsub_answers_are_read_in_order() {
        let answer = redis::Value::Array(vec![
            redis::Value::BulkString(b"a".to_vec()),
            redis::Value::Int(3),
            redis::Value::BulkString(b"b".to_vec()),
            redis::Value::Int(0),
        ]);
        assert_eq!(parse_numsub(&answer, 2), Ok(vec![3, 0]));
        assert!(parse_numsub(&answer, 1).is_err());
        assert!(parse_numsub(&redis::Value::Nil, 1).is_err());
    }

    #[test]
    fn backoff_doubles_up_to_its_cap() {
        let mut b = Backoff::new();
        let waits: Vec<_> = (0..7).map(|_| b.next()).collect();
        assert_eq!(waits[0], BACKOFF_MIN);
        assert_eq!(waits[1], BACKOFF_MIN * 2);
        assert_eq!(*waits.last().unwrap(), BACKOFF_MAX);
        b.reset();
        assert_eq!(b.next(), BACKOFF_MIN);
    }
}
