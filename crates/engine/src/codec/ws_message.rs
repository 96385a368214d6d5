//! Client frames assembled into messages (RFC 6455, sections 5.4 to 5.7).
//!
//! Pure, like the packet parsers: given the bytes read so far, it says how
//! many more a frame needs, or takes one whole frame and tells what it means.
//! A message in a single frame, which is nearly every Engine.IO packet, is
//! unmasked where it was read and handed on borrowed; only a fragmented one is
//! gathered into a buffer of its own.
//!
//! A message is refused as soon as a frame header announces more than the
//! limit, before its payload arrives, and a text message as soon as its bytes
//! so far cannot begin valid UTF-8 (RFC 6455 8.1 says to fail fast): across
//! fragments, and within a frame that arrives in pieces, whose payload is
//! then unmasked and checked in place as it comes. A frame that arrives whole
//! is checked once, as it always was.

use std::fmt;

use super::ws_frame::{
    parse_header, unmask, FrameError, Header, Opcode, INVALID_PAYLOAD, MESSAGE_TOO_BIG,
    PROTOCOL_ERROR,
};

/// What one frame means for the connection.
#[derive(Debug, PartialEq, Eq)]
pub enum Incoming<'a> {
    /// A whole text message, its fragments joined, checked as UTF-8.
    Text(&'a str),
    /// A whole binary message, its fragments joined.
    Binary(&'a [u8]),
    /// To be answered with a pong of the same payload.
    Ping(&'a [u8]),
    /// A pong, whose payload is dropped: the engine's heartbeat is Engine.IO's
    /// ping packet, not WebSocket pings.
    Pong,
    /// The peer's close frame, with its status code if it gave one.
    Close(Option<u16>),
}

/// What the next frame needs or gives.
#[derive(Debug, PartialEq, Eq)]
pub enum Step<'a> {
    /// The frame is not all there. The number is the whole frame's size when
    /// its header has arrived (so a reader can make room for it), else 0.
    NeedMore(usize),
    /// A frame of `consumed` bytes, and the message it completes, if any.
    Frame {
        /// Bytes the frame takes at the start of the buffer, to drop before
        /// the next step.
        consumed: usize,
        /// What the frame completes; `None` for a fragment that leaves its
        /// message unfinished.
        incoming: Option<Incoming<'a>>,
    },
}

/// Why the connection must close; each maps to a close code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadError {
    /// The client sent a frame header that breaks RFC 6455 (close code 1002).
    Frame(FrameError),
    /// A continuation with no message to continue, or a new message before
    /// the last one's final fragment.
    Fragmentation,
    /// A close frame with a one-byte payload or a status code no one may send.
    BadClose,
    /// The client sent a text message that is not UTF-8 (close code 1007).
    InvalidUtf8,
    /// The client announced a message over the assembler's size limit
    /// (close code 1009).
    TooBig,
}

impl ReadError {
    /// The status code of the close frame that answers it.
    pub fn close_code(self) -> u16 {
        match self {
            ReadError::InvalidUtf8 => INVALID_PAYLOAD,
            ReadError::TooBig => MESSAGE_TOO_BIG,
            _ => PROTOCOL_ERROR,
        }
    }
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::Frame(e) => e.fmt(f),
            ReadError::Fragmentation => f.write_str("fragments out of order"),
            ReadError::BadClose => f.write_str("invalid close frame"),
            ReadError::InvalidUtf8 => f.write_str("text is not UTF-8"),
            ReadError::TooBig => f.write_str("message over the size limit"),
        }
    }
}

impl std::error::Error for ReadError {}

/// Assembles one connection's messages.
///
/// After [`Step::NeedMore`], the next step must be given the same bytes, as
/// that step left them, followed by whatever arrived since: the payload of a
/// text frame that is not all there is unmasked in place as it arrives.
pub struct Assembler {
    max_message: usize,
    /// The message being gathered from fragments.
    fragments: Option<Fragments>,
    /// `fragments` was handed out complete by the last step: drop it on the next.
    handed_out: bool,
    /// Payload bytes of the frame at the start of the buffer already
    /// unmasked and checked: a text frame that arrives in pieces.
    unmasked: usize,
    /// The text message under way, checked up to the last byte seen.
    utf8: Utf8Check,
}

