//! What the two connection tasks and every adapter of a factory share: the configuration,
//! the tasks' queues, the routes from channels to [`Listener`]s, the counters and the
//! connection state. The tasks themselves are in `publisher`, `subscriber` and `reader`.

use crate::config::RedisAdapterConfig;
use crate::connection::OutageLog;
use crate::stats::{Counters, RedisStats};
use crate::wire::{parse_stream_entry, StreamEntry};
use parking_lot::RwLock;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::time::timeout;

/// First and longest wait between reconnection attempts, for both connections.
pub(super) const BACKOFF_MIN: Duration = Duration::from_millis(100);
pub(super) const BACKOFF_MAX: Duration = Duration::from_secs(2);

/// Called once, with the reason, when a queued message could not be published.
pub(crate) type FailHook = Box<dyn FnOnce(&str) + Send>;

/// How a message reached this node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Via {
    /// Through a subscribed pattern.
    Pattern,
    /// Through a subscribed channel.
    Channel,
}

/// Where the transport hands what arrives for one [`Subscription`]: all it knows of an adapter.
pub(crate) trait Listener: Send + Sync {
    /// A message on one of the subscription's channels, or matching its pattern.
    fn on_message(&self, via: Via, channel: &str, payload: &[u8]);
    /// How many clients listen on the subscription's `counted` channel (`PUBSUB NUMSUB`).
    fn on_server_count(&self, count: usize);
    /// An entry of the stream for the subscription's `stream_nsp`, read once for every
    /// namespace; `id` is the entry's id in the stream.
    fn on_stream_entry(&self, _id: &str, _entry: StreamEntry) {}
}

/// What one listener listens to.
#[derive(Clone, Debug)]
pub(crate) struct Subscription {
    /// PSUBSCRIBEd.
    pub pattern: Option<String>,
    /// SUBSCRIBEd.
    pub channels: Vec<String>,
    /// The channel whose subscriber count is reported to the listener now and then.
    pub counted: Option<String>,
    /// The namespace whose stream entries go to the listener (streams adapter).
    pub stream_nsp: Option<String>,
}

pub(crate) enum PubCmd {
    Publish {
        channel: String,
        payload: Vec<u8>,
        on_fail: Option<FailHook>,
    },
    /// `XADD stream MAXLEN ~ max_len * field value…`: one stream entry.
    Append {
        stream: String,
        max_len: usize,
        fields: Vec<(&'static str, Vec<u8>)>,
        on_fail: Option<FailHook>,
    },
    /// Any other command, in order with the rest; its answer goes to `reply`, if any.
    Query {
        cmd: redis::Cmd,
        reply: Option<oneshot::Sender<Result<redis::Value, String>>>,
    },
    /// The subscriber lost Redis: the publisher's connection is probably gone too.
    Reset,
}

impl PubCmd {
    /// What a publication or stream entry counts against `max_publish_queue_bytes`; `None`
    /// for the commands the bound leaves out.
    pub(super) fn queued_bytes(&self) -> Option<usize> {
        match self {
            PubCmd::Publish {
                channel, payload, ..
            } => Some(channel.len() + payload.len()),
            PubCmd::Append { stream, fields, .. } => Some(
                stream.len()
                    + fields
                        .iter()
                        .map(|(name, value)| name.len() + value.len())
                        .sum::<usize>(),
            ),
            PubCmd::Query { .. } | PubCmd::Reset => None,
        }
    }

