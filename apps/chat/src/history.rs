//! Message history: the last messages of each room and of the lobby.
//!
//! [`HistoryStore`] is what the chat needs from a store; [`SqliteStore`] keeps history in
//! one SQLite file (or in memory). SQLite calls block, so they never run on the async
//! runtime's threads: one dedicated thread owns the connection and serves requests from
//! a channel, in the order they were made. That order is the point: a message is queued
//! *before* it is broadcast, and a joiner's history read is queued *after* the joiner
//! entered the room, so a joiner never misses a message (it may see one both live and in
//! its history; clients tell them apart by `id`).
//!
//! Appends that queue up while the thread works are written in one transaction, and each
//! append is answered only after its transaction committed (WAL, `synchronous=FULL`): a
//! message whose ack a client received survives a crash of the process or the machine.

use crate::lock;
use bytes::Bytes;
use futures::future::BoxFuture;
use futures::FutureExt;
use rusqlite::{params, Connection, OptionalExtension};
use serde_json::Value;
use std::collections::BTreeSet;
use std::fmt;
use std::sync::mpsc;
use std::sync::Mutex;
use tokio::sync::oneshot;

/// One chat message as history keeps it.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredMessage {
    /// Unique id, also sent in `message_info` so clients can match live and stored copies.
    pub id: String,
    /// `None` for the lobby.
    pub room: Option<String>,
    /// The sender's socket id.
    pub from: String,
    /// The sender's display name when it was sent.
    pub name: String,
    /// When the server received it, in milliseconds since the Unix epoch.
    pub time: u64,
    /// The payload as the client sent it; binary parts are Socket.IO placeholders
    /// (`{"_placeholder":true,"num":n}`) pointing into `attachments`.
    pub payload: Value,
    pub attachments: Vec<Bytes>,
}

/// Why a store request failed.
#[derive(Clone, Debug, PartialEq)]
pub struct StoreError(pub String);

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StoreError {}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError(e.to_string())
    }
}

pub type StoreFuture<T> = BoxFuture<'static, Result<T, StoreError>>;

/// Where history lives. Implementations keep at most their configured number of messages
/// per room (the lobby counts as one room).
///
/// Ordering contract: a request takes its place in the store's order when the method is
/// *called*, not when the returned future is first polled; requests are carried out in
/// that order. Callers rely on it (queue the append, then broadcast).
pub trait HistoryStore: Send + Sync + 'static {
    /// Stores a message; resolves once it is durable.
    fn append(&self, message: StoredMessage) -> StoreFuture<()>;
    /// The `limit` most recent messages of a room (`None`: the lobby), oldest first.
    fn recent(&self, room: Option<&str>, limit: usize) -> StoreFuture<Vec<StoredMessage>>;
    /// Resolves once every request made before it is carried out and durable.
    fn flush(&self) -> StoreFuture<()>;
    /// Flushes, then releases the store; later requests fail.
    fn close(&self) -> StoreFuture<()>;
}

/// The lobby's key in the `room` column (room names are never empty).
const LOBBY: &str = "";

/// Where a store's answer goes back.
pub type Reply<T> = oneshot::Sender<Result<T, StoreError>>;

/// What a store's worker is asked, in the order the calls were made.
pub enum Request {
    Append(StoredMessage, Reply<()>),
    Recent(Option<String>, usize, Reply<Vec<StoredMessage>>),
    Flush(Reply<()>),
    Close(Reply<()>),
}

/// How a store hands a request to its worker; false once the worker is gone.
pub trait SendRequest: Send + Sync + 'static {
    fn send_request(&self, request: Request) -> bool;
}

impl SendRequest for mpsc::Sender<Request> {
    fn send_request(&self, request: Request) -> bool {
        self.send(request).is_ok()
    }
}

impl SendRequest for tokio::sync::mpsc::UnboundedSender<Request> {
    fn send_request(&self, request: Request) -> bool {
        self.send(request).is_ok()
    }
}

/// The front every store shares: requests go, in call order, to one worker (a thread or
/// a task) that owns the storage, and `close` waits for that worker to end.
pub struct StoreWorker<S> {
    tx: Mutex<Option<S>>,
    /// Resolves once the worker has ended.
    ended: Mutex<Option<BoxFuture<'static, ()>>>,
    /// The error of a request whose worker went away.
    stopped: &'static str,
}

