//! The packet log: the events a namespace keeps for clients that may come back.
//!
//! Each stored event keeps its audience (rooms and exceptions, as the broadcast named
//! them) and its encoded messages, whose bytes are the ones sent, shared rather than
//! copied. The log is bounded three ways: in events, in bytes, and in age (nothing
//! older than the window a dropped client has to come back). It knows which places it
//! still holds, so a recovery that would need a trimmed event is refused rather than
//! replayed in part.

use super::offset::SUB_BITS;
use crate::adapter::Room;
use rally_engine::{OutMessage, ShrinkAfterBurst};
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// What a stored message holds besides its payload: its shared record and frame
/// header, and the allocations around them. Measured: 50 000 events of 110 encoded bytes
/// kept for a dropped client took 546 bytes each of the server's memory.
const MESSAGE_OVERHEAD: usize = 320;

/// One stored event.
pub(crate) struct Entry {
    pub(crate) seq: u64,
    at: Instant,
    rooms: Vec<Room>,
    except: Vec<Room>,
    pub(crate) messages: Vec<OutMessage>,
    bytes: usize,
    /// An event the cluster could not place (Redis away): it holds nothing, and a client
    /// it reached while away cannot be given back what it missed.
    lost: bool,
}

impl Entry {
    pub(crate) fn new(
        seq: u64,
        rooms: Vec<Room>,
        except: Vec<Room>,
        messages: Vec<OutMessage>,
    ) -> Self {
        // What the entry costs besides its messages' bytes, counted so that many small
        // events cannot hide behind the byte bound.
        let bytes = messages
            .iter()
            .map(|m| m.len() + MESSAGE_OVERHEAD)
            .sum::<usize>()
            + std::mem::size_of::<Entry>()
            + (rooms.len() + except.len()) * std::mem::size_of::<Room>();
        Entry {
            seq,
            at: Instant::now(),
            rooms,
            except,
            messages,
            bytes,
            lost: false,
        }
    }

    /// Whether a socket in `rooms` (its own id's room among them) was in this event's
    /// audience: socket.io's rule for replaying a stored packet.
    fn reaches(&self, rooms: &[Room]) -> bool {
        let included = self.rooms.is_empty() || self.rooms.iter().any(|r| rooms.contains(r));
        included && !self.except.iter().any(|r| rooms.contains(r))
    }
}

/// The bounds of a log.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Bounds {
    pub(crate) max_packets: usize,
    pub(crate) max_bytes: usize,
    pub(crate) max_age: Duration,
}

pub(crate) struct PacketLog {
    entries: VecDeque<Entry>,
    bytes: usize,
    /// The place the last stored event took; places start at 1, so 0 is "before any".
    last_seq: u64,
    bounds: Bounds,
}

impl PacketLog {
    pub(crate) fn new(bounds: Bounds) -> Self {
        PacketLog {
            entries: VecDeque::new(),
            bytes: 0,
            last_seq: 0,
            bounds,
        }
    }

    pub(crate) fn last_seq(&self) -> u64 {
        self.last_seq
    }

    /// The place the next stored event takes.
    pub(crate) fn next_seq(&mut self) -> u64 {
        self.last_seq += 1;
        self.last_seq
    }

    /// Moves the last place to `seq`, a place the cluster gave, before its entry is pushed.
    pub(crate) fn advance_to(&mut self, seq: u64) {
        debug_assert!(seq > self.last_seq);
        self.last_seq = seq;
    }

    /// Records an event the cluster could not place, for `rooms` minus `except`, at the
    /// next of the places a server has between two of the cluster's (see `offset`); when
    /// they are used up, the last one stands for every room.
    pub(crate) fn push_lost(&mut self, rooms: Vec<Room>, except: Vec<Room>) {
        let sub = (1u64 << SUB_BITS) - 1;
        if self.last_seq & sub == sub {
            if let Some(last) = self.entries.back_mut() {
                last.rooms.clear();
                last.except.clear();
            }
            return;
        }
        self.last_seq += 1;
        let mut entry = Entry::new(self.last_seq, rooms, except, Vec::new());
        entry.lost = true;
        self.push(entry);
    }

    /// Whether an event that could not be placed, after `seq`, reached `rooms`.
    pub(crate) fn lost_after(&self, seq: u64, rooms: &[Room]) -> bool {
        let start = self.entries.partition_point(|e| e.seq <= seq);
        self.entries
            .range(start..)
            .any(|entry| entry.lost && entry.reaches(rooms))
    }

