//! Broadcast operators: `io.to(room).except(other).emit(…)` and friends.
//!
//! An operator is a value that collects who a packet is for (rooms, exceptions, flags)
//! and hands the packet to the namespace's adapter, which encodes it once and shares
//! the bytes with every recipient, on every server.

use crate::ack::{ack_collector, AckError};
use crate::adapter::{AdapterError, BroadcastOptions, Room};
use crate::args::{Args, IntoArgs};
use crate::namespace::Namespace;
use crate::outgoing::event_packet;
pub use crate::outgoing::EmitError;
use serde_json::Value;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// How long a broadcast waits for acks when no `timeout()` was given.
pub const DEFAULT_ACK_TIMEOUT: Duration = Duration::from_secs(10);

/// One room name or several: what `to`, `in_` and `except` take.
pub trait IntoRooms {
    /// The room names this value stands for, in order.
    fn into_rooms(self) -> Vec<Room>;
}

impl IntoRooms for &str {
    fn into_rooms(self) -> Vec<Room> {
        vec![self.into()]
    }
}
impl IntoRooms for String {
    fn into_rooms(self) -> Vec<Room> {
        vec![self.into()]
    }
}
impl IntoRooms for &String {
    fn into_rooms(self) -> Vec<Room> {
        vec![self.as_str().into()]
    }
}
impl IntoRooms for Arc<str> {
    fn into_rooms(self) -> Vec<Room> {
        vec![self]
    }
}
impl IntoRooms for &Arc<str> {
    fn into_rooms(self) -> Vec<Room> {
        vec![self.clone()]
    }
}
impl<T: IntoRooms> IntoRooms for Vec<T> {
    fn into_rooms(self) -> Vec<Room> {
        self.into_iter().flat_map(IntoRooms::into_rooms).collect()
    }
}
impl<T: IntoRooms + Clone> IntoRooms for &[T] {
    fn into_rooms(self) -> Vec<Room> {
        self.iter()
            .cloned()
            .flat_map(IntoRooms::into_rooms)
            .collect()
    }
}
impl<T: IntoRooms, const N: usize> IntoRooms for [T; N] {
    fn into_rooms(self) -> Vec<Room> {
        self.into_iter().flat_map(IntoRooms::into_rooms).collect()
    }
}

/// Who a packet is for, and how; built by `to`, `except`, `local`, `volatile`, `timeout`.
#[derive(Clone)]
pub struct BroadcastOperator {
    ns: Namespace,
    opts: BroadcastOptions,
}

impl BroadcastOperator {
    pub(crate) fn new(ns: Namespace, opts: BroadcastOptions) -> Self {
        BroadcastOperator { ns, opts }
    }

    /// `.to(room)`: adds rooms; sockets in any of them are targeted (each once).
    pub fn to(mut self, rooms: impl IntoRooms) -> Self {
        for room in rooms.into_rooms() {
            if !self.opts.rooms.contains(&room) {
                self.opts.rooms.push(room);
            }
        }
        self
    }

    /// `.in(room)`: the same as [`to`](Self::to); `in` is a Rust keyword.
    pub fn in_(self, rooms: impl IntoRooms) -> Self {
        self.to(rooms)
    }

    /// `.except(room)`: excludes sockets in any of these rooms.
    pub fn except(mut self, rooms: impl IntoRooms) -> Self {
        for room in rooms.into_rooms() {
            if !self.opts.except.contains(&room) {
                self.opts.except.push(room);
            }
        }
        self
    }

    /// `.local`: only this server's sockets.
    pub fn local(mut self) -> Self {
        self.opts.flags.local = true;
        self
    }

    /// `.volatile`: the packet may be dropped for clients that cannot take it now.
    pub fn volatile(mut self) -> Self {
        self.opts.flags.volatile = true;
        self
    }