impl<S: SendRequest> StoreWorker<S> {
    pub(crate) fn new(tx: S, ended: BoxFuture<'static, ()>, stopped: &'static str) -> Self {
        StoreWorker {
            tx: Mutex::new(Some(tx)),
            ended: Mutex::new(Some(ended)),
            stopped,
        }
    }

    fn request<T: Send + 'static>(&self, make: impl FnOnce(Reply<T>) -> Request) -> StoreFuture<T> {
        let (tx, rx) = oneshot::channel();
        let sent = match &*lock(&self.tx) {
            Some(sender) => sender.send_request(make(tx)),
            None => false,
        };
        let stopped = self.stopped;
        async move {
            if !sent {
                return Err(StoreError("the history store is closed".into()));
            }
            rx.await.unwrap_or_else(|_| Err(StoreError(stopped.into())))
        }
        .boxed()
    }
}

impl<S: SendRequest> HistoryStore for StoreWorker<S> {
    fn append(&self, message: StoredMessage) -> StoreFuture<()> {
        self.request(|tx| Request::Append(message, tx))
    }

    fn recent(&self, room: Option<&str>, limit: usize) -> StoreFuture<Vec<StoredMessage>> {
        let room = room.map(str::to_owned);
        self.request(|tx| Request::Recent(room, limit, tx))
    }

    fn flush(&self) -> StoreFuture<()> {
        self.request(Request::Flush)
    }

    fn close(&self) -> StoreFuture<()> {
        let closed = self.request(Request::Close);
        // No request can follow the close; the worker ends once it has answered.
        lock(&self.tx).take();
        let ended = lock(&self.ended).take();
        async move {
            let result = closed.await;
            if let Some(ended) = ended {
                ended.await;
            }
            result
        }
        .boxed()
    }
}

/// History in SQLite, served by one thread of its own.
pub type SqliteStore = StoreWorker<mpsc::Sender<Request>>;

/// Most requests the writer takes in one go (appends among them share a transaction).
const BATCH: usize = 256;

impl StoreWorker<mpsc::Sender<Request>> {
    /// Opens (or creates) the history at `path`; `":memory:"` keeps it in memory only.
    /// `limit` is the number of messages kept per room; 0 keeps none.
    pub fn open(path: &str, limit: usize) -> Result<SqliteStore, StoreError> {
        let conn = if path == ":memory:" {
            Connection::open_in_memory()?
        } else {
            Connection::open(path)?
        };
        let mut writer = Writer { conn, limit };
        writer.init()?;
        let (tx, rx) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("history".into())
            .spawn(move || writer.run(rx))
            .map_err(|e| StoreError(format!("cannot start the history thread: {e}")))?;
        let ended = async move {
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        };
        Ok(StoreWorker::new(
            tx,
            ended.boxed(),
            "the history thread stopped",
        ))
    }
}

/// The thread's side: owns the connection.
struct Writer {
    conn: Connection,
    limit: usize,
}

type AppendReply = oneshot::Sender<Result<(), StoreError>>;

