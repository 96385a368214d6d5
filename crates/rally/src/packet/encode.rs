//! The encoder: a packet to its text part, the first of the messages it becomes.
//!
//! Writes straight into the caller's buffer, so that the engine's frame holds the text
//! without a copy; the attachments need no encoding and go out as they are. Infallible
//! by design: [`Packet::validate`] is where a packet built from untrusted parts is
//! checked, once, rather than on every send.

use super::Packet;

/// Encodes the text part of `packet`. The caller sends the returned string,
/// then — only when [`Packet::wire_kind`] is binary — each of
/// `packet.attachments` as a separate binary message, in order.
///
/// Never fails: a namespace containing ',' or not starting with '/' cannot be
/// represented and yields text the peer rejects; call [`Packet::validate`]
/// first when that is not known. An empty namespace is written like `"/"`.
pub fn encode(packet: &Packet) -> String {
    let mut out = Vec::new();
    encode_into(packet, &mut out);
    String::from_utf8(out).expect("digits, a namespace and JSON are UTF-8")
}

/// [`encode`], appending UTF-8 to `out`: lets the engine's frame hold the
/// packet without a copy, and serde_json write the payload straight into it.
pub fn encode_into(packet: &Packet, out: &mut Vec<u8>) {
    let kind = packet.wire_kind();
    out.push(kind.digit() as u8);
    let mut digits = itoa::Buffer::new();
    if kind.is_binary() {
        out.extend_from_slice(digits.format(packet.attachments.len()).as_bytes());
        out.push(b'-');
    }
    if !packet.nsp.is_empty() && packet.nsp != "/" {
        out.extend_from_slice(packet.nsp.as_bytes());
        out.push(b',');
    }
    if let Some(id) = packet.id {
        out.extend_from_slice(digits.format(id).as_bytes());
    }
    if let Some(data) = &packet.data {
        // A Value has string keys only, and a Vec takes every write.
        serde_json::to_writer(&mut *out, data).expect("a JSON value always serializes");
    }
}
