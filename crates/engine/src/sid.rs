//! Session ids: unguessable, URL-safe, fixed length.
//!
//! The sid is the only credential of a polling session (whoever knows it can
//! read the session's messages), so it comes from a CSPRNG. 15 random bytes
//! (120 bits) encode to exactly 20 base64url characters with no padding,
//! which needs no percent-encoding in the query string.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rand::RngCore;

const SID_BYTES: usize = 15;

/// 20 base64url characters carrying 120 bits from a CSPRNG.
pub fn generate() -> String {
    let mut raw = [0u8; SID_BYTES];
    rand::thread_rng().fill_bytes(&mut raw);
    URL_SAFE_NO_PAD.encode(raw)
}

#[cfg(test)]
mod tests {
    #[test]
    fn ids_are_url_safe_and_distinct() {
        let a = super::generate();
        let b = super::generate();
        assert_eq!(a.len(), 20);
        assert_ne!(a, b);
        assert!(a
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
    }
}
