//! Hashing for maps keyed by socket ids: the broadcast hot path looks one up per recipient.
//!
//! Socket ids come from a CSPRNG (`rally_engine::generate_id`), so their bytes are
//! already uniformly spread and clients cannot choose them: a multiply-and-rotate fold
//! is enough, and SipHash's defence against chosen keys would buy nothing. (Looking up
//! a client-chosen string in such a map is harmless: long collision chains need colliding
//! keys stored in the map, and only random ids are.)

use std::hash::{BuildHasherDefault, Hasher};

#[derive(Clone, Copy, Default)]
pub struct IdHasher(u64);

impl Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(word))
                .wrapping_mul(0x517c_c1b7_2722_0a95);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// The `BuildHasher` for maps keyed by socket ids.
pub type IdHash = BuildHasherDefault<IdHasher>;

#[cfg(test)]
mod tests {
    use super::IdHash;
    use std::hash::BuildHasher;

    #[test]
    fn different_ids_hash_apart_and_equal_ids_alike() {
        let h = IdHash::default();
        let a = h.hash_one("3q2Xk9vT0bYw1LmN8pQr");
        assert_eq!(a, h.hash_one("3q2Xk9vT0bYw1LmN8pQr"));
        assert_ne!(a, h.hash_one("3q2Xk9vT0bYw1LmN8pQs"));
        assert_ne!(h.hash_one("ab"), h.hash_one("ba"));
    }
}
