//! A node whose Redis is not there: everything local goes on, nothing hangs, failures are
//! counted. (No Redis is needed: the URL points at a loopback port nobody listens on.)

use rally::{AckError, AdapterError, Server, ServerConfig};
use rally_redis::{RedisAdapterConfig, RedisAdapterFactory};
use std::time::{Duration, Instant};

fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("address").port()
    // dropped here: nothing listens on it any more
}

fn factory() -> RedisAdapterFactory {
    let url = format!("redis://127.0.0.1:{}", closed_port());
    RedisAdapterFactory::new(RedisAdapterConfig::new(url).request_timeout(Duration::from_secs(3)))
        .expect("a valid URL")
}

#[test]
fn new_needs_a_runtime_and_a_redis_url() {
    assert!(matches!(
        RedisAdapterFactory::new(RedisAdapterConfig::new("redis://127.0.0.1:1")),
        Err(rally_redis::RedisAdapterError::NoRuntime)
    ));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        assert!(matches!(
            RedisAdapterFactory::new(RedisAdapterConfig::new("http://nope")),
            Err(rally_redis::RedisAdapterError::InvalidUrl(_))
        ));
    });
}

#[tokio::test]
async fn without_redis_requests_fail_fast_and_broadcasts_are_counted() {
    let redis = factory();
    assert_eq!(redis.config().prefix, "socket.io");
    assert_eq!(redis.uid().len(), 6);
    let io = Server::with_adapter(ServerConfig::default(), redis.clone());
    assert!(!redis.wait_connected(Duration::from_millis(300)).await);

    let started = Instant::now();
    assert!(matches!(
        io.sockets().fetch_sockets().await,
        Err(AdapterError::Unavailable(_))
    ));
    assert!(matches!(
        io.sockets().all_rooms().await,
        Err(AdapterError::Unavailable(_))
    ));
    // An emit with acks ends with an error, not after its (long) timeout.
    let answer = io
        .timeout(Duration::from_secs(10))
        .emit_with_ack("question", ("?",))
        .await;
    assert!(matches!(answer, Err(AckError::NotSent(_))), "{answer:?}");
    // A server-side emit with acks does not wait either.
    let _ = io
        .server_side_emit_with_ack("ask", (1,), Duration::from_secs(10))
        .await;
    assert_eq!(io.sockets().adapter().server_count().await, 1);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "took {:?}",
        started.elapsed()
    );

    // Broadcasts go on locally; the ones that could not be published are counted.
    io.emit("news", ("hello",)).unwrap();
    io.to("room").emit("news", ("hello",)).unwrap();
    io.local().emit("news", ("local only",)).unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while redis.stats().publish_failures < 2 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let stats = redis.stats();
    assert_eq!(stats.publish_failures, 2, "{stats:?}");
    assert_eq!(stats.published, 0);
    assert!(!stats.publisher_connected && !stats.subscriber_connected);
    assert_eq!(stats.requests_failed, 4, "{stats:?}");
    io.close().await;
}
