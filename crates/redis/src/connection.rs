//! The two loops every task that owns a Redis connection writes, written once:
//!
//! - [`Reconnect`]: when to try connecting again (a backoff doubling from a minimum to a
//!   cap, and the instant of the next attempt), and one attempt bounded by a timeout.
//! - [`recv_batch`] / [`drain_batch`]: wait for one queued request, then take what else is
//!   queued at once (up to a bound), so that requests that pile up during a round trip go
//!   together in the next pipeline, in order.
//! - [`OutageLog`]: log the first failure of an outage loudly and the rest quietly.
//!
//! Public because an application's own Redis tasks (the chat's history store) keep their
//! connections the same way as the adapter's publisher and subscriber. Nothing here owns a
//! connection or a task: the caller's loop stays in charge of what a failure means.

use redis::aio::MultiplexedConnection;
use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::{timeout, Instant};

/// Why a connection attempt failed.
#[derive(Debug)]
pub enum ConnectError<E> {
    /// The client's own error.
    Failed(E),
    /// No answer within the attempt's bound.
    TimedOut,
}

impl<E: fmt::Display> fmt::Display for ConnectError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Failed(e) => e.fmt(f),
            Self::TimedOut => f.write_str("timed out"),
        }
    }
}

impl<E: fmt::Debug + fmt::Display> std::error::Error for ConnectError<E> {}

/// When to try (re)connecting: at once at first, then after each failure a wait that doubles
/// from `min` up to `max`, back to `min` once [`connected`](Self::connected).
#[derive(Debug)]
pub struct Reconnect {
    min: Duration,
    max: Duration,
    /// The wait after the next failure.
    backoff: Duration,
    next_attempt: Instant,
}

impl Reconnect {
    /// A schedule whose first attempt is due at once and whose waits after failures double
    /// from `min` up to `max`.
    pub fn new(min: Duration, max: Duration) -> Self {
        Reconnect {
            min,
            max,
            backoff: min,
            next_attempt: Instant::now(),
        }
    }

    /// When the next attempt is due.
    pub fn next_attempt(&self) -> Instant {
        self.next_attempt
    }

    /// The next attempt is due now.
    pub fn is_due(&self) -> bool {
        Instant::now() >= self.next_attempt
    }

    /// Sleeps until the next attempt is due.
    pub async fn wait(&self) {
        tokio::time::sleep_until(self.next_attempt).await;
    }

    /// A connection that worked was lost: the next attempt is due at once.
    pub fn retry_now(&mut self) {
        self.next_attempt = Instant::now();
    }

    /// Something failed: the next attempt waits for the backoff, which doubles (up to `max`).
    pub fn retry_later(&mut self) {
        self.next_attempt = Instant::now() + self.backoff;
        self.backoff = (self.backoff * 2).min(self.max);
    }

    /// The connection is up and usable: the next outage starts from the shortest wait.
    pub fn connected(&mut self) {
        self.backoff = self.min;
    }

    /// One connection attempt bounded by `limit`; a failure schedules the next one
    /// ([`retry_later`](Self::retry_later)). Success leaves the backoff alone: call
    /// [`connected`](Self::connected) once the connection is ready for use.
    pub async fn attempt<T, E>(
        &mut self,
        limit: Duration,
        connect: impl Future<Output = Result<T, E>>,
    ) -> Result<T, ConnectError<E>> {
        let result = match timeout(limit, connect).await {
            Ok(Ok(conn)) => return Ok(conn),
            Ok(Err(e)) => ConnectError::Failed(e),
            Err(_) => ConnectError::TimedOut,
        };
        self.retry_later();
        Err(result)
    }

