//! The `Adapter`: the only door between a namespace and the rest of the cluster.
//!
//! Shaped like socket.io's adapter API. An adapter owns the namespace's room index and
//! answers every question that may span several server processes: who is in a room,
//! broadcasts (with or without acks), remote room changes and disconnections, the
//! server count and server-side events. The in-memory adapter answers for one process;
//! a cluster adapter (Redis) wraps it for the local part and forwards the rest.
//!
//! Room changes are synchronous and apply locally at once, so they keep working when
//! the cluster's transport is away; cross-node requests return futures.
//!
//! Connection state recovery needs nothing of an adapter: the memory adapter's local
//! delivery goes through the namespace's log (`crate::recovery`), which therefore holds
//! the events from other servers too, so a client recovers on the server it was on. An
//! adapter that can do more (a Redis stream every server reads) offers
//! [`cluster::ClusterRecovery`], and a client then recovers on any server.

pub mod cluster;
pub mod memory;

use crate::ack::AckCollector;
use crate::args::Args;
use crate::namespace::NamespaceRef;
use crate::packet::Packet;
use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// A socket's id: also the name of the room every socket is in.
pub type SocketId = Arc<str>;
/// A room's name.
pub type Room = Arc<str>;

/// Who a broadcast (or a cluster request) is for.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BroadcastOptions {
    /// Sockets in any of these rooms; empty means every socket of the namespace.
    pub rooms: Vec<Room>,
    /// Minus sockets in any of these rooms.
    pub except: Vec<Room>,
    /// How to deliver: volatile, this server only, how long to wait for acks.
    #[serde(default)]
    pub flags: BroadcastFlags,
}

impl BroadcastOptions {
    /// Whether a socket in `socket_rooms` is one of the recipients.
    pub fn reaches(&self, socket_rooms: &[impl AsRef<str>]) -> bool {
        let has = |room: &Room| socket_rooms.iter().any(|r| r.as_ref() == &**room);
        (self.rooms.is_empty() || self.rooms.iter().any(has)) && !self.except.iter().any(has)
    }
}

/// How a broadcast is delivered, as the operator's `volatile()`, `local()` and `timeout()`
/// set it: the flags of socket.io's adapter API. None is set by default.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BroadcastFlags {
    /// The packet may be dropped for a client that cannot take it now.
    pub volatile: bool,
    /// Only this process's sockets.
    pub local: bool,
    /// How long to wait for acks, for broadcasts that collect them.
    pub timeout: Option<Duration>,
}

/// A socket as a cluster request reports it: what `fetchSockets()` returns in socket.io.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SocketInfo {
    /// The socket's id.
    pub id: String,
    /// Its handshake, in socket.io's JSON shape (see [`Handshake`](crate::Handshake)).
    pub handshake: Value,
    /// The rooms it is in, its own id's included.
    pub rooms: Vec<String>,
    /// Its `socket.data`.
    pub data: Value,
}

/// Why a cluster request failed.
#[derive(Clone, Debug)]
pub enum AdapterError {
    /// Some server never answered in time.
    Timeout,
    /// The cluster's transport is unavailable or failed.
    Unavailable(String),
}

impl fmt::Display for AdapterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Timeout => f.write_str("timeout reached while waiting for the cluster's answers"),
            Self::Unavailable(why) => write!(f, "cluster unavailable: {why}"),
        }
    }
}

impl std::error::Error for AdapterError {}

/// Makes a namespace's adapter when the namespace is created.
pub trait AdapterFactory: Send + Sync + 'static {
    /// The adapter of the namespace `nsp` refers to, called once as the namespace is made:
    /// what socket.io does with its `adapter` option, `new Adapter(nsp)`.
    fn create(&self, nsp: NamespaceRef) -> Arc<dyn Adapter>;
}

/// socket.io's adapter interface. See the module docs.
pub trait Adapter: Send + Sync + 'static {
    /// Puts a local socket in rooms.
    fn add_all(&self, sid: &SocketId, rooms: &[Room]);
    /// Takes a local socket out of one room.
    fn del(&self, sid: &SocketId, room: &str);
    /// Takes a local socket out of every room (it is leaving).
    fn del_all(&self, sid: &SocketId);
    /// The rooms a local socket is in.
    fn socket_rooms(&self, sid: &str) -> Vec<Room>;
    /// The local sockets a broadcast with these options reaches.
    fn local_sockets(&self, opts: &BroadcastOptions) -> Vec<SocketId>;

    /// Delivers a packet to every socket the options name, on every server unless `local`.
    fn broadcast(&self, packet: Packet, opts: BroadcastOptions);
    /// Like `broadcast`, and each recipient's ack goes to `acks`; every server reports
    /// how many clients it sent to with `acks.expect`.
    fn broadcast_with_ack(&self, packet: Packet, opts: BroadcastOptions, acks: AckCollector);

    /// How many servers share this namespace (1 for a single process).
    fn server_count(&self) -> BoxFuture<'static, usize>;
    /// The sockets the options name, on every server unless `local`.
    fn fetch_sockets(
        &self,
        opts: BroadcastOptions,
    ) -> BoxFuture<'static, Result<Vec<SocketInfo>, AdapterError>>;
    /// Puts the sockets the options name in more rooms, on every server unless `local`.
    fn add_sockets(&self, opts: BroadcastOptions, rooms: Vec<Room>);
    /// Takes the sockets the options name out of rooms, on every server unless `local`.
    fn del_sockets(&self, opts: BroadcastOptions, rooms: Vec<Room>);
    /// Disconnects the sockets the options name, on every server unless `local`.
    fn disconnect_sockets(&self, opts: BroadcastOptions, close: bool);
    /// Every room that has a socket in it, across the cluster.
    fn all_rooms(&self) -> BoxFuture<'static, Result<Vec<Room>, AdapterError>>;
    /// Sends an event to the other servers' namespace handlers (not to clients); with
    /// `acks`, each other server's answer is collected there.
    fn server_side_emit(&self, event: &str, args: Args, acks: Option<AckCollector>);

    /// Connection state recovery across the cluster, when this adapter offers it; see
    /// [`cluster`]. Such an adapter delivers the namespace's stored events itself, in the
    /// shared log's order, through [`MemoryAdapter::broadcast_local_placed`](memory::MemoryAdapter::broadcast_local_placed).
    fn cluster_recovery(&self) -> Option<&dyn cluster::ClusterRecovery> {
        None
    }

    /// Called when the namespace is closed, so the adapter can unsubscribe.
    fn close(&self) {}
}
