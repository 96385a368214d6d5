//! What this node delivered while Redis was away: stored broadcasts that went to its own
//! clients but not into the stream, so that a recovery on another server, reading the
//! stream, cannot know its client missed them. Once Redis is back, one entry per target
//! (`StreamMessage::Unplaced`, Rally's own type, which Node's adapter skips) marks the
//! place, before anything else this node appends; every Rally server then refuses to
//! replay past it for the sockets it names (a fresh session instead of a replay with
//! holes).

use crate::node::Ns;
use crate::transport::FailHook;
use crate::wire::StreamMessage;
use parking_lot::Mutex;
use rally::BroadcastOptions;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Distinct targets kept at most; past it one mark for every socket replaces them.
const MAX_TARGETS: usize = 64;
/// How often a node waiting for Redis looks whether it is back.
const POLL: Duration = Duration::from_millis(100);

pub(super) struct Unplaced {
    ns: Arc<Ns>,
    /// The targets not yet told to the cluster (rooms and except only).
    targets: Mutex<Vec<BroadcastOptions>>,
    /// Whether a task waits for Redis to tell them.
    waiting: AtomicBool,
}

impl Unplaced {
    pub fn new(ns: Arc<Ns>) -> Self {
        Unplaced {
            ns,
            targets: Mutex::default(),
            waiting: AtomicBool::new(false),
        }
    }

    /// The failure hook of a stored broadcast to `opts`: delivers it here at once
    /// (`deliver_here`), and notes that the stream does not hold it.
    pub fn on_fail(self: &Arc<Self>, opts: &BroadcastOptions, deliver_here: FailHook) -> FailHook {
        let unplaced = self.clone();
        let target = BroadcastOptions {
            rooms: opts.rooms.clone(),
            except: opts.except.clone(),
            ..BroadcastOptions::default()
        };
        Box::new(move |why: &str| {
            deliver_here(why);
            unplaced.note(target);
        })
    }

    fn note(self: &Arc<Self>, target: BroadcastOptions) {
        {
            let mut targets = self.targets.lock();
            let everyone = BroadcastOptions::default();
            if !targets.contains(&target) && !targets.contains(&everyone) {
                if targets.len() >= MAX_TARGETS {
                    targets.clear();
                    targets.push(everyone);
                } else {
                    targets.push(target);
                }
            }
        }
        if !self.waiting.swap(true, Ordering::AcqRel) {
            let unplaced = self.clone();
            self.ns.transport().spawn(async move {
                while !unplaced.ns.transport().available() {
                    tokio::time::sleep(POLL).await;
                }
                unplaced.waiting.store(false, Ordering::Release);
                unplaced.tell();
            });
        }
    }

    /// Appends the marks not told yet, when Redis is there to take them; one that fails
    /// is noted again.
    pub fn tell(self: &Arc<Self>) {
        if !self.ns.transport().available() {
            return;
        }
        let targets = std::mem::take(&mut *self.targets.lock());
        for opts in targets {
            let again = self.clone();
            let target = opts.clone();
            let on_fail: FailHook = Box::new(move |_| again.note(target));
            let message = StreamMessage::Unplaced { opts };
            super::append(&self.ns, &message, Some(on_fail));
        }
    }
}
