//! The in-memory adapter: the room index of one process, and the local half of every
//! cluster adapter.
//!
//! Two maps kept in step, room → sockets and socket → rooms, behind one lock. A
//! broadcast is encoded once here and the same messages are handed to each recipient.

use super::{Adapter, AdapterError, AdapterFactory, BroadcastOptions, Room, SocketId, SocketInfo};
use crate::ack::{AckCollector, PendingAck};
use crate::args::Args;
use crate::namespace::{IdHash, Namespace, NamespaceRef};
use crate::packet::Packet;
use crate::socket::Socket;
use crate::sync::{read, write};
use futures::future::{self, BoxFuture, FutureExt};
use rally_engine::ShrinkAfterBurst;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};

/// Makes a `MemoryAdapter` for each namespace: the default.
#[derive(Clone, Copy, Debug, Default)]
pub struct MemoryAdapterFactory;

impl AdapterFactory for MemoryAdapterFactory {
    fn create(&self, nsp: NamespaceRef) -> Arc<dyn Adapter> {
        Arc::new(MemoryAdapter::new(nsp))
    }
}

/// The default adapter: the rooms of this process's sockets, and delivery to them, as
/// socket.io's in-memory `Adapter`. A cluster adapter wraps one for its local half, which
/// is why the `*_local` methods are public.
pub struct MemoryAdapter {
    nsp: NamespaceRef,
    index: RwLock<RoomIndex>,
}

/// Every socket is in the room named by its id; that room is implied by the
/// socket's entry in `sids` rather than stored, which saves an idle socket a
/// set and a map entry.
#[derive(Default)]
struct RoomIndex {
    /// Rooms that sockets joined, with their members.
    rooms: HashMap<Room, HashSet<SocketId>>,
    /// Every socket, with the rooms it joined (its own id's room not included).
    sids: HashMap<SocketId, HashSet<Room>, IdHash>,
}

impl RoomIndex {
    /// The members of one room: those who joined it, or the socket it is named after.
    fn members<'a>(&'a self, room: &'a Room) -> impl Iterator<Item = &'a SocketId> {
        let own = self.sids.get_key_value(room).map(|(sid, _)| sid);
        self.rooms.get(room).into_iter().flatten().chain(own)
    }

    /// Takes `sid` out of `room`'s members; a room left empty goes. A room that
    /// was large once, and the map of rooms, give back their room (`ShrinkAfterBurst`).
    fn leave(&mut self, sid: &SocketId, room: &str) {
        let Some(members) = self.rooms.get_mut(room) else {
            return;
        };
        members.remove(sid);
        if members.is_empty() {
            self.rooms.remove(room);
            self.rooms.shrink_after_burst();
        } else {
            members.shrink_after_burst();
        }
    }

    /// Whether `sid` (a socket of this index) is in `room`.
    fn is_member(&self, room: &Room, sid: &SocketId) -> bool {
        room == sid
            || self
                .rooms
                .get(room)
                .is_some_and(|members| members.contains(sid))
    }

    /// Calls `f` once for each socket the options target.
    fn for_each_target(&self, opts: &BroadcastOptions, mut f: impl FnMut(&SocketId)) {
        // Asked of each target rather than gathered into a set first: the
        // usual exception is one room (the sender's own), and a set would be
        // an allocation per broadcast.
        let excluded = |sid: &SocketId| opts.except.iter().any(|room| self.is_member(room, sid));
        match opts.rooms.as_slice() {
            [] => self.sids.keys().filter(|s| !excluded(s)).for_each(f),
            [room] => self.members(room).filter(|s| !excluded(s)).for_each(f),
            rooms => {
                let mut seen = HashSet::with_hasher(IdHash::default());
                for sid in rooms.iter().flat_map(|room| self.members(room)) {
                    if !excluded(sid) && seen.insert(sid) {
                        f(sid);
                    }
                }
            }
        }
    }
}

impl MemoryAdapter {
    /// An adapter with no rooms yet, for the namespace `nsp` refers to.
    pub fn new(nsp: NamespaceRef) -> Self {
        MemoryAdapter {
            nsp,
            index: RwLock::default(),
        }
    }