struct Fragments {
    text: bool,
    data: Vec<u8>,
}

impl Assembler {
    /// An assembler for a new connection that refuses any message over
    /// `max_message` bytes, all its fragments together.
    pub fn new(max_message: usize) -> Assembler {
        Assembler {
            max_message,
            fragments: None,
            handed_out: false,
            unmasked: 0,
            utf8: Utf8Check::default(),
        }
    }

    /// Looks at the frame at the start of `buf`, unmasking it in place once
    /// it is whole (a text frame as it arrives).
    pub fn step<'a>(&'a mut self, buf: &'a mut [u8]) -> Result<Step<'a>, ReadError> {
        if self.handed_out {
            self.handed_out = false;
            self.fragments = None;
        }
        let Some(header) = parse_header(buf).map_err(ReadError::Frame)? else {
            return Ok(Step::NeedMore(0));
        };
        let gathered = self.fragments.as_ref().map_or(0, |f| f.data.len());
        match (header.opcode, gathered) {
            (Opcode::Continuation, _) if self.fragments.is_none() => {
                return Err(ReadError::Fragmentation)
            }
            (Opcode::Text | Opcode::Binary, _) if self.fragments.is_some() => {
                return Err(ReadError::Fragmentation)
            }
            _ => {}
        }
        if header.payload_len > (self.max_message - gathered.min(self.max_message)) as u64 {
            return Err(ReadError::TooBig);
        }
        let consumed = header.len + header.payload_len as usize;
        let text = match header.opcode {
            Opcode::Text => true,
            Opcode::Continuation => self.fragments.as_ref().is_some_and(|f| f.text),
            _ => false,
        };
        if buf.len() < consumed {
            if text {
                self.check_arrived(&header, &mut buf[header.len..])?;
            }
            return Ok(Step::NeedMore(consumed));
        }
        let payload = &mut buf[header.len..consumed];
        // At most the whole payload, even for a caller that broke the contract.
        let fresh = std::mem::take(&mut self.unmasked).min(payload.len());
        unmask_from(&mut payload[fresh..], header.mask, fresh);
        let payload: &'a [u8] = payload;
        let incoming = match header.opcode {
            Opcode::Ping => Some(Incoming::Ping(payload)),
            Opcode::Pong => Some(Incoming::Pong),
            Opcode::Close => Some(Incoming::Close(close_code(payload)?)),
            // Checked whole even when its parts were checked as they came:
            // that check is what makes the bytes a `&str`.
            Opcode::Text if header.fin => {
                self.utf8 = Utf8Check::default();
                Some(Incoming::Text(utf8(payload)?))
            }
            Opcode::Binary if header.fin => Some(Incoming::Binary(payload)),
            Opcode::Text | Opcode::Binary => {
                if text {
                    self.utf8.feed(&payload[fresh..])?;
                }
                self.fragments = Some(Fragments {
                    text,
                    data: payload.to_vec(),
                });
                None
            }
            Opcode::Continuation => {
                if text {
                    self.utf8.feed(&payload[fresh..])?;
                }
                let fragments = self.fragments.as_mut().expect("checked above");
                fragments.data.extend_from_slice(payload);
                if header.fin {
                    self.handed_out = true;
                    self.utf8 = Utf8Check::default();
                    let Fragments { text, data } = self.fragments.as_ref().expect("just extended");
                    Some(if *text {
                        Incoming::Text(utf8(data)?)
                    } else {
                        Incoming::Binary(data)
                    })
                } else {
                    None
                }
            }
        };
        Ok(Step::Frame { consumed, incoming })
    }

    /// Unmasks and checks the part of a text frame's payload that arrived
    /// since the last step, so that text that cannot be UTF-8 is refused
    /// before the rest of its frame is waited for.
    fn check_arrived(&mut self, header: &Header, arrived: &mut [u8]) -> Result<(), ReadError> {
        let Some(new) = arrived.get_mut(self.unmasked..) else {
            // Fewer bytes than last time: the caller broke the contract above.
            return Ok(());
        };
        unmask_from(new, header.mask, self.unmasked);
        self.unmasked += new.len();
        self.utf8.feed(new)
    }
}

/// Undoes the masking of payload bytes that start `offset` bytes into the
/// payload.
fn unmask_from(data: &mut [u8], mask: [u8; 4], offset: usize) {
    let mut mask = mask;
    mask.rotate_left(offset % 4);
    unmask(data, mask);
}