    /// `.timeout(ms)`: how long `emit_with_ack` waits.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.opts.flags.timeout = Some(timeout);
        self
    }

    /// Who is targeted so far, as the adapter receives it.
    pub fn options(&self) -> &BroadcastOptions {
        &self.opts
    }

    /// `io.to(room).emit(event, ...args)`: sends the event to every targeted socket, on
    /// every server unless `local`. Fails on a reserved event name or arguments that do
    /// not serialize.
    pub fn emit(&self, event: &str, args: impl IntoArgs) -> Result<(), EmitError> {
        let packet = event_packet(self.ns.name(), event, args, None)?;
        self.ns.adapter().broadcast(packet, self.opts.clone());
        Ok(())
    }

    /// `.emitWithAck(event, ...args)`: emits and collects one answer per recipient, on every
    /// server, until the timeout (`timeout()`, or 10 s). On timeout the error holds the
    /// answers that did arrive.
    pub async fn emit_with_ack(
        &self,
        event: &str,
        args: impl IntoArgs,
    ) -> Result<Vec<Args>, AckError> {
        let id = self.ns.next_ack_id();
        let packet = event_packet(self.ns.name(), event, args, Some(id))
            .map_err(|e| AckError::NotSent(e.to_string()))?;
        let (collector, wait) = ack_collector();
        let adapter = self.ns.adapter();
        adapter.broadcast_with_ack(packet, self.opts.clone(), collector);
        let servers = if self.opts.flags.local {
            1
        } else {
            adapter.server_count().await
        };
        wait.collect(
            servers,
            self.opts.flags.timeout.unwrap_or(DEFAULT_ACK_TIMEOUT),
        )
        .await
    }

    /// `.fetchSockets()`: the targeted sockets, on every server unless `local`.
    pub async fn fetch_sockets(&self) -> Result<Vec<RemoteSocket>, AdapterError> {
        let infos = self.ns.adapter().fetch_sockets(self.opts.clone()).await?;
        Ok(infos
            .into_iter()
            .map(|info| RemoteSocket {
                id: info.id,
                handshake: info.handshake,
                rooms: info.rooms,
                data: info.data,
                ns: self.ns.clone(),
            })
            .collect())
    }

    /// `.socketsJoin(rooms)`: the targeted sockets join `rooms`.
    pub fn sockets_join(&self, rooms: impl IntoRooms) {
        self.ns
            .adapter()
            .add_sockets(self.opts.clone(), rooms.into_rooms());
    }

    /// `.socketsLeave(rooms)`: the targeted sockets leave `rooms`.
    pub fn sockets_leave(&self, rooms: impl IntoRooms) {
        self.ns
            .adapter()
            .del_sockets(self.opts.clone(), rooms.into_rooms());
    }

    /// `.disconnectSockets(close)`: the targeted sockets are disconnected (with `close`,
    /// their connections too).
    pub fn disconnect_sockets(&self, close: bool) {
        self.ns
            .adapter()
            .disconnect_sockets(self.opts.clone(), close);
    }
}

/// A socket on this server or another, as `fetch_sockets` reports it: socket.io's
/// `RemoteSocket`. Its fields are a snapshot; its methods reach the socket wherever it is.
#[derive(Clone)]
pub struct RemoteSocket {
    /// The socket's id.
    pub id: String,
    /// Its handshake, in socket.io's JSON shape (see [`Handshake`](crate::Handshake)).
    pub handshake: Value,
    /// The rooms it was in, its own id's included.
    pub rooms: Vec<String>,
    /// Its `socket.data`.
    pub data: Value,
    ns: Namespace,
}

impl RemoteSocket {
    fn only_me(&self) -> BroadcastOperator {
        BroadcastOperator::new(self.ns.clone(), BroadcastOptions::default()).to(self.id.as_str())
    }

    /// Its `socket.data` as the application's type, as
    /// [`Socket::data`](crate::Socket::data) reads it where the socket is.
    pub fn data_as<T: serde::de::DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        T::deserialize(&self.data)
    }

    /// `remoteSocket.emit(event, ...args)`: to this socket only.
    pub fn emit(&self, event: &str, args: impl IntoArgs) -> Result<(), EmitError> {
        self.only_me().emit(event, args)
    }

    /// `remoteSocket.join(rooms)`: the socket joins `rooms` on the server that holds it.
    pub fn join(&self, rooms: impl IntoRooms) {
        self.only_me().sockets_join(rooms)
    }

    /// `remoteSocket.leave(room)`: the socket leaves `rooms` on the server that holds it.
    pub fn leave(&self, rooms: impl IntoRooms) {
        self.only_me().sockets_leave(rooms)
    }

    /// `remoteSocket.disconnect(close)`: the socket leaves its namespace; with `close`, its
    /// connection is closed too.
    pub fn disconnect(&self, close: bool) {
        self.only_me().disconnect_sockets(close)
    }
}

impl fmt::Debug for RemoteSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteSocket")
            .field("id", &self.id)
            .field("rooms", &self.rooms)
            .finish()
    }
}