    /// The adapter's namespace; `None` once it has been dropped.
    pub fn namespace(&self) -> Option<Namespace> {
        self.nsp.upgrade()
    }

    /// Calls `f` with each targeted local socket; the room index is read under one lock.
    pub fn apply(&self, opts: &BroadcastOptions, mut f: impl FnMut(&Socket)) {
        let Some(ns) = self.nsp.upgrade() else { return };
        if opts.rooms.is_empty() && opts.except.is_empty() {
            // The whole namespace: its own map has every socket, no need to
            // look each one up from the index.
            return ns.with_sockets(|sockets| sockets.values().for_each(f));
        }
        let index = read(&self.index);
        ns.with_sockets(|sockets| {
            index.for_each_target(opts, |sid| {
                if let Some(socket) = sockets.get(sid) {
                    f(socket);
                }
            })
        });
    }

    /// Local part of `broadcast`: encodes once, then shares the bytes. With connection
    /// state recovery on, the namespace's log stores the event and stamps it.
    pub fn broadcast_local(&self, packet: &Packet, opts: &BroadcastOptions) {
        // A namespace that is gone has no sockets to reach.
        let Some(ns) = self.nsp.upgrade() else { return };
        if let Some(recovery) = ns.recovery() {
            return recovery.deliver(packet, opts, |send| self.apply(opts, send));
        }
        let messages = ns.parser().to_messages(packet);
        let volatile = opts.flags.volatile;
        self.apply(opts, |socket| socket.send_messages(&messages, volatile));
    }

    /// Whether the namespace stores this broadcast for connection state recovery (an
    /// EVENT without an ack id, not volatile, with recovery on). A cluster adapter that
    /// places stored events ([`cluster_recovery`](super::Adapter::cluster_recovery))
    /// delivers these through [`broadcast_local_placed`](Self::broadcast_local_placed).
    pub fn stores(&self, packet: &Packet, opts: &BroadcastOptions) -> bool {
        crate::recovery::stores(packet, opts.flags.volatile)
            && self.nsp.upgrade().is_some_and(|ns| ns.recovery().is_some())
    }

    /// Local part of a broadcast the cluster placed at `offset` (an id of its shared
    /// log): delivered in the order the cluster's events are read, stamped with `offset`.
    pub fn broadcast_local_placed(&self, packet: &Packet, opts: &BroadcastOptions, offset: &str) {
        if let Some(ns) = self.nsp.upgrade() {
            match ns.recovery() {
                Some(recovery) => {
                    recovery.deliver_placed(packet, opts, offset, |send| self.apply(opts, send))
                }
                None => self.broadcast_local(packet, opts),
            }
        }
    }

    /// Another server of the cluster reached the sockets `opts` names with events it could
    /// not place in the cluster's log (Redis was away): recoveries here must not replay
    /// past this point for them.
    pub fn mark_unplaced(&self, opts: &BroadcastOptions) {
        let ns = self.nsp.upgrade();
        if let Some(recovery) = ns.as_ref().and_then(Namespace::recovery) {
            recovery.mark_unplaced(opts);
        }
    }

    /// Local part of `broadcast_with_ack`: returns how many clients the packet went to.
    pub fn broadcast_with_ack_local(
        &self,
        packet: &Packet,
        opts: &BroadcastOptions,
        acks: &AckCollector,
    ) -> usize {
        let Some(id) = packet.id else { return 0 };
        let mut count = 0;
        let mut register = |socket: &Socket| {
            // Registered before sending: a fast client's answer must find its waiter.
            socket.register_ack(id, PendingAck::Many(acks.clone()));
            count += 1;
        };
        let ns = self.nsp.upgrade();
        match ns.as_ref().and_then(Namespace::recovery) {
            Some(recovery) => {
                recovery.deliver(packet, opts, |send| {
                    self.apply(opts, |socket| {
                        register(socket);
                        send(socket);
                    })
                });
            }
            None => {
                let Some(ns) = ns else { return 0 };
                let messages = ns.parser().to_messages(packet);
                self.apply(opts, |socket| {
                    register(socket);
                    socket.send_messages(&messages, opts.flags.volatile);
                });
            }
        }
        count
    }