    /// Adds the command to a pipeline.
    pub(super) fn write(&self, pipe: &mut redis::Pipeline) {
        match self {
            PubCmd::Publish {
                channel, payload, ..
            } => {
                pipe.cmd("PUBLISH").arg(channel).arg(payload.as_slice());
            }
            PubCmd::Append {
                stream,
                max_len,
                fields,
                ..
            } => {
                let cmd = pipe
                    .cmd("XADD")
                    .arg(stream)
                    .arg("MAXLEN")
                    .arg("~")
                    .arg(*max_len)
                    .arg("*");
                for (name, value) in fields {
                    cmd.arg(*name).arg(value.as_slice());
                }
            }
            PubCmd::Query { cmd, .. } => {
                pipe.add_command(cmd.clone());
            }
            PubCmd::Reset => {}
        }
    }
}

pub(crate) enum SubCmd {
    Subscribe {
        pattern: Option<String>,
        channels: Vec<String>,
    },
    Unsubscribe {
        pattern: Option<String>,
        channels: Vec<String>,
    },
}

/// Which listener gets what arrives on which pattern or channel.
#[derive(Default)]
struct Routes {
    patterns: HashMap<String, Weak<dyn Listener>>,
    channels: HashMap<String, Weak<dyn Listener>>,
    counted: HashMap<String, Weak<dyn Listener>>,
    /// By namespace name.
    streams: HashMap<String, Weak<dyn Listener>>,
}

/// What a factory's adapters share: configuration, the two task queues, routes, counters
/// and connection state.
pub(crate) struct Transport {
    pub config: RedisAdapterConfig,
    pub(super) publisher: mpsc::UnboundedSender<PubCmd>,
    /// Publications queued for the publisher, and their bytes: bounded by the config.
    queued: AtomicUsize,
    queued_bytes: AtomicUsize,
    /// Whether the current full-queue episode was logged.
    queue_full: AtomicBool,
    subscriber: mpsc::UnboundedSender<SubCmd>,
    routes: RwLock<Routes>,
    pub stats: Counters,
    pub_up: AtomicBool,
    sub_up: AtomicBool,
    /// Whether the publisher's current outage was logged at warn level.
    outage: OutageLog,
    /// Where the factory was made: timers and relays are spawned there, whatever thread
    /// calls the adapter.
    runtime: tokio::runtime::Handle,
}

impl Transport {
    pub fn new(
        config: RedisAdapterConfig,
        publisher: mpsc::UnboundedSender<PubCmd>,
        subscriber: mpsc::UnboundedSender<SubCmd>,
        runtime: tokio::runtime::Handle,
    ) -> Transport {
        Transport {
            config,
            publisher,
            queued: AtomicUsize::new(0),
            queued_bytes: AtomicUsize::new(0),
            queue_full: AtomicBool::new(false),
            subscriber,
            routes: RwLock::default(),
            stats: Counters::default(),
            pub_up: AtomicBool::new(false),
            sub_up: AtomicBool::new(false),
            outage: OutageLog::default(),
            runtime,
        }
    }

    pub fn spawn(&self, task: impl std::future::Future<Output = ()> + Send + 'static) {
        self.runtime.spawn(task);
    }

    /// Both connections are up: requests can be sent and their answers received.
    pub fn available(&self) -> bool {
        self.pub_up.load(Ordering::Acquire) && self.sub_up.load(Ordering::Acquire)
    }

    /// Queues a PUBLISH. Failures are counted and logged by the publisher, which then runs
    /// `on_fail`; a full queue drops it at once (counted, logged once per episode, `on_fail`).
    pub fn publish(&self, channel: String, payload: Vec<u8>, on_fail: Option<FailHook>) {
        self.enqueue(PubCmd::Publish {
            channel,
            payload,
            on_fail,
        });
    }

