//! The pub/sub messages of `@socket.io/redis-streams-adapter` 0.3, both ways: requests on
//! `P#NSP#` and answers on `P#NSP#<requester uid>#`, each one MessagePack map
//! `{type, data, uid, nsp}` in that order, `type` an integer (the cluster adapter's
//! numbering), binary anywhere in `data` as MessagePack `bin`.
//!
//! What needs an answer travels here rather than in the stream: broadcasts that collect
//! acks, `fetch_sockets`, server-side emits, and every answer.

use super::error::WireError;
use super::parts::{parse_opts, parse_packet, write_opts};
use bytes::Bytes;
use rally::msgpack;
use rally::{BroadcastOptions, SocketInfo};
use serde_json::Value;

/// The cluster adapter's message types (`socket.io-adapter`'s `MessageType`), those of the
/// stream (3 to 6) and those of pub/sub alike.
pub mod cluster_kind {
    /// A broadcast: in the stream when it waits for no ack, over pub/sub with a `requestId`
    /// when the sender collects its clients' acks.
    pub const BROADCAST: u64 = 3;
    /// Stream: the sockets `opts` names join `rooms` (`socketsJoin`).
    pub const SOCKETS_JOIN: u64 = 4;
    /// Stream: the sockets `opts` names leave `rooms` (`socketsLeave`).
    pub const SOCKETS_LEAVE: u64 = 5;
    /// Stream: the sockets `opts` names are disconnected, their connections too when
    /// `close` is set (`disconnectSockets`).
    pub const DISCONNECT_SOCKETS: u64 = 6;
    /// Pub/sub request: the sockets `opts` names, with their handshake, rooms and data
    /// (`fetchSockets`).
    pub const FETCH_SOCKETS: u64 = 7;
    /// Pub/sub answer to [`FETCH_SOCKETS`]: one server's matching sockets.
    pub const FETCH_SOCKETS_RESPONSE: u64 = 8;
    /// Pub/sub request: an event for the other servers' handlers (`serverSideEmit`).
    pub const SERVER_SIDE_EMIT: u64 = 9;
    /// Pub/sub answer to a [`SERVER_SIDE_EMIT`] that has a `requestId`: one server's ack.
    pub const SERVER_SIDE_EMIT_RESPONSE: u64 = 10;
    /// Pub/sub answer to a broadcast with acks: how many clients one server delivered it to.
    pub const BROADCAST_CLIENT_COUNT: u64 = 11;
    /// Pub/sub answer to a broadcast with acks: one client's ack.
    pub const BROADCAST_ACK: u64 = 12;
}

/// One request or answer. `data` values are JSON with placeholders into `attachments`.
#[derive(Debug, PartialEq)]
pub enum ClusterMessage {
    /// An EVENT whose recipients' acks go back to the requester.
    BroadcastWithAck {
        /// `data.requestId`, which the client counts and acks sent back repeat.
        request_id: String,
        /// `data.packet.data`: `[event, ...args]` with placeholders (the packet is
        /// `{type: 2, data}`, without `nsp`).
        data: Value,
        /// The binary values the placeholders in `data` point to, MessagePack `bin` on the
        /// wire.
        attachments: Vec<Bytes>,
        /// `data.opts`, `{rooms, except, flags}`: the sockets it goes to; `flags.timeout` is
        /// how long (ms) the sender waits for their acks.
        opts: BroadcastOptions,
    },
    /// Asks every other server for its sockets that `opts` names, with their handshake,
    /// rooms and data.
    FetchSockets {
        /// `data.requestId`, which each server's answer repeats.
        request_id: String,
        /// `data.opts`, `{rooms, except, flags}`: which sockets.
        opts: BroadcastOptions,
    },
    /// One server's answer to a [`FetchSockets`](Self::FetchSockets): its matching sockets.
    FetchSocketsResponse {
        /// `data.requestId` of the request answered.
        request_id: String,
        /// `data.sockets`, each `{id, handshake, rooms, data}`; one without an `id` is left
        /// out when read.
        sockets: Vec<SocketInfo>,
    },
    /// `[event, ...args]` for the other servers' handlers; with a request id when the
    /// sender waits for their answers.
    ServerSideEmit {
        /// `data.requestId`, present when the sender waits for acks; each server's answer
        /// repeats it.
        request_id: Option<String>,
        /// `data.packet`: `[event, ...args]` with placeholders.
        data: Value,
        /// The binary values the placeholders in `data` point to, MessagePack `bin` on the
        /// wire.
        attachments: Vec<Bytes>,
    },
    /// A server's answer to a server-side emit: the first argument its handler acked with.
    ServerSideEmitResponse {
        /// `data.requestId` of the emit answered.
        request_id: String,
        /// `data.packet`: that first argument (`null` when the handler gave none).
        data: Value,
        /// The binary values the placeholders in `data` point to, MessagePack `bin` on the
        /// wire.
        attachments: Vec<Bytes>,
    },
    /// How many local clients a server delivered a broadcast with acks to: how many acks
    /// the requester waits for from it.
    BroadcastClientCount {
        /// `data.requestId` of the broadcast answered.
        request_id: String,
        /// `data.clientCount` (0 when absent or not a non-negative integer).
        count: u64,
    },
    /// One client's ack to a broadcast: its first argument.
    BroadcastAck {
        /// `data.requestId` of the broadcast answered.
        request_id: String,
        /// `data.packet`: that first argument (`null` when the client gave none).
        data: Value,
        /// The binary values the placeholders in `data` point to, MessagePack `bin` on the
        /// wire.
        attachments: Vec<Bytes>,
    },
}

