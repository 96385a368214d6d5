//! The command line and the process: options, start-up, graceful shutdown.

use crate::chat::{Chat, ChatConfig};
use crate::guests::GuestNames;
use crate::history::{HistoryStore, RedisStore, RedisStoreConfig, SqliteStore};
use crate::web::{self, Health};
use clap::Parser;
use rally::{RecoveryConfig, RecoveryOffer, Server};
use rally_redis::{Protocol, RedisAdapterConfig, RedisAdapterFactory};
use std::sync::Arc;
use std::time::Duration;

#[derive(Parser, Debug, Clone)]
#[command(
    name = "rally-chat",
    version,
    args_override_self = true,
    about = "A real-time chat server built on Rally (Socket.IO for Rust)",
    long_about = "A real-time chat server built on Rally (Socket.IO for Rust).\n\n\
        Serves the chat page at / and Socket.IO at /socket.io/. On start it prints \
        `listening on ADDRESS` on stdout; logs go to stderr (filter with RUST_LOG, e.g. \
        RUST_LOG=rally_chat=debug). SIGINT or SIGTERM stops it gracefully."
)]
pub struct Options {
    /// Port to listen on (0: any free port).
    #[arg(long, env = "PORT", default_value_t = 3000)]
    pub port: u16,

    /// Address to listen on.
    #[arg(long, env = "RALLY_CHAT_HOST", default_value = "0.0.0.0")]
    pub host: String,

    /// SQLite file for the message history; ":memory:" keeps nothing after exit.
    #[arg(long, env = "RALLY_CHAT_DB", default_value = "rally-chat.db")]
    pub db: String,

    /// Messages kept per room (and for the lobby); 0 keeps none.
    #[arg(long, env = "RALLY_CHAT_HISTORY_LIMIT", default_value_t = 100)]
    pub history_limit: usize,

    /// Largest message a client may send, in bytes (a bigger one closes its connection).
    #[arg(long, env = "RALLY_CHAT_MAX_PAYLOAD", default_value_t = 1_000_000)]
    pub max_payload: usize,

    /// Messages a socket may send in one burst before the rate limit applies.
    #[arg(long, env = "RALLY_CHAT_RATE_BURST", default_value_t = 1000)]
    pub rate_burst: u32,

    /// Messages per second a socket may send once its burst is spent.
    #[arg(long, env = "RALLY_CHAT_RATE_PER_SECOND", default_value_t = 20.0)]
    pub rate_per_second: f64,

    /// How long a typing indicator lasts without a new typing signal, in milliseconds.
    #[arg(long, env = "RALLY_CHAT_TYPING_TIMEOUT_MS", default_value_t = 3000)]
    pub typing_timeout_ms: u64,

    /// Heartbeat interval, in milliseconds.
    #[arg(long, env = "RALLY_CHAT_PING_INTERVAL_MS", default_value_t = 25_000)]
    pub ping_interval_ms: u64,

    /// How long a client may miss a heartbeat before it is dropped, in milliseconds.
    #[arg(long, env = "RALLY_CHAT_PING_TIMEOUT_MS", default_value_t = 20_000)]
    pub ping_timeout_ms: u64,

    /// How long a client may stay connected without joining the chat (a Socket.IO
    /// CONNECT), in milliseconds.
    #[arg(long, env = "RALLY_CHAT_CONNECT_TIMEOUT_MS", default_value_t = 45_000)]
    pub connect_timeout_ms: u64,

    /// How long a message may wait unsent to a client that stopped reading before that
    /// client is dropped, in milliseconds: what a stalled client costs is bounded by it.
    /// Tighter than the engine's 2 s because each chat message is two packets
    /// (`message_info`, `message`): 1.5 s keeps a thousand stalled clients of a busy
    /// room (500 messages/s) within 16 MiB (`stalled` in the bench).
    #[arg(long, env = "RALLY_CHAT_MAX_LAG_MS", default_value_t = 1_500)]
    pub max_lag_ms: u64,

    /// Redis to share with the other chat servers of a cluster (`redis://host:port[/db]`):
    /// events, presence and history then span every server, and history is kept in Redis
    /// (--db is not used). Unset or empty: a standalone server.
    #[arg(long, env = "REDIS_URL")]
    pub redis_url: Option<String>,

    /// Which Node.js Redis adapter the cluster speaks: `streams`
    /// (`@socket.io/redis-streams-adapter`: broadcasts and room changes go through a Redis
    /// stream named like --redis-prefix) or `classic` (`@socket.io/redis-adapter`, pub/sub
    /// only), to join a cluster of Node.js servers on that adapter.
    #[arg(long, env = "RALLY_CHAT_REDIS_ADAPTER", value_enum, default_value_t = RedisAdapterKind::Streams)]
    pub redis_adapter: RedisAdapterKind,

