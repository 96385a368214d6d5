//! The stream entries of `@socket.io/redis-streams-adapter` 0.3, both ways:
//! `XADD <stream> MAXLEN ~ <n> * uid <uid> nsp <nsp> type <decimal> data <data>`.
//!
//! Only what must survive a reader's absence travels in the stream: broadcasts that wait
//! for no ack (type 3), remote joins (4), leaves (5) and disconnections (6); requests and
//! every answer go over pub/sub. `data` is the message's object as JSON text, or, when it
//! holds binary, base64 of its MessagePack; a reader tells them apart by the first byte
//! (`{`). In the stream the packet is `{type: 2, data}`, without `nsp` (the entry's own
//! field says it) or `id`.

use super::cluster::cluster_kind;
use super::error::WireError;
use super::parts::{
    json, json_opts, parse_opts, parse_packet, rooms_json, rooms_of, truthy, write_opts,
};
use base64::Engine;
use bytes::Bytes;
use rally::msgpack;
use rally::{BroadcastOptions, Room};
use serde_json::{json as value, Value};

/// Rally's own entry type, outside socket.io's (1 to 13), which Node's adapter skips as
/// unknown, live and when it restores a session: [`StreamMessage::Unplaced`].
pub const UNPLACED: u64 = 100;

/// What one entry asks of every server.
#[derive(Debug, PartialEq)]
pub enum StreamMessage {
    /// An EVENT (`[event, ...args]` with placeholders) for the sockets `opts` names.
    Broadcast {
        /// `packet.data` of the entry's `data`: `[event, ...args]` with placeholders.
        data: Value,
        /// The binary values the placeholders in `data` point to; with any, the entry's
        /// `data` is base64 of MessagePack instead of JSON text.
        attachments: Vec<Bytes>,
        /// `opts`, `{rooms, except, flags}`: the sockets every server delivers it to, and
        /// its `volatile` and `timeout` flags.
        opts: BroadcastOptions,
    },
    /// SOCKETS_JOIN: every server puts the sockets `opts` names in `rooms` (`socketsJoin`).
    SocketsJoin {
        /// `opts`, `{rooms, except, flags}`: which sockets.
        opts: BroadcastOptions,
        /// `rooms`: the rooms they join.
        rooms: Vec<Room>,
    },
    /// SOCKETS_LEAVE: every server takes the sockets `opts` names out of `rooms`
    /// (`socketsLeave`).
    SocketsLeave {
        /// `opts`, `{rooms, except, flags}`: which sockets.
        opts: BroadcastOptions,
        /// `rooms`: the rooms they leave.
        rooms: Vec<Room>,
    },
    /// DISCONNECT_SOCKETS: every server disconnects the sockets `opts` names
    /// (`disconnectSockets`).
    DisconnectSockets {
        /// `opts`, `{rooms, except, flags}`: which sockets.
        opts: BroadcastOptions,
        /// `close`: close their underlying connections too, rather than only disconnect them
        /// from the namespace (read with JavaScript truthiness).
        close: bool,
    },
    /// Rally only: the writer delivered events to the sockets `opts` names that are not in
    /// the stream (Redis was away). No recovery may replay past this entry for them: they
    /// may have missed what is not there.
    Unplaced {
        /// `opts`, `{rooms, except, flags}`: the sockets that may have missed events.
        opts: BroadcastOptions,
    },
}

/// A stream entry as read: the server that wrote it (`uid`), its namespace and message.
#[derive(Debug, PartialEq)]
pub struct StreamEntry {
    /// The `uid` field: the server that appended it, so that it can tell its own entries.
    pub uid: String,
    /// The `nsp` field: the namespace it concerns (its packet carries none).
    pub nsp: String,
    /// The `type` and `data` fields, read into what they ask.
    pub message: StreamMessage,
}

impl StreamMessage {
    fn kind(&self) -> u64 {
        match self {
            Self::Broadcast { .. } => cluster_kind::BROADCAST,
            Self::SocketsJoin { .. } => cluster_kind::SOCKETS_JOIN,
            Self::SocketsLeave { .. } => cluster_kind::SOCKETS_LEAVE,
            Self::DisconnectSockets { .. } => cluster_kind::DISCONNECT_SOCKETS,
            Self::Unplaced { .. } => UNPLACED,
        }
    }