/// A message as read: the server that sent it, its namespace, and what it says.
#[derive(Debug, PartialEq)]
pub struct ClusterEnvelope {
    /// `uid`: the server that sent it; a request's answers go to `P#NSP#<uid>#`.
    pub uid: String,
    /// `nsp`: the namespace it concerns.
    pub nsp: String,
    /// `type` and `data`, read into what they say.
    pub message: ClusterMessage,
}

fn write_request_id(buf: &mut Vec<u8>, request_id: &str) {
    msgpack::write_str(buf, "requestId");
    msgpack::write_str(buf, request_id);
}

/// `{requestId, <key>: value}`: the shape every answer but the socket list has.
fn write_answer(
    buf: &mut Vec<u8>,
    request_id: &str,
    key: &str,
    value: &Value,
    attachments: &[Bytes],
) {
    msgpack::write_map_len(buf, 2);
    write_request_id(buf, request_id);
    msgpack::write_str(buf, key);
    msgpack::write_value(buf, value, attachments);
}

impl ClusterMessage {
    fn kind(&self) -> u64 {
        match self {
            Self::BroadcastWithAck { .. } => cluster_kind::BROADCAST,
            Self::FetchSockets { .. } => cluster_kind::FETCH_SOCKETS,
            Self::FetchSocketsResponse { .. } => cluster_kind::FETCH_SOCKETS_RESPONSE,
            Self::ServerSideEmit { .. } => cluster_kind::SERVER_SIDE_EMIT,
            Self::ServerSideEmitResponse { .. } => cluster_kind::SERVER_SIDE_EMIT_RESPONSE,
            Self::BroadcastClientCount { .. } => cluster_kind::BROADCAST_CLIENT_COUNT,
            Self::BroadcastAck { .. } => cluster_kind::BROADCAST_ACK,
        }
    }

