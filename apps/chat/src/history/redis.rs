//! History in Redis, shared by every chat server of a cluster (`--redis-url`).
//!
//! Each room, and the lobby, is one Redis list, newest first: an append is `LPUSH` then
//! `LTRIM` to the bound, a read is `LRANGE`. Keys are `<prefix>:chat:lobby` and
//! `<prefix>:chat:room:<room>`, `<prefix>` being the deployment's (`--redis-prefix`, the
//! adapter's channel prefix too), so deployments sharing one Redis never mix.
//!
//! One task owns the connection and carries out requests in the order they were made
//! (the [`HistoryStore`] ordering contract): requests that queue up while a round trip is
//! on go together in the next pipeline. Every request is bounded: while Redis is away a
//! request fails at once ("history unavailable"), a connection attempt takes at most
//! `connect_timeout`, a round trip at most `command_timeout`; the task reconnects by itself
//! (backoff up to 1 s, tried when a request comes). "Durable" here means "in Redis": how
//! long Redis keeps it is Redis's configuration (RDB/AOF).
//!
//! A list entry is the message's JSON (`{id, room, from, name, time, payload}`), followed,
//! when the message has binary parts, by a NUL byte and the attachments (each a 4-byte
//! big-endian length, then its bytes). JSON text never holds a raw NUL, so text-only
//! messages stay readable with `redis-cli`.

use super::{pack, unpack, Request, StoreError, StoreFront, StoredMessage};
use futures::FutureExt;
use rally_redis::connection::{recv_batch, OutageLog, Reconnect};
use redis::aio::MultiplexedConnection;
use serde_json::{json, Value};
use std::ops::Deref;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::timeout;

/// Where and how the store talks to Redis.
#[derive(Clone, Debug)]
pub struct RedisStoreConfig {
    /// `redis://[user:password@]host:port[/db]`.
    pub url: String,
    /// Key prefix of the deployment (keys are `<prefix>:chat:…`).
    pub prefix: String,
    /// Messages kept per room (and for the lobby); 0 keeps none.
    pub limit: usize,
    /// Bound on establishing a connection.
    pub connect_timeout: Duration,
    /// Bound on one round trip (one pipelined batch of requests).
    pub command_timeout: Duration,
}

impl RedisStoreConfig {
    pub fn new(url: impl Into<String>, prefix: impl Into<String>, limit: usize) -> Self {
        RedisStoreConfig {
            url: url.into(),
            prefix: prefix.into(),
            limit,
            connect_timeout: Duration::from_secs(1),
            command_timeout: Duration::from_secs(2),
        }
    }

    /// The list holding a room's history (`None`: the lobby's).
    pub fn key(&self, room: Option<&str>) -> String {
        match room {
            None => format!("{}:chat:lobby", self.prefix),
            Some(room) => format!("{}:chat:room:{room}", self.prefix),
        }
    }
}

/// History in Redis lists, served by one task; see the module docs.
pub struct RedisStore(StoreFront);

impl Deref for RedisStore {
    type Target = StoreFront;

    fn deref(&self) -> &StoreFront {
        &self.0
    }
}

/// Most requests in one pipeline.
const BATCH: usize = 256;
const BACKOFF_MIN: Duration = Duration::from_millis(50);
const BACKOFF_MAX: Duration = Duration::from_secs(1);

impl RedisStore {
    /// Checks the URL and starts the store's task on the current tokio runtime; the
    /// connection is made when the first request comes.
    pub fn open(config: RedisStoreConfig) -> Result<RedisStore, StoreError> {
        let client = redis::Client::open(config.url.as_str())
            .map_err(|e| StoreError(format!("invalid Redis URL: {e}")))?;
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|_| StoreError("RedisStore::open must run inside a tokio runtime".into()))?;
        let (tx, rx) = mpsc::unbounded_channel();
        let task = runtime.spawn(run(client, config, rx));
        let ended = async move {
            let _ = task.await;
        };
        Ok(RedisStore(StoreFront::new(
            tx,
            ended.boxed(),
            "the history task stopped",
        )))
    }
}

/// A list entry: the JSON, then (with binary parts) a NUL and the packed attachments.
pub(crate) fn encode(m: &StoredMessage) -> Vec<u8> {
    let head = json!({
        "id": m.id,
        "room": m.room,
        "from": m.from,
        "name": m.name,
        "time": m.time,
        "payload": m.payload,
    });
    let mut out = serde_json::to_vec(&head).unwrap_or_default();
    if !m.attachments.is_empty() {
        out.push(0);
        out.extend_from_slice(&pack(&m.attachments));
    }
    out
}