fn utf8(data: &[u8]) -> Result<&str, ReadError> {
    std::str::from_utf8(data).map_err(|_| ReadError::InvalidUtf8)
}

/// UTF-8 checked piece by piece: it fails at the first piece after which the
/// bytes so far cannot be the start of valid UTF-8. Only the last character,
/// when a piece ends inside it, is kept between pieces.
#[derive(Default)]
struct Utf8Check {
    /// The start of a character that the last piece cut off.
    cut: [u8; 4],
    cut_len: usize,
}

impl Utf8Check {
    fn feed(&mut self, mut piece: &[u8]) -> Result<(), ReadError> {
        if self.cut_len > 0 {
            // The cut character first: its lead byte says how long it is.
            let width = match self.cut[0] {
                0xC0..=0xDF => 2,
                0xE0..=0xEF => 3,
                _ => 4,
            };
            let take = (width - self.cut_len).min(piece.len());
            self.cut[self.cut_len..self.cut_len + take].copy_from_slice(&piece[..take]);
            self.cut_len += take;
            piece = &piece[take..];
            match std::str::from_utf8(&self.cut[..self.cut_len]) {
                Ok(_) => self.cut_len = 0,
                Err(e) if e.error_len().is_none() => return Ok(()),
                Err(_) => return Err(ReadError::InvalidUtf8),
            }
        }
        match std::str::from_utf8(piece) {
            Ok(_) => Ok(()),
            // std says `None` only when the bytes so far begin a valid character.
            Err(e) if e.error_len().is_none() => {
                let cut = &piece[e.valid_up_to()..];
                self.cut[..cut.len()].copy_from_slice(cut);
                self.cut_len = cut.len();
                Ok(())
            }
            Err(_) => Err(ReadError::InvalidUtf8),
        }
    }
}

