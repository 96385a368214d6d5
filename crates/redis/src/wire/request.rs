//! Requests on `P-request#NSP#`: what a node asks of the others (room changes, fetches,
//! server-side emits, broadcasts with acks), built as the Node adapter builds them, and read
//! back into an [`IncomingRequest`] whose header comes first, so a node can drop its own
//! requests before reading the rest.

use super::error::WireError;
use super::parts::{decode_message, json, json_opts, kind, parse_opts, parse_packet, request_id};
use super::parts::{rooms_json, rooms_of, truthy, write_opts, write_packet};
use bytes::Bytes;
use rally::msgpack;
use rally::{BroadcastOptions, Room};
use serde_json::Value;
use std::time::Duration;

// ----------------------------------------------------------------------------- writing

/// BROADCAST (7), a broadcast with acks: notepack
/// `{uid, requestId, type: 7, packet: {type: 2, data, nsp}, opts: {rooms, except, flags}}`.
pub fn broadcast_request(
    uid: &str,
    request_id: &str,
    nsp: &str,
    data: &Value,
    attachments: &[Bytes],
    opts: &BroadcastOptions,
) -> Vec<u8> {
    let mut buf = Vec::with_capacity(96);
    msgpack::write_map_len(&mut buf, 5);
    msgpack::write_str(&mut buf, "uid");
    msgpack::write_str(&mut buf, uid);
    msgpack::write_str(&mut buf, "requestId");
    msgpack::write_str(&mut buf, request_id);
    msgpack::write_str(&mut buf, "type");
    msgpack::write_uint(&mut buf, kind::BROADCAST);
    msgpack::write_str(&mut buf, "packet");
    write_packet(&mut buf, nsp, data, attachments);
    msgpack::write_str(&mut buf, "opts");
    write_opts(&mut buf, opts);
    buf
}

/// REMOTE_FETCH (5): `{uid, requestId, type: 5, opts: {rooms, except}}`.
pub fn fetch_request(uid: &str, request_id: &str, opts: &BroadcastOptions) -> Vec<u8> {
    json(vec![
        ("uid", Value::from(uid)),
        ("requestId", Value::from(request_id)),
        ("type", Value::from(kind::REMOTE_FETCH)),
        ("opts", json_opts(opts)),
    ])
}

/// ALL_ROOMS (1): `{uid, requestId, type: 1}`.
pub fn all_rooms_request(uid: &str, request_id: &str) -> Vec<u8> {
    json(vec![
        ("uid", Value::from(uid)),
        ("requestId", Value::from(request_id)),
        ("type", Value::from(kind::ALL_ROOMS)),
    ])
}

/// REMOTE_JOIN (2) or REMOTE_LEAVE (3): `{uid, type, opts: {rooms, except}, rooms}`.
pub fn rooms_request(uid: &str, ty: u64, opts: &BroadcastOptions, rooms: &[Room]) -> Vec<u8> {
    json(vec![
        ("uid", Value::from(uid)),
        ("type", Value::from(ty)),
        ("opts", json_opts(opts)),
        ("rooms", rooms_json(rooms)),
    ])
}

/// REMOTE_DISCONNECT (4): `{uid, type: 4, opts: {rooms, except}, close}`.
pub fn disconnect_request(uid: &str, opts: &BroadcastOptions, close: bool) -> Vec<u8> {
    json(vec![
        ("uid", Value::from(uid)),
        ("type", Value::from(kind::REMOTE_DISCONNECT)),
        ("opts", json_opts(opts)),
        ("close", Value::Bool(close)),
    ])
}

/// SERVER_SIDE_EMIT (6): `{uid, type: 6, data: [event, ...args]}`, with `requestId` after
/// `uid` when acks are expected. Buffers travel as Node's `JSON.stringify` writes them.
pub fn server_side_emit_request(
    uid: &str,
    request_id: Option<&str>,
    event: &str,
    args: &[Value],
    attachments: &[Bytes],
) -> Vec<u8> {
    let mut data = Vec::with_capacity(args.len() + 1);
    data.push(Value::from(event));
    data.extend(
        args.iter()
            .map(|v| msgpack::buffers_as_json(v, attachments)),
    );
    let mut fields = vec![("uid", Value::from(uid))];
    if let Some(id) = request_id {
        fields.push(("requestId", Value::from(id)));
    }
    fields.push(("type", Value::from(kind::SERVER_SIDE_EMIT)));
    fields.push(("data", Value::Array(data)));
    json(fields)
}

// ----------------------------------------------------------------------------- reading

