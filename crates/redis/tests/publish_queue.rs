//! The publish queue is bounded: when Redis stops answering (here: a throwaway
//! `redis-server` frozen with SIGSTOP) while the server keeps broadcasting, what waits to
//! be published stays under `max_publish_queue`, the rest is dropped and counted, local
//! delivery is untouched, and every broadcast is accounted for once Redis is back.

use rally::{Server, ServerConfig};
use rally_redis::{RedisAdapterConfig, RedisAdapterFactory};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A `redis-server` of this test's own, on a free port; stopped (and resumed) by pid.
struct ThrowawayRedis {
    child: Child,
    port: u16,
}

impl ThrowawayRedis {
    fn start() -> ThrowawayRedis {
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
            listener.local_addr().expect("address").port()
        };
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("redis-server could not be started ({e}): install it (Debian: apt-get install redis-server)")
            });
        let deadline = Instant::now() + Duration::from_secs(5);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "redis-server did not listen on {port}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        ThrowawayRedis { child, port }
    }

    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
    }
}

impl Drop for ThrowawayRedis {
    fn drop(&mut self) {
        self.signal("-CONT");
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_redis_fills_a_bounded_queue_and_drops_are_counted() {
    let redis = ThrowawayRedis::start();
    let mut config = RedisAdapterConfig::new(format!("redis://127.0.0.1:{}", redis.port))
        .prefix(format!("pq{}", std::process::id()));
    config.max_publish_queue = 100;
    // One heartbeat (the hello sent on connecting) goes through the same queue; none
    // other comes during the test.
    config.heartbeat_interval = Duration::from_secs(3600);
    config.heartbeat_timeout = Duration::from_secs(7200);
    let factory = RedisAdapterFactory::new(config).expect("a valid URL");
    let io = Server::with_adapter(ServerConfig::default(), factory.clone());
    assert!(factory.wait_connected(Duration::from_secs(5)).await);

    redis.signal("-STOP");
    const SENT: u64 = 3_000;
    for i in 0..SENT {
        io.emit("tick", (i,)).expect("local delivery goes on");
    }
    let frozen = factory.stats();
    // At most one pipelined batch is in the publisher's hands, the bound waits behind it.
    assert!(
        frozen.publish_dropped >= SENT - 100 - 512,
        "only {} of {SENT} dropped with a bound of 100: {frozen:?}",
        frozen.publish_dropped
    );

    redis.signal("-CONT");
    // Everything comes out: published, failed (the batch that timed out) or dropped;
    // the heartbeat too.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let s = factory.stats();
        if s.published + s.publish_failures + s.publish_dropped > SENT {
            assert_eq!(
                s.published + s.publish_failures + s.publish_dropped,
                SENT + 1,
                "{s:?}"
            );
            break;
        }
        assert!(Instant::now() < deadline, "not all accounted for: {s:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // And the queue takes messages again once Redis answers.
    let before = factory.stats().published;
    io.emit("after", ()).unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while factory.stats().published == before {
        assert!(
            Instant::now() < deadline,
            "nothing published after the thaw"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

/// A 30 s outage (Redis frozen) under a 1 000 messages/s broadcast with the default
/// bounds: memory stays flat. Prints its figures.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_stays_flat_through_a_30_s_outage_at_1000_per_second() {
    let redis = ThrowawayRedis::start();
    let config = RedisAdapterConfig::new(format!("redis://127.0.0.1:{}", redis.port))
        .prefix(format!("flat{}", std::process::id()));
    let factory = RedisAdapterFactory::new(config).expect("a valid URL");
    let io = Server::with_adapter(ServerConfig::default(), factory.clone());
    assert!(factory.wait_connected(Duration::from_secs(5)).await);

    redis.signal("-STOP");
    let payload = "x".repeat(200);
    let started = tokio::time::Instant::now();
    let mut samples = Vec::new();
    for second in 0..30u64 {
        for i in 0..1000u64 {
            let at = started + Duration::from_micros(second * 1_000_000 + i * 1000);
            tokio::time::sleep_until(at).await;
            io.emit("message", (&payload, i))
                .expect("local delivery goes on");
        }
        samples.push(rss_bytes());
    }
    let stats = factory.stats();
    redis.signal("-CONT");
    let mib = |b: u64| b as f64 / 1048576.0;
    println!(
        "outage: RSS after 10 s {:.1} MiB, after 20 s {:.1} MiB, after 30 s {:.1} MiB; {stats:?}",
        mib(samples[9]),
        mib(samples[19]),
        mib(samples[29])
    );
    // Whether the publisher gives up on the frozen connection (its command timeout) and
    // fails what comes at once, or the bounded queue drops it, nothing piles up.
    let growth = samples[29].saturating_sub(samples[9]);
    assert!(
        growth < 2 << 20,
        "RSS grew {:.1} MiB from 10 s to 30 s of the outage",
        mib(growth)
    );
    let not_published = stats.publish_failures + stats.publish_dropped;
    assert!(not_published > 25_000, "{stats:?}");
}
