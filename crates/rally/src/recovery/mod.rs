//! Connection state recovery: a client whose connection drops and comes back within
//! the window finds its socket as it left it (id, rooms, data) and receives every
//! event it missed, in order, once. socket.io's `connectionStateRecovery`, on the
//! same wire: the CONNECT answer carries a private id (`pid`), every stored event
//! carries its offset as its last argument, and the official client sends both back
//! in its CONNECT's `auth` when it reconnects.
//!
//! Each namespace that recovers keeps a packet log (`log`), the sessions of sockets
//! that dropped (`sessions`), and the sockets offered recovery that are connected now.
//! Every event for a socket offered recovery goes through `Recovery::deliver` under
//! one lock, which fixes the order in which places are taken and the order in which
//! each socket receives them: they are the same, so "the last offset the client saw"
//! names exactly what it received. Where socket.io falls short, this does not:
//! - what a socket needs is judged from what was sent to it, not from the age of its
//!   last offset: a client whose last event is old still recovers when nothing it was
//!   sent since is gone;
//! - a client with no offset yet (it received no stored event) recovers too;
//! - an offset that is not ours (the last argument of a volatile event, which the
//!   client takes for one) is matched against the last such string sent;
//! - a reconnection that arrives while the old connection still looks alive takes
//!   that socket over;
//! - a `pid` is used once: each recovery hands out a new one (unless
//!   `RecoveryConfig::rotate_pid` is off), and none is ever shown in `fetch_sockets`,
//!   the handshake or logs. The old one still names the socket until its client has
//!   answered a ping sent after the CONNECT answer (`rally_engine::Session::confirmed`):
//!   until then the client may not have the new one, because its connection died again
//!   before the answer arrived;
//! - when the log no longer holds everything the client needs, the client gets a
//!   fresh session, never part of what it missed.

mod log;
mod offset;
mod sessions;

use crate::adapter::cluster::{ClusterRecovery, ClusterRestore, ClusterSession};
use crate::adapter::{BroadcastOptions, SocketId};
use crate::config::RecoveryConfig;
use crate::handshake::Handshake;
use crate::packet::Packet;
use crate::parser::Parser;
use crate::socket::Socket;
use crate::sync::lock;
use log::{Bounds, Entry, PacketLog};
use offset::Offsets;
use rally_engine::OutMessage;
use serde_json::Value;
pub(crate) use sessions::{KeptSession, Progress};
use sessions::{Sessions, Unstored};
use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

/// Why a client's claim to its old session was refused; it got a fresh session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// No session is kept under that `pid`: its window passed, it was reclaimed
    /// already, it dropped on a reason that keeps nothing, or it never existed.
    Unknown,
    /// The log no longer holds every event the client missed.
    Trimmed,
    /// The `pid` or the offset is not one this server gave out.
    Malformed,
    /// The offset is the last argument of an unstored event that was sent more than
    /// once with stored events between: it no longer says what the client received.
    Ambiguous,
    /// The cluster that keeps sessions and events could not be read (Redis away).
    Unavailable,
}

impl Refusal {
    /// A short explanation, for logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unknown => "no session kept under that pid",
            Self::Trimmed => "missed events no longer kept",
            Self::Malformed => "pid or offset not given out by this server",
            Self::Ambiguous => "offset names no single place",
            Self::Unavailable => "the cluster could not be read",
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A namespace's recovery figures since it was made.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RecoveryStats {
    /// Sockets that got their session back.
    pub recovered: u64,
    /// Of those, sockets whose old connection was still open and was taken over.
    pub taken_over: u64,
    /// Refusals, by reason: [`Refusal::Unknown`].
    pub unknown: u64,
    /// Refusals for [`Refusal::Trimmed`].
    pub trimmed: u64,
    /// Refusals for [`Refusal::Malformed`].
    pub malformed: u64,
    /// Refusals for [`Refusal::Ambiguous`].
    pub ambiguous: u64,
    /// Refusals for [`Refusal::Unavailable`].
    pub unavailable: u64,
    /// Sessions kept now, for clients that may come back.
    pub kept_sessions: usize,
    /// Events in the log now.
    pub stored_packets: usize,
    /// Their size, counted as encoded.
    pub stored_bytes: usize,
}

impl RecoveryStats {
    fn count(&mut self, refusal: Refusal) {
        match refusal {
            Refusal::Unknown => self.unknown += 1,
            Refusal::Trimmed => self.trimmed += 1,
            Refusal::Malformed => self.malformed += 1,
            Refusal::Ambiguous => self.ambiguous += 1,
            Refusal::Unavailable => self.unavailable += 1,
        }
    }
}

