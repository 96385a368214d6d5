//! The decoder: a connection's incoming messages to packets.
//!
//! A small state machine per connection, because the protocol is stateful: a binary
//! packet's text part announces how many binary messages belong to it, and nothing else
//! may arrive in between. The text part is parsed by hand, byte by byte through `get`,
//! so untrusted input meets no panic, and every fault is a [`ParseError`] value.

use super::{
    check_payload, check_placeholders, namespace_name, Packet, PacketKind, ParseError,
    MAIN_NAMESPACE,
};
use bytes::Bytes;
use serde_json::Value;
use std::borrow::Cow;

/// Streaming decoder for one connection: text messages start a packet,
/// binary messages fill in the attachments of a pending binary packet.
///
/// Stricter than the Node parser where Node leans on `Number()` coercion:
/// the attachment count and id must be plain ASCII digits; the payload is
/// mandatory for EVENT, ACK and CONNECT_ERROR (the spec says so; Node skips
/// its check when the payload is absent); a placeholder's `num` must be an
/// integer. Placeholders are checked as soon as the text part arrives, since
/// the count is known then, so a bad packet is refused before its binaries
/// are buffered. After an error the state is as it was before the call.
#[derive(Debug, Clone)]
pub struct Decoder {
    max_attachments: usize,
    /// Boxed: a connection holds a decoder for life and is rarely mid-packet.
    pending: Option<Box<Pending>>,
}

#[derive(Debug, Clone)]
struct Pending {
    packet: Packet,
    expected: usize,
}

impl Decoder {
    /// `max_attachments` bounds the count a binary packet may announce
    /// (the Node default is 10); 0 refuses all binary packets.
    pub fn new(max_attachments: usize) -> Self {
        Self {
            max_attachments,
            pending: None,
        }
    }

    /// Feeds a text message. `Ok(Some)` is a complete packet; `Ok(None)`
    /// means a binary packet started and its attachments are awaited.
    pub fn feed_text(&mut self, text: &str) -> Result<Option<Packet>, ParseError> {
        if self.pending.is_some() {
            return Err(ParseError::UnexpectedText);
        }
        let (packet, expected) = decode_text(text, self.max_attachments)?;
        if expected == 0 {
            return Ok(Some(packet));
        }
        self.pending = Some(Box::new(Pending { packet, expected }));
        Ok(None)
    }

    /// Feeds a binary message; `Ok(Some)` once the last attachment arrived.
    pub fn feed_binary(&mut self, data: Bytes) -> Result<Option<Packet>, ParseError> {
        let Some(pending) = self.pending.as_mut() else {
            return Err(ParseError::UnexpectedBinary);
        };
        pending.packet.attachments.push(data);
        if pending.packet.attachments.len() < pending.expected {
            return Ok(None);
        }
        Ok(self.pending.take().map(|p| p.packet))
    }

    /// True while a binary packet waits for attachments.
    pub fn is_awaiting_binary(&self) -> bool {
        self.pending.is_some()
    }

    /// Drops any partially received binary packet.
    pub fn reset(&mut self) {
        self.pending = None;
    }
}

/// Parses a text part into a packet and the number of attachments it awaits.
fn decode_text(text: &str, max_attachments: usize) -> Result<(Packet, usize), ParseError> {
    let bytes = text.as_bytes();
    let first = *bytes.first().ok_or(ParseError::Empty)?;
    let kind = PacketKind::from_digit(first).ok_or(ParseError::UnknownType)?;
    let mut pos = 1;

    let mut expected = 0;
    if kind.is_binary() {
        let start = pos;
        pos = skip_digits(bytes, pos);
        if pos == start || bytes.get(pos) != Some(&b'-') {
            return Err(ParseError::BadAttachmentCount);
        }
        // A digit string too long for usize is certainly above any limit.
        expected = parse_digits(bytes.get(start..pos).unwrap_or_default())
            .and_then(|n| usize::try_from(n).ok())
            .ok_or(ParseError::TooManyAttachments)?;
        if expected == 0 {
            return Err(ParseError::BadAttachmentCount);
        }
        if expected > max_attachments {
            return Err(ParseError::TooManyAttachments);
        }
        pos += 1;
    }

    // Only a '/' right here starts a namespace, so commas inside the JSON
    // payload are never mistaken for its terminator.
    let mut nsp = Cow::Borrowed(MAIN_NAMESPACE);
    if bytes.get(pos) == Some(&b'/') {
        let end = bytes
            .get(pos..)
            .and_then(|rest| rest.iter().position(|&b| b == b','))
            .map_or(bytes.len(), |off| pos + off);
        // Like Node, an unterminated namespace runs to the end of the text.
        // ',' and '/' are ASCII, so both slice bounds are char boundaries.
        nsp = namespace_name(text.get(pos..end).ok_or(ParseError::BadNamespace)?);
        pos = (end + 1).min(bytes.len());
    }

    let mut id = None;
    let start = pos;
    pos = skip_digits(bytes, pos);
    if pos > start {
        id =
            Some(parse_digits(bytes.get(start..pos).unwrap_or_default()).ok_or(ParseError::BadId)?);
    }

    let rest = text.get(pos..).ok_or(ParseError::InvalidJson)?;
    let data = if rest.is_empty() {
        None
    } else {
        // serde_json stops at 128 nesting levels with an error, so hostile
        // depth cannot overflow the stack.
        Some(serde_json::from_str::<Value>(rest).map_err(|_| ParseError::InvalidJson)?)
    };
    check_payload(kind, data.as_ref())?;
    if expected > 0 {
        if let Some(data) = &data {
            check_placeholders(data, expected)?;
        }
    }

    let packet = Packet {
        kind,
        nsp,
        id,
        data,
        attachments: Vec::with_capacity(expected),
    };
    Ok((packet, expected))
}

fn skip_digits(bytes: &[u8], mut pos: usize) -> usize {
    while bytes.get(pos).is_some_and(u8::is_ascii_digit) {
        pos += 1;
    }
    pos
}

/// Decimal ASCII digits to u64; `None` on empty input, non-digits or overflow.
fn parse_digits(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0u64, |acc, &b| {
        if !b.is_ascii_digit() {
            return None;
        }
        acc.checked_mul(10)?.checked_add(u64::from(b - b'0'))
    })
}