    /// The `data` field: JSON text, or base64 of MessagePack when there is binary.
    fn data_field(&self) -> Vec<u8> {
        match self {
            Self::Broadcast {
                data,
                attachments,
                opts,
            } if !attachments.is_empty() => {
                let mut buf = Vec::with_capacity(64);
                msgpack::write_map_len(&mut buf, 2);
                msgpack::write_str(&mut buf, "packet");
                msgpack::write_map_len(&mut buf, 2);
                msgpack::write_str(&mut buf, "type");
                msgpack::write_uint(&mut buf, 2);
                msgpack::write_str(&mut buf, "data");
                msgpack::write_value(&mut buf, data, attachments);
                msgpack::write_str(&mut buf, "opts");
                write_opts(&mut buf, opts);
                base64::engine::general_purpose::STANDARD
                    .encode(buf)
                    .into_bytes()
            }
            Self::Broadcast { data, opts, .. } => json(vec![
                ("packet", value!({ "type": 2, "data": data })),
                ("opts", opts_with_flags(opts)),
            ]),
            Self::SocketsJoin { opts, rooms } | Self::SocketsLeave { opts, rooms } => json(vec![
                ("opts", opts_with_flags(opts)),
                ("rooms", rooms_json(rooms)),
            ]),
            Self::DisconnectSockets { opts, close } => json(vec![
                ("opts", opts_with_flags(opts)),
                ("close", Value::Bool(*close)),
            ]),
            Self::Unplaced { opts } => json(vec![("opts", opts_with_flags(opts))]),
        }
    }
}

/// `{rooms, except, flags}` as JSON, flags holding only what is set.
fn opts_with_flags(opts: &BroadcastOptions) -> Value {
    let mut out = json_opts(opts);
    let mut flags = serde_json::Map::new();
    if opts.flags.volatile {
        flags.insert("volatile".into(), Value::Bool(true));
    }
    if let Some(timeout) = opts.flags.timeout {
        flags.insert("timeout".into(), value!(timeout.as_millis() as u64));
    }
    out["flags"] = Value::Object(flags);
    out
}

/// The fields of an entry, in the order Node writes them.
pub fn stream_fields(
    uid: &str,
    nsp: &str,
    message: &StreamMessage,
) -> [(&'static str, Vec<u8>); 4] {
    [
        ("uid", uid.as_bytes().to_vec()),
        ("nsp", nsp.as_bytes().to_vec()),
        ("type", message.kind().to_string().into_bytes()),
        ("data", message.data_field()),
    ]
}

/// Whether `id` has the form of a stream entry's id, `<ms>-<seq>`.
pub fn is_stream_id(id: &str) -> bool {
    let digits = |s: &str| !s.is_empty() && s.len() <= 20 && s.bytes().all(|b| b.is_ascii_digit());
    id.split_once('-')
        .is_some_and(|(ms, seq)| digits(ms) && digits(seq))
}

/// Reads an entry's fields (in any order). `Ok(None)` for an entry of a type the stream
/// does not carry in 0.3 (the heartbeats of 0.2, a request a 0.2 node put there): skipped,
/// as Node skips them.
pub fn parse_stream_entry(fields: &[(Vec<u8>, Vec<u8>)]) -> Result<Option<StreamEntry>, WireError> {
    let field = |name: &str| {
        fields
            .iter()
            .find(|(key, _)| key.as_slice() == name.as_bytes())
            .map(|(_, value)| value.as_slice())
    };
    let text = |name: &'static str| -> Result<String, WireError> {
        let bytes = field(name).ok_or(WireError::Missing(name))?;
        String::from_utf8(bytes.to_vec()).map_err(|_| WireError::Missing(name))
    };
    let uid = text("uid")?;
    let nsp = text("nsp")?;
    let kind: u64 = text("type")?
        .trim()
        .parse()
        .map_err(|_| WireError::NoType)?;
    if !(cluster_kind::BROADCAST..=cluster_kind::DISCONNECT_SOCKETS).contains(&kind)
        && kind != UNPLACED
    {
        return Ok(None);
    }
    let (data, attachments) = decode_data(field("data").ok_or(WireError::Missing("data"))?)?;
    let opts = parse_opts(data.get("opts").unwrap_or(&Value::Null), true);
    let message = match kind {
        cluster_kind::BROADCAST => {
            let packet = data
                .get("packet")
                .cloned()
                .ok_or(WireError::Missing("packet"))?;
            let (_, data) = parse_packet(packet)?;
            StreamMessage::Broadcast {
                data,
                attachments,
                opts,
            }
        }
        cluster_kind::SOCKETS_JOIN => StreamMessage::SocketsJoin {
            opts,
            rooms: rooms_of(data.get("rooms")),
        },
        cluster_kind::SOCKETS_LEAVE => StreamMessage::SocketsLeave {
            opts,
            rooms: rooms_of(data.get("rooms")),
        },
        cluster_kind::DISCONNECT_SOCKETS => StreamMessage::DisconnectSockets {
            opts,
            close: data.get("close").is_some_and(truthy),
        },
        _ => StreamMessage::Unplaced { opts },
    };
    Ok(Some(StreamEntry { uid, nsp, message }))
}

