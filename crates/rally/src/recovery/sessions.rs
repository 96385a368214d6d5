//! Kept sessions: what a dropped socket leaves behind for its client to reclaim.
//!
//! Keyed by the private id (`pid`) the client was given, each kept until its window
//! passes or it is reclaimed, once: a reclaimed session is gone, and the socket that
//! takes it over gets a new `pid`. Expiry is checked in arrival order, so a burst of
//! drops costs one queue entry each and no timer.

use crate::adapter::{Room, SocketId};
use rally_engine::ShrinkAfterBurst;
use serde_json::Value;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A dropped socket's session. Places (`*_seq`) are in the namespace's packet log.
#[derive(Clone, Debug)]
pub(crate) struct KeptSession {
    pub(crate) sid: SocketId,
    pub(crate) rooms: Vec<Room>,
    pub(crate) data: Value,
    pub(crate) progress: Progress,
    /// The log's last place when the socket left: later events are what it missed.
    pub(crate) left_at_seq: u64,
}

/// What a socket was sent, as places in the log; carried from one incarnation of a
/// socket to the next, so a client that recovers twice is judged on its whole history.
#[derive(Clone, Debug, Default)]
pub(crate) struct Progress {
    /// The log's last place when the client's first socket joined: with no offset, the
    /// client received nothing stored after it.
    pub(crate) joined_at_seq: u64,
    /// The last stored event sent to the socket.
    pub(crate) last_sent_seq: u64,
    /// The last event sent without being stored whose last argument is a string, which
    /// the official client takes for an offset: that string, and the last stored place
    /// sent before it. `ambiguous` when the same string came again after another stored
    /// event, so that it no longer names one place.
    pub(crate) unstored: Option<Unstored>,
}

#[derive(Clone, Debug)]
pub(crate) struct Unstored {
    pub(crate) text: Arc<str>,
    pub(crate) after_seq: u64,
    pub(crate) ambiguous: bool,
}

impl Unstored {
    /// Notes, in `slot`, an unstored event whose last argument is `text`, sent when the
    /// last stored event sent was at `last_sent_seq`.
    pub(crate) fn note(slot: &mut Option<Unstored>, text: &Arc<str>, last_sent_seq: u64) {
        match slot {
            Some(seen) if *seen.text == **text => {
                seen.ambiguous |= seen.after_seq != last_sent_seq;
            }
            _ => {
                *slot = Some(Unstored {
                    text: text.clone(),
                    after_seq: last_sent_seq,
                    ambiguous: false,
                })
            }
        }
    }
}

/// A session, until when it is kept, and the other `pid` that names it, if any.
struct Kept {
    session: KeptSession,
    until: Instant,
    alias: Option<Arc<str>>,
}

pub(crate) struct Sessions {
    by_pid: HashMap<Arc<str>, Kept>,
    /// A second `pid` for a session: the one its client may still hold when the answer
    /// that gave it the newer one was lost (see `SocketRecovery::superseded`).
    aliases: HashMap<Arc<str>, Arc<str>>,
    expiry: VecDeque<(Instant, Arc<str>)>,
    window: Duration,
}

impl Sessions {
    pub(crate) fn new(window: Duration) -> Self {
        Sessions {
            by_pid: HashMap::new(),
            aliases: HashMap::new(),
            expiry: VecDeque::new(),
            window,
        }
    }

    /// Keeps `session` under `pid`, and under `alias` too when there is one; whichever
    /// is claimed first takes it, and the other is gone with it.
    pub(crate) fn keep(
        &mut self,
        pid: Arc<str>,
        alias: Option<Arc<str>>,
        session: KeptSession,
        now: Instant,
    ) {
        self.expire(now);
        let until = now + self.window;
        self.expiry.push_back((until, pid.clone()));
        if let Some(alias) = &alias {
            self.aliases.insert(alias.clone(), pid.clone());
        }
        self.by_pid.insert(
            pid,
            Kept {
                session,
                until,
                alias,
            },
        );
    }

