//! History in one SQLite file (or in memory), for a standalone server.
//!
//! SQLite calls block, so they never run on the async runtime's threads: one dedicated
//! thread owns the connection and serves requests from a channel, in the order they were
//! made. Appends that queue up while the thread works are written in one transaction, and
//! each append is answered only after its transaction committed (WAL, `synchronous=FULL`):
//! a message whose ack a client received survives a crash of the process or the machine.

use super::{pack, unpack};
use super::{Request, StoreError, StoreFront, StoredMessage};
use futures::FutureExt;
use rusqlite::{params, Connection, OptionalExtension};
use serde_json::Value;
use std::collections::BTreeSet;
use std::ops::Deref;
use std::sync::mpsc;
use tokio::sync::oneshot;

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError(e.to_string())
    }
}

/// The lobby's key in the `room` column (room names are never empty).
const LOBBY: &str = "";

/// History in SQLite, served by one thread of its own.
pub struct SqliteStore(StoreFront);

impl Deref for SqliteStore {
    type Target = StoreFront;

    fn deref(&self) -> &StoreFront {
        &self.0
    }
}

/// Most requests the writer takes in one go (appends among them share a transaction).
const BATCH: usize = 256;

impl SqliteStore {
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
        Ok(SqliteStore(StoreFront::new(
            tx,
            ended.boxed(),
            "the history thread stopped",
        )))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::tests::msg;
    use crate::history::HistoryStore;
    use bytes::Bytes;
    use serde_json::json;

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
}