/// `data`: JSON text when it starts with `{`, else base64 of MessagePack.
fn decode_data(field: &[u8]) -> Result<(Value, Vec<Bytes>), WireError> {
    if field.first() == Some(&b'{') {
        return serde_json::from_slice(field)
            .map(|v| (v, Vec::new()))
            .map_err(WireError::Json);
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(field)
        .map_err(|_| WireError::Missing("data: neither JSON nor base64"))?;
    Ok(msgpack::decode(&bytes)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rally::msgpack::placeholder;

    fn fields_of(uid: &str, nsp: &str, message: &StreamMessage) -> Vec<(Vec<u8>, Vec<u8>)> {
        stream_fields(uid, nsp, message)
            .into_iter()
            .map(|(k, v)| (k.as_bytes().to_vec(), v))
            .collect()
    }

    fn text(field: &[u8]) -> &str {
        std::str::from_utf8(field).unwrap()
    }

    fn to_room1() -> BroadcastOptions {
        BroadcastOptions {
            rooms: vec!["room1".into()],
            ..BroadcastOptions::default()
        }
    }

    #[test]
    fn a_binary_broadcast_is_written_as_node_writes_it() {
        // io.to("room1").emit("hello", "world", Buffer.from([1, 2, 3])), captured from Node.
        let message = StreamMessage::Broadcast {
            data: value!(["hello", "world", placeholder(0)]),
            attachments: vec![Bytes::from_static(&[1, 2, 3])],
            opts: to_room1(),
        };
        let fields = stream_fields("315dab672d9b7716", "/", &message);
        let names: Vec<&str> = fields.iter().map(|(k, _)| *k).collect();
        assert_eq!(names, ["uid", "nsp", "type", "data"]);
        assert_eq!(text(&fields[2].1), "3");
        assert_eq!(
            text(&fields[3].1),
            "gqZwYWNrZXSCpHR5cGUCpGRhdGGTpWhlbGxvpXdvcmxkxAMBAgOkb3B0c4Olcm9vbXORpXJvb20xpmV4Y2VwdJClZmxhZ3OA"
        );
        let read = parse_stream_entry(&fields_of("315dab672d9b7716", "/", &message)).unwrap();
        assert_eq!(
            read,
            Some(StreamEntry {
                uid: "315dab672d9b7716".into(),
                nsp: "/".into(),
                message
            })
        );
    }

    #[test]
    fn a_plain_broadcast_is_json_text() {
        let message = StreamMessage::Broadcast {
            data: value!(["plain", {"a": 1, "b": "x"}]),
            attachments: vec![],
            opts: BroadcastOptions::default(),
        };
        let fields = stream_fields("u", "/", &message);
        assert_eq!(
            text(&fields[3].1),
            r#"{"packet":{"type":2,"data":["plain",{"a":1,"b":"x"}]},"opts":{"rooms":[],"except":[],"flags":{}}}"#
        );
        let read = parse_stream_entry(&fields_of("u", "/", &message))
            .unwrap()
            .unwrap();
        assert_eq!(read.message, message);
    }

    #[test]
    fn room_changes_and_disconnections_round_trip() {
        for message in [
            StreamMessage::SocketsJoin {
                opts: to_room1(),
                rooms: vec!["r2".into(), "r3".into()],
            },
            StreamMessage::SocketsLeave {
                opts: BroadcastOptions::default(),
                rooms: vec!["r2".into()],
            },
            StreamMessage::DisconnectSockets {
                opts: to_room1(),
                close: true,
            },
            StreamMessage::Unplaced { opts: to_room1() },
        ] {
            let read = parse_stream_entry(&fields_of("u", "/chat", &message))
                .unwrap()
                .unwrap();
            assert_eq!((read.nsp.as_str(), &read.message), ("/chat", &message));
        }
    }

    #[test]
    fn other_types_are_skipped_and_bad_entries_refused() {
        let heartbeat = vec![
            (b"uid".to_vec(), b"u".to_vec()),
            (b"nsp".to_vec(), b"/".to_vec()),
            (b"type".to_vec(), b"2".to_vec()),
        ];
        assert_eq!(parse_stream_entry(&heartbeat).unwrap(), None);
        let mut garbage = heartbeat.clone();
        garbage[2].1 = b"3".to_vec();
        garbage.push((b"data".to_vec(), b"!!not base64!!".to_vec()));
        assert!(parse_stream_entry(&garbage).is_err());
        assert!(parse_stream_entry(&heartbeat[..2]).is_err(), "no type");
    }
}