    /// `data`, its keys in the order Node writes them.
    fn write_data(&self, buf: &mut Vec<u8>) {
        match self {
            Self::BroadcastWithAck {
                request_id,
                data,
                attachments,
                opts,
            } => {
                msgpack::write_map_len(buf, 3);
                msgpack::write_str(buf, "packet");
                msgpack::write_map_len(buf, 2);
                msgpack::write_str(buf, "type");
                msgpack::write_uint(buf, 2);
                msgpack::write_str(buf, "data");
                msgpack::write_value(buf, data, attachments);
                write_request_id(buf, request_id);
                msgpack::write_str(buf, "opts");
                write_opts(buf, opts);
            }
            Self::FetchSockets { request_id, opts } => {
                msgpack::write_map_len(buf, 2);
                msgpack::write_str(buf, "opts");
                write_opts(buf, opts);
                write_request_id(buf, request_id);
            }
            Self::FetchSocketsResponse {
                request_id,
                sockets,
            } => {
                msgpack::write_map_len(buf, 2);
                write_request_id(buf, request_id);
                msgpack::write_str(buf, "sockets");
                msgpack::write_array_len(buf, sockets.len());
                for socket in sockets {
                    msgpack::write_map_len(buf, 4);
                    msgpack::write_str(buf, "id");
                    msgpack::write_str(buf, &socket.id);
                    msgpack::write_str(buf, "handshake");
                    msgpack::write_value(buf, &socket.handshake, &[]);
                    msgpack::write_str(buf, "rooms");
                    msgpack::write_array_len(buf, socket.rooms.len());
                    for room in &socket.rooms {
                        msgpack::write_str(buf, room);
                    }
                    msgpack::write_str(buf, "data");
                    msgpack::write_value(buf, &socket.data, &[]);
                }
            }
            Self::ServerSideEmit {
                request_id,
                data,
                attachments,
            } => {
                msgpack::write_map_len(buf, 1 + usize::from(request_id.is_some()));
                if let Some(request_id) = request_id {
                    write_request_id(buf, request_id);
                }
                msgpack::write_str(buf, "packet");
                msgpack::write_value(buf, data, attachments);
            }
            Self::ServerSideEmitResponse {
                request_id,
                data,
                attachments,
            }
            | Self::BroadcastAck {
                request_id,
                data,
                attachments,
            } => write_answer(buf, request_id, "packet", data, attachments),
            Self::BroadcastClientCount { request_id, count } => {
                write_answer(buf, request_id, "clientCount", &Value::from(*count), &[])
            }
        }
    }
}

/// The payload to PUBLISH for `message` from server `uid` in namespace `nsp`.
pub fn cluster_message(uid: &str, nsp: &str, message: &ClusterMessage) -> Vec<u8> {
    let mut buf = Vec::with_capacity(96);
    msgpack::write_map_len(&mut buf, 4);
    msgpack::write_str(&mut buf, "type");
    msgpack::write_uint(&mut buf, message.kind());
    msgpack::write_str(&mut buf, "data");
    message.write_data(&mut buf);
    msgpack::write_str(&mut buf, "uid");
    msgpack::write_str(&mut buf, uid);
    msgpack::write_str(&mut buf, "nsp");
    msgpack::write_str(&mut buf, nsp);
    buf
}

/// Reads a pub/sub payload. `Ok(None)` for a type that does not travel over pub/sub
/// (what a classic emitter publishes on the same channel name, for one, is not a map).
pub fn parse_cluster_message(payload: &[u8]) -> Result<Option<ClusterEnvelope>, WireError> {
    let (value, attachments) = msgpack::decode(payload)?;
    let Value::Object(mut envelope) = value else {
        return Ok(None);
    };
    let Some(kind) = envelope.get("type").and_then(Value::as_u64) else {
        return Err(WireError::NoType);
    };
    let text = |v: Option<Value>, what: &'static str| match v {
        Some(Value::String(s)) => Ok(s),
        _ => Err(WireError::Missing(what)),
    };
    let uid = text(envelope.remove("uid"), "uid")?;
    let nsp = text(envelope.remove("nsp"), "nsp")?;
    let mut data = match envelope.remove("data") {
        Some(Value::Object(data)) => data,
        _ => return Err(WireError::Missing("data")),
    };
    let request_id = |data: &mut serde_json::Map<String, Value>| match data.remove("requestId") {
        Some(Value::String(s)) => Ok(s),
        Some(Value::Number(n)) => Ok(n.to_string()),
        _ => Err(WireError::Missing("requestId")),
    };
    let opts = |data: &serde_json::Map<String, Value>| {
        parse_opts(data.get("opts").unwrap_or(&Value::Null), true)
    };
    let packet =
        |data: &mut serde_json::Map<String, Value>| data.remove("packet").unwrap_or(Value::Null);
    let message = match kind {
        cluster_kind::BROADCAST => {
            let (_, event) = parse_packet(packet(&mut data))?;
            ClusterMessage::BroadcastWithAck {
                request_id: request_id(&mut data)?,
                opts: opts(&data),
                data: event,
                attachments,
            }
        }
        cluster_kind::FETCH_SOCKETS => ClusterMessage::FetchSockets {
            request_id: request_id(&mut data)?,
            opts: opts(&data),
        },
        cluster_kind::FETCH_SOCKETS_RESPONSE => ClusterMessage::FetchSocketsResponse {
            request_id: request_id(&mut data)?,
            sockets: match data.remove("sockets") {
                Some(Value::Array(items)) => items.into_iter().filter_map(socket_info).collect(),
                _ => Vec::new(),
            },
        },
        cluster_kind::SERVER_SIDE_EMIT => ClusterMessage::ServerSideEmit {
            request_id: request_id(&mut data).ok(),
            data: packet(&mut data),
            attachments,
        },
        cluster_kind::SERVER_SIDE_EMIT_RESPONSE => ClusterMessage::ServerSideEmitResponse {
            request_id: request_id(&mut data)?,
            data: packet(&mut data),
            attachments,
        },
        cluster_kind::BROADCAST_CLIENT_COUNT => ClusterMessage::BroadcastClientCount {
            request_id: request_id(&mut data)?,
            count: data.get("clientCount").and_then(Value::as_u64).unwrap_or(0),
        },
        cluster_kind::BROADCAST_ACK => ClusterMessage::BroadcastAck {
            request_id: request_id(&mut data)?,
            data: packet(&mut data),
            attachments,
        },
        _ => return Ok(None),
    };
    Ok(Some(ClusterEnvelope { uid, nsp, message }))
}