/// A close frame's status code, checked against those an endpoint may send.
fn close_code(payload: &[u8]) -> Result<Option<u16>, ReadError> {
    let [high, low, reason @ ..] = payload else {
        return if payload.is_empty() {
            Ok(None)
        } else {
            Err(ReadError::BadClose)
        };
    };
    utf8(reason)?;
    match u16::from_be_bytes([*high, *low]) {
        code @ (1000..=1003 | 1007..=1014 | 3000..=4999) => Ok(Some(code)),
        _ => Err(ReadError::BadClose),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::client_frame::client_frame;
    use proptest::prelude::*;

    const MASK: [u8; 4] = [0xA1, 0x00, 0x7F, 0x3C];

    /// Steps through `bytes`, as a reader would, and collects every message.
    fn messages(max: usize, mut bytes: Vec<u8>) -> Result<Vec<String>, ReadError> {
        let mut assembler = Assembler::new(max);
        let mut out = Vec::new();
        let mut at = 0;
        while at < bytes.len() {
            match assembler.step(&mut bytes[at..])? {
                Step::NeedMore(_) => panic!("frames are whole"),
                Step::Frame { consumed, incoming } => {
                    at += consumed;
                    if let Some(m) = incoming {
                        out.push(format!("{m:?}"));
                    }
                }
            }
        }
        Ok(out)
    }

    fn frames(list: &[(u8, &[u8])]) -> Vec<u8> {
        list.iter()
            .flat_map(|(first, payload)| client_frame(*first, payload, MASK))
            .collect()
    }

    /// Reads `bytes` in pieces of the sizes `reads` gives in turn, as a
    /// reader would, keeping an unfinished frame for the next read; hands
    /// every message on and stops at the first error. Returns the bytes left
    /// unread at the end.
    fn read_in_pieces(
        assembler: &mut Assembler,
        bytes: &[u8],
        reads: &[usize],
        mut on: impl FnMut(Incoming<'_>),
    ) -> Result<usize, ReadError> {
        let mut buffer = Vec::new();
        let mut at = 0;
        for read in reads.iter().cycle() {
            if at == bytes.len() {
                break;
            }
            let end = (at + read).min(bytes.len());
            buffer.extend_from_slice(&bytes[at..end]);
            at = end;
            while let Step::Frame { consumed, incoming } = assembler.step(&mut buffer)? {
                if let Some(message) = incoming {
                    on(message);
                }
                buffer.drain(..consumed);
            }
        }
        Ok(buffer.len())
    }

    #[test]
    fn single_frames_arrive_unmasked() {
        let bytes = frames(&[
            (0x81, b"4hello"),
            (0x82, &[1, 2, 3]),
            (0x89, b"hb"),
            (0x8A, b""),
        ]);
        assert_eq!(
            messages(100, bytes).unwrap(),
            [
                "Text(\"4hello\")",
                "Binary([1, 2, 3])",
                "Ping([104, 98])",
                "Pong"
            ]
        );
    }

    #[test]
    fn fragments_are_joined_around_control_frames() {
        let bytes = frames(&[
            (0x01, b"4he"),
            (0x89, b"p"),
            (0x00, b"l"),
            (0x80, b"lo"),
            (0x02, &[1]),
            (0x80, &[2]),
            (0x81, b"4next"),
        ]);
        assert_eq!(
            messages(100, bytes).unwrap(),
            [
                "Ping([112])",
                "Text(\"4hello\")",
                "Binary([1, 2])",
                "Text(\"4next\")"
            ]
        );
    }

    #[test]
    fn fragments_out_of_order_are_refused() {
        assert_eq!(
            messages(100, frames(&[(0x80, b"x")])),
            Err(ReadError::Fragmentation)
        );
        assert_eq!(
            messages(100, frames(&[(0x01, b"x"), (0x81, b"y")])),
            Err(ReadError::Fragmentation)
        );
    }

    #[test]
    fn the_limit_holds_for_a_frame_and_for_fragments_together() {
        assert_eq!(messages(5, frames(&[(0x81, b"12345")])).unwrap().len(), 1);
        assert_eq!(
            messages(5, frames(&[(0x81, b"123456")])),
            Err(ReadError::TooBig)
        );
        assert_eq!(
            messages(5, frames(&[(0x01, b"123"), (0x80, b"456")])),
            Err(ReadError::TooBig)
        );
        // Refused on the header alone: no need to wait for the payload.
        let mut header = frames(&[(0x82, &[0; 1000])]);
        header.truncate(8);
        assert_eq!(
            Assembler::new(999).step(&mut header),
            Err(ReadError::TooBig)
        );
    }

    #[test]
    fn text_must_be_utf8_even_across_fragments() {
        assert_eq!(
            messages(100, frames(&[(0x81, &[0xFF])])),
            Err(ReadError::InvalidUtf8)
        );
        // "é" split between two fragments is fine once joined.
        let bytes = frames(&[(0x01, &[b'4', 0xC3]), (0x80, &[0xA9])]);
        assert_eq!(messages(100, bytes).unwrap(), ["Text(\"4é\")"]);
    }

    /// Autobahn's case 6.4.1: valid text, then U+110000 as if encoded (F4 90 80 80).
    const VALID: &[u8] = "κόσμε".as_bytes();
    const OUT_OF_RANGE: &[u8] = &[0xF4, 0x90, 0x80, 0x80];

    #[test]
    fn text_that_cannot_be_utf8_is_refused_at_the_fragment_that_breaks_it() {
        let mut assembler = Assembler::new(100);
        let mut first = frames(&[(0x01, VALID)]);
        assert!(matches!(
            assembler.step(&mut first),
            Ok(Step::Frame { incoming: None, .. })
        ));
        // Not final: the message's end is not waited for.
        let mut second = frames(&[(0x00, OUT_OF_RANGE)]);
        assert_eq!(assembler.step(&mut second), Err(ReadError::InvalidUtf8));
        // A character cut between fragments is no error until it is shown wrong.
        let mut assembler = Assembler::new(100);
        let mut bytes = frames(&[(0x01, &[0xF4]), (0x00, &[0x8F]), (0x00, b"A")]);
        let mut at = 0;
        for _ in 0..2 {
            let Ok(Step::Frame { consumed, .. }) = assembler.step(&mut bytes[at..]) else {
                panic!("a valid prefix is taken");
            };
            at += consumed;
        }
        assert_eq!(
            assembler.step(&mut bytes[at..]),
            Err(ReadError::InvalidUtf8)
        );
    }

    #[test]
    fn text_that_cannot_be_utf8_is_refused_before_its_frame_is_whole() {
        let payload = [VALID, OUT_OF_RANGE, b"edited"].concat();
        let mut bytes = frames(&[(0x81, &payload)]);
        let whole = bytes.len();
        let header = whole - payload.len();
        let mut assembler = Assembler::new(100);
        let valid_end = header + VALID.len();
        assert_eq!(
            assembler.step(&mut bytes[..valid_end]),
            Ok(Step::NeedMore(whole))
        );
        assert_eq!(
            assembler.step(&mut bytes[..valid_end + 2]),
            Err(ReadError::InvalidUtf8)
        );
    }

    #[test]
    fn a_text_frame_fed_byte_by_byte_comes_out_whole() {
        // Every character of one to four bytes, cut at every byte.
        let text = "a\u{e9}\u{20ac}\u{1f600}z";
        let bytes = frames(&[
            (0x01, b"h\xC3"),
            (0x80, &[&[0xA9], text.as_bytes()].concat()),
        ]);
        let mut received = Vec::new();
        let left = read_in_pieces(&mut Assembler::new(100), &bytes, &[1], |message| {
            received.push(format!("{message:?}"))
        });
        assert_eq!(left, Ok(0));
        assert_eq!(received, [format!("Text({:?})", format!("h\u{e9}{text}"))]);
    }

    #[test]
    fn close_frames_give_their_code_or_are_refused() {
        assert_eq!(
            messages(100, frames(&[(0x88, b"")])).unwrap(),
            ["Close(None)"]
        );
        assert_eq!(
            messages(100, frames(&[(0x88, &[0x03, 0xE8, b'o', b'k'])])).unwrap(),
            ["Close(Some(1000))"]
        );
        assert_eq!(
            messages(100, frames(&[(0x88, &[0x03])])),
            Err(ReadError::BadClose)
        );
        // 1005 and 1006 are for reporting, never for sending.
        assert_eq!(
            messages(100, frames(&[(0x88, &[0x03, 0xED])])),
            Err(ReadError::BadClose)
        );
    }

    #[test]
    fn a_partial_frame_asks_for_its_whole_size() {
        let mut bytes = frames(&[(0x81, b"4hello")]);
        let whole = bytes.len();
        let mut assembler = Assembler::new(100);
        assert_eq!(assembler.step(&mut bytes[..1]), Ok(Step::NeedMore(0)));
        assert_eq!(
            assembler.step(&mut bytes[..whole - 1]),
            Ok(Step::NeedMore(whole))
        );
        assert_eq!(
            assembler.step(&mut bytes),
            Ok(Step::Frame {
                consumed: whole,
                incoming: Some(Incoming::Text("4hello"))
            })
        );
    }

    /// A message as a client might send it: text or binary, in one frame or
    /// several, with pings between the fragments.
    #[derive(Clone, Debug)]
    struct Sent {
        text: bool,
        payload: Vec<u8>,
        /// Where the payload is cut into fragments.
        cuts: Vec<usize>,
        pings_between: bool,
    }

    fn any_sent() -> impl Strategy<Value = Sent> {
        (
            any::<bool>(),
            proptest::collection::vec(any::<u8>(), 0..300),
            proptest::collection::vec(0..300usize, 0..4),
            any::<bool>(),
        )
            .prop_map(|(text, payload, cuts, pings_between)| {
                // Text must be UTF-8: map the bytes to characters, some multi-byte.
                let payload = if text {
                    payload
                        .iter()
                        .map(|&b| char::from_u32(0x41 + u32::from(b) * 7).unwrap_or('?'))
                        .collect::<String>()
                        .into_bytes()
                } else {
                    payload
                };
                let mut cuts: Vec<usize> =
                    cuts.into_iter().map(|c| c % (payload.len() + 1)).collect();
                cuts.sort_unstable();
                Sent {
                    text,
                    payload,
                    cuts,
                    pings_between,
                }
            })
    }

    fn encode(sent: &Sent) -> Vec<u8> {
        let mut bounds = vec![0];
        bounds.extend(&sent.cuts);
        bounds.push(sent.payload.len());
        let pieces: Vec<&[u8]> = bounds
            .windows(2)
            .map(|w| &sent.payload[w[0]..w[1]])
            .collect();
        let mut out = Vec::new();
        for (i, piece) in pieces.iter().enumerate() {
            let opcode = match (i, sent.text) {
                (0, true) => 0x1,
                (0, false) => 0x2,
                _ => 0x0,
            };
            let fin = if i + 1 == pieces.len() { 0x80 } else { 0 };
            out.extend(client_frame(fin | opcode, piece, MASK));
            if sent.pings_between && fin == 0 {
                out.extend(client_frame(0x89, b"hb", MASK));
            }
        }
        out
    }

    proptest! {
        /// However the network cuts the bytes, the messages come out whole and in order.
        #[test]
        fn messages_survive_any_cutting(
            sent in proptest::collection::vec(any_sent(), 1..6),
            reads in proptest::collection::vec(1..200usize, 1..20),
        ) {
            let bytes: Vec<u8> = sent.iter().flat_map(encode).collect();
            let mut received = Vec::new();
            let mut others = Vec::new();
            let left = read_in_pieces(&mut Assembler::new(10_000), &bytes, &reads, |message| {
                match message {
                    Incoming::Text(t) => received.push((true, t.as_bytes().to_vec())),
                    Incoming::Binary(b) => received.push((false, b.to_vec())),
                    other => others.push(format!("{other:?}")),
                }
            });
            prop_assert_eq!(left, Ok(0));
            prop_assert!(others.iter().all(|o| o == "Ping([104, 98])"), "unexpected {:?}", others);
            let expected: Vec<(bool, Vec<u8>)> = sent.into_iter().map(|s| (s.text, s.payload)).collect();
            prop_assert_eq!(received, expected);
        }

        /// Fed in any pieces, the check fails at the first piece after which
        /// the bytes so far cannot begin valid UTF-8, and ends with nothing
        /// cut off exactly when all of them are valid.
        #[test]
        fn utf8_checked_in_pieces_agrees_with_std(
            bytes in proptest::collection::vec(
                prop_oneof![any::<u8>(), 0x00..0x80u8, 0x80..0xC0u8, 0xC2..0xF5u8], 0..40),
            cuts in proptest::collection::vec(0..40usize, 0..6),
        ) {
            let mut bounds: Vec<usize> = cuts.into_iter().map(|c| c % (bytes.len() + 1)).collect();
            bounds.push(bytes.len());
            bounds.sort_unstable();
            let mut check = Utf8Check::default();
            let mut start = 0;
            for end in bounds {
                let fed = check.feed(&bytes[start..end]);
                let broken = matches!(
                    std::str::from_utf8(&bytes[..end]),
                    Err(e) if e.error_len().is_some()
                );
                prop_assert_eq!(fed.is_err(), broken, "prefix of {} bytes", end);
                if broken {
                    return Ok(());
                }
                start = end;
            }
            prop_assert_eq!(check.cut_len == 0, std::str::from_utf8(&bytes).is_ok());
        }

        /// Bytes from anywhere never panic the assembler.
        #[test]
        fn arbitrary_bytes_never_panic(mut bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let mut assembler = Assembler::new(256);
            let mut at = 0;
            while at < bytes.len() {
                match assembler.step(&mut bytes[at..]) {
                    Ok(Step::Frame { consumed, .. }) => at += consumed,
                    Ok(Step::NeedMore(_)) | Err(_) => break,
                }
            }
        }

        /// Well-formed frames of any kind with any payload, read in any
        /// pieces, never panic the assembler either (text frames are checked
        /// as they arrive).
        #[test]
        fn frames_of_any_payload_in_any_pieces_never_panic(
            sent in proptest::collection::vec(
                (prop_oneof![Just(0x01u8), Just(0x81), Just(0x00), Just(0x80), Just(0x82), Just(0x89)],
                 prop_oneof![
                     proptest::collection::vec(any::<u8>(), 0..100),
                     "[a-z\u{e9}\u{20ac}\u{1f600}]{0,30}".prop_map(String::into_bytes),
                 ]),
                1..6),
            reads in proptest::collection::vec(1..40usize, 1..20),
        ) {
            let bytes: Vec<u8> = sent
                .iter()
                .flat_map(|(first, payload)| client_frame(*first, payload, MASK))
                .collect();
            let _ = read_in_pieces(&mut Assembler::new(256), &bytes, &reads, |_| ());
        }
    }
}
