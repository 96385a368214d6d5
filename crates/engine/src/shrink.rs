//! Giving back the room a collection grew for a burst.
//!
//! A hash map keeps its capacity when its entries go. After a flood of tens of
//! thousands of sessions, the engine's registry, a namespace's sockets and the
//! rooms of the memory adapter (and recovery's packet log and kept sessions, as
//! queues) would each keep room for the flood (megabytes)
//! for as long as the process lives. A map that has fallen to a quarter of its
//! capacity shrinks to twice its size instead: the rehash of what is left is
//! paid for by the removals that came before it, and a map that grows and
//! shrinks around one size never rehashes at every step.

use std::collections::{HashMap, HashSet, VecDeque};
use std::hash::{BuildHasher, Hash};

/// Capacity a map may keep however empty it gets: small maps are not worth a rehash.
const KEPT: usize = 128;

/// Called after removing entries: gives back most of the room of a map far
/// larger than its contents.
pub trait ShrinkAfterBurst {
    /// Shrinks the capacity to twice the length once the length has fallen
    /// below a quarter of it; a capacity of 128 or less is left alone.
    fn shrink_after_burst(&mut self);
}

impl<K: Eq + Hash, V, S: BuildHasher> ShrinkAfterBurst for HashMap<K, V, S> {
    fn shrink_after_burst(&mut self) {
        if self.capacity() > KEPT && self.len() < self.capacity() / 4 {
            self.shrink_to(self.len() * 2);
        }
    }
}

impl<T: Eq + Hash, S: BuildHasher> ShrinkAfterBurst for HashSet<T, S> {
    fn shrink_after_burst(&mut self) {
        if self.capacity() > KEPT && self.len() < self.capacity() / 4 {
            self.shrink_to(self.len() * 2);
        }
    }
}

impl<T> ShrinkAfterBurst for VecDeque<T> {
    fn shrink_after_burst(&mut self) {
        if self.capacity() > KEPT && self.len() < self.capacity() / 4 {
            self.shrink_to(self.len() * 2);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_map_emptied_after_a_burst_gives_its_room_back() {
        let mut map: HashMap<u32, u32> = (0..40_000).map(|i| (i, i)).collect();
        let burst = map.capacity();
        for i in 0..39_990 {
            map.remove(&i);
            map.shrink_after_burst();
        }
        assert_eq!(map.len(), 10);
        assert!(map.capacity() <= KEPT, "{} of {burst} kept", map.capacity());
        // What is left is all still there.
        assert!((39_990..40_000).all(|i| map.get(&i) == Some(&i)));
    }

    #[test]
    fn a_map_in_use_keeps_its_room() {
        let mut set: HashSet<u32> = (0..1000).collect();
        for i in 0..500 {
            set.remove(&i);
            set.shrink_after_burst();
        }
        // Half gone: it can take them all back without growing.
        assert!(set.capacity() >= 1000, "{}", set.capacity());
    }
}