/// What a reconnecting client claims: the `pid` it was given and the last offset it saw.
#[derive(Debug, PartialEq)]
pub(crate) struct Claim {
    pid: String,
    offset: Option<String>,
}

impl Claim {
    pub(crate) fn pid(&self) -> &str {
        &self.pid
    }

    pub(crate) fn offset(&self) -> Option<&str> {
        self.offset.as_deref()
    }

    /// Takes `pid` and `offset` out of a CONNECT's auth, so that they are never shown
    /// as part of the handshake. `Err` when they are there but are not strings.
    pub(crate) fn take(auth: &mut Value) -> Result<Option<Claim>, Refusal> {
        let Some(fields) = auth.as_object_mut() else {
            return Ok(None);
        };
        let pid = fields.remove("pid");
        let offset = fields.remove("offset");
        match (pid, offset) {
            (None, _) => Ok(None),
            (Some(Value::String(pid)), None | Some(Value::Null)) => {
                Ok(Some(Claim { pid, offset: None }))
            }
            (Some(Value::String(pid)), Some(Value::String(offset))) => Ok(Some(Claim {
                pid,
                offset: Some(offset),
            })),
            _ => Err(Refusal::Malformed),
        }
    }
}

/// A socket's part in recovery: its `pid` and what it was sent.
pub(crate) struct SocketRecovery {
    pid: Arc<str>,
    /// After a recovery that rotated the `pid`: the one the client came back with. It
    /// still names this socket until the client has shown it read the CONNECT answer
    /// that carries the new one (`answer_at`): that answer may never reach it (its
    /// connection dies again at once), and it then comes back with the old one.
    superseded: Option<Arc<str>>,
    /// Where the CONNECT answer is in what the connection sent (see
    /// `rally_engine::Session::confirmed`); `u64::MAX` until it is queued.
    answer_at: AtomicU64,
    joined_at_seq: AtomicU64,
    last_sent_seq: AtomicU64,
    unstored: Mutex<Option<Unstored>>,
}

impl SocketRecovery {
    fn new(pid: Arc<str>, progress: Progress) -> Self {
        SocketRecovery {
            pid,
            superseded: None,
            answer_at: AtomicU64::new(u64::MAX),
            joined_at_seq: AtomicU64::new(progress.joined_at_seq),
            last_sent_seq: AtomicU64::new(progress.last_sent_seq),
            unstored: Mutex::new(progress.unstored),
        }
    }

    /// For a socket that joins afresh; its places are set when it joins.
    pub(crate) fn fresh() -> Self {
        SocketRecovery::new(rally_engine::generate_id().into(), Progress::default())
    }

    pub(crate) fn pid(&self) -> &str {
        &self.pid
    }

    /// Notes where the CONNECT answer went in what the connection sent.
    pub(crate) fn answered_at(&self, position: u64) {
        self.answer_at.store(position, Ordering::Relaxed);
    }

    /// Whether `pid` names this socket now: its own, or the superseded one while
    /// `confirmed` (the connection's) does not vouch for the answer.
    pub(crate) fn is_named_by(&self, pid: &str, confirmed: impl Fn(u64) -> bool) -> bool {
        *self.pid == *pid || self.superseded_pid(confirmed).is_some_and(|p| **p == *pid)
    }

    /// The superseded `pid`, while the client may not know the new one.
    fn superseded_pid(&self, confirmed: impl Fn(u64) -> bool) -> Option<&Arc<str>> {
        self.superseded
            .as_ref()
            .filter(|_| !confirmed(self.answer_at.load(Ordering::Relaxed)))
    }

    fn progress(&self) -> Progress {
        Progress {
            joined_at_seq: self.joined_at_seq.load(Ordering::Relaxed),
            last_sent_seq: self.last_sent_seq.load(Ordering::Relaxed),
            unstored: lock(&self.unstored).clone(),
        }
    }
}

/// One namespace's recovery: see the module docs.
pub(crate) struct Recovery {
    config: RecoveryConfig,
    /// This server's own offsets, or, once [`placed_by_cluster`](Self::placed_by_cluster)
    /// says so, the cluster's.
    offsets: OnceLock<Offsets>,
    local_tag: String,
    state: Mutex<State>,
    /// The namespace's packet format: the log keeps events as they are sent.
    parser: Parser,
}