pub(crate) fn decode(entry: &[u8]) -> Option<StoredMessage> {
    let (head, attachments) = match entry.iter().position(|&b| b == 0) {
        Some(nul) => (&entry[..nul], unpack(&entry[nul + 1..])),
        None => (entry, Vec::new()),
    };
    let head: Value = serde_json::from_slice(head).ok()?;
    Some(StoredMessage {
        id: head["id"].as_str()?.to_owned(),
        room: head["room"].as_str().map(str::to_owned),
        from: head["from"].as_str().unwrap_or_default().to_owned(),
        name: head["name"].as_str().unwrap_or_default().to_owned(),
        time: head["time"].as_u64().unwrap_or(0),
        payload: head.get("payload").cloned().unwrap_or(Value::Null),
        attachments,
    })
}

/// `LRANGE`'s answer (newest first) as messages, oldest first; malformed entries are skipped.
fn parse_range(value: &redis::Value) -> Result<Vec<StoredMessage>, StoreError> {
    let redis::Value::Array(items) = value else {
        return Err(StoreError(format!("unexpected LRANGE answer: {value:?}")));
    };
    let mut out: Vec<StoredMessage> = items
        .iter()
        .filter_map(|item| match item {
            redis::Value::BulkString(bytes) => decode(bytes),
            _ => None,
        })
        .collect();
    out.reverse();
    Ok(out)
}

fn failed(value: &redis::Value) -> Option<StoreError> {
    match value {
        redis::Value::ServerError(e) => Some(StoreError(format!("redis error: {e:?}"))),
        _ => None,
    }
}

fn unavailable(why: &str) -> StoreError {
    StoreError(format!("history unavailable ({why})"))
}

async fn run(
    client: redis::Client,
    config: RedisStoreConfig,
    mut rx: mpsc::UnboundedReceiver<Request>,
) {
    let mut conn: Option<MultiplexedConnection> = None;
    let mut reconnect = Reconnect::new(BACKOFF_MIN, BACKOFF_MAX);
    let mut last_error = String::from("not connected yet");
    // Whether the current outage was logged (at warn, once).
    let outage = OutageLog::default();
    let mut closing = false;
    while !closing {
        let Some(mut batch) = recv_batch(&mut rx, BATCH).await else {
            return;
        };
        // Nothing is carried out after a close.
        if let Some(at) = batch.iter().position(|r| matches!(r, Request::Close(_))) {
            for request in batch.drain(at + 1..) {
                fail(request, StoreError("the history store is closed".into()));
            }
            closing = true;
        }
        let has_work = batch
            .iter()
            .any(|r| matches!(r, Request::Append(..) | Request::Recent(..)));
        if has_work && conn.is_none() && reconnect.is_due() {
            let attempt = reconnect
                .multiplexed(&client, config.connect_timeout, config.command_timeout)
                .await;
            match attempt {
                Ok(c) => {
                    if outage.recovered() {
                        tracing::info!("history: Redis is back");
                    }
                    conn = Some(c);
                }
                Err(e) => last_error = format!("cannot connect to Redis: {e}"),
            }
        }
        let outcome = match (&mut conn, has_work) {
            (_, false) => Ok(Vec::new()),
            (None, true) => Err(last_error.clone()),
            (Some(connection), true) => {
                let mut pipe = redis::pipe();
                for request in &batch {
                    match request {
                        Request::Append(m, _) if config.limit > 0 => {
                            let key = config.key(m.room.as_deref());
                            pipe.cmd("LPUSH").arg(&key).arg(encode(m));
                            pipe.cmd("LTRIM").arg(&key).arg(0).arg(config.limit - 1);
                        }
                        Request::Recent(room, limit, _) if *limit > 0 => {
                            let key = config.key(room.as_deref());
                            pipe.cmd("LRANGE").arg(&key).arg(0).arg(*limit - 1);
                        }
                        _ => {}
                    }
                }
                match timeout(
                    config.command_timeout,
                    pipe.query_async::<Vec<redis::Value>>(connection),
                )
                .await
                {
                    Ok(Ok(values)) => Ok(values),
                    Ok(Err(e)) => Err(format!("Redis failed: {e}")),
                    Err(_) => Err("Redis did not answer in time".into()),
                }
            }
        };
        let values = match outcome {
            Ok(values) => values,
            Err(why) => {
                if conn.take().is_some() {
                    reconnect.retry_now();
                }
                last_error = why.clone();
                let count = batch
                    .iter()
                    .filter(|r| matches!(r, Request::Append(..)))
                    .count();
                if outage.failure() {
                    tracing::warn!(
                        "history: {count} message(s) not stored, history not readable: {why}"
                    );
                } else {
                    tracing::debug!("history: {count} message(s) not stored: {why}");
                }
                for request in batch {
                    match request {
                        // A flush or close only orders: what came before it was answered.
                        Request::Flush(reply) | Request::Close(reply) => {
                            let _ = reply.send(Ok(()));
                        }
                        other => fail(other, unavailable(&why)),
                    }
                }
                continue;
            }
        };
        let mut values = values.into_iter();
        for request in batch {
            match request {
                Request::Append(_, reply) => {
                    let result = if config.limit == 0 {
                        Ok(())
                    } else {
                        let pushed = values.next();
                        let trimmed = values.next();
                        match (pushed, trimmed) {
                            (Some(p), Some(t)) => {
                                failed(&p).or_else(|| failed(&t)).map_or(Ok(()), Err)
                            }
                            _ => Err(StoreError("Redis answered too few replies".into())),
                        }
                    };
                    let _ = reply.send(result);
                }
                Request::Recent(_, limit, reply) => {
                    let result = if limit == 0 {
                        Ok(Vec::new())
                    } else {
                        match values.next() {
                            Some(value) => failed(&value).map_or_else(|| parse_range(&value), Err),
                            None => Err(StoreError("Redis answered too few replies".into())),
                        }
                    };
                    let _ = reply.send(result);
                }
                Request::Flush(reply) | Request::Close(reply) => {
                    let _ = reply.send(Ok(()));
                }
            }
        }
    }
}

