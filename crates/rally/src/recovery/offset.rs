//! Offsets: the string a stored event carries as its last argument, which the
//! client sends back when it reconnects to say what it received last.
//!
//! An offset is the event's place in its namespace's log, in base 36, after a tag
//! drawn when the process starts: an offset from another process (before a restart)
//! or a string that is not ours (a volatile event's last argument, which the
//! official client takes for an offset too) does not parse, so it can never be
//! mistaken for a place in this log. Pure: no clock, no lock.

/// Formats and parses one namespace log's offsets.
#[derive(Clone, Debug)]
pub(crate) struct Offsets {
    tag: String,
}

const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";

impl Offsets {
    /// `tag` must hold no '.' and nothing JSON escapes (the engine's ids qualify).
    pub(crate) fn new(tag: &str) -> Self {
        Offsets {
            tag: tag.to_owned(),
        }
    }

    /// The offset of the event at `seq`.
    pub(crate) fn format(&self, seq: u64) -> String {
        let mut digits = [0u8; 13];
        let mut at = digits.len();
        let mut rest = seq;
        loop {
            at -= 1;
            digits[at] = DIGITS[(rest % 36) as usize];
            rest /= 36;
            if rest == 0 {
                break;
            }
        }
        let mut out = String::with_capacity(self.tag.len() + 1 + digits.len() - at);
        out.push_str(&self.tag);
        out.push('.');
        out.extend(digits[at..].iter().map(|&d| d as char));
        out
    }

    /// The place an offset of this log names; `None` for any other string.
    pub(crate) fn parse(&self, offset: &str) -> Option<u64> {
        let digits = offset.strip_prefix(self.tag.as_str())?.strip_prefix('.')?;
        if digits.is_empty() || digits.len() > 13 {
            return None;
        }
        digits.bytes().try_fold(0u64, |seq, d| {
            let value = match d {
                b'0'..=b'9' => d - b'0',
                b'a'..=b'z' => d - b'a' + 10,
                _ => return None,
            };
            seq.checked_mul(36)?.checked_add(u64::from(value))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_offset_parses_back_to_its_place() {
        let offsets = Offsets::new("Ab3_x-");
        for seq in [0, 1, 35, 36, 1_000_000, u64::MAX] {
            let text = offsets.format(seq);
            assert_eq!(offsets.parse(&text), Some(seq), "{text}");
        }
        assert_eq!(offsets.format(36), "Ab3_x-.10");
    }

    #[test]
    fn strings_that_are_not_this_logs_offsets_do_not_parse() {
        let offsets = Offsets::new("tag");
        let other = Offsets::new("gat");
        for text in [
            "",
            "tag",
            "tag.",
            "tag.A",
            "tag.-1",
            "tag.1.2",
            "hello",
            "42",
            &other.format(7),
            "tag.zzzzzzzzzzzzzz",
        ] {
            assert_eq!(offsets.parse(text), None, "{text:?}");
        }
    }
}
