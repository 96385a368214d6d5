//! socket.io's `connectTimeout`: a connection that joins no namespace in time is closed.
//!
//! One sweeper task serves every connection instead of a timer task per connection,
//! which would cost each idle connection a task and a timer-wheel entry. The timeout is
//! the same for all, so deadlines arrive in order and a FIFO queue is enough.
//!
//! It watches anything that can say whether it joined and be closed (the client, in
//! practice), so that this floor knows nothing of the client above it.

use crate::sync::lock;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;
use tokio::sync::Notify;
use tokio::time::Instant;

/// A connection on the clock: what the sweeper asks when its deadline passes.
pub(crate) trait Joining: Send + Sync {
    /// Whether it joined a namespace.
    fn has_joined(&self) -> bool;
    /// Its time ran out without joining: it is closed.
    fn time_out(&self);
}

pub(crate) struct ConnectDeadlines {
    timeout: Duration,
    queue: Mutex<VecDeque<(Instant, Weak<dyn Joining>)>>,
    wake: Notify,
    sweeping: AtomicBool,
}

impl ConnectDeadlines {
    pub(crate) fn new(timeout: Duration) -> Arc<Self> {
        Arc::new(ConnectDeadlines {
            timeout,
            queue: Mutex::default(),
            wake: Notify::new(),
            sweeping: AtomicBool::new(false),
        })
    }

    /// Starts the clock for a new connection.
    pub(crate) fn watch(self: &Arc<Self>, connection: Weak<dyn Joining>) {
        let was_empty = {
            let mut queue = lock(&self.queue);
            queue.push_back((Instant::now() + self.timeout, connection));
            queue.len() == 1
        };
        if !self.sweeping.swap(true, Ordering::AcqRel) {
            tokio::spawn(sweep(Arc::downgrade(self)));
        } else if was_empty {
            self.wake.notify_one();
        }
    }
}

/// Runs while the server exists: closes connections whose deadline passed without a namespace.
async fn sweep(server_deadlines: Weak<ConnectDeadlines>) {
    loop {
        let Some(deadlines) = server_deadlines.upgrade() else {
            return;
        };
        let next = lock(&deadlines.queue).front().map(|(at, _)| *at);
        match next {
            None => {
                // Bounded, so the task notices within seconds when the server is gone.
                let _ =
                    tokio::time::timeout(Duration::from_secs(5), deadlines.wake.notified()).await;
            }
            Some(at) if at > Instant::now() => {
                drop(deadlines);
                tokio::time::sleep_until(at).await;
            }
            Some(_) => {
                let expired = lock(&deadlines.queue).pop_front();
                if let Some(connection) = expired.and_then(|(_, c)| c.upgrade()) {
                    if !connection.has_joined() {
                        tracing::debug!(
                            "no namespace joined within {:?}: closing the connection",
                            deadlines.timeout
                        );
                        connection.time_out();
                    }
                }
            }
        }
    }
}