/// A request from another node or the emitter. The header is read by
/// [`decode`](Self::decode); the fields of each kind by the methods for that kind.
#[derive(Debug)]
pub struct IncomingRequest {
    /// The requesting node (None: the emitter, or a legacy node).
    pub uid: Option<String>,
    /// `requestId`, which every answer repeats (a number as its decimal text); None for a
    /// request that waits for no answer (room changes, a server-side emit without acks).
    pub request_id: Option<String>,
    /// One of [`kind`].
    pub kind: u64,
    /// The binary values of a notepack request (BROADCAST), which the placeholders in its
    /// packet point to; empty for a JSON one.
    pub attachments: Vec<Bytes>,
    body: Value,
}

/// A SERVER_SIDE_EMIT's `data`: `[event, ...args]`.
#[derive(Debug)]
pub struct ServerSideEmit {
    /// The event name, `data[0]` (a number as its decimal text).
    pub event: String,
    /// The arguments after it, `data[1..]`; in a JSON request a Node `Buffer` is the
    /// `{type: "Buffer", data: [...]}` object `JSON.stringify` made of it.
    pub args: Vec<Value>,
    /// The binary values the placeholders in `args` point to; empty for a JSON request.
    pub attachments: Vec<Bytes>,
}

/// A BROADCAST (7) request: a broadcast whose receivers answer with acks.
#[derive(Debug)]
pub struct BroadcastRequest {
    /// `requestId`, which the client count and every ack sent back repeat.
    pub request_id: String,
    /// `[event, ...args]` with placeholders.
    pub data: Value,
    /// The packet's binary values, which the placeholders in `data` point to.
    pub attachments: Vec<Bytes>,
    /// Rooms and except only: Node delivers with those and no flags.
    pub opts: BroadcastOptions,
    /// The emit's own ack timeout, when it has one (`opts.flags.timeout`).
    pub timeout: Option<Duration>,
}

impl IncomingRequest {
    /// Reads a request's header: `uid`, `requestId` and the `type` it cannot be without.
    pub fn decode(payload: &[u8]) -> Result<IncomingRequest, WireError> {
        let (body, attachments) = decode_message(payload)?;
        let uid = body.get("uid").and_then(Value::as_str).map(str::to_owned);
        let request_id = request_id(&body);
        let kind = body
            .get("type")
            .and_then(Value::as_u64)
            .ok_or(WireError::NoType)?;
        Ok(IncomingRequest {
            uid,
            request_id,
            kind,
            attachments,
            body,
        })
    }

    /// `rooms` (SOCKETS, REMOTE_JOIN, REMOTE_LEAVE).
    pub fn rooms(&self) -> Vec<Room> {
        rooms_of(self.body.get("rooms"))
    }

    /// `opts`, without flags (REMOTE_JOIN, REMOTE_LEAVE, REMOTE_DISCONNECT, REMOTE_FETCH);
    /// None for a room change in the legacy single-socket form.
    pub fn opts(&self) -> Option<BroadcastOptions> {
        self.body.get("opts").map(|opts| parse_opts(opts, false))
    }

    /// `close` of REMOTE_DISCONNECT, as JavaScript reads it.
    pub fn close(&self) -> bool {
        self.body.get("close").is_some_and(truthy)
    }

    /// `sid` and `room` (`""` when absent) of a legacy single-socket room change.
    pub fn legacy_target(&self) -> Option<(&str, &str)> {
        let sid = self.body.get("sid").and_then(Value::as_str)?;
        let room = self.body.get("room").and_then(Value::as_str).unwrap_or("");
        Some((sid, room))
    }

    /// The event and arguments of a SERVER_SIDE_EMIT.
    pub fn server_side_emit(mut self) -> Result<ServerSideEmit, WireError> {
        let Some(Value::Array(mut data)) = self.body.get_mut("data").map(Value::take) else {
            return Err(WireError::Missing("a server-side emit without data"));
        };
        if data.is_empty() {
            return Err(WireError::Missing("a server-side emit without an event"));
        }
        let event = match data.remove(0) {
            Value::String(name) => name,
            Value::Number(n) => n.to_string(),
            _ => return Err(WireError::EventNotAString),
        };
        Ok(ServerSideEmit {
            event,
            args: data,
            attachments: self.attachments,
        })
    }

    /// The id, packet and options of a BROADCAST request.
    pub fn broadcast(mut self) -> Result<BroadcastRequest, WireError> {
        let request_id = self
            .request_id
            .ok_or(WireError::Missing("a broadcast request without requestId"))?;
        let packet = self
            .body
            .get_mut("packet")
            .map(Value::take)
            .ok_or(WireError::Missing("a broadcast request without packet"))?;
        let (_, data) = parse_packet(packet)?;
        let raw_opts = self.body.get("opts").unwrap_or(&Value::Null);
        Ok(BroadcastRequest {
            request_id,
            data,
            opts: parse_opts(raw_opts, false),
            timeout: parse_opts(raw_opts, true).flags.timeout,
            attachments: self.attachments,
        })
    }
}