struct State {
    log: PacketLog,
    sessions: Sessions,
    /// The connected sockets offered recovery, by `pid`: a reconnection finds the
    /// socket it takes over here.
    live: HashMap<Arc<str>, SocketId>,
    stats: RecoveryStats,
}

impl Recovery {
    pub(crate) fn new(config: RecoveryConfig, parser: Parser) -> Self {
        let window = config.max_disconnection_duration;
        let bounds = Bounds {
            max_packets: config.max_packets,
            max_bytes: config.max_bytes,
            max_age: window,
        };
        let tag = rally_engine::generate_id();
        Recovery {
            offsets: OnceLock::new(),
            local_tag: tag[..tag.len().min(6)].to_owned(),
            state: Mutex::new(State {
                log: PacketLog::new(bounds),
                sessions: Sessions::new(window),
                live: HashMap::new(),
                stats: RecoveryStats::default(),
            }),
            config,
            parser,
        }
    }

    pub(crate) fn config(&self) -> &RecoveryConfig {
        &self.config
    }

    /// The namespace's adapter places stored events in a log every server shares
    /// ([`ClusterRecovery`](crate::adapter::cluster::ClusterRecovery)): offsets are then
    /// that log's ids. Said once, before the first event.
    pub(crate) fn placed_by_cluster(&self) {
        let _ = self.offsets.set(Offsets::Stream);
    }

    fn offsets(&self) -> &Offsets {
        self.offsets.get_or_init(|| Offsets::new(&self.local_tag))
    }

    fn clustered(&self) -> bool {
        matches!(self.offsets(), Offsets::Stream)
    }

    /// Whether a socket with this handshake is offered recovery.
    pub(crate) fn offers(&self, handshake: &Handshake) -> bool {
        self.config
            .offer
            .as_ref()
            .is_none_or(|offer| (offer.0)(handshake))
    }

    /// Sends an EVENT to the sockets `targets` visits. When it is stored (no ack
    /// asked, not volatile, and someone may need it later) it takes the next place,
    /// and sockets offered recovery get it with that place's offset appended; the
    /// others get it as it is. Each form is encoded once for every recipient.
    /// Another server of the cluster delivered events to the sockets `opts` names that it
    /// could not place in the cluster's log: no recovery here replays past this point for
    /// a client among them.
    pub(crate) fn mark_unplaced(&self, opts: &BroadcastOptions) {
        lock(&self.state)
            .log
            .push_lost(opts.rooms.clone(), opts.except.clone());
    }

    pub(crate) fn deliver(
        &self,
        packet: &Packet,
        opts: &BroadcastOptions,
        targets: impl FnOnce(&mut dyn FnMut(&Socket)),
    ) {
        let plain = self.parser.to_messages(packet);
        let volatile = opts.flags.volatile;
        let mut state = lock(&self.state);
        let storable = stores(packet, volatile);
        if storable && self.clustered() {
            // The cluster could not place it (Redis away): it reaches who is here now,
            // and a client that missed it cannot recover past it.
            state.log.push_lost(opts.rooms.clone(), opts.except.clone());
            drop(state);
            targets(&mut |socket| socket.send_messages(&plain, false));
            return;
        }
        if storable && !(state.live.is_empty() && state.sessions.is_empty()) {
            let seq = state.log.next_seq();
            let stamped = (self.parser).with_offset(packet, &plain, &self.offsets().format(seq));
            targets(&mut |socket| match socket.recovery() {
                Some(recovery) => {
                    recovery.last_sent_seq.store(seq, Ordering::Relaxed);
                    socket.send_messages(&stamped, false);
                }
                None => socket.send_messages(&plain, false),
            });
            let entry = Entry::new(seq, opts.rooms.clone(), opts.except.clone(), stamped);
            state.log.push(entry);
            return;
        }
        let trailing = last_string_argument(packet);
        targets(&mut |socket| {
            if let (Some(recovery), Some(text)) = (socket.recovery(), &trailing) {
                let last_sent = recovery.last_sent_seq.load(Ordering::Relaxed);
                Unstored::note(&mut lock(&recovery.unstored), text, last_sent);
            }
            socket.send_messages(&plain, volatile);
        });
    }