    /// Takes the session `pid` names, if it is still within its window.
    pub(crate) fn take(&mut self, pid: &str, now: Instant) -> Option<KeptSession> {
        self.expire(now);
        let primary = self.aliases.remove(pid);
        let key = primary.as_deref().unwrap_or(pid);
        let kept = self.by_pid.remove(key)?;
        if let Some(alias) = kept.alias {
            self.aliases.remove(&alias);
        }
        Some(kept.session)
    }

    /// Forgets sessions whose window has passed.
    pub(crate) fn expire(&mut self, now: Instant) {
        while let Some((until, _)) = self.expiry.front() {
            if *until > now {
                break;
            }
            let (until, pid) = self.expiry.pop_front().expect("front exists");
            // A pid is kept once, so its entry is this one unless it was taken already.
            if self
                .by_pid
                .get(&pid)
                .is_some_and(|kept| kept.until == until)
            {
                if let Some(alias) = self.by_pid.remove(&pid).and_then(|kept| kept.alias) {
                    self.aliases.remove(&alias);
                }
            }
        }
        self.by_pid.shrink_after_burst();
        self.aliases.shrink_after_burst();
        self.expiry.shrink_after_burst();
    }

    pub(crate) fn len(&self) -> usize {
        self.by_pid.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.by_pid.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(sid: &str) -> KeptSession {
        KeptSession {
            sid: sid.into(),
            rooms: vec![sid.into()],
            data: Value::Null,
            progress: Progress::default(),
            left_at_seq: 0,
        }
    }

    #[test]
    fn a_session_is_taken_once_within_its_window() {
        let now = Instant::now();
        let mut sessions = Sessions::new(Duration::from_secs(10));
        sessions.keep("p1".into(), None, session("a"), now);
        assert!(sessions.take("p2", now).is_none());
        let taken = sessions.take("p1", now + Duration::from_secs(9)).unwrap();
        assert_eq!(&*taken.sid, "a");
        assert!(sessions.take("p1", now).is_none(), "single use");
    }

    #[test]
    fn a_session_expires_after_its_window() {
        let now = Instant::now();
        let mut sessions = Sessions::new(Duration::from_secs(10));
        sessions.keep("p1".into(), None, session("a"), now);
        sessions.keep(
            "p2".into(),
            None,
            session("b"),
            now + Duration::from_secs(5),
        );
        assert!(sessions.take("p1", now + Duration::from_secs(10)).is_none());
        assert_eq!(sessions.len(), 1);
        assert!(sessions.take("p2", now + Duration::from_secs(14)).is_some());
        assert!(sessions.is_empty());
    }

    #[test]
    fn either_pid_takes_a_session_kept_under_two_and_the_other_is_gone_with_it() {
        let now = Instant::now();
        let mut sessions = Sessions::new(Duration::from_secs(10));
        sessions.keep("new".into(), Some("old".into()), session("a"), now);
        sessions.keep("n2".into(), Some("o2".into()), session("b"), now);
        assert_eq!(&*sessions.take("old", now).unwrap().sid, "a");
        assert!(sessions.take("new", now).is_none());
        assert_eq!(&*sessions.take("n2", now).unwrap().sid, "b");
        assert!(sessions.take("o2", now).is_none());
        sessions.keep("n3".into(), Some("o3".into()), session("c"), now);
        assert!(sessions.take("o3", now + Duration::from_secs(10)).is_none());
        assert!(sessions.is_empty() && sessions.aliases.is_empty());
    }

    #[test]
    fn an_unstored_string_seen_again_after_a_stored_event_is_ambiguous() {
        let mut slot = None;
        let text: Arc<str> = "typing".into();
        Unstored::note(&mut slot, &text, 0);
        Unstored::note(&mut slot, &text, 0);
        assert!(!slot.as_ref().unwrap().ambiguous);
        Unstored::note(&mut slot, &text, 4);
        assert!(slot.as_ref().unwrap().ambiguous);
        Unstored::note(&mut slot, &"other".into(), 4);
        let seen = slot.as_ref().unwrap();
        assert_eq!(
            (&*seen.text, seen.after_seq, seen.ambiguous),
            ("other", 4, false)
        );
    }
}