    pub(crate) fn push(&mut self, entry: Entry) {
        debug_assert_eq!(entry.seq, self.last_seq);
        self.bytes += entry.bytes;
        self.entries.push_back(entry);
        self.trim(Instant::now());
    }

    /// Drops what is past the bounds, oldest first.
    pub(crate) fn trim(&mut self, now: Instant) {
        while let Some(oldest) = self.entries.front() {
            let too_many = self.entries.len() > self.bounds.max_packets;
            let too_big = self.bytes > self.bounds.max_bytes;
            let too_old = now.saturating_duration_since(oldest.at) > self.bounds.max_age;
            if !(too_many || too_big || too_old) {
                break;
            }
            self.bytes -= oldest.bytes;
            self.entries.pop_front();
        }
        self.entries.shrink_after_burst();
    }

    /// Forgets every event; places go on from where they were.
    pub(crate) fn clear(&mut self) {
        self.entries = VecDeque::new();
        self.bytes = 0;
    }

    /// Whether every event stored after place `seq` is still here.
    pub(crate) fn holds_after(&self, seq: u64) -> bool {
        let first_kept = self.entries.front().map_or(self.last_seq + 1, |e| e.seq);
        first_kept <= seq.saturating_add(1)
    }

    /// The events after place `seq` whose audience takes in `rooms`, in order.
    pub(crate) fn missed<'a>(
        &'a self,
        seq: u64,
        rooms: &'a [Room],
    ) -> impl Iterator<Item = &'a Entry> {
        let start = self.entries.partition_point(|e| e.seq <= seq);
        self.entries
            .range(start..)
            .filter(move |entry| entry.reaches(rooms))
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bounds(max_packets: usize) -> Bounds {
        Bounds {
            max_packets,
            max_bytes: usize::MAX,
            max_age: Duration::from_secs(60),
        }
    }

    fn store(log: &mut PacketLog, rooms: &[&str], except: &[&str]) -> u64 {
        let seq = log.next_seq();
        let rooms = rooms.iter().map(|r| (*r).into()).collect();
        let except = except.iter().map(|r| (*r).into()).collect();
        let text = OutMessage::text(format!("{seq}"));
        log.push(Entry::new(seq, rooms, except, vec![text]));
        seq
    }

    fn missed(log: &PacketLog, after: u64, rooms: &[&str]) -> Vec<u64> {
        let rooms: Vec<Room> = rooms.iter().map(|r| (*r).into()).collect();
        log.missed(after, &rooms).map(|e| e.seq).collect()
    }

    #[test]
    fn replays_what_the_rooms_reach_after_a_place() {
        let mut log = PacketLog::new(bounds(100));
        store(&mut log, &[], &[]); // 1: everyone
        store(&mut log, &["r1"], &[]); // 2: room r1
        store(&mut log, &["sid"], &[]); // 3: the socket itself
        store(&mut log, &[], &["sid"]); // 4: a broadcast from the socket
        store(&mut log, &["r2"], &[]); // 5: a room it is not in
        store(&mut log, &["r1", "r2"], &["x"]); // 6
        assert_eq!(missed(&log, 0, &["sid", "r1"]), [1, 2, 3, 6]);
        assert_eq!(missed(&log, 2, &["sid", "r1"]), [3, 6]);
        assert_eq!(missed(&log, 6, &["sid", "r1"]), Vec::<u64>::new());
    }

    #[test]
    fn knows_when_a_trimmed_event_would_be_needed() {
        let mut log = PacketLog::new(bounds(3));
        assert!(log.holds_after(0), "an empty log lost nothing");
        for _ in 0..5 {
            store(&mut log, &[], &[]);
        }
        assert_eq!(log.len(), 3);
        assert!(!log.holds_after(1), "event 2 was trimmed");
        assert!(log.holds_after(2));
        assert!(log.holds_after(5));
    }

    #[test]
    fn old_events_go_after_the_window() {
        let mut log = PacketLog::new(bounds(100));
        store(&mut log, &[], &[]);
        store(&mut log, &[], &[]);
        log.trim(Instant::now() + Duration::from_secs(61));
        assert_eq!(log.len(), 0);
        assert_eq!(log.bytes(), 0);
        assert!(log.holds_after(2), "nothing after the last place was lost");
        assert!(!log.holds_after(1));
    }

    #[test]
    fn the_byte_bound_holds() {
        let mut log = PacketLog::new(Bounds {
            max_packets: 1_000,
            max_bytes: 1_000,
            max_age: Duration::from_secs(60),
        });
        for _ in 0..100 {
            store(&mut log, &["room"], &[]);
            assert!(log.bytes() <= 1_000);
        }
        assert!(log.len() < 100);
    }
}