    /// Sends an EVENT the cluster placed at `offset` (an id of its shared log) to the
    /// sockets `targets` visits, in the order the cluster read them; a socket offered
    /// recovery that got it already (in what it missed) is skipped. An offset that does
    /// not follow the last one is delivered as if it could not be placed.
    pub(crate) fn deliver_placed(
        &self,
        packet: &Packet,
        opts: &BroadcastOptions,
        offset: &str,
        targets: impl FnOnce(&mut dyn FnMut(&Socket)),
    ) {
        let mut state = lock(&self.state);
        let place = self.offsets().parse(offset);
        let Some(place) = place.filter(|p| *p > state.log.last_seq()) else {
            drop(state);
            return self.deliver(packet, opts, targets);
        };
        state.log.advance_to(place);
        let plain = self.parser.to_messages(packet);
        let stamped = self.parser.with_offset(packet, &plain, offset);
        targets(&mut |socket| match socket.recovery() {
            Some(recovery) => {
                if recovery.last_sent_seq.load(Ordering::Relaxed) < place {
                    recovery.last_sent_seq.store(place, Ordering::Relaxed);
                    socket.send_messages(&stamped, false);
                }
            }
            None => socket.send_messages(&plain, false),
        });
        let entry = Entry::new(place, opts.rooms.clone(), opts.except.clone(), stamped);
        state.log.push(entry);
    }

    /// A fresh socket offered recovery joins: `insert` puts it in the namespace while
    /// no event is delivered, so its first place is exact.
    pub(crate) fn attach(&self, socket: &Socket, insert: impl FnOnce()) {
        let Some(recovery) = socket.recovery() else {
            return insert();
        };
        let mut state = lock(&self.state);
        let seq = state.log.last_seq();
        recovery.joined_at_seq.store(seq, Ordering::Relaxed);
        recovery.last_sent_seq.store(seq, Ordering::Relaxed);
        state.live.insert(recovery.pid.clone(), socket.id().clone());
        insert();
    }

    /// A socket offered recovery leaves: with `keep`, its session is kept for its client
    /// to reclaim. `remove` takes it out of the namespace while no event is delivered,
    /// so every later event it reaches is one it missed.
    /// On a cluster (`cluster`), the session is kept there instead, for any server.
    pub(crate) fn detach(
        &self,
        socket: &Socket,
        keep: bool,
        cluster: Option<&dyn ClusterRecovery>,
        remove: impl FnOnce(),
    ) {
        let Some(recovery) = socket.recovery() else {
            return remove();
        };
        let mut state = lock(&self.state);
        let now = Instant::now();
        let superseded = recovery
            .superseded_pid(|at| socket.client_confirmed(at))
            .cloned();
        for pid in [Some(&recovery.pid), recovery.superseded.as_ref()]
            .into_iter()
            .flatten()
        {
            if state.live.get(pid) == Some(socket.id()) {
                state.live.remove(pid);
            }
        }
        if let (true, Some(cluster)) = (keep, cluster) {
            let last = state.log.last_seq();
            let session = ClusterSession {
                sid: socket.id().to_string(),
                pid: recovery.pid.to_string(),
                rooms: socket.rooms().iter().map(|r| r.to_string()).collect(),
                data: socket.data_json(),
                left_at: (last > 0).then(|| self.offsets().format(last)),
            };
            remove();
            drop(state);
            return cluster.persist_session(session, self.config.max_disconnection_duration);
        }
        if keep {
            let session = KeptSession {
                sid: socket.id().clone(),
                rooms: socket.rooms(),
                data: socket.data_json(),
                progress: recovery.progress(),
                left_at_seq: state.log.last_seq(),
            };
            state
                .sessions
                .keep(recovery.pid.clone(), superseded, session, now);
        }
        remove();
    }

    /// The connected socket a `pid` belongs to, for a reconnection that arrives before
    /// the old connection is known to be gone.
    pub(crate) fn live_socket(&self, pid: &str) -> Option<SocketId> {
        lock(&self.state).live.get(pid).cloned()
    }

    pub(crate) fn count_refusal(&self, refusal: Refusal) {
        lock(&self.state).stats.count(refusal);
    }

    pub(crate) fn count_takeover(&self) {
        lock(&self.state).stats.taken_over += 1;
    }

