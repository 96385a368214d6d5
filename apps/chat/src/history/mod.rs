//! Message history: the last messages of each room and of the lobby.
//!
//! [`HistoryStore`] is what the chat needs from a store: [`SqliteStore`] keeps history in
//! one SQLite file (or in memory), [`RedisStore`] in Redis lists shared by every server of
//! a cluster. Both have the same shape: one worker (a thread, a task) owns the storage and
//! carries out requests from a channel in the order they were made, behind a
//! [`StoreFront`]. That order is the point: a message is queued *before* it is broadcast,
//! and a joiner's history read is queued *after* the joiner entered the room, so a joiner
//! never misses a message (it may see one both live and in its history; clients tell them
//! apart by `id`).

mod redis;
mod sqlite;

pub use self::redis::{RedisStore, RedisStoreConfig};
pub use self::sqlite::SqliteStore;

use crate::lock;
use bytes::Bytes;
use futures::future::BoxFuture;
use futures::FutureExt;
use serde_json::Value;
use std::fmt;
use std::ops::Deref;
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

impl SendRequest for std::sync::mpsc::Sender<Request> {
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
pub struct StoreFront {
    tx: Mutex<Option<Box<dyn SendRequest>>>,
    /// Resolves once the worker has ended.
    ended: Mutex<Option<BoxFuture<'static, ()>>>,
    /// The error of a request whose worker went away.
    stopped: &'static str,
}

impl StoreFront {
    fn new(tx: impl SendRequest, ended: BoxFuture<'static, ()>, stopped: &'static str) -> Self {
        StoreFront {
            tx: Mutex::new(Some(Box::new(tx))),
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

/// Every store is a named type in front of its worker: what it is asked goes there.
impl<T: Deref<Target = StoreFront> + Send + Sync + 'static> HistoryStore for T {
    fn append(&self, message: StoredMessage) -> StoreFuture<()> {
        self.deref().request(|tx| Request::Append(message, tx))
    }

    fn recent(&self, room: Option<&str>, limit: usize) -> StoreFuture<Vec<StoredMessage>> {
        let room = room.map(str::to_owned);
        self.deref().request(|tx| Request::Recent(room, limit, tx))
    }

    fn flush(&self) -> StoreFuture<()> {
        self.deref().request(Request::Flush)
    }

    fn close(&self) -> StoreFuture<()> {
        let closed = self.deref().request(Request::Close);
        // No request can follow the close; the worker ends once it has answered.
        lock(&self.deref().tx).take();
        let ended = lock(&self.deref().ended).take();
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
