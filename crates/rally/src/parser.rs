//! The wire format a server speaks, both ways: socket.io's default parser (a text message
//! per packet, then one binary message per attachment) or the one of
//! `socket.io-msgpack-parser` (one binary msgpack message per packet, binary values in
//! place). It is not negotiated: the server and its clients are configured alike, as in
//! socket.io, and a client that speaks the other is closed on its first packet.
//!
//! One floor above the codecs in `packet`, so that everything above (sockets, adapters,
//! recovery) sends a packet without knowing its format: a broadcast is still encoded
//! once, and its messages shared by every recipient.

use crate::packet::{
    decode_msgpack, encode_into, encode_msgpack, encode_msgpack_with_arg, Decoder, Packet,
    ParseError,
};
use rally_engine::{Message, OutMessage};

/// socket.io's `parser` option.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Parser {
    /// socket.io's default parser: JSON text, binary values as attachments.
    #[default]
    Json,
    /// `socket.io-msgpack-parser` 3.0: each packet one msgpack map, binary values in place.
    MsgPack,
}

impl std::str::FromStr for Parser {
    type Err = String;

    /// `json` or `msgpack`, as a command line would name them.
    fn from_str(name: &str) -> Result<Self, String> {
        match name {
            "json" => Ok(Parser::Json),
            "msgpack" => Ok(Parser::MsgPack),
            other => Err(format!("unknown parser {other:?}: json or msgpack")),
        }
    }
}

impl std::fmt::Display for Parser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Parser::Json => "json",
            Parser::MsgPack => "msgpack",
        })
    }
}

impl Parser {
    /// The messages one packet becomes.
    pub(crate) fn to_messages(self, packet: &Packet) -> Vec<OutMessage> {
        match self {
            Parser::Json => {
                let mut messages = Vec::with_capacity(1 + packet.attachments.len());
                messages.push(text_message(packet));
                messages.extend(packet.attachments.iter().cloned().map(OutMessage::binary));
                messages
            }
            Parser::MsgPack => vec![OutMessage::binary(encode_msgpack(packet))],
        }
    }

    /// Calls `send` with the messages of a packet for one recipient: the common case, a
    /// packet that is one message, needs no list.
    pub(crate) fn with_messages<R>(
        self,
        packet: &Packet,
        send: impl FnOnce(&[OutMessage]) -> R,
    ) -> R {
        match self {
            Parser::Json if packet.attachments.is_empty() => {
                send(std::slice::from_ref(&text_message(packet)))
            }
            Parser::Json => send(&self.to_messages(packet)),
            Parser::MsgPack => send(&[OutMessage::binary(encode_msgpack(packet))]),
        }
    }

    /// An EVENT's messages with `offset` appended to its arguments, for the clients that
    /// recover, from `plain`, its messages without. JSON copies the text once with the
    /// offset spliced before its closing bracket and shares the attachments; msgpack
    /// encodes the packet again with one more argument. `offset` must need no JSON
    /// escaping.
    pub(crate) fn with_offset(
        self,
        packet: &Packet,
        plain: &[OutMessage],
        offset: &str,
    ) -> Vec<OutMessage> {
        match self {
            Parser::Json => {
                let mut stamped = plain.to_vec();
                if let Some(text) = plain.first().and_then(OutMessage::as_text) {
                    let body = text.strip_suffix(']').unwrap_or(text);
                    stamped[0] = OutMessage::text_with(body.len() + offset.len() + 4, |out| {
                        out.extend_from_slice(body.as_bytes());
                        out.extend_from_slice(b",\"");
                        out.extend_from_slice(offset.as_bytes());
                        out.extend_from_slice(b"\"]");
                    });
                }
                stamped
            }
            Parser::MsgPack => vec![OutMessage::binary(encode_msgpack_with_arg(packet, offset))],
        }
    }

    /// The decoder of one connection's incoming messages.
    pub(crate) fn decoder(self, max_attachments: usize) -> PacketDecoder {
        match self {
            Parser::Json => PacketDecoder::Json(Decoder::new(max_attachments)),
            Parser::MsgPack => PacketDecoder::MsgPack { max_attachments },
        }
    }
}

/// A packet's text, encoded straight into its engine message.
fn text_message(packet: &Packet) -> OutMessage {
    OutMessage::text_with(64, |out| encode_into(packet, out))
}

/// One connection's incoming messages to packets. The JSON parser is a state machine (a
/// binary packet's attachments follow it); a msgpack packet is always one message.
pub(crate) enum PacketDecoder {
    Json(Decoder),
    MsgPack { max_attachments: usize },
}

impl PacketDecoder {
    /// Feeds one engine message: `Ok(Some)` is a complete packet, `Ok(None)` a binary
    /// packet that awaits its attachments.
    pub(crate) fn feed(&mut self, message: Message) -> Result<Option<Packet>, ParseError> {
        match (self, message) {
            (PacketDecoder::Json(decoder), Message::Text(text)) => decoder.feed_text(&text),
            (PacketDecoder::Json(decoder), Message::Binary(data)) => decoder.feed_binary(data),
            (PacketDecoder::MsgPack { max_attachments }, Message::Binary(data)) => {
                decode_msgpack(&data, *max_attachments).map(Some)
            }
            // A client configured with the default parser.
            (PacketDecoder::MsgPack { .. }, Message::Text(_)) => Err(ParseError::TextForMsgpack),
        }
    }
}