    /// Reclaims the session a client claims. On success `resume` gets the session,
    /// the messages the client missed (in order) and the new socket's recovery part
    /// (a new `pid`), and must put the new socket in the namespace: it runs while no
    /// event is delivered, so none falls between the missed ones and the live ones.
    pub(crate) fn restore<R>(
        &self,
        claim: &Claim,
        resume: impl FnOnce(KeptSession, Vec<OutMessage>, SocketRecovery) -> R,
    ) -> Result<R, Refusal> {
        let mut state = lock(&self.state);
        let result = self.reclaim(&mut state, claim);
        let (session, after) = match result {
            Ok(found) => found,
            Err(refusal) => {
                state.stats.count(refusal);
                return Err(refusal);
            }
        };
        let mut progress = session.progress.clone();
        let mut missed = Vec::new();
        let mut events = 0usize;
        for entry in state.log.missed(after, &session.rooms) {
            progress.last_sent_seq = progress.last_sent_seq.max(entry.seq);
            events += 1;
            // Their wait in the client's queue starts now: they are as old as the gap.
            missed.extend(entry.messages.iter().map(OutMessage::resent));
        }
        tracing::debug!(
            sid = %session.sid,
            claimed = claim.offset.as_deref().unwrap_or("-"),
            after,
            last_sent = session.progress.last_sent_seq,
            left_at = session.left_at_seq,
            events,
            "recovery: replaying what the client missed"
        );
        progress.unstored = None;
        let mut recovery = SocketRecovery::new(self.next_pid(claim), progress);
        if *recovery.pid != *claim.pid {
            let pid: Arc<str> = claim.pid.as_str().into();
            state.live.insert(pid.clone(), session.sid.clone());
            recovery.superseded = Some(pid);
        }
        state.live.insert(recovery.pid.clone(), session.sid.clone());
        state.stats.recovered += 1;
        Ok(resume(session, missed, recovery))
    }

    /// Puts back a session the cluster gave back for `claim` (`found`): what the client
    /// missed is what the cluster read, then what this server's log holds after that;
    /// `resume` as in [`restore`](Self::restore).
    pub(crate) fn restore_from_cluster<R>(
        &self,
        nsp: &str,
        claim: &Claim,
        found: ClusterRestore,
        resume: impl FnOnce(KeptSession, Vec<OutMessage>, SocketRecovery) -> R,
    ) -> Result<R, Refusal> {
        let mut state = lock(&self.state);
        let (session, missed) = match self.cluster_gap(&mut state, nsp, claim, found) {
            Ok(found) => found,
            Err(refusal) => {
                state.stats.count(refusal);
                return Err(refusal);
            }
        };
        let recovery = SocketRecovery::new(self.next_pid(claim), session.progress.clone());
        state.live.insert(recovery.pid.clone(), session.sid.clone());
        state.stats.recovered += 1;
        Ok(resume(session, missed, recovery))
    }

    /// The session the cluster gave back, and every message its client missed.
    fn cluster_gap(
        &self,
        state: &mut State,
        nsp: &str,
        claim: &Claim,
        found: ClusterRestore,
    ) -> Result<(KeptSession, Vec<OutMessage>), Refusal> {
        let offsets = self.offsets();
        let session = found.session;
        let from = claim.offset().or(session.left_at.as_deref());
        let from = from
            .and_then(|o| offsets.parse(o))
            .ok_or(Refusal::Malformed)?;
        let read_up_to = match found.read_up_to.as_deref() {
            Some(offset) => offsets.parse(offset).ok_or(Refusal::Malformed)?,
            None => from,
        };
        let rooms: Vec<_> = session.rooms.iter().map(|r| r.as_str().into()).collect();
        state.log.trim(Instant::now());
        if state.log.lost_after(from, &rooms) {
            return Err(Refusal::Trimmed);
        }
        let mut missed = Vec::new();
        for event in found.missed {
            let packet = Packet::event(nsp, event.data, event.attachments, None);
            let plain = self.parser.to_messages(&packet);
            let stamped = self.parser.with_offset(&packet, &plain, &event.offset);
            missed.extend(stamped.iter().map(OutMessage::resent));
        }
        let mut last = read_up_to.max(from);
        // What this server read after the cluster's answer was made.
        if state.log.last_seq() > last {
            if !state.log.holds_after(last) {
                return Err(Refusal::Trimmed);
            }
            for entry in state.log.missed(last, &rooms) {
                last = last.max(entry.seq);
                missed.extend(entry.messages.iter().map(OutMessage::resent));
            }
        }
        let progress = Progress {
            joined_at_seq: from,
            last_sent_seq: last.max(read_up_to),
            unstored: None,
        };
        let kept = KeptSession {
            sid: session.sid.into(),
            rooms,
            data: session.data,
            progress,
            left_at_seq: last,
        };
        Ok((kept, missed))
    }