    /// Queues an XADD of one entry to `stream`, trimmed to about `max_len` entries; in the
    /// same queue as the publications, so a node's broadcasts and requests keep their order.
    pub fn append(
        &self,
        stream: &str,
        max_len: usize,
        fields: Vec<(&'static str, Vec<u8>)>,
        on_fail: Option<FailHook>,
    ) {
        self.enqueue(PubCmd::Append {
            stream: stream.to_owned(),
            max_len,
            fields,
            on_fail,
        });
    }

    fn enqueue(&self, cmd: PubCmd) {
        let bytes = cmd.queued_bytes().unwrap_or(0);
        let queued = self.queued.fetch_add(1, Ordering::AcqRel);
        let queued_bytes = self.queued_bytes.fetch_add(bytes, Ordering::AcqRel);
        if queued >= self.config.max_publish_queue
            || queued_bytes + bytes > self.config.max_publish_queue_bytes
        {
            self.unqueue(1, bytes);
            Counters::add(&self.stats.publish_dropped, 1);
            if !self.queue_full.swap(true, Ordering::AcqRel) {
                tracing::warn!(
                    queued,
                    queued_bytes,
                    "redis adapter: the publish queue is full (Redis does not keep up); \
                     publications are dropped and counted in stats() until it drains"
                );
            }
            if let PubCmd::Publish { on_fail, .. } | PubCmd::Append { on_fail, .. } = cmd {
                if let Some(hook) = on_fail {
                    hook("the publish queue is full");
                }
            }
            return;
        }
        if let Err(mpsc::error::SendError(cmd)) = self.publisher.send(cmd) {
            self.unqueue(1, bytes);
            self.fail(vec![cmd], "the publisher task has stopped");
        }
    }

    /// The publisher took these publications off the queue.
    pub(super) fn unqueue(&self, count: usize, bytes: usize) {
        let before = self.queued.fetch_sub(count, Ordering::AcqRel);
        self.queued_bytes.fetch_sub(bytes, Ordering::AcqRel);
        // Below half the bound again: the next time it fills is a new episode, logged anew.
        if before - count < self.config.max_publish_queue / 2 {
            self.queue_full.store(false, Ordering::Release);
        }
    }

    /// `PUBSUB NUMSUB` for these channels, within the request timeout.
    pub async fn numsub(&self, channels: Vec<String>) -> Result<Vec<usize>, String> {
        let expected = channels.len();
        let mut cmd = redis::cmd("PUBSUB");
        cmd.arg("NUMSUB").arg(channels);
        let answer = self.query(cmd).await?;
        super::publisher::parse_numsub(&answer, expected)
    }

    /// Sends `cmd` in order with the publications and waits for its answer, within the
    /// request timeout.
    pub async fn query(&self, cmd: redis::Cmd) -> Result<redis::Value, String> {
        let (reply, answer) = oneshot::channel();
        let reply = Some(reply);
        self.publisher
            .send(PubCmd::Query { cmd, reply })
            .map_err(|_| "the publisher task has stopped".to_owned())?;
        match timeout(self.config.request_timeout, answer).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err("the publisher task has stopped".into()),
            Err(_) => Err("redis did not answer in time".into()),
        }
    }

    /// Sends `cmd` in order with the publications, answer unread; a failure is logged
    /// with the publications'.
    pub fn command(&self, cmd: redis::Cmd) {
        let _ = self.publisher.send(PubCmd::Query { cmd, reply: None });
    }

    /// Starts handing what arrives for `subscription` to `listener`, and subscribes it.
    pub fn register(&self, subscription: &Subscription, listener: Weak<dyn Listener>) {
        {
            let mut routes = self.routes.write();
            let s = subscription;
            if let Some(pattern) = &s.pattern {
                routes.patterns.insert(pattern.clone(), listener.clone());
            }
            for channel in &s.channels {
                routes.channels.insert(channel.clone(), listener.clone());
            }
            if let Some(nsp) = &s.stream_nsp {
                routes.streams.insert(nsp.clone(), listener.clone());
            }
            if let Some(counted) = &s.counted {
                routes.counted.insert(counted.clone(), listener);
            }
        }
        let _ = self.subscriber.send(SubCmd::Subscribe {
            pattern: subscription.pattern.clone(),
            channels: subscription.channels.clone(),
        });
    }

    pub fn unregister(&self, subscription: &Subscription) {
        {
            let mut routes = self.routes.write();
            if let Some(pattern) = &subscription.pattern {
                routes.patterns.remove(pattern);
            }
            for channel in &subscription.channels {
                routes.channels.remove(channel);
            }
            if let Some(counted) = &subscription.counted {
                routes.counted.remove(counted);
            }
            if let Some(nsp) = &subscription.stream_nsp {
                routes.streams.remove(nsp);
            }
        }
        let _ = self.subscriber.send(SubCmd::Unsubscribe {
            pattern: subscription.pattern.clone(),
            channels: subscription.channels.clone(),
        });
    }

