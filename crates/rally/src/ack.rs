//! Acknowledgements the server waits for: one client's (`emit_with_ack`) or many
//! clients' across the cluster (a broadcast with acks, a server-side emit).
//!
//! A broadcast does not know up front how many answers will come: each server reports
//! how many clients it sent to, and answers stream in meanwhile. The collector counts
//! both and is done when every server has reported and every client has answered.

use crate::args::Args;
use std::fmt;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// Why an awaited ack did not come.
#[derive(Debug)]
pub enum AckError {
    /// Not every answer came in time; `partial` holds those that did.
    Timeout {
        /// The answers that arrived before the deadline.
        partial: Vec<Args>,
    },
    /// The socket disconnected before answering.
    Disconnected,
    /// The packet could not be sent (the arguments did not serialize, or the cluster was away).
    NotSent(String),
}

impl fmt::Display for AckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Timeout { partial } => {
                write!(
                    f,
                    "operation has timed out ({} answers arrived)",
                    partial.len()
                )
            }
            Self::Disconnected => f.write_str("socket has been disconnected"),
            Self::NotSent(why) => write!(f, "not sent: {why}"),
        }
    }
}

impl std::error::Error for AckError {}

enum AckEvent {
    /// One server sent the packet to this many clients.
    Expect(usize),
    Answer(Args),
    /// One server could not deliver at all (counts as a server that reported zero).
    Failed(String),
}

/// Where answers to one broadcast go; cheap to clone, one clone per recipient.
///
/// The protocol an adapter follows: each server that received the request calls
/// `expect(n)` once with the number of clients it sent to (for a server-side emit,
/// each answering server calls `expect(1)`), then `answer` once per answer; a server
/// that could not take part calls `fail`.
#[derive(Clone)]
pub struct AckCollector {
    tx: mpsc::UnboundedSender<AckEvent>,
}

impl AckCollector {
    /// A server reports that it sent the packet to `clients` clients.
    pub fn expect(&self, clients: usize) {
        let _ = self.tx.send(AckEvent::Expect(clients));
    }

    /// One client's answer.
    pub fn answer(&self, args: Args) {
        let _ = self.tx.send(AckEvent::Answer(args));
    }

    /// A server could not send the packet; the wait ends with what has arrived.
    pub fn fail(&self, why: impl Into<String>) {
        let _ = self.tx.send(AckEvent::Failed(why.into()));
    }
}

/// The waiting side of an `AckCollector`.
pub struct AckWait {
    rx: mpsc::UnboundedReceiver<AckEvent>,
}

/// A new pair for one broadcast's acks: the collector goes to the adapter (and through it
/// to every recipient), the waiter stays with the emitter.
pub fn ack_collector() -> (AckCollector, AckWait) {
    let (tx, rx) = mpsc::unbounded_channel();
    (AckCollector { tx }, AckWait { rx })
}

impl AckWait {
    /// Waits until `servers` servers have reported and all their clients answered.
    pub async fn collect(
        mut self,
        servers: usize,
        timeout: Duration,
    ) -> Result<Vec<Args>, AckError> {
        let mut answers = Vec::new();
        let mut reported = 0;
        let mut expected = 0;
        let mut failure = None;
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        while reported < servers || answers.len() < expected {
            tokio::select! {
                event = self.rx.recv() => match event {
                    Some(AckEvent::Expect(n)) => { reported += 1; expected += n; }
                    Some(AckEvent::Answer(args)) => answers.push(args),
                    Some(AckEvent::Failed(why)) => { reported += 1; failure = Some(why); }
                    // Every sender is gone: recipients disconnected without answering.
                    None => break,
                },
                _ = &mut deadline => return Err(AckError::Timeout { partial: answers }),
            }
        }
        // Events already queued count even when nothing was awaited (no server expected).
        while let Ok(event) = self.rx.try_recv() {
            match event {
                AckEvent::Expect(n) => {
                    reported += 1;
                    expected += n;
                }
                AckEvent::Answer(args) => answers.push(args),
                AckEvent::Failed(why) => failure = Some(why),
            }
        }
        if let Some(why) = failure {
            return Err(AckError::NotSent(why));
        }
        if reported < servers || answers.len() < expected {
            return Err(AckError::Timeout { partial: answers });
        }
        Ok(answers)
    }
}

/// What a socket keeps for each ack id it waits on.
pub(crate) enum PendingAck {
    One(oneshot::Sender<Args>),
    Many(AckCollector),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn collects_one_answer_per_expected_client_from_every_server() {
        let (acks, wait) = ack_collector();
        acks.expect(2);
        acks.answer(Args::default());
        acks.expect(0);
        acks.answer(Args::default());
        let answers = wait.collect(2, Duration::from_secs(1)).await.unwrap();
        assert_eq!(answers.len(), 2);
    }

    #[tokio::test]
    async fn times_out_with_the_answers_that_came() {
        let (acks, wait) = ack_collector();
        acks.expect(3);
        acks.answer(Args::default());
        match wait.collect(1, Duration::from_millis(50)).await {
            Err(AckError::Timeout { partial }) => assert_eq!(partial.len(), 1),
            other => panic!("expected a timeout, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_failure_is_reported_even_when_no_server_was_awaited() {
        let (acks, wait) = ack_collector();
        acks.fail("cluster away");
        assert!(matches!(
            wait.collect(0, Duration::from_secs(1)).await,
            Err(AckError::NotSent(_))
        ));
    }
}
