//! The publisher task: one multiplexed connection, a FIFO queue of PUBLISH, XADD and
//! `PUBSUB NUMSUB` commands sent in pipelined batches (order kept), and reconnection with a
//! capped backoff. While Redis is away, what is queued fails at once through
//! [`Transport::fail`], which counts, logs and runs the failure hooks.

use super::shared::{PubCmd, Transport, BACKOFF_MAX, BACKOFF_MIN};
use crate::connection::{drain_batch, ConnectError, Reconnect};
use crate::stats::Counters;
use redis::aio::MultiplexedConnection;
use std::sync::Weak;
use tokio::sync::mpsc;
use tokio::time::timeout;

/// How many queued commands go into one pipelined round trip at most.
const MAX_BATCH: usize = 512;

pub(super) async fn run(
    client: redis::Client,
    mut rx: mpsc::UnboundedReceiver<PubCmd>,
    transport: Weak<Transport>,
) {
    let Some(config) = transport.upgrade().map(|t| t.config.clone()) else {
        return;
    };
    let mut conn: Option<MultiplexedConnection> = None;
    let mut reconnect = Reconnect::new(BACKOFF_MIN, BACKOFF_MAX);
    let mut was_down = false;
    loop {
        // Without a connection, a due reconnection attempt goes first (a `Reset` without a
        // connection only wakes the loop), so the state is known before anything is queued.
        let first = if conn.is_some() {
            rx.recv().await
        } else if reconnect.is_due() {
            Some(PubCmd::Reset)
        } else {
            tokio::select! {
                cmd = rx.recv() => cmd,
                _ = reconnect.wait() => Some(PubCmd::Reset),
            }
        };
        let Some(first) = first else {
            return;
        };
        let mut batch = drain_batch(first, &mut rx, MAX_BATCH);
        let Some(transport) = transport.upgrade() else {
            return;
        };
        let (count, bytes) = batch
            .iter()
            .filter_map(PubCmd::queued_bytes)
            .fold((0, 0), |(n, b), bytes| (n + 1, b + bytes));
        transport.unqueue(count, bytes);
        if batch.iter().any(|c| matches!(c, PubCmd::Reset)) {
            batch.retain(|c| !matches!(c, PubCmd::Reset));
            if conn.take().is_some() {
                transport.set_publisher_up(false);
                was_down = true;
                reconnect.retry_now();
            }
        }
        if conn.is_none() && reconnect.is_due() {
            let attempt = reconnect
                .multiplexed(&client, config.connect_timeout, config.command_timeout)
                .await;
            match attempt {
                Ok(c) => {
                    conn = Some(c);
                    transport.set_publisher_up(true);
                    if was_down {
                        tracing::info!("redis adapter: publisher reconnected");
                    }
                }
                Err(ConnectError::Failed(e)) => {
                    tracing::debug!("redis adapter: publisher cannot connect: {e}");
                }
                Err(ConnectError::TimedOut) => {
                    tracing::debug!("redis adapter: publisher connection attempt timed out");
                }
            }
        }
        if batch.is_empty() {
            continue;
        }
        let Some(connection) = conn.as_mut() else {
            transport.fail(batch, "redis is unreachable");
            continue;
        };
        let mut pipe = redis::pipe();
        for cmd in &batch {
            cmd.write(&mut pipe);
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
                        PubCmd::Publish { .. } | PubCmd::Append { .. } => published += 1,
                        PubCmd::Query { reply, .. } => {
                            if let Some(reply) = reply {
                                let _ = reply.send(Ok(value));
                            }
                        }
                        PubCmd::Reset => {}
                    }
                }
                Counters::add(&transport.stats.published, published);
                continue;
            }
            Ok(Err(e)) => format!("redis error: {e}"),
            Err(_) => "redis did not answer in time".to_owned(),
        };
        conn = None;
        transport.set_publisher_up(false);
        was_down = true;
        reconnect.retry_later();
        transport.fail(batch, &why);
    }
}

/// `PUBSUB NUMSUB a b` answers `[a, 3, b, 1]`.
pub(super) fn parse_numsub(value: &redis::Value, expected: usize) -> Result<Vec<usize>, String> {
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
}
