//! bench-server: the benchmark fixture, the chat contract the load generator (`loadgen`)
//! drives, on the default namespace, over WebSocket and polling. The Node.js peer it is
//! measured against (`bench/node/server.js`) implements the same table:
//!
//! | client emits                         | server does                                              |
//! |--------------------------------------|----------------------------------------------------------|
//! | `message`(payload)                   | `io.emit("message", payload)`, sender included           |
//! | `message`(payload, room)             | `io.to(room).emit("message", payload, room)`             |
//! | `join`(room) with ack                | join, then `ack()`                                       |
//! | `private_message`(payload, targetId) | `socket.to(targetId).emit("private_message", payload, socket.id)` |
//! | `echo`(payload) with ack             | `ack(payload)`                                           |
//!
//! `--port N` (default 3000); prints `listening on ADDR` once bound. `--threads N`
//! sets the runtime's worker threads (default 1: one core, as Node.js uses; the
//! load generator needs the other one on a two-core machine). With the environment
//! variable `RALLY_BENCH_RECOVERY=1`, connection state recovery is on and offered to
//! every client (every event then stored and stamped with its offset): what it costs.
//! `--parser msgpack` speaks socket.io-msgpack-parser's packets (the Node.js peer takes
//! the same option).
//!
//! `--redis-url URL` makes it one server of a cluster sharing that Redis, through
//! `rally-redis` (`--adapter classic`, the default, or `streams`; `--prefix P` is the
//! channel prefix and the stream's name): the same table, cluster-wide. It then prints
//! `listening on ADDR` only once its Redis connections are up, and exits if they are not
//! within 5 s. It lives in the bench package rather than among Rally's examples because
//! `rally-redis` depends on `rally`.

use clap::{Parser, ValueEnum};
use rally::{Event, RecoveryConfig, Server};
use rally_redis::{RedisAdapterConfig, RedisAdapterFactory};
use serde_json::Value;
use std::convert::Infallible;
use std::time::Duration;

#[derive(Parser)]
struct Options {
    #[arg(long, default_value_t = 3000)]
    port: u16,
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Join a cluster through this Redis (`redis://127.0.0.1:PORT`).
    #[arg(long)]
    redis_url: Option<String>,
    #[arg(long, value_enum, default_value_t = Adapter::Classic)]
    adapter: Adapter,
    /// The Redis channel prefix, and with `--adapter streams` the stream's name.
    #[arg(long, default_value = "socket.io")]
    prefix: String,
    /// The packet format: json or msgpack.
    #[arg(long, default_value_t = rally::Parser::Json)]
    parser: rally::Parser,
}

#[derive(Clone, Copy, ValueEnum)]
enum Adapter {
    /// `@socket.io/redis-adapter`'s protocol: pub/sub.
    Classic,
    /// `@socket.io/redis-streams-adapter`'s protocol: a stream, and pub/sub for requests.
    Streams,
}

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    let options = Options::parse();
    let runtime = if options.threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(options.threads)
            .enable_all()
            .build()
    };
    runtime.expect("a tokio runtime").block_on(serve(options));
}

async fn serve(options: Options) {
    let recovery = std::env::var("RALLY_BENCH_RECOVERY").is_ok_and(|v| v == "1");
    let mut builder = Server::builder().parser(options.parser);
    if recovery {
        builder = builder.connection_state_recovery(RecoveryConfig::default());
    }
    let io = match &options.redis_url {
        None => builder.build(),
        Some(url) => {
            let redis = RedisAdapterConfig::new(url.clone()).prefix(options.prefix.clone());
            let factory = match options.adapter {
                Adapter::Classic => RedisAdapterFactory::new(redis),
                Adapter::Streams => {
                    RedisAdapterFactory::streams(redis.stream_name(options.prefix.clone()))
                }
            }
            .unwrap_or_else(|e| exit(&e.to_string()));
            let io = builder.adapter(factory.clone()).build();
            // A server announced before it hears the others would lose the first broadcasts.
            if !factory.wait_connected(Duration::from_secs(5)).await {
                exit(&format!("Redis at {url} not reachable within 5 s"));
            }
            io
        }
    };
    io.on_connection(|socket| {
        socket.on("message", |socket, event: Event| async move {
            let io = socket.server();
            match event.args.values.get(1).and_then(Value::as_str) {
                Some(room) => io.to(room.to_owned()).emit("message", event.args),
                None => io.emit("message", event.args),
            }
        });
        socket.on("join", |socket, (room,): (String,)| async move {
            socket.join(room);
            Ok::<_, Infallible>(())
        });
        socket.on("private_message", |socket, event: Event| async move {
            let Ok(target) = event.arg::<String>(1) else {
                return;
            };
            let mut args = event.args;
            args.values.truncate(1);
            args.values.push(Value::String(socket.id().to_string()));
            let _ = socket.to(target).emit("private_message", args);
        });
        socket.on("echo", |_, event: Event| async move {
            if let Some(ack) = event.ack {
                ack.send(event.args);
            }
        });
    });
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", options.port))
        .await
        .unwrap_or_else(|e| panic!("cannot listen on port {}: {e}", options.port));
    println!(
        "listening on {}",
        listener
            .local_addr()
            .expect("a bound listener has an address")
    );
    rally::serve(listener, io.router(), std::future::pending())
        .await
        .expect("server error");
}

fn exit(why: &str) -> ! {
    eprintln!("bench-server: {why}");
    std::process::exit(2);
}
