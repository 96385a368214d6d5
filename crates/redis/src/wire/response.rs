//! Responses on `P-response#NSP#` (or `P-response#NSP#uid#`): what a node answers to each
//! kind of request, built as the Node adapter builds them, and read back into an
//! [`IncomingResponse`] by the node that asked.

use super::error::WireError;
use super::parts::{decode_message, json, kind, request_id};
use super::parts::{rooms_json, rooms_of};
use bytes::Bytes;
use rally::msgpack;
use rally::{Args, Room, SocketId, SocketInfo};
use serde_json::Value;

// ----------------------------------------------------------------------------- writing

/// `requestId` as the answer carries it: `null` when the request had none.
fn id_value(request_id: Option<&str>) -> Value {
    request_id.map_or(Value::Null, Value::from)
}

/// The answer to SOCKETS (0): `{requestId, sockets: [id…]}`.
pub fn sockets_response(request_id: Option<&str>, sockets: &[SocketId]) -> Vec<u8> {
    json(vec![
        ("requestId", id_value(request_id)),
        ("sockets", rooms_json(sockets)),
    ])
}

/// The answer to ALL_ROOMS (1): `{requestId, rooms: [room…]}`.
pub fn all_rooms_response(request_id: Option<&str>, rooms: &[Room]) -> Vec<u8> {
    json(vec![
        ("requestId", id_value(request_id)),
        ("rooms", rooms_json(rooms)),
    ])
}

/// The answer to a legacy single-socket REMOTE_JOIN, REMOTE_LEAVE or REMOTE_DISCONNECT,
/// sent by the node that has the socket once it is done: `{requestId}`.
pub fn done_response(request_id: Option<&str>) -> Vec<u8> {
    json(vec![("requestId", id_value(request_id))])
}

/// The answer to REMOTE_FETCH (5): `{requestId, sockets: [{id, handshake, rooms, data}…]}`.
pub fn fetch_response(request_id: Option<&str>, sockets: &[SocketInfo]) -> Vec<u8> {
    json(vec![
        ("requestId", id_value(request_id)),
        (
            "sockets",
            serde_json::to_value(sockets).unwrap_or(Value::Array(vec![])),
        ),
    ])
}

/// The answer to a server-side emit with ack: `{type: 6, requestId, data}` with the first
/// ack argument (left out when there is none).
pub fn server_side_emit_response(
    request_id: &str,
    first: Option<&Value>,
    attachments: &[Bytes],
) -> Vec<u8> {
    let mut fields = vec![
        ("type", Value::from(kind::SERVER_SIDE_EMIT)),
        ("requestId", Value::from(request_id)),
    ];
    if let Some(first) = first {
        fields.push(("data", msgpack::buffers_as_json(first, attachments)));
    }
    json(fields)
}

/// BROADCAST_CLIENT_COUNT (8): `{type: 8, requestId, clientCount}`.
pub fn client_count_response(request_id: &str, count: usize) -> Vec<u8> {
    json(vec![
        ("type", Value::from(kind::BROADCAST_CLIENT_COUNT)),
        ("requestId", Value::from(request_id)),
        ("clientCount", Value::from(count)),
    ])
}

/// BROADCAST_ACK (9), one client's answer: notepack `{type: 9, requestId, packet}`, where
/// `packet` is the client's first ack argument (left out when it sent none).
pub fn broadcast_ack_response(
    request_id: &str,
    arg: Option<&Value>,
    attachments: &[Bytes],
) -> Vec<u8> {
    let mut buf = Vec::with_capacity(32);
    msgpack::write_map_len(&mut buf, 2 + usize::from(arg.is_some()));
    msgpack::write_str(&mut buf, "type");
    msgpack::write_uint(&mut buf, kind::BROADCAST_ACK);
    msgpack::write_str(&mut buf, "requestId");
    msgpack::write_str(&mut buf, request_id);
    if let Some(arg) = arg {
        msgpack::write_str(&mut buf, "packet");
        msgpack::write_value(&mut buf, arg, attachments);
    }
    buf
}

// ----------------------------------------------------------------------------- reading

/// A response from another node. Which fields matter depends on the request it answers,
/// which only the requester knows (by `requestId`), hence one accessor per kind of answer.
#[derive(Debug)]
pub struct IncomingResponse {
    /// `requestId` of the request answered (a number as its decimal text); None when it is
    /// absent or `null`, as in the answer to a request that had none.
    pub request_id: Option<String>,
    /// The binary values of a notepack answer (BROADCAST_ACK), which the placeholders in
    /// its `packet` point to; empty for a JSON one.
    pub attachments: Vec<Bytes>,
    body: Value,
}

impl IncomingResponse {
    /// Reads a response, JSON text or notepack; its fields are read by the accessor for the
    /// kind of answer the requester expects.
    pub fn decode(payload: &[u8]) -> Result<IncomingResponse, WireError> {
        let (body, attachments) = decode_message(payload)?;
        Ok(IncomingResponse {
            request_id: request_id(&body),
            attachments,
            body,
        })
    }

    /// `type`: present on the answers to SERVER_SIDE_EMIT and BROADCAST only.
    pub fn kind(&self) -> Option<u64> {
        self.body.get("type").and_then(Value::as_u64)
    }

    /// `clientCount` of BROADCAST_CLIENT_COUNT (0 when absent).
    pub fn client_count(&self) -> usize {
        let count = self.body.get("clientCount").and_then(Value::as_u64);
        usize::try_from(count.unwrap_or(0)).unwrap_or(0)
    }

    /// A BROADCAST_ACK's client answer (`packet`), as ack arguments.
    pub fn broadcast_ack(self) -> Args {
        self.into_args("packet")
    }

    /// A server-side emit's answer (`data`), as ack arguments.
    pub fn server_side_emit_ack(self) -> Args {
        self.into_args("data")
    }

    fn into_args(mut self, field: &str) -> Args {
        Args {
            values: self
                .body
                .get_mut(field)
                .map(Value::take)
                .into_iter()
                .collect(),
            attachments: self.attachments,
        }
    }

    /// `sockets` of a REMOTE_FETCH answer; None when it is not a list.
    pub fn sockets(&self) -> Option<Vec<SocketInfo>> {
        let Some(Value::Array(list)) = self.body.get("sockets") else {
            return None;
        };
        Some(list.iter().filter_map(socket_info).collect())
    }

    /// `rooms` of an ALL_ROOMS answer; None when it is not a list.
    pub fn rooms(&self) -> Option<Vec<Room>> {
        match self.body.get("rooms") {
            Some(list @ Value::Array(_)) => Some(rooms_of(Some(list))),
            _ => None,
        }
    }
}

/// One entry of a REMOTE_FETCH answer: `{id, handshake, rooms, data}`.
fn socket_info(value: &Value) -> Option<SocketInfo> {
    Some(SocketInfo {
        id: value.get("id")?.as_str()?.to_owned(),
        handshake: value.get("handshake").cloned().unwrap_or(Value::Null),
        rooms: rooms_of(value.get("rooms"))
            .iter()
            .map(|r| r.to_string())
            .collect(),
        data: value.get("data").cloned().unwrap_or(Value::Null),
    })
}
