//! Data messages in both directions.
//!
//! Incoming messages are plain owned values handed to the layer above.
//! Outgoing messages are encoded once and shared behind an `Arc`, because a
//! broadcast hands the same message to thousands of sessions: cloning must be
//! a refcount bump, and the wire form must not be rebuilt per recipient.

use std::fmt;
use std::sync::{Arc, OnceLock};

use bytes::{BufMut, Bytes, BytesMut};
use tokio_tungstenite::tungstenite::{Message as WsMessage, Utf8Bytes};

/// An incoming data message (engine packet type 4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    Text(String),
    Binary(Bytes),
}

/// An outgoing data message, encoded once and shared: clone is a refcount
/// bump.
#[derive(Clone)]
pub struct OutMessage(Arc<Inner>);

struct Inner {
    frame: Frame,
    /// Binary polling form ("b" + base64), built on first polling use only:
    /// most sessions are WebSocket and never need it.
    polling: OnceLock<Bytes>,
}

enum Frame {
    /// "4" + payload. The same bytes serve as the WebSocket text frame and as
    /// the polling form, so text needs no lazy second encoding.
    Text(Utf8Bytes),
    /// Raw payload, sent as a WebSocket binary frame without any prefix.
    Binary(Bytes),
}

impl OutMessage {
    /// A text message; `s` is the payload WITHOUT the engine "4" prefix.
    pub fn text(s: impl Into<String>) -> Self {
        let s = s.into();
        Self::text_with(s.len(), |out| out.push_str(&s))
    }

    /// A text message whose payload `write` appends in place, after the
    /// engine's "4": the layer above encodes straight into the frame, with no
    /// second buffer and no copy. `capacity` is a hint for the payload's size.
    pub fn text_with(capacity: usize, write: impl FnOnce(&mut String)) -> Self {
        let mut framed = String::with_capacity(capacity + 1);
        framed.push('4');
        write(&mut framed);
        Self::new(Frame::Text(Utf8Bytes::from(framed)))
    }

    /// One of the engine's own text packets, already framed (a pong, "3probe").
    pub(crate) fn control(framed: String) -> Self {
        Self::new(Frame::Text(Utf8Bytes::from(framed)))
    }

    /// A binary message.
    pub fn binary(b: impl Into<Bytes>) -> Self {
        Self::new(Frame::Binary(b.into()))
    }

    fn new(frame: Frame) -> Self {
        OutMessage(Arc::new(Inner {
            frame,
            polling: OnceLock::new(),
        }))
    }

    /// Size on the wire (WebSocket form), in bytes.
    pub fn len(&self) -> usize {
        match &self.0.frame {
            Frame::Text(t) => t.len(),
            Frame::Binary(b) => b.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn is_binary(&self) -> bool {
        matches!(self.0.frame, Frame::Binary(_))
    }

    /// The text payload (without the "4" prefix), if this is a text message.
    pub fn as_text(&self) -> Option<&str> {
        match &self.0.frame {
            // The first byte is the ASCII '4' we put there, so slicing after
            // it is always on a char boundary.
            Frame::Text(t) => Some(&t.as_str()[1..]),
            Frame::Binary(_) => None,
        }
    }

    /// The binary payload, if this is a binary message.
    pub fn as_binary(&self) -> Option<&Bytes> {
        match &self.0.frame {
            Frame::Binary(b) => Some(b),
            Frame::Text(_) => None,
        }
    }

    /// The WebSocket frame: a cheap clone of the shared buffer.
    pub(crate) fn ws_frame(&self) -> WsMessage {
        match &self.0.frame {
            Frame::Text(t) => WsMessage::Text(t.clone()),
            Frame::Binary(b) => WsMessage::Binary(b.clone()),
        }
    }

    /// The polling payload element: "4"+text, or "b"+base64 for binary.
    pub(crate) fn polling_bytes(&self) -> Bytes {
        match &self.0.frame {
            Frame::Text(t) => Bytes::from(t.clone()),
            Frame::Binary(b) => self
                .0
                .polling
                .get_or_init(|| {
                    let encoded = crate::packet::encode_base64(b);
                    let mut out = BytesMut::with_capacity(encoded.len() + 1);
                    out.put_u8(b'b');
                    out.put_slice(encoded.as_bytes());
                    out.freeze()
                })
                .clone(),
        }
    }
}

impl fmt::Debug for OutMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0.frame {
            Frame::Text(_) => f
                .debug_tuple("OutMessage::Text")
                .field(&self.as_text().unwrap_or_default())
                .finish(),
            Frame::Binary(b) => f.debug_tuple("OutMessage::Binary").field(b).finish(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_forms_share_one_buffer() {
        let m = OutMessage::text("héllo");
        assert_eq!(m.as_text(), Some("héllo"));
        assert_eq!(&m.polling_bytes()[..], "4héllo".as_bytes());
        match m.ws_frame() {
            WsMessage::Text(t) => assert_eq!(t.as_str(), "4héllo"),
            other => panic!("unexpected frame {other:?}"),
        }
        assert!(!m.is_binary());
    }

    #[test]
    fn binary_forms() {
        let m = OutMessage::binary(vec![1u8, 2, 3, 4]);
        assert_eq!(&m.polling_bytes()[..], b"bAQIDBA==");
        // Second call returns the cached buffer.
        assert_eq!(&m.polling_bytes()[..], b"bAQIDBA==");
        match m.ws_frame() {
            WsMessage::Binary(b) => assert_eq!(&b[..], &[1, 2, 3, 4]),
            other => panic!("unexpected frame {other:?}"),
        }
        assert!(m.as_text().is_none());
    }
}