    /// Prefix of the cluster's Redis channels, stream and history keys; servers of one
    /// chat share it, and different deployments on one Redis must not.
    #[arg(long, env = "RALLY_CHAT_REDIS_PREFIX", default_value = "socket.io")]
    pub redis_prefix: String,

    /// How long a cross-server request (presence, the socket-id checks) waits for the other
    /// servers, in milliseconds.
    #[arg(
        long,
        env = "RALLY_CHAT_REDIS_REQUEST_TIMEOUT_MS",
        default_value_t = 2000
    )]
    pub redis_request_timeout_ms: u64,

    /// Connection state recovery: `opt-in` offers it to pages that ask in their handshake
    /// (`auth: {recover: true}`, as the chat's page does), `all` to every client, `off`
    /// to none. A client offered recovery gets each event's offset as an extra last
    /// argument, which a client written for the plain protocol would misread.
    #[arg(long, env = "RALLY_CHAT_RECOVERY", value_enum, default_value_t = RecoveryMode::OptIn)]
    pub recovery: RecoveryMode,

    /// How long a dropped client's session waits for it to come back, in milliseconds;
    /// its "left" notices wait as long.
    #[arg(long, env = "RALLY_CHAT_RECOVERY_WINDOW_MS", default_value_t = 120_000)]
    pub recovery_window_ms: u64,
}

/// The cluster's Redis protocol (`--redis-adapter`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum RedisAdapterKind {
    Streams,
    Classic,
}

/// Who is offered connection state recovery (`--recovery`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum RecoveryMode {
    OptIn,
    All,
    Off,
}

impl Options {
    /// The recovery settings `--recovery` and `--recovery-window-ms` ask for.
    pub fn recovery(&self) -> Option<RecoveryConfig> {
        let offer = match self.recovery {
            RecoveryMode::Off => return None,
            RecoveryMode::All => None,
            RecoveryMode::OptIn => Some(RecoveryOffer::new(|handshake| {
                handshake.auth["recover"] == serde_json::Value::Bool(true)
            })),
        };
        Some(RecoveryConfig {
            max_disconnection_duration: Duration::from_millis(self.recovery_window_ms),
            offer,
            ..RecoveryConfig::default()
        })
    }

    /// The Redis URL when clustering is asked for.
    pub fn redis_url(&self) -> Option<&str> {
        self.redis_url
            .as_deref()
            .map(str::trim)
            .filter(|url| !url.is_empty())
    }
}

/// How long start-up waits for Redis before it goes on without it (it keeps trying).
const REDIS_STARTUP_WAIT: Duration = Duration::from_secs(5);