    /// One attempt at a multiplexed connection whose connecting and each of whose round
    /// trips the client bounds by `connect_timeout` and `command_timeout`; the attempt as
    /// a whole gets twice `connect_timeout` (DNS, TCP, then the handshake).
    pub async fn multiplexed(
        &mut self,
        client: &redis::Client,
        connect_timeout: Duration,
        command_timeout: Duration,
    ) -> Result<MultiplexedConnection, ConnectError<redis::RedisError>> {
        let config = redis::AsyncConnectionConfig::new()
            .set_connection_timeout(Some(connect_timeout))
            .set_response_timeout(Some(command_timeout));
        let connect = client.get_multiplexed_async_connection_with_config(&config);
        let conn = self.attempt(connect_timeout * 2, connect).await?;
        self.connected();
        Ok(conn)
    }
}

/// `first`, then whatever else is queued right now, `max` in all at most.
pub fn drain_batch<T>(first: T, rx: &mut mpsc::UnboundedReceiver<T>, max: usize) -> Vec<T> {
    let mut batch = vec![first];
    while batch.len() < max {
        match rx.try_recv() {
            Ok(item) => batch.push(item),
            Err(_) => break,
        }
    }
    batch
}

/// Waits for one item, then [`drain_batch`]; None when every sender is gone.
pub async fn recv_batch<T>(rx: &mut mpsc::UnboundedReceiver<T>, max: usize) -> Option<Vec<T>> {
    let first = rx.recv().await?;
    Some(drain_batch(first, rx, max))
}

/// Whether the current outage was logged: its first failure is worth a warning, the others
/// only a debug line. Shared by reference (`&self`), so failures reported outside the
/// connection's task count too.
#[derive(Debug, Default)]
pub struct OutageLog(AtomicBool);

impl OutageLog {
    /// A failure: true if it is the outage's first (log it at warn level).
    pub fn failure(&self) -> bool {
        !self.0.swap(true, Ordering::AcqRel)
    }

    /// The connection is back: true if the outage had been logged.
    pub fn recovered(&self) -> bool {
        self.0.swap(false, Ordering::AcqRel)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn backoff_doubles_up_to_its_cap_and_resets_when_connected() {
        let min = Duration::from_millis(100);
        let max = Duration::from_secs(2);
        let mut r = Reconnect::new(min, max);
        assert!(r.is_due());
        let mut waits = Vec::new();
        for _ in 0..7 {
            let before = Instant::now();
            r.retry_later();
            waits.push(r.next_attempt() - before);
        }
        assert_eq!(waits[0], min);
        assert_eq!(waits[1], min * 2);
        assert_eq!(*waits.last().unwrap(), max);
        assert!(!r.is_due());
        r.retry_now();
        assert!(r.is_due());
        r.connected();
        let before = Instant::now();
        r.retry_later();
        assert_eq!(r.next_attempt() - before, min);
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_or_slow_attempt_schedules_the_next() {
        let mut r = Reconnect::new(Duration::from_millis(50), Duration::from_secs(1));
        let failed = r.attempt(Duration::from_secs(1), async { Err::<(), _>("no") });
        assert!(matches!(failed.await, Err(ConnectError::Failed("no"))));
        assert!(!r.is_due());
        r.wait().await;
        let slow = r.attempt(
            Duration::from_millis(10),
            std::future::pending::<Result<(), ()>>(),
        );
        assert!(matches!(slow.await, Err(ConnectError::TimedOut)));
        assert!(r
            .attempt(Duration::from_secs(1), async { Ok::<_, ()>(1) })
            .await
            .is_ok());
    }

    #[tokio::test]
    async fn batches_take_what_is_queued_up_to_the_bound() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        for i in 0..5 {
            tx.send(i).unwrap();
        }
        assert_eq!(recv_batch(&mut rx, 3).await, Some(vec![0, 1, 2]));
        assert_eq!(drain_batch(9, &mut rx, 10), vec![9, 3, 4]);
        drop(tx);
        assert_eq!(recv_batch(&mut rx, 3).await, None);
    }

    #[test]
    fn an_outage_is_logged_once() {
        let log = OutageLog::default();
        assert!(!log.recovered());
        assert!(log.failure());
        assert!(!log.failure());
        assert!(log.recovered());
        assert!(log.failure());
    }
}
