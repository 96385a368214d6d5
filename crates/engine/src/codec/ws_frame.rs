//! WebSocket frame headers (RFC 6455, section 5.2): written for the server's
//! frames (and whole control frames: close, pong), parsed from the client's.
//! Pure: bytes in, header out.
//!
//! Server frames are never masked and Rally sends every message as one final
//! frame, so the header depends only on the opcode and the payload's length.
//! That is what lets a broadcast message carry its complete frame, encoded
//! once: every recipient's socket is written the same shared bytes, where a
//! WebSocket library would copy the payload into each connection's buffer.
//!
//! Client frames must be masked; no extension is ever negotiated, so the
//! reserved bits must be clear.

use bytes::Bytes;

/// Longest header: 2 bytes and a 64-bit length.
pub const MAX_HEADER: usize = 10;
/// Close code for a connection that ends normally.
pub const NORMAL_CLOSURE: u16 = 1000;
/// Close code for a peer that broke the protocol.
pub const PROTOCOL_ERROR: u16 = 1002;
/// Close code for a text message that is not UTF-8.
pub const INVALID_PAYLOAD: u16 = 1007;
/// Close code for a message over the size limit.
pub const MESSAGE_TOO_BIG: u16 = 1009;

/// The frame's opcode: what the payload is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Opcode {
    /// A further fragment of the message that a text or binary frame began.
    Continuation = 0x0,
    /// The first or only frame of a UTF-8 text message.
    Text = 0x1,
    /// The first or only frame of a binary message.
    Binary = 0x2,
    /// The sender ends the connection, with an optional status code and reason.
    Close = 0x8,
    /// A liveness check, to be answered with a pong of the same payload.
    Ping = 0x9,
    /// The answer to a ping (or an unsolicited one, which needs no answer).
    Pong = 0xA,
}

impl Opcode {
    fn from_bits(bits: u8) -> Option<Opcode> {
        Some(match bits {
            0x0 => Opcode::Continuation,
            0x1 => Opcode::Text,
            0x2 => Opcode::Binary,
            0x8 => Opcode::Close,
            0x9 => Opcode::Ping,
            0xA => Opcode::Pong,
            _ => return None,
        })
    }

    /// Close, ping and pong: short, never fragmented, allowed between the
    /// fragments of a message.
    pub fn is_control(self) -> bool {
        self as u8 & 0x8 != 0
    }
}

/// A client frame's header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// The frame ends its message (always true for a control frame).
    pub fin: bool,
    /// What the frame carries.
    pub opcode: Opcode,
    /// The client's masking key; see [`unmask`].
    pub mask: [u8; 4],
    /// Bytes the header itself takes.
    pub len: usize,
    /// Bytes of payload that follow the header.
    pub payload_len: u64,
}

/// Why a client's frame breaks the protocol (answered with close code 1002).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameError {
    /// The client set an RSV bit, which only an extension may use, and none
    /// is ever negotiated.
    ReservedBits,
    /// The client used an opcode that RFC 6455 reserves (the one given).
    UnknownOpcode(u8),
    /// The client sent a frame without the masking that RFC 6455 requires of
    /// every client frame.
    Unmasked,
    /// A 64-bit length with its top bit set.
    LengthOverflow,
    /// A close, ping or pong that is fragmented or longer than 125 bytes.
    BadControlFrame,
}

impl std::fmt::Display for FrameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FrameError::ReservedBits => f.write_str("reserved bits set"),
            FrameError::UnknownOpcode(op) => write!(f, "unknown opcode {op:#x}"),
            FrameError::Unmasked => f.write_str("unmasked client frame"),
            FrameError::LengthOverflow => f.write_str("frame length out of range"),
            FrameError::BadControlFrame => f.write_str("fragmented or long control frame"),
        }
    }
}

impl std::error::Error for FrameError {}

/// Parses the header at the start of `buf`: `Ok(None)` until all of it is
/// there. The payload need not be.
pub fn parse_header(buf: &[u8]) -> Result<Option<Header>, FrameError> {
    let [first, second, ..] = *buf else {
        return Ok(None);
    };
    if first & 0x70 != 0 {
        return Err(FrameError::ReservedBits);
    }
    let opcode = Opcode::from_bits(first & 0x0F).ok_or(FrameError::UnknownOpcode(first & 0x0F))?;
    if second & 0x80 == 0 {
        return Err(FrameError::Unmasked);
    }
    let fin = first & 0x80 != 0;
    let (payload_len, len_bytes) = match second & 0x7F {
        126 => match buf.get(2..4) {
            Some(b) => (u64::from(u16::from_be_bytes([b[0], b[1]])), 2),
            None => return Ok(None),
        },
        127 => match buf.get(2..10) {
            Some(b) => {
                let n = u64::from_be_bytes(b.try_into().expect("eight bytes"));
                if n >> 63 != 0 {
                    return Err(FrameError::LengthOverflow);
                }
                (n, 8)
            }
            None => return Ok(None),
        },
        n => (u64::from(n), 0),
    };
    if opcode.is_control() && (!fin || payload_len > 125) {
        return Err(FrameError::BadControlFrame);
    }
    let mask_at = 2 + len_bytes;
    let Some(mask) = buf.get(mask_at..mask_at + 4) else {
        return Ok(None);
    };
    Ok(Some(Header {
        fin,
        opcode,
        mask: mask.try_into().expect("four bytes"),
        len: mask_at + 4,
        payload_len,
    }))
}