    /// Local part of `fetch_sockets`: the targeted sockets of this process.
    pub fn fetch_sockets_local(&self, opts: &BroadcastOptions) -> Vec<SocketInfo> {
        let mut sockets = Vec::new();
        self.apply(opts, |socket| sockets.push(socket.clone()));
        sockets
            .into_iter()
            .map(|socket| SocketInfo {
                id: socket.id().to_string(),
                handshake: serde_json::to_value(socket.handshake()).unwrap_or_default(),
                rooms: socket.rooms().iter().map(|r| r.to_string()).collect(),
                data: socket.data_json(),
            })
            .collect()
    }

    /// Local part of `add_sockets`: the targeted sockets of this process join `rooms`.
    pub fn add_sockets_local(&self, opts: &BroadcastOptions, rooms: &[Room]) {
        for sid in self.local_sockets(opts) {
            self.add_all(&sid, rooms);
        }
    }

    /// Local part of `del_sockets`: the targeted sockets of this process leave `rooms`.
    pub fn del_sockets_local(&self, opts: &BroadcastOptions, rooms: &[Room]) {
        for sid in self.local_sockets(opts) {
            for room in rooms {
                self.del(&sid, room);
            }
        }
    }

    /// Local part of `disconnect_sockets`: the targeted sockets of this process leave their
    /// namespace, and with `close` their connections are closed too.
    pub fn disconnect_sockets_local(&self, opts: &BroadcastOptions, close: bool) {
        let mut sockets = Vec::new();
        self.apply(opts, |socket| sockets.push(socket.clone()));
        // Outside the locks: leaving takes them again.
        for socket in sockets {
            socket.disconnect(close);
        }
    }

    /// Local part of `all_rooms`: every room a socket of this process is in, socket-id
    /// rooms included.
    pub fn rooms_local(&self) -> Vec<Room> {
        let index = read(&self.index);
        index
            .rooms
            .keys()
            .chain(index.sids.keys())
            .cloned()
            .collect()
    }
}

impl Adapter for MemoryAdapter {
    fn add_all(&self, sid: &SocketId, rooms: &[Room]) {
        let mut index = write(&self.index);
        let index = &mut *index;
        let joined = index.sids.entry(sid.clone()).or_default();
        for room in rooms.iter().filter(|room| **room != *sid) {
            joined.insert(room.clone());
            index
                .rooms
                .entry(room.clone())
                .or_default()
                .insert(sid.clone());
        }
    }

    fn del(&self, sid: &SocketId, room: &str) {
        let mut index = write(&self.index);
        if let Some(rooms) = index.sids.get_mut(sid) {
            rooms.remove(room);
        }
        index.leave(sid, room);
    }

    fn del_all(&self, sid: &SocketId) {
        let mut index = write(&self.index);
        let Some(rooms) = index.sids.remove(sid) else {
            return;
        };
        for room in rooms {
            index.leave(sid, &room);
        }
        index.sids.shrink_after_burst();
    }

    fn socket_rooms(&self, sid: &str) -> Vec<Room> {
        let index = read(&self.index);
        match index.sids.get_key_value(sid) {
            Some((own, joined)) => std::iter::once(own.clone())
                .chain(joined.iter().cloned())
                .collect(),
            None => Vec::new(),
        }
    }

    fn local_sockets(&self, opts: &BroadcastOptions) -> Vec<SocketId> {
        let mut sids = Vec::new();
        read(&self.index).for_each_target(opts, |sid| sids.push(sid.clone()));
        sids
    }

    fn broadcast(&self, packet: Packet, opts: BroadcastOptions) {
        self.broadcast_local(&packet, &opts);
    }

    fn broadcast_with_ack(&self, packet: Packet, opts: BroadcastOptions, acks: AckCollector) {
        let count = self.broadcast_with_ack_local(&packet, &opts, &acks);
        acks.expect(count);
    }

