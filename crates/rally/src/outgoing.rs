//! Outgoing packets: what the server sends, built from the API's arguments.
//!
//! One floor above the codec (`packet`) and `args`, below everything that sends: the
//! socket (its emits, acks and CONNECT answer), the client (CONNECT_ERROR), the
//! broadcast operator (which only builds the packet) and the adapters (which encode it).
//! It knows no socket, namespace or adapter, so each of them can use it without
//! reaching up into another.
//!
//! The packets are encoded by the server's `Parser` (`crate::parser`): an adapter
//! encodes a broadcast once and hands the same messages, whose bytes are shared, to
//! every recipient.

use crate::args::{Args, ArgsError, IntoArgs};
use crate::packet::{Packet, RESERVED_EVENTS};
use serde_json::{json, Value};
use std::fmt;

/// Why an emit was refused before anything was sent.
#[derive(Debug)]
pub enum EmitError {
    /// The event name is one socket.io keeps for itself ("connect", "disconnect", …).
    Reserved(String),
    /// The arguments did not serialize.
    Args(ArgsError),
}

impl fmt::Display for EmitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Reserved(name) => write!(f, "\"{name}\" is a reserved event name"),
            Self::Args(e) => write!(f, "arguments not serializable: {e}"),
        }
    }
}

impl std::error::Error for EmitError {}

/// An EVENT for namespace `nsp`, refusing reserved names as socket.io does; with `id`,
/// the recipients are asked for an ack.
pub(crate) fn event_packet(
    nsp: &str,
    event: &str,
    args: impl IntoArgs,
    id: Option<u64>,
) -> Result<Packet, EmitError> {
    if RESERVED_EVENTS.contains(&event) {
        return Err(EmitError::Reserved(event.to_owned()));
    }
    let (data, attachments) = args
        .into_args()
        .map_err(EmitError::Args)?
        .into_event_data(event);
    Ok(Packet::event(nsp, data, attachments, id))
}

/// The ACK answering the client's event `id`.
pub(crate) fn ack_packet(nsp: &str, id: u64, args: Args) -> Packet {
    let (data, attachments) = args.into_ack_data();
    Packet::ack(nsp, data, attachments, id)
}

/// The CONNECT answer that tells a client its socket joined, with the socket's id and,
/// when it is offered connection state recovery, the private id it reclaims it with.
pub(crate) fn connect_packet(nsp: &str, sid: &str, pid: Option<&str>) -> Packet {
    let data = match pid {
        Some(pid) => json!({ "sid": sid, "pid": pid }),
        None => json!({ "sid": sid }),
    };
    Packet::connect(nsp, Some(data))
}

/// A CONNECT_ERROR: the client's `connect_error` event gets `message` and `data`.
pub(crate) fn connect_error_packet(nsp: &str, message: &str, data: Option<Value>) -> Packet {
    let mut payload = json!({ "message": message });
    if let Some(data) = data {
        payload["data"] = data;
    }
    Packet::connect_error(nsp, payload)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::Binary;
    use crate::parser::Parser::Json;
    use bytes::Bytes;
    use rally_engine::OutMessage;

    fn texts_and_binaries(messages: &[OutMessage]) -> Vec<String> {
        messages
            .iter()
            .map(|m| match (m.as_text(), m.as_binary()) {
                (Some(text), _) => text.to_owned(),
                (None, Some(bytes)) => format!("bin:{}", bytes.len()),
                (None, None) => unreachable!("a message is text or binary"),
            })
            .collect()
    }

    #[test]
    fn reserved_event_names_are_refused_before_anything_is_built() {
        for name in RESERVED_EVENTS {
            let refused = event_packet("/", name, (), None);
            assert!(matches!(refused, Err(EmitError::Reserved(n)) if n == name));
        }
    }

    #[test]
    fn an_event_is_one_text_message_then_one_binary_per_attachment() {
        let plain = event_packet("/chat", "hi", ("there",), Some(4)).unwrap();
        let sent = Json.with_messages(&plain, texts_and_binaries);
        assert_eq!(sent, [r#"2/chat,4["hi","there"]"#]);

        let blob = Binary(Bytes::from_static(b"abc"));
        let binary = event_packet("/", "up", (blob,), None).unwrap();
        let expected = [
            r#"51-["up",{"_placeholder":true,"num":0}]"#.to_owned(),
            "bin:3".to_owned(),
        ];
        assert_eq!(texts_and_binaries(&Json.to_messages(&binary)), expected);
        assert_eq!(Json.with_messages(&binary, texts_and_binaries), expected);
    }

    #[test]
    fn an_offset_is_appended_as_the_last_argument() {
        let plain = event_packet("/chat", "hi", ("there",), None).unwrap();
        let stamped = Json.with_offset(&plain, &Json.to_messages(&plain), "t.1");
        assert_eq!(
            texts_and_binaries(&stamped),
            [r#"2/chat,["hi","there","t.1"]"#]
        );

        let blob = Binary(Bytes::from_static(b"abc"));
        let binary = event_packet("/", "up", (blob,), None).unwrap();
        let stamped = Json.with_offset(&binary, &Json.to_messages(&binary), "t.2");
        assert_eq!(
            texts_and_binaries(&stamped),
            [
                r#"51-["up",{"_placeholder":true,"num":0},"t.2"]"#.to_owned(),
                "bin:3".to_owned()
            ]
        );
    }

    #[test]
    fn server_answers_encode_as_socket_io_sends_them() {
        let ack = ack_packet("/", 7, Args::default());
        let connect = connect_packet("/admin", "abc", None);
        let recovering = connect_packet("/", "abc", Some("p1"));
        let refused = connect_error_packet("/", "Invalid namespace", None);
        let with_data = connect_error_packet("/", "no", Some(serde_json::json!({"a": 1})));
        let sent: Vec<String> = [ack, connect, recovering, refused, with_data]
            .iter()
            .flat_map(|p| texts_and_binaries(&Json.to_messages(p)))
            .collect();
        assert_eq!(
            sent,
            [
                "37[]",
                r#"0/admin,{"sid":"abc"}"#,
                r#"0{"sid":"abc","pid":"p1"}"#,
                r#"4{"message":"Invalid namespace"}"#,
                r#"4{"message":"no","data":{"a":1}}"#,
            ]
        );
    }
}