    /// Counts and logs failed publications and runs their hooks.
    pub(super) fn fail(&self, cmds: Vec<PubCmd>, why: &str) {
        let mut dropped = 0u64;
        for cmd in cmds {
            match cmd {
                PubCmd::Publish { on_fail, .. } | PubCmd::Append { on_fail, .. } => {
                    dropped += 1;
                    if let Some(hook) = on_fail {
                        hook(why);
                    }
                }
                PubCmd::Query { reply, .. } => match reply {
                    Some(reply) => {
                        let _ = reply.send(Err(why.to_owned()));
                    }
                    None => dropped += 1,
                },
                PubCmd::Reset => {}
            }
        }
        if dropped == 0 {
            return;
        }
        Counters::add(&self.stats.publish_failures, dropped);
        if self.outage.failure() {
            tracing::warn!(
                "redis adapter: {dropped} message(s) not published ({why}); \
                 local delivery goes on, further failures are counted in stats()"
            );
        } else {
            tracing::debug!("redis adapter: {dropped} message(s) not published ({why})");
        }
    }

    pub fn snapshot(&self) -> RedisStats {
        self.stats.snapshot(
            self.pub_up.load(Ordering::Acquire),
            self.sub_up.load(Ordering::Acquire),
        )
    }

    pub(super) fn set_publisher_up(&self, up: bool) {
        self.pub_up.store(up, Ordering::Release);
        if up {
            Counters::add(&self.stats.publisher_connects, 1);
            self.outage.recovered();
        }
    }

    pub(super) fn set_subscriber_up(&self, up: bool) {
        self.sub_up.store(up, Ordering::Release);
        if up {
            Counters::add(&self.stats.subscriber_connects, 1);
        }
    }

    /// Hands one message from the subscriber connection to its listener.
    pub(super) fn dispatch(&self, msg: &redis::Msg) {
        Counters::add(&self.stats.received, 1);
        let channel = msg.get_channel_name();
        let (via, listener) = if msg.from_pattern() {
            let pattern: Option<String> = msg.get_pattern().ok();
            let listener = pattern.and_then(|p| self.routes.read().patterns.get(&p).cloned());
            (Via::Pattern, listener)
        } else {
            let listener = self.routes.read().channels.get(channel).cloned();
            (Via::Channel, listener)
        };
        match listener.and_then(|w| w.upgrade()) {
            Some(listener) => listener.on_message(via, channel, msg.get_payload_bytes()),
            None => tracing::debug!(%channel, "message for no namespace"),
        }
    }

    /// Hands one stream entry to the listener of its namespace, decoded once.
    pub(super) fn dispatch_entry(&self, id: &str, fields: &[(Vec<u8>, Vec<u8>)]) {
        Counters::add(&self.stats.stream_entries_read, 1);
        let entry = match parse_stream_entry(fields) {
            Ok(Some(entry)) => entry,
            Ok(None) => return,
            Err(e) => {
                Counters::add(&self.stats.malformed, 1);
                tracing::warn!(%id, "redis adapter: dropping a malformed stream entry: {e}");
                return;
            }
        };
        let listener = self.routes.read().streams.get(&entry.nsp).cloned();
        if let Some(listener) = listener.and_then(|w| w.upgrade()) {
            listener.on_stream_entry(id, entry);
        }
    }

    /// Everything the subscriber must listen to: the patterns, then the channels.
    pub(super) fn subscriptions(&self) -> (Vec<String>, Vec<String>) {
        let routes = self.routes.read();
        (
            routes.patterns.keys().cloned().collect(),
            routes.channels.keys().cloned().collect(),
        )
    }

    /// Asks Redis how many clients listen on each counted channel, and tells the listeners.
    pub(super) fn refresh_server_counts(self: &Arc<Self>) {
        if !self.available() {
            return;
        }
        let counted: Vec<(String, Arc<dyn Listener>)> = self
            .routes
            .read()
            .counted
            .iter()
            .filter_map(|(channel, w)| Some((channel.clone(), w.upgrade()?)))
            .collect();
        if counted.is_empty() {
            return;
        }
        let transport = self.clone();
        self.spawn(async move {
            let channels = counted.iter().map(|(c, _)| c.clone()).collect();
            if let Ok(counts) = transport.numsub(channels).await {
                for ((_, listener), count) in counted.iter().zip(counts) {
                    listener.on_server_count(count);
                }
            }
        });
    }
}
