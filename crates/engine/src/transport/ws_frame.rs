//! The header of a WebSocket frame as a server writes it (RFC 6455, section 5.2).
//!
//! Server frames are never masked and Rally sends every message as one final
//! frame, so the header depends only on the opcode and the payload's length.
//! That is what lets a broadcast message carry its complete frame, encoded
//! once: every recipient's socket is written the same shared bytes, where a
//! WebSocket library would copy the payload into each connection's buffer.

/// Longest header: 2 bytes and a 64-bit length.
pub(crate) const MAX_HEADER: usize = 10;

/// The frame's opcode: what the payload is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Opcode {
    Text = 0x1,
    Binary = 0x2,
}

/// Writes the header of a final, unmasked frame of `payload_len` bytes into
/// the end of `out` and returns how many bytes it takes there.
pub(crate) fn write_header(
    out: &mut [u8; MAX_HEADER],
    opcode: Opcode,
    payload_len: usize,
) -> usize {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn header(opcode: Opcode, len: usize) -> Vec<u8> {
        let mut out = [0u8; MAX_HEADER];
        let used = write_header(&mut out, opcode, len);
        out[MAX_HEADER - used..].to_vec()
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