/// Undoes the client's masking of a whole payload, in place.
pub fn unmask(data: &mut [u8], mask: [u8; 4]) {
    let word = u32::from_ne_bytes(mask);
    let mut chunks = data.chunks_exact_mut(4);
    for chunk in &mut chunks {
        let masked = u32::from_ne_bytes(chunk.try_into().expect("four bytes")) ^ word;
        chunk.copy_from_slice(&masked.to_ne_bytes());
    }
    for (byte, k) in chunks.into_remainder().iter_mut().zip(mask) {
        *byte ^= k;
    }
}

/// Writes the header of a final, unmasked frame of `payload_len` bytes into
/// the end of `out` and returns how many bytes it takes there.
pub fn write_header(out: &mut [u8; MAX_HEADER], opcode: Opcode, payload_len: usize) -> usize {
    let first = 0x80 | opcode as u8;
    let (len_bytes, marker): (&[u8], u8) = match payload_len {
        n if n < 126 => (&[], n as u8),
        n if n <= u16::MAX as usize => (&(n as u16).to_be_bytes()[..], 126),
        n => (&(n as u64).to_be_bytes()[..], 127),
    };
    let used = 2 + len_bytes.len();
    let start = MAX_HEADER - used;
    out[start] = first;
    out[start + 1] = marker;
    out[start + 2..].copy_from_slice(len_bytes);
    used
}

/// A whole final server frame, header and a copy of `payload` in one buffer.
pub fn frame(opcode: Opcode, payload: &[u8]) -> Bytes {
    let mut header = [0u8; MAX_HEADER];
    let used = write_header(&mut header, opcode, payload.len());
    let mut frame = Vec::with_capacity(used + payload.len());
    frame.extend_from_slice(&header[MAX_HEADER - used..]);
    frame.extend_from_slice(payload);
    Bytes::from(frame)
}

/// A control frame (close, ping, pong): at most 125 bytes of payload, so its
/// header is the short form.
pub fn control_frame(opcode: Opcode, payload: &[u8]) -> Bytes {
    debug_assert!(opcode.is_control() && payload.len() <= 125);
    frame(opcode, payload)
}

/// A close frame with `code`.
pub fn close_frame(code: u16) -> Bytes {
    control_frame(Opcode::Close, &code.to_be_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::client_frame::client_frame;

    fn header(opcode: Opcode, len: usize) -> Vec<u8> {
        let mut out = [0u8; MAX_HEADER];
        let used = write_header(&mut out, opcode, len);
        out[MAX_HEADER - used..].to_vec()
    }

    #[test]
    fn client_headers_parse_in_all_three_length_forms() {
        let mask = [1, 2, 3, 4];
        for (len, header_len) in [(0, 6), (125, 6), (126, 8), (65_535, 8), (65_536, 14)] {
            let frame = client_frame(0x82, &vec![7u8; len], mask);
            let header = parse_header(&frame).unwrap().unwrap();
            assert_eq!(
                header,
                Header {
                    fin: true,
                    opcode: Opcode::Binary,
                    mask,
                    len: header_len,
                    payload_len: len as u64
                }
            );
            // Any prefix shorter than the header asks for more bytes.
            for cut in 0..header_len {
                assert_eq!(parse_header(&frame[..cut]), Ok(None), "len {len} cut {cut}");
            }
        }
    }

    #[test]
    fn protocol_violations_are_refused() {
        let mask = [9, 9, 9, 9];
        assert_eq!(
            parse_header(&client_frame(0xC1, b"x", mask)),
            Err(FrameError::ReservedBits)
        );
        assert_eq!(
            parse_header(&client_frame(0x83, b"x", mask)),
            Err(FrameError::UnknownOpcode(3))
        );
        assert_eq!(parse_header(&[0x81, 0x01, b'x']), Err(FrameError::Unmasked));
        assert_eq!(
            parse_header(&client_frame(0x09, b"", mask)),
            Err(FrameError::BadControlFrame)
        );
        assert_eq!(
            parse_header(&client_frame(0x89, &[0; 126], mask)),
            Err(FrameError::BadControlFrame)
        );
        let mut huge = vec![0x82, 0xFF];
        huge.extend_from_slice(&u64::MAX.to_be_bytes());
        huge.extend_from_slice(&mask);
        assert_eq!(parse_header(&huge), Err(FrameError::LengthOverflow));
    }

    #[test]
    fn unmasking_restores_every_length() {
        let mask = [0x12, 0x34, 0x56, 0x78];
        for len in 0..40 {
            let plain: Vec<u8> = (0..len as u8).collect();
            let frame = client_frame(0x82, &plain, mask);
            let mut payload = frame[frame.len() - len..].to_vec();
            unmask(&mut payload, mask);
            assert_eq!(payload, plain);
        }
    }

    #[test]
    fn control_frames_carry_their_payload() {
        assert_eq!(&close_frame(1001)[..], [0x88, 2, 0x03, 0xE9]);
        assert_eq!(
            &control_frame(Opcode::Pong, b"hb")[..],
            [0x8A, 2, b'h', b'b']
        );
    }

    #[test]
    fn lengths_take_the_three_forms_of_the_rfc() {
        assert_eq!(header(Opcode::Text, 0), [0x81, 0]);
        assert_eq!(header(Opcode::Text, 125), [0x81, 125]);
        assert_eq!(header(Opcode::Binary, 126), [0x82, 126, 0, 126]);
        assert_eq!(header(Opcode::Binary, 65_535), [0x82, 126, 0xff, 0xff]);
        assert_eq!(
            header(Opcode::Text, 65_536),
            [0x81, 127, 0, 0, 0, 0, 0, 1, 0, 0]
        );
    }
}