    /// The `pid` a recovered socket gets: a new one unless `rotate_pid` is off.
    fn next_pid(&self, claim: &Claim) -> Arc<str> {
        if self.config.rotate_pid {
            rally_engine::generate_id().into()
        } else {
            Arc::from(claim.pid.as_str())
        }
    }

    /// The session a claim names and the place after which its client missed events.
    fn reclaim(&self, state: &mut State, claim: &Claim) -> Result<(KeptSession, u64), Refusal> {
        let now = Instant::now();
        state.log.trim(now);
        let session = state
            .sessions
            .take(&claim.pid, now)
            .ok_or(Refusal::Unknown)?;
        let progress = &session.progress;
        let received = match claim.offset.as_deref() {
            None => progress.joined_at_seq,
            Some(text) => match (self.offsets().parse(text), &progress.unstored) {
                (Some(seq), _) => seq,
                (None, Some(seen)) if *seen.text == *text => {
                    if seen.ambiguous {
                        return Err(Refusal::Ambiguous);
                    }
                    seen.after_seq
                }
                (None, _) => return Err(Refusal::Malformed),
            },
        };
        if received > progress.last_sent_seq {
            return Err(Refusal::Malformed);
        }
        // A client that saw the last event it was sent missed only what came after it
        // left, however old that last event is.
        let after = if received == progress.last_sent_seq {
            session.left_at_seq
        } else {
            received
        };
        if !state.log.holds_after(after) {
            return Err(Refusal::Trimmed);
        }
        Ok((session, after))
    }

    /// How often `sweep` should run: often enough that nothing outlives the window by much.
    pub(crate) fn sweep_every(&self) -> std::time::Duration {
        (self.config.max_disconnection_duration / 4).clamp(
            std::time::Duration::from_secs(1),
            std::time::Duration::from_secs(30),
        )
    }

    /// Forgets the sessions and events whose window passed, when nothing else comes along
    /// to do it; with no socket left that could come back, the whole log goes.
    pub(crate) fn sweep(&self) {
        let mut state = lock(&self.state);
        let now = Instant::now();
        state.sessions.expire(now);
        state.log.trim(now);
        if state.live.is_empty() && state.sessions.is_empty() {
            state.log.clear();
        }
    }

    pub(crate) fn stats(&self) -> RecoveryStats {
        let state = lock(&self.state);
        RecoveryStats {
            kept_sessions: state.sessions.len(),
            stored_packets: state.log.len(),
            stored_bytes: state.log.bytes(),
            ..state.stats
        }
    }
}

/// The last argument of an EVENT when it is a string: the official client takes it for
/// an offset, stored event or not.
/// Whether recovery keeps `packet` for clients that may come back: an EVENT that waits
/// for no ack and is not volatile (socket.io's rule).
pub(crate) fn stores(packet: &Packet, volatile: bool) -> bool {
    packet.id.is_none() && !volatile
}

fn last_string_argument(packet: &Packet) -> Option<Arc<str>> {
    match packet.data.as_ref()?.as_array()?.last()? {
        Value::String(text) => Some(text.as_str().into()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_claim_is_taken_out_of_the_auth() {
        let mut auth = json!({"pid": "p", "offset": "o", "token": 1});
        let claim = Claim::take(&mut auth).unwrap().unwrap();
        assert_eq!(claim.pid, "p");
        assert_eq!(claim.offset.as_deref(), Some("o"));
        assert_eq!(auth, json!({"token": 1}));

        let mut no_offset = json!({"pid": "p"});
        let claim = Claim::take(&mut no_offset).unwrap().unwrap();
        assert_eq!(claim.offset, None);

        let mut none = json!({"token": 1});
        assert_eq!(Claim::take(&mut none), Ok(None));
        assert_eq!(Claim::take(&mut Value::Null), Ok(None));

        for mut bad in [json!({"pid": 3}), json!({"pid": "p", "offset": 4})] {
            assert_eq!(Claim::take(&mut bad), Err(Refusal::Malformed));
            assert!(bad.get("pid").is_none(), "never kept in the handshake");
        }
    }

    #[test]
    fn the_last_string_argument_is_found() {
        let event = |data| Packet::event("/", data, vec![], None);
        assert_eq!(
            last_string_argument(&event(json!(["e", 1, "x"]))).as_deref(),
            Some("x")
        );
        assert_eq!(last_string_argument(&event(json!(["e", 1]))), None);
    }
}