/// One socket of a FETCH_SOCKETS answer; one without an id is left out.
fn socket_info(item: Value) -> Option<SocketInfo> {
    let Value::Object(mut item) = item else {
        return None;
    };
    let Some(Value::String(id)) = item.remove("id") else {
        return None;
    };
    let rooms = match item.remove("rooms") {
        Some(Value::Array(rooms)) => rooms
            .into_iter()
            .filter_map(|r| r.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    };
    Some(SocketInfo {
        id,
        handshake: item.remove("handshake").unwrap_or(Value::Null),
        rooms,
        data: item.remove("data").unwrap_or(Value::Null),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::time::Duration;

    /// A payload as `redis-cli MONITOR` printed it (`\xNN` escapes, other bytes as they are).
    fn monitor(text: &str) -> Vec<u8> {
        let mut out = Vec::new();
        let bytes = text.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'\\' && bytes.get(i + 1) == Some(&b'x') {
                let hex = std::str::from_utf8(&bytes[i + 2..i + 4]).unwrap();
                out.push(u8::from_str_radix(hex, 16).unwrap());
                i += 4;
            } else if bytes[i] == b'\\' {
                out.push(match bytes[i + 1] {
                    b'a' => 7,
                    b'b' => 8,
                    b't' => 9,
                    b'n' => 10,
                    other => other,
                });
                i += 2;
            } else {
                out.push(bytes[i]);
                i += 1;
            }
        }
        out
    }

    fn round_trip(uid: &str, message: ClusterMessage) -> Vec<u8> {
        let payload = cluster_message(uid, "/", &message);
        let read = parse_cluster_message(&payload).unwrap().unwrap();
        assert_eq!(
            read,
            ClusterEnvelope {
                uid: uid.into(),
                nsp: "/".into(),
                message
            }
        );
        payload
    }

    #[test]
    fn requests_are_written_as_node_writes_them() {
        // Captured from two Node 0.3 servers (MONITOR).
        let fetch = round_trip(
            "f28461cf5546dfd3",
            ClusterMessage::FetchSockets {
                request_id: "ac18ce5774f32a0b".into(),
                opts: BroadcastOptions::default(),
            },
        );
        assert_eq!(
            fetch,
            monitor(
                r"\x84\xa4type\a\xa4data\x82\xa4opts\x83\xa5rooms\x90\xa6except\x90\xa5flags\x80\xa9requestId\xb0ac18ce5774f32a0b\xa3uid\xb0f28461cf5546dfd3\xa3nsp\xa1/"
            )
        );
        let emit = round_trip(
            "f28461cf5546dfd3",
            ClusterMessage::ServerSideEmit {
                request_id: Some("592071faaa75e397".into()),
                data: json!(["ping-srv", 1, "two"]),
                attachments: vec![],
            },
        );
        assert_eq!(
            emit,
            monitor(
                r"\x84\xa4type\t\xa4data\x82\xa9requestId\xb0592071faaa75e397\xa6packet\x93\xa8ping-srv\x01\xa3two\xa3uid\xb0f28461cf5546dfd3\xa3nsp\xa1/"
            )
        );
        let with_ack = round_trip(
            "f28461cf5546dfd3",
            ClusterMessage::BroadcastWithAck {
                request_id: "c41ec9645574e25f".into(),
                data: json!(["ask"]),
                attachments: vec![],
                opts: BroadcastOptions {
                    flags: rally::adapter::BroadcastFlags {
                        timeout: Some(Duration::from_millis(2000)),
                        ..Default::default()
                    },
                    ..BroadcastOptions::default()
                },
            },
        );
        assert_eq!(
            with_ack,
            monitor(
                r"\x84\xa4type\x03\xa4data\x83\xa6packet\x82\xa4type\x02\xa4data\x91\xa3ask\xa9requestId\xb0c41ec9645574e25f\xa4opts\x83\xa5rooms\x90\xa6except\x90\xa5flags\x81\xa7timeout\xcd\a\xd0\xa3uid\xb0f28461cf5546dfd3\xa3nsp\xa1/"
            )
        );
    }

    #[test]
    fn answers_are_written_as_node_writes_them() {
        let uid = "315dab672d9b7716";
        let pong = round_trip(
            uid,
            ClusterMessage::ServerSideEmitResponse {
                request_id: "592071faaa75e397".into(),
                data: json!("pong-from-A"),
                attachments: vec![],
            },
        );
        assert_eq!(
            pong,
            monitor(
                r"\x84\xa4type\n\xa4data\x82\xa9requestId\xb0592071faaa75e397\xa6packet\xabpong-from-A\xa3uid\xb0315dab672d9b7716\xa3nsp\xa1/"
            )
        );
        let count = round_trip(
            uid,
            ClusterMessage::BroadcastClientCount {
                request_id: "c41ec9645574e25f".into(),
                count: 1,
            },
        );
        assert_eq!(
            count,
            monitor(
                r"\x84\xa4type\x0b\xa4data\x82\xa9requestId\xb0c41ec9645574e25f\xabclientCount\x01\xa3uid\xb0315dab672d9b7716\xa3nsp\xa1/"
            )
        );
        let ack = round_trip(
            uid,
            ClusterMessage::BroadcastAck {
                request_id: "c41ec9645574e25f".into(),
                data: json!("answer-from-c1"),
                attachments: vec![],
            },
        );
        assert_eq!(
            ack,
            monitor(
                r"\x84\xa4type\x0c\xa4data\x82\xa9requestId\xb0c41ec9645574e25f\xa6packet\xaeanswer-from-c1\xa3uid\xb0315dab672d9b7716\xa3nsp\xa1/"
            )
        );
        round_trip(
            uid,
            ClusterMessage::FetchSocketsResponse {
                request_id: "r".into(),
                sockets: vec![SocketInfo {
                    id: "cNfsRDh4fJjzMmSmAAAA".into(),
                    handshake: json!({"auth": {}, "issued": 1_796_321_607_830u64}),
                    rooms: vec!["cNfsRDh4fJjzMmSmAAAA".into(), "room1".into()],
                    data: json!({"user": "alice"}),
                }],
            },
        );
    }

    #[test]
    fn binary_travels_as_bin_and_strangers_are_skipped() {
        let blob = ClusterMessage::ServerSideEmit {
            request_id: None,
            data: json!(["ping-srv", {"x": msgpack::placeholder(0)}]),
            attachments: vec![Bytes::from_static(&[9])],
        };
        let payload = round_trip("f28461cf5546dfd3", blob);
        assert_eq!(
            payload,
            monitor(
                r"\x84\xa4type\t\xa4data\x81\xa6packet\x92\xa8ping-srv\x81\xa1x\xc4\x01\t\xa3uid\xb0f28461cf5546dfd3\xa3nsp\xa1/"
            )
        );
        // What the classic emitter publishes on the same channel: an array, not ours.
        let classic = msgpack::encode(&json!(["emitter", {"type": 2}, {}]), &[]);
        assert_eq!(parse_cluster_message(&classic).unwrap(), None);
        let unknown = msgpack::encode(
            &json!({"type": 13, "data": {}, "uid": "u", "nsp": "/"}),
            &[],
        );
        assert_eq!(parse_cluster_message(&unknown).unwrap(), None);
        assert!(parse_cluster_message(&[0xc1]).is_err());
    }
}
