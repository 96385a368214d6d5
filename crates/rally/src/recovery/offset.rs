//! Offsets: the string a stored event carries as its last argument, which the
//! client sends back when it reconnects to say what it received last.
//!
//! On one server, an offset is the event's place in its namespace's log, in base 36,
//! after a tag drawn when the process starts: an offset from another process (before a
//! restart) or a string that is not ours (a volatile event's last argument, which the
//! official client takes for an offset too) does not parse, so it can never be
//! mistaken for a place in this log.
//!
//! On a cluster whose adapter places events (a Redis stream), the offset is the event's
//! id in the stream, `<ms>-<seq>`, the same on every server, and the place is that id
//! packed into a `u64` in the same order: `ms` in the high 42 bits, `seq` in the next 16,
//! and 6 low bits left for the places a server adds between two stream entries (an
//! event it could not have placed), which never become offsets. Pure: no clock, no lock.

/// Formats and parses one namespace log's offsets.
#[derive(Clone, Debug)]
pub(crate) enum Offsets {
    /// This server's own places.
    Local { tag: String },
    /// The ids of the cluster's stream.
    Stream,
}

/// Bits of a stream place below `seq`: room for places between two entries.
pub(crate) const SUB_BITS: u32 = 6;
const SEQ_BITS: u32 = 16;
const MS_BITS: u32 = 64 - SEQ_BITS - SUB_BITS;

const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";

impl Offsets {
    /// `tag` must hold no '.' and nothing JSON escapes (the engine's ids qualify).
    pub(crate) fn new(tag: &str) -> Self {
        Offsets::Local {
            tag: tag.to_owned(),
        }
    }

    /// The offset of the event at `seq`.
    pub(crate) fn format(&self, seq: u64) -> String {
        match self {
            Offsets::Local { tag } => format_local(tag, seq),
            Offsets::Stream => {
                let ms = seq >> (SEQ_BITS + SUB_BITS);
                let n = (seq >> SUB_BITS) & ((1 << SEQ_BITS) - 1);
                format!("{ms}-{n}")
            }
        }
    }

    /// The place an offset of this log names; `None` for any other string.
    pub(crate) fn parse(&self, offset: &str) -> Option<u64> {
        match self {
            Offsets::Local { tag } => parse_local(tag, offset),
            Offsets::Stream => stream_place(offset),
        }
    }
}

/// The place of a stream id `<ms>-<seq>`; `None` for anything else, or an id outside what
/// a place holds (a clock past the year 141 000, 65 536 entries in one millisecond).
pub(crate) fn stream_place(id: &str) -> Option<u64> {
    let (ms, n) = id.split_once('-')?;
    let digits = |s: &str| !s.is_empty() && s.len() <= 20 && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(ms) || !digits(n) {
        return None;
    }
    let (ms, n): (u64, u64) = (ms.parse().ok()?, n.parse().ok()?);
    if ms >= 1 << MS_BITS || n >= 1 << SEQ_BITS {
        return None;
    }
    Some((ms << (SEQ_BITS + SUB_BITS)) | (n << SUB_BITS))
}

fn format_local(tag: &str, seq: u64) -> String {
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
    let mut out = String::with_capacity(tag.len() + 1 + digits.len() - at);
    out.push_str(tag);
    out.push('.');
    out.extend(digits[at..].iter().map(|&d| d as char));
    out
}

fn parse_local(tag: &str, offset: &str) -> Option<u64> {
    let digits = offset.strip_prefix(tag)?.strip_prefix('.')?;
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

    #[test]
    fn stream_ids_are_places_in_stream_order() {
        let offsets = Offsets::Stream;
        let ids = [
            "0-0",
            "0-1",
            "1-0",
            "1733000000000-0",
            "1733000000000-65535",
            "1733000000001-0",
        ];
        let places: Vec<u64> = ids.iter().map(|id| offsets.parse(id).unwrap()).collect();
        assert!(places.windows(2).all(|w| w[0] < w[1]), "{places:?}");
        for (id, place) in ids.iter().zip(&places) {
            assert_eq!(offsets.format(*place), *id);
            // The places a server adds between entries sort after the entry and format as it.
            assert_eq!(offsets.format(place + 1), *id);
        }
        for bad in [
            "",
            "1",
            "1-",
            "-1",
            "a-1",
            "1-1-1",
            "1-65536",
            "1 -2",
            "+1-2",
            &"9".repeat(30),
        ] {
            assert_eq!(offsets.parse(bad), None, "{bad:?}");
        }
    }
}
