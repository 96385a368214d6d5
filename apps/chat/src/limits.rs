//! The chat's rules and limits, kept free of I/O so they are easy to test: room names,
//! display names and the per-socket rate limit.

use std::time::{Duration, Instant};

/// Longest room name, in characters.
pub const MAX_ROOM_CHARS: usize = 64;
/// Longest display name, in characters.
pub const MAX_NAME_CHARS: usize = 32;

/// Checks a room name: 1 to 64 characters, no control characters, no leading or
/// trailing white space. (That a room must not be named like a socket id is checked
/// against the live sockets, in `chat`.)
pub fn validate_room(room: &str) -> Result<(), String> {
    if room.is_empty() {
        return Err("a room name cannot be empty".into());
    }
    if room.chars().count() > MAX_ROOM_CHARS {
        return Err(format!(
            "a room name has at most {MAX_ROOM_CHARS} characters"
        ));
    }
    if room.chars().any(char::is_control) {
        return Err("a room name cannot contain control characters".into());
    }
    if room.trim() != room {
        return Err("a room name cannot start or end with white space".into());
    }
    Ok(())
}

/// Checks and normalizes a display name: trimmed, 1 to 32 characters, no control
/// characters.
pub fn validate_name(name: &str) -> Result<String, String> {
    let name = name.trim();
    if name.is_empty() {
        return Err("a name cannot be empty".into());
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(format!("a name has at most {MAX_NAME_CHARS} characters"));
    }
    if name.chars().any(char::is_control) {
        return Err("a name cannot contain control characters".into());
    }
    if crate::guests::is_guest_name(name) {
        return Err("names like guest-123 are given by the server: choose another".into());
    }
    Ok(name.to_owned())
}

/// A token bucket: `burst` tokens at most, refilled at `per_second`; each event takes one.
#[derive(Debug)]
pub struct TokenBucket {
    capacity: f64,
    per_second: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    pub fn new(burst: u32, per_second: f64) -> Self {
        TokenBucket {
            capacity: f64::from(burst),
            per_second: per_second.max(0.0),
            tokens: f64::from(burst),
            last: Instant::now(),
        }
    }

    /// Takes one token if there is one.
    pub fn try_take(&mut self) -> bool {
        self.try_take_at(Instant::now())
    }

    pub fn try_take_at(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.per_second).min(self.capacity);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// Tells a flooding client about dropped events without flooding it back: the first
/// drop is reported at once, later ones at most once per `every`, with a count.
#[derive(Debug, Default)]
pub struct DropReporter {
    last_report: Option<Instant>,
    unreported: u64,
}

impl DropReporter {
    /// Records one drop; returns how many drops to report now, if it is time to.
    pub fn dropped(&mut self, now: Instant, every: Duration) -> Option<u64> {
        self.unreported += 1;
        let due = self
            .last_report
            .is_none_or(|last| now.saturating_duration_since(last) >= every);
        if due {
            self.last_report = Some(now);
            Some(std::mem::take(&mut self.unreported))
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_names() {
        assert!(validate_room("general").is_ok());
        assert!(validate_room("café ☕ talk").is_ok());
        assert!(validate_room(&"é".repeat(64)).is_ok());
        assert!(validate_room(&"é".repeat(65)).is_err());
        assert!(validate_room("").is_err());
        assert!(validate_room(" padded").is_err());
        assert!(validate_room("padded ").is_err());
        assert!(validate_room("bell\u{7}").is_err());
        assert!(validate_room("new\nline").is_err());
    }

    #[test]
    fn display_names() {
        assert_eq!(validate_name("  Ada  ").unwrap(), "Ada");
        assert!(validate_name("   ").is_err());
        assert!(validate_name(&"x".repeat(33)).is_err());
        assert!(validate_name("tab\there").is_err());
        assert!(validate_name("guest-12").is_err());
        assert!(validate_name("guest-ann").is_ok());
    }

    #[test]
    fn bucket_allows_a_burst_then_refills() {
        let mut bucket = TokenBucket::new(3, 2.0);
        let t0 = Instant::now();
        assert!(bucket.try_take_at(t0));
        assert!(bucket.try_take_at(t0));
        assert!(bucket.try_take_at(t0));
        assert!(!bucket.try_take_at(t0));
        // half a second at 2 per second: one more token
        assert!(bucket.try_take_at(t0 + Duration::from_millis(500)));
        assert!(!bucket.try_take_at(t0 + Duration::from_millis(500)));
        // never more than the burst
        let later = t0 + Duration::from_secs(60);
        for _ in 0..3 {
            assert!(bucket.try_take_at(later));
        }
        assert!(!bucket.try_take_at(later));
    }

    #[test]
    fn bucket_of_a_thousand() {
        let mut bucket = TokenBucket::new(1000, 0.0);
        let t0 = Instant::now();
        assert!((0..1000).all(|_| bucket.try_take_at(t0)));
        assert!(!bucket.try_take_at(t0));
    }

    #[test]
    fn drops_are_reported_sparingly() {
        let mut r = DropReporter::default();
        let t0 = Instant::now();
        let every = Duration::from_secs(1);
        assert_eq!(r.dropped(t0, every), Some(1));
        assert_eq!(r.dropped(t0, every), None);
        assert_eq!(r.dropped(t0 + Duration::from_millis(10), every), None);
        assert_eq!(r.dropped(t0 + Duration::from_secs(1), every), Some(3));
    }
}