impl Writer {
    fn init(&mut self) -> Result<(), StoreError> {
        self.conn.busy_timeout(std::time::Duration::from_secs(5))?;
        // In memory there is no journal file: WAL is refused there, harmlessly.
        let _: Option<String> = self
            .conn
            .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
            .optional()?;
        self.conn.pragma_update(None, "synchronous", "FULL")?;
        self.conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS messages (
                 seq INTEGER PRIMARY KEY AUTOINCREMENT,
                 id TEXT NOT NULL,
                 room TEXT NOT NULL,
                 sender TEXT NOT NULL,
                 name TEXT NOT NULL,
                 time INTEGER NOT NULL,
                 payload TEXT NOT NULL,
                 attachments BLOB NOT NULL
             );
             CREATE INDEX IF NOT EXISTS messages_room_seq ON messages (room, seq);",
        )?;
        // The limit may have been lowered since the last run.
        let rooms: Vec<String> = {
            let mut stmt = self.conn.prepare("SELECT DISTINCT room FROM messages")?;
            let rows = stmt.query_map([], |row| row.get(0))?;
            rows.collect::<Result<_, _>>()?
        };
        let tx = self.conn.transaction()?;
        for room in &rooms {
            trim(&tx, room, self.limit)?;
        }
        tx.commit()?;
        Ok(())
    }

    fn run(mut self, rx: mpsc::Receiver<Request>) {
        while let Ok(first) = rx.recv() {
            let mut batch = vec![first];
            while batch.len() < BATCH {
                match rx.try_recv() {
                    Ok(request) => batch.push(request),
                    Err(_) => break,
                }
            }
            let mut appends: Vec<(StoredMessage, AppendReply)> = Vec::new();
            for request in batch {
                match request {
                    Request::Append(message, reply) => appends.push((message, reply)),
                    Request::Recent(room, limit, reply) => {
                        self.commit(std::mem::take(&mut appends));
                        let _ = reply.send(self.recent(room.as_deref(), limit));
                    }
                    Request::Flush(reply) => {
                        self.commit(std::mem::take(&mut appends));
                        let _ = reply.send(Ok(()));
                    }
                    Request::Close(reply) => {
                        self.commit(std::mem::take(&mut appends));
                        let _ = self.conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)");
                        let _ = reply.send(Ok(()));
                        return;
                    }
                }
            }
            self.commit(appends);
        }
    }

    /// Writes appends in one transaction, then answers each of them.
    fn commit(&mut self, appends: Vec<(StoredMessage, AppendReply)>) {
        if appends.is_empty() {
            return;
        }
        let result = self.write(appends.iter().map(|(message, _)| message));
        if let Err(e) = &result {
            tracing::error!("history: {} messages not stored: {e}", appends.len());
        }
        for (_, reply) in appends {
            let _ = reply.send(result.clone());
        }
    }

    fn write<'a>(
        &mut self,
        messages: impl Iterator<Item = &'a StoredMessage>,
    ) -> Result<(), StoreError> {
        if self.limit == 0 {
            return Ok(());
        }
        let tx = self.conn.transaction()?;
        let mut rooms = BTreeSet::new();
        {
            let mut insert = tx.prepare_cached(
                "INSERT INTO messages (id, room, sender, name, time, payload, attachments)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?;
            for m in messages {
                let room = m.room.as_deref().unwrap_or(LOBBY);
                insert.execute(params![
                    m.id,
                    room,
                    m.from,
                    m.name,
                    i64::try_from(m.time).unwrap_or(i64::MAX),
                    m.payload.to_string(),
                    pack(&m.attachments),
                ])?;
                rooms.insert(room.to_owned());
            }
        }
        for room in &rooms {
            trim(&tx, room, self.limit)?;
        }
        tx.commit()?;
        Ok(())
    }

    fn recent(&self, room: Option<&str>, limit: usize) -> Result<Vec<StoredMessage>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, room, sender, name, time, payload, attachments FROM messages
             WHERE room = ?1 ORDER BY seq DESC LIMIT ?2",
        )?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = stmt.query_map(params![room.unwrap_or(LOBBY), limit], |row| {
            let room: String = row.get(1)?;
            let time: i64 = row.get(4)?;
            let payload: String = row.get(5)?;
            let attachments: Vec<u8> = row.get(6)?;
            Ok(StoredMessage {
                id: row.get(0)?,
                room: (room != LOBBY).then_some(room),
                from: row.get(2)?,
                name: row.get(3)?,
                time: u64::try_from(time).unwrap_or(0),
                payload: serde_json::from_str(&payload).unwrap_or(Value::Null),
                attachments: unpack(&attachments),
            })
        })?;
        let mut messages = rows.collect::<Result<Vec<_>, _>>()?;
        messages.reverse();
        Ok(messages)
    }
}

/// Keeps the newest `limit` messages of `room`.
fn trim(conn: &Connection, room: &str, limit: usize) -> Result<(), StoreError> {
    if limit == 0 {
        conn.execute("DELETE FROM messages WHERE room = ?1", params![room])?;
        return Ok(());
    }
    let offset = i64::try_from(limit - 1).unwrap_or(i64::MAX);
    conn.prepare_cached(
        "DELETE FROM messages WHERE room = ?1 AND seq < (
             SELECT seq FROM messages WHERE room = ?1 ORDER BY seq DESC LIMIT 1 OFFSET ?2)",
    )?
    .execute(params![room, offset])?;
    Ok(())
}

/// Attachments in one blob: each is a 4-byte big-endian length, then its bytes.
pub(crate) fn pack(attachments: &[Bytes]) -> Vec<u8> {
    let mut out = Vec::with_capacity(attachments.iter().map(|a| a.len() + 4).sum());
    for a in attachments {
        out.extend_from_slice(&(a.len() as u32).to_be_bytes());
        out.extend_from_slice(a);
    }
    out
}

