//! Connection state recovery across a streams cluster, as the namespace's
//! [`ClusterRecovery`]: a dropped socket's session is kept in Redis (`SET … PX`, Node's
//! format), and a client coming back to any server gets it back with what it missed,
//! read from the stream.
//!
//! The stream's ids are the offsets: every server delivers the stored broadcasts as it
//! reads them from the stream, its own included, so each client's offsets follow the
//! stream's order. To restore, the session is taken out of Redis (`GETDEL`: restored
//! once), the client's offset must still be in the stream (so nothing after it was
//! trimmed), and the gap is read in `XRANGE` batches up to the stream's last entry when
//! the request began; what comes after reaches the client from the server's own log or
//! live. Each batch is followed by a check that its first id is still there, so a
//! stream trimmed during the read refuses the recovery instead of replaying part of it,
//! and so does a mark that a server delivered events the stream does not hold (Redis was
//! away: `unplaced`) to the client's rooms.

use crate::node::Ns;
use crate::transport::reader::{parse_entry, RawEntry};
use crate::wire::{is_stream_id, parse_session_value, parse_stream_entry, session_key};
use crate::wire::{session_value, StreamEntry, StreamMessage};
use futures::future::{BoxFuture, FutureExt};
use rally::adapter::cluster::{ClusterRecovery, ClusterRestore, ClusterSession, MissedEvent};
use rally::Refusal;
use std::sync::Arc;
use std::time::Duration;

pub(super) struct Sessions {
    ns: Arc<Ns>,
}

impl Sessions {
    pub fn new(ns: Arc<Ns>) -> Self {
        Sessions { ns }
    }
}

impl ClusterRecovery for Sessions {
    fn persist_session(&self, session: ClusterSession, ttl: Duration) {
        let config = self.ns.config();
        let key = session_key(&config.session_key_prefix, &session.pid);
        let mut cmd = redis::cmd("SET");
        cmd.arg(key)
            .arg(session_value(&session))
            .arg("PX")
            .arg(ttl.as_millis().max(1) as u64);
        self.ns.transport().command(cmd);
    }

    fn restore_session(
        &self,
        pid: String,
        offset: Option<String>,
        max_events: usize,
    ) -> BoxFuture<'static, Result<ClusterRestore, Refusal>> {
        let ns = self.ns.clone();
        async move { restore(&ns, &pid, offset, max_events).await }.boxed()
    }
}

/// Sends `name args…` (queued at once, in order) and waits for its answer; a failure means
/// the cluster cannot be read.
fn ask<'a>(
    ns: &'a Ns,
    name: &str,
    args: &[&str],
) -> impl std::future::Future<Output = Result<redis::Value, Refusal>> + 'a {
    let mut cmd = redis::cmd(name);
    for arg in args {
        cmd.arg(*arg);
    }
    async move {
        ns.transport().query(cmd).await.map_err(|e| {
            tracing::debug!(nsp = %ns.nsp, "recovery: redis did not answer: {e}");
            Refusal::Unavailable
        })
    }
}

/// The entries of an XRANGE or XREVRANGE answer.
fn entries(value: &redis::Value) -> Result<Vec<RawEntry>, Refusal> {
    match value {
        redis::Value::Array(items) => items
            .iter()
            .map(|item| parse_entry(item).ok_or(Refusal::Unavailable))
            .collect(),
        _ => Err(Refusal::Unavailable),
    }
}

async fn restore(
    ns: &Ns,
    pid: &str,
    offset: Option<String>,
    max_events: usize,
) -> Result<ClusterRestore, Refusal> {
    let config = ns.config();
    if !ns.transport().available() {
        return Err(Refusal::Unavailable);
    }
    let stream = config.stream_name.as_str();
    let key = session_key(&config.session_key_prefix, pid);
    // Queued together, answered in one round trip.
    let taken = ask(ns, "GETDEL", &[&key]);
    let last = ask(ns, "XREVRANGE", &[stream, "+", "-", "COUNT", "1"]);
    let (taken, last) = futures::join!(taken, last);
    let session = match taken? {
        redis::Value::Nil => return Err(Refusal::Unknown),
        redis::Value::BulkString(value) => {
            parse_session_value(&value).map_err(|_| Refusal::Malformed)?
        }
        _ => return Err(Refusal::Malformed),
    };
    if session.pid != pid {
        return Err(Refusal::Malformed);
    }
    let end = entries(&last?)?.into_iter().next().map(|(id, _)| id);
    let from = offset
        .or_else(|| session.left_at.clone())
        .filter(|id| is_stream_id(id))
        .ok_or(Refusal::Malformed)?;
    let mut missed = Vec::new();
    let mut cursor = from.clone();
    let batch = config.stream_read_count.max(1);
    let count = batch.to_string();
    loop {
        // The batch, then whether where it starts is still there: if so, nothing after
        // it was trimmed before the batch was read.
        let after = format!("({cursor}");
        let to = end.as_deref().unwrap_or("+");
        let read = ask(ns, "XRANGE", &[stream, &after, to, "COUNT", &count]);
        let still = ask(ns, "XRANGE", &[stream, &cursor, &cursor, "COUNT", "1"]);
        let (read, still) = futures::join!(read, still);
        if entries(&still?)?.is_empty() {
            return Err(Refusal::Trimmed);
        }
        let read = entries(&read?)?;
        let done = read.len() < batch;
        for (id, fields) in read {
            match parse_stream_entry(&fields) {
                Ok(Some(StreamEntry {
                    nsp,
                    message:
                        StreamMessage::Broadcast {
                            data,
                            attachments,
                            opts,
                        },
                    ..
                })) if nsp == ns.nsp && !opts.flags.volatile && opts.reaches(&session.rooms) => {
                    if missed.len() == max_events {
                        return Err(Refusal::Trimmed);
                    }
                    missed.push(MissedEvent {
                        offset: id.clone(),
                        data,
                        attachments,
                    });
                }
                // A server delivered events to this client's rooms that the stream does
                // not hold: the client may have missed them.
                Ok(Some(StreamEntry {
                    nsp,
                    message: StreamMessage::Unplaced { opts },
                    ..
                })) if nsp == ns.nsp && opts.reaches(&session.rooms) => {
                    return Err(Refusal::Trimmed);
                }
                _ => {}
            }
            cursor = id;
        }
        if done || end.as_deref() == Some(cursor.as_str()) {
            break;
        }
    }
    // The last entry read is the stream's last when the request began: every later one
    // is in this server's own log or still to come.
    Ok(ClusterRestore {
        session,
        missed,
        read_up_to: Some(cursor),
    })
}