/// Runs the chat server until SIGINT or SIGTERM.
pub async fn run(options: Options) -> Result<(), String> {
    let max_lag = Duration::from_millis(options.max_lag_ms);
    let mut builder = Server::builder()
        .max_payload(options.max_payload)
        .ping_interval(Duration::from_millis(options.ping_interval_ms))
        .ping_timeout(Duration::from_millis(options.ping_timeout_ms))
        .engine(|engine| engine.max_lag = max_lag)
        .connect_timeout(Duration::from_millis(options.connect_timeout_ms));
    if let Some(recovery) = options.recovery() {
        builder = builder.connection_state_recovery(recovery);
    }
    let (io, store, redis): (Server, Arc<dyn HistoryStore>, Option<RedisAdapterFactory>) =
        match options.redis_url() {
            None => {
                let (db, limit) = (options.db.clone(), options.history_limit);
                let store = tokio::task::spawn_blocking(move || SqliteStore::open(&db, limit))
                    .await
                    .map_err(|e| format!("the history database did not open: {e}"))?
                    .map_err(|e| {
                        format!("cannot open the history database {:?}: {e}", options.db)
                    })?;
                (builder.build(), Arc::new(store), None)
            }
            Some(url) => {
                let protocol = match options.redis_adapter {
                    RedisAdapterKind::Streams => Protocol::Streams,
                    RedisAdapterKind::Classic => Protocol::Classic,
                };
                let factory = RedisAdapterFactory::with_protocol(
                    RedisAdapterConfig::new(url)
                        .prefix(options.redis_prefix.clone())
                        .stream_name(options.redis_prefix.clone())
                        .request_timeout(Duration::from_millis(options.redis_request_timeout_ms)),
                    protocol,
                )
                .map_err(|e| format!("--redis-url: {e}"))?;
                let store = RedisStore::open(RedisStoreConfig::new(
                    url,
                    options.redis_prefix.clone(),
                    options.history_limit,
                ))
                .map_err(|e| format!("--redis-url: {e}"))?;
                // The main namespace exists before the connections come up, so its
                // channels are subscribed by the time Redis counts as connected.
                let io = builder.adapter(factory.clone()).build();
                if !factory.wait_connected(REDIS_STARTUP_WAIT).await {
                    tracing::warn!(
                        "Redis at {} is not reachable yet: serving this server's clients alone \
                         until it is (history is not stored meanwhile)",
                        redact(url)
                    );
                }
                (io, Arc::new(store), Some(factory))
            }
        };
    let guests = match options.redis_url() {
        None => GuestNames::new(io.clone()),
        Some(url) => GuestNames::clustered(io.clone(), url, &options.redis_prefix)
            .map_err(|e| format!("--redis-url: {e}"))?,
    };
    let chat = Chat::new(
        io.clone(),
        store.clone(),
        guests,
        ChatConfig {
            history_limit: options.history_limit,
            history_bytes: options.max_payload,
            rate_burst: options.rate_burst,
            rate_per_second: options.rate_per_second,
            typing_timeout: Duration::from_millis(options.typing_timeout_ms),
            ..ChatConfig::default()
        },
    );
    chat.attach();
    if let Some(redis) = &redis {
        tokio::spawn(watch_redis(redis.clone(), chat.clone()));
    }

    let health = Health::new(io.clone(), redis.clone());
    let app = io.router().merge(web::router(health.clone()));

    let listener = tokio::net::TcpListener::bind((options.host.as_str(), options.port))
        .await
        .map_err(|e| format!("cannot listen on {}:{}: {e}", options.host, options.port))?;
    let addr = listener
        .local_addr()
        .map_err(|e| format!("no local address: {e}"))?;
    let history = match options.redis_url() {
        Some(url) => format!("redis {} (prefix {:?})", redact(url), options.redis_prefix),
        None => format!("sqlite {}", options.db),
    };
    tracing::info!(
        history = %history,
        history_limit = options.history_limit,
        max_payload = options.max_payload,
        rate_burst = options.rate_burst,
        rate_per_second = options.rate_per_second,
        "chat server on http://{addr}"
    );
    println!("listening on {addr}");

    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    let serve = rally::serve(listener, app, async move {
        let _ = stop_rx.changed().await;
    });
    let mut serving = tokio::spawn(serve);

    tokio::select! {
        signal = shutdown_signal() => tracing::info!("{signal}: shutting down"),
        result = &mut serving => {
            return match result {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) => Err(format!("server error: {e}")),
                Err(e) => Err(format!("server task failed: {e}")),
            };
        }
    }
    // A second signal ends the process at once.
    tokio::spawn(async {
        let signal = shutdown_signal().await;
        tracing::warn!("{signal} again: exiting now");
        std::process::exit(1);
    });

    health.set_shutting_down();
    // No new Socket.IO connections (HTTP 503), and every open one is closed: clients
    // reconnect by themselves, to this server once it is back or to another one. HTTP
    // keeps serving meanwhile, so that polling clients can collect their close packet.
    io.close().await;
    // Then no new HTTP connections; open ones finish their request.
    let _ = stop_tx.send(true);
    // Every message received is written before the process goes.
    match store.close().await {
        Ok(()) => tracing::info!("history flushed"),
        Err(e) => tracing::error!("history not flushed: {e}"),
    }
    if tokio::time::timeout(Duration::from_secs(1), serving)
        .await
        .is_err()
    {
        tracing::warn!("some HTTP connections were still open at exit");
    }
    tracing::info!("stopped");
    Ok(())
}

/// Presence snapshots are published by the server where something changed; when Redis
/// comes back after an outage, or when the cluster loses a server (killed or frozen: its
/// users must leave the lists) or gets one back, each server publishes one, so every list
/// is whole and true again.
async fn watch_redis(redis: RedisAdapterFactory, chat: Chat) {
    let mut up = redis.is_connected();
    let mut changes = redis.cluster_changes();
    let mut poll = tokio::time::interval(Duration::from_millis(250));
    loop {
        tokio::select! {
            _ = poll.tick() => {
                let now = redis.is_connected();
                if now && !up {
                    tracing::info!("Redis is back: publishing presence");
                    chat.resync_presence();
                } else if !now && up {
                    tracing::warn!("Redis is away: chat goes on for this server's clients");
                }
                up = now;
            }
            changed = changes.changed() => {
                if changed.is_err() {
                    return;
                }
                tracing::info!("the cluster lost or regained a server: publishing presence");
                chat.resync_presence();
            }
        }
    }
}

/// A Redis URL without its password, for logs.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}***{}", &url[..scheme + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}

async fn shutdown_signal() -> &'static str {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(term) => term,
        Err(e) => {
            tracing::warn!("no SIGTERM handler: {e}");
            let _ = tokio::signal::ctrl_c().await;
            return "SIGINT";
        }
    };
    tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = tokio::signal::ctrl_c() => "SIGINT",
    }
}