fn fail(request: Request, error: StoreError) {
    match request {
        Request::Append(_, reply) | Request::Flush(reply) | Request::Close(reply) => {
            let _ = reply.send(Err(error));
        }
        Request::Recent(_, _, reply) => {
            let _ = reply.send(Err(error));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::tests::msg;
    use crate::history::HistoryStore;
    use bytes::Bytes;

    #[test]
    fn entries_round_trip() {
        let text = msg("a", None, json!({"text": "hi\u{0}there", "n": [1, 2]}));
        let encoded = encode(&text);
        assert!(!encoded.contains(&0), "text entries hold no raw NUL");
        assert_eq!(decode(&encoded), Some(text));
        let mut binary = msg("b", Some("room"), json!({"_placeholder": true, "num": 0}));
        binary.attachments = vec![Bytes::from_static(&[0, 1, 0, 255]), Bytes::new()];
        assert_eq!(decode(&encode(&binary)), Some(binary));
        assert_eq!(decode(b"not json"), None);
    }

    #[test]
    fn keys_keep_the_lobby_apart_from_rooms() {
        let config = RedisStoreConfig::new("redis://127.0.0.1:1", "p", 10);
        assert_eq!(config.key(None), "p:chat:lobby");
        assert_eq!(config.key(Some("lobby")), "p:chat:room:lobby");
    }

    #[test]
    fn ranges_come_oldest_first() {
        let newest_first = redis::Value::Array(vec![
            redis::Value::BulkString(encode(&msg("2", None, json!(2)))),
            redis::Value::BulkString(b"garbage".to_vec()),
            redis::Value::BulkString(encode(&msg("1", None, json!(1)))),
        ]);
        let ids: Vec<String> = parse_range(&newest_first)
            .unwrap()
            .into_iter()
            .map(|m| m.id)
            .collect();
        assert_eq!(ids, ["1", "2"]);
    }

    #[tokio::test]
    async fn without_redis_requests_fail_fast_and_in_order() {
        // Nothing listens on port 1: every request fails at once, none hangs.
        let store =
            RedisStore::open(RedisStoreConfig::new("redis://127.0.0.1:1", "t", 10)).unwrap();
        let started = std::time::Instant::now();
        let appended = store.append(msg("x", None, json!(1)));
        let read = store.recent(None, 10);
        let err = appended.await.unwrap_err();
        assert!(err.0.contains("history unavailable"), "{err}");
        assert!(read.await.is_err());
        assert!(store.append(msg("y", None, json!(2))).await.is_err());
        store.flush().await.unwrap();
        assert!(started.elapsed() < Duration::from_secs(3));
        store.close().await.unwrap();
        assert!(store.recent(None, 1).await.is_err());
    }

    #[tokio::test]
    async fn an_invalid_url_is_refused() {
        assert!(RedisStore::open(RedisStoreConfig::new("http://nope", "t", 10)).is_err());
    }
}