    fn server_count(&self) -> BoxFuture<'static, usize> {
        future::ready(1).boxed()
    }

    fn fetch_sockets(
        &self,
        opts: BroadcastOptions,
    ) -> BoxFuture<'static, Result<Vec<SocketInfo>, AdapterError>> {
        future::ready(Ok(self.fetch_sockets_local(&opts))).boxed()
    }

    fn add_sockets(&self, opts: BroadcastOptions, rooms: Vec<Room>) {
        self.add_sockets_local(&opts, &rooms);
    }

    fn del_sockets(&self, opts: BroadcastOptions, rooms: Vec<Room>) {
        self.del_sockets_local(&opts, &rooms);
    }

    fn disconnect_sockets(&self, opts: BroadcastOptions, close: bool) {
        self.disconnect_sockets_local(&opts, close);
    }

    fn all_rooms(&self) -> BoxFuture<'static, Result<Vec<Room>, AdapterError>> {
        future::ready(Ok(self.rooms_local())).boxed()
    }

    fn server_side_emit(&self, _event: &str, _args: Args, _acks: Option<AckCollector>) {
        // One process: there is no other server to tell.
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index(members: &[(&str, &[&str])]) -> RoomIndex {
        let mut index = RoomIndex::default();
        for (sid, rooms) in members {
            let sid: SocketId = (*sid).into();
            let joined = index.sids.entry(sid.clone()).or_default();
            for room in rooms.iter().copied() {
                let room: Room = room.into();
                joined.insert(room.clone());
                index.rooms.entry(room).or_default().insert(sid.clone());
            }
        }
        index
    }

    fn targets(index: &RoomIndex, rooms: &[&str], except: &[&str]) -> Vec<String> {
        let opts = BroadcastOptions {
            rooms: rooms.iter().map(|r| (*r).into()).collect(),
            except: except.iter().map(|r| (*r).into()).collect(),
            ..BroadcastOptions::default()
        };
        let mut found = Vec::new();
        index.for_each_target(&opts, |sid| found.push(sid.to_string()));
        found.sort();
        found
    }

    #[test]
    fn no_rooms_means_everyone() {
        let idx = index(&[("a", &["r1"]), ("b", &[]), ("c", &["r2"])]);
        assert_eq!(targets(&idx, &[], &[]), ["a", "b", "c"]);
    }

    #[test]
    fn a_socket_in_several_targeted_rooms_is_reached_once() {
        let idx = index(&[("a", &["r1", "r2"]), ("b", &["r2"]), ("c", &[])]);
        assert_eq!(targets(&idx, &["r1", "r2"], &[]), ["a", "b"]);
    }

    #[test]
    fn except_removes_every_member_of_the_excluded_rooms() {
        let idx = index(&[("a", &["r1", "x"]), ("b", &["r1"]), ("c", &["r1"])]);
        assert_eq!(targets(&idx, &["r1"], &["x"]), ["b", "c"]);
        assert_eq!(targets(&idx, &[], &["b", "x"]), ["c"]);
    }

    #[test]
    fn unknown_rooms_reach_nobody() {
        let idx = index(&[("a", &["r1"])]);
        assert!(targets(&idx, &["nope"], &[]).is_empty());
    }

    #[test]
    fn leaving_the_last_member_removes_the_room() {
        let adapter = MemoryAdapter::new(NamespaceRef::dangling());
        let a: SocketId = "a".into();
        adapter.add_all(&a, &["a".into(), "r1".into()]);
        assert_eq!(
            adapter
                .local_sockets(&BroadcastOptions {
                    rooms: vec!["r1".into()],
                    ..Default::default()
                })
                .len(),
            1
        );
        adapter.del(&a, "r1");
        assert!(!adapter.rooms_local().iter().any(|r| &**r == "r1"));
        adapter.del_all(&a);
        assert!(adapter.rooms_local().is_empty());
        assert!(adapter.socket_rooms("a").is_empty());
    }

    #[test]
    fn every_socket_is_in_the_room_named_by_its_id() {
        let idx = index(&[("a", &["r1"]), ("b", &[])]);
        assert_eq!(targets(&idx, &["b"], &[]), ["b"]);
        assert_eq!(targets(&idx, &["a", "r1"], &[]), ["a"]);
        assert_eq!(targets(&idx, &["r1"], &["a"]), Vec::<String>::new());
        let adapter = MemoryAdapter::new(NamespaceRef::dangling());
        let b: SocketId = "b".into();
        adapter.add_all(&b, std::slice::from_ref(&b));
        assert_eq!(adapter.socket_rooms("b"), vec![b.clone()]);
        assert_eq!(adapter.rooms_local(), vec![b]);
    }
}