pub(crate) fn unpack(mut blob: &[u8]) -> Vec<Bytes> {
    let mut out = Vec::new();
    while blob.len() >= 4 {
        let len = u32::from_be_bytes([blob[0], blob[1], blob[2], blob[3]]) as usize;
        blob = &blob[4..];
        let len = len.min(blob.len());
        out.push(Bytes::copy_from_slice(&blob[..len]));
        blob = &blob[len..];
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::json;

    /// A message for the stores' tests.
    pub(crate) fn msg(id: &str, room: Option<&str>, payload: Value) -> StoredMessage {
        StoredMessage {
            id: id.into(),
            room: room.map(str::to_owned),
            from: "sock".into(),
            name: "Ada".into(),
            time: 1_700_000_000_000,
            payload,
            attachments: vec![],
        }
    }

    fn ids(messages: &[StoredMessage]) -> Vec<&str> {
        messages.iter().map(|m| m.id.as_str()).collect()
    }

    fn temp_db(tag: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "rally-chat-test-{tag}-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        dir.join("history.db")
    }

    #[tokio::test]
    async fn rooms_are_separate_and_bounded() {
        let store = SqliteStore::open(":memory:", 3).unwrap();
        for i in 0..5 {
            store
                .append(msg(&format!("l{i}"), None, json!(i)))
                .await
                .unwrap();
        }
        store
            .append(msg("r0", Some("r"), json!("x")))
            .await
            .unwrap();
        let lobby = store.recent(None, 10).await.unwrap();
        assert_eq!(ids(&lobby), ["l2", "l3", "l4"]);
        assert_eq!(lobby[0].room, None);
        assert_eq!(lobby[0].payload, json!(2));
        let room = store.recent(Some("r"), 10).await.unwrap();
        assert_eq!(ids(&room), ["r0"]);
        assert_eq!(room[0].room.as_deref(), Some("r"));
        assert_eq!(ids(&store.recent(None, 2).await.unwrap()), ["l3", "l4"]);
        assert!(store.recent(Some("none"), 10).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn requests_keep_their_order() {
        let store = SqliteStore::open(":memory:", 1000).unwrap();
        // Not awaited one by one: the order of the calls is what counts.
        let appends: Vec<_> = (0..500)
            .map(|i| store.append(msg(&i.to_string(), None, json!(i))))
            .collect();
        let read = store.recent(None, 1000);
        let later = store.append(msg("late", None, json!("late")));
        let seen = read.await.unwrap();
        assert_eq!(seen.len(), 500);
        assert_eq!(seen[499].id, "499");
        for a in appends {
            a.await.unwrap();
        }
        later.await.unwrap();
        assert_eq!(store.recent(None, 1).await.unwrap()[0].id, "late");
    }

    #[tokio::test]
    async fn binary_attachments_round_trip() {
        let store = SqliteStore::open(":memory:", 10).unwrap();
        let mut m = msg(
            "b",
            Some("bin"),
            json!({"a": {"_placeholder": true, "num": 0}, "b": {"_placeholder": true, "num": 1}}),
        );
        m.attachments = vec![Bytes::from_static(&[0, 1, 2, 255]), Bytes::new()];
        store.append(m.clone()).await.unwrap();
        assert_eq!(store.recent(Some("bin"), 10).await.unwrap(), vec![m]);
    }

    #[tokio::test]
    async fn history_survives_a_restart_and_a_lower_limit() {
        let path = temp_db("restart");
        let path_str = path.to_str().unwrap();
        {
            let store = SqliteStore::open(path_str, 10).unwrap();
            for i in 0..6 {
                store
                    .append(msg(&i.to_string(), Some("kept"), json!(i)))
                    .await
                    .unwrap();
            }
            // No close: an acked message must survive the process going away.
        }
        let store = SqliteStore::open(path_str, 4).unwrap();
        assert_eq!(
            ids(&store.recent(Some("kept"), 10).await.unwrap()),
            ["2", "3", "4", "5"]
        );
        store.close().await.unwrap();
        assert!(store.recent(None, 1).await.is_err());
        std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
    }

    #[tokio::test]
    async fn a_zero_limit_keeps_nothing() {
        let store = SqliteStore::open(":memory:", 0).unwrap();
        store.append(msg("x", None, json!(1))).await.unwrap();
        assert!(store.recent(None, 10).await.unwrap().is_empty());
    }

    #[test]
    fn pack_and_unpack() {
        let parts = vec![
            Bytes::from_static(b"abc"),
            Bytes::new(),
            Bytes::from(vec![7; 300]),
        ];
        assert_eq!(unpack(&pack(&parts)), parts);
        assert!(unpack(&[]).is_empty());
    }
}
