//! The messages of `@socket.io/redis-adapter` 8.3 (classic) and `@socket.io/redis-emitter`
//! 5.1, built and read exactly as `dist/index.js` does: field names, field order, and which
//! are MessagePack (broadcasts, the BROADCAST request and BROADCAST_ACK responses) and which
//! are JSON text (every other request and response).

use crate::codec::{self, DecodeError};
use bytes::Bytes;
use rally::{BroadcastOptions, Room};
use serde_json::{Map, Value};
use std::time::Duration;

/// `RequestType` of the classic adapter.
pub mod kind {
    pub const SOCKETS: u64 = 0;
    pub const ALL_ROOMS: u64 = 1;
    pub const REMOTE_JOIN: u64 = 2;
    pub const REMOTE_LEAVE: u64 = 3;
    pub const REMOTE_DISCONNECT: u64 = 4;
    pub const REMOTE_FETCH: u64 = 5;
    pub const SERVER_SIDE_EMIT: u64 = 6;
    pub const BROADCAST: u64 = 7;
    pub const BROADCAST_CLIENT_COUNT: u64 = 8;
    pub const BROADCAST_ACK: u64 = 9;
}

/// socket.io-parser's EVENT and BINARY_EVENT packet types.
const EVENT: u64 = 2;
const BINARY_EVENT: u64 = 5;

/// The channel names of one namespace (`P` = prefix, `NSP` = namespace name).
#[derive(Clone, Debug)]
pub struct Channels {
    /// `P#NSP#`: broadcasts to everyone or to several rooms; `P#NSP#room#` for one room.
    pub broadcast: String,
    /// `P#NSP#*`, escaped so that only this namespace's channels match.
    pub pattern: String,
    /// `P-request#NSP#`.
    pub request: String,
    /// `P-response#NSP#`.
    pub response: String,
    /// `P-response#NSP#uid#`.
    pub specific_response: String,
}

impl Channels {
    pub fn new(prefix: &str, nsp: &str, uid: &str) -> Self {
        let broadcast = format!("{prefix}#{nsp}#");
        let response = format!("{prefix}-response#{nsp}#");
        Channels {
            pattern: format!("{}*", glob_escape(&broadcast)),
            broadcast,
            request: format!("{prefix}-request#{nsp}#"),
            specific_response: format!("{response}{uid}#"),
            response,
        }
    }

    /// Where a broadcast goes: `P#NSP#room#` when it targets exactly one room, as Node does.
    pub fn broadcast_channel(&self, opts: &BroadcastOptions) -> String {
        match opts.rooms.as_slice() {
            [room] => format!("{}{room}#", self.broadcast),
            _ => self.broadcast.clone(),
        }
    }

    /// Where this node answers a request from `requester` (None: the emitter or a legacy
    /// node, which sent no uid).
    pub fn response_channel(&self, specific: bool, requester: Option<&str>) -> String {
        match requester {
            Some(uid) if specific => format!("{}{uid}#", self.response),
            _ => self.response.clone(),
        }
    }
}

/// PSUBSCRIBE treats `* ? [ ] \` as glob syntax; Node does not escape them (and then
/// filters by prefix), we escape them so the pattern means what it says.
fn glob_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

// ----------------------------------------------------------------------------- writing

/// `{type: 2, data, nsp}`: the packet as the adapter publishes it (no `id`: every receiver
/// picks its own).
fn write_packet(buf: &mut Vec<u8>, nsp: &str, data: &Value, attachments: &[Bytes]) {
    codec::write_map_len(buf, 3);
    codec::write_str(buf, "type");
    codec::write_uint(buf, EVENT);
    codec::write_str(buf, "data");
    codec::write_value(buf, data, attachments);
    codec::write_str(buf, "nsp");
    codec::write_str(buf, nsp);
}

fn write_rooms(buf: &mut Vec<u8>, rooms: &[Room]) {
    codec::write_array_len(buf, rooms.len());
    for room in rooms {
        codec::write_str(buf, room);
    }
}

/// `{rooms, except, flags}`; flags hold only what is set, as socket.io's flag objects do.
fn write_opts(buf: &mut Vec<u8>, opts: &BroadcastOptions) {
    codec::write_map_len(buf, 3);
    codec::write_str(buf, "rooms");
    write_rooms(buf, &opts.rooms);
    codec::write_str(buf, "except");
    let mut except: Vec<&Room> = Vec::with_capacity(opts.except.len());
    for room in &opts.except {
        if !except.contains(&room) {
            except.push(room);
        }
    }
    codec::write_array_len(buf, except.len());
    for room in except {
        codec::write_str(buf, room);
    }
    codec::write_str(buf, "flags");
    let volatile = opts.flags.volatile;
    let timeout = opts.flags.timeout;
    codec::write_map_len(buf, usize::from(volatile) + usize::from(timeout.is_some()));
    if volatile {
        codec::write_str(buf, "volatile");
        let _ = rmp::encode::write_bool(buf, true);
    }
    if let Some(timeout) = timeout {
        codec::write_str(buf, "timeout");
        codec::write_uint(buf, u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX));
    }
}

/// A broadcast: notepack `[uid, {type: 2, data, nsp}, {rooms, except, flags}]`.
pub fn broadcast_message(
    uid: &str,
    nsp: &str,
    data: &Value,
    attachments: &[Bytes],
    opts: &BroadcastOptions,
) -> Vec<u8> {
    let mut buf = Vec::with_capacity(64);
    codec::write_array_len(&mut buf, 3);
    codec::write_str(&mut buf, uid);
    write_packet(&mut buf, nsp, data, attachments);
    write_opts(&mut buf, opts);
    buf
}

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
    codec::write_map_len(&mut buf, 5);
    codec::write_str(&mut buf, "uid");
    codec::write_str(&mut buf, uid);
    codec::write_str(&mut buf, "requestId");
    codec::write_str(&mut buf, request_id);
    codec::write_str(&mut buf, "type");
    codec::write_uint(&mut buf, kind::BROADCAST);
    codec::write_str(&mut buf, "packet");
    write_packet(&mut buf, nsp, data, attachments);
    codec::write_str(&mut buf, "opts");
    write_opts(&mut buf, opts);
    buf
}

/// BROADCAST_ACK (9), one client's answer: notepack `{type: 9, requestId, packet}`, where
/// `packet` is the client's first ack argument (left out when it sent none).
pub fn broadcast_ack_response(
    request_id: &str,
    arg: Option<&Value>,
    attachments: &[Bytes],
) -> Vec<u8> {
    let mut buf = Vec::with_capacity(32);
    codec::write_map_len(&mut buf, 2 + usize::from(arg.is_some()));
    codec::write_str(&mut buf, "type");
    codec::write_uint(&mut buf, kind::BROADCAST_ACK);
    codec::write_str(&mut buf, "requestId");
    codec::write_str(&mut buf, request_id);
    if let Some(arg) = arg {
        codec::write_str(&mut buf, "packet");
        codec::write_value(&mut buf, arg, attachments);
    }
    buf
}

/// `{rooms, except}`: the opts of JSON requests (no flags, as Node sends them).
pub fn json_opts(opts: &BroadcastOptions) -> Value {
    let mut map = Map::new();
    map.insert("rooms".into(), rooms_json(&opts.rooms));
    map.insert("except".into(), rooms_json(&opts.except));
    Value::Object(map)
}

fn rooms_json(rooms: &[Room]) -> Value {
    Value::Array(rooms.iter().map(|r| Value::from(&**r)).collect())
}

/// JSON text of an object whose fields are given in order (Node's `JSON.stringify` order).
pub fn json(fields: Vec<(&str, Value)>) -> Vec<u8> {
    let map: Map<String, Value> = fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
    serde_json::to_vec(&Value::Object(map)).unwrap_or_default()
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
    data.extend(args.iter().map(|v| codec::buffers_as_json(v, attachments)));
    let mut fields = vec![("uid", Value::from(uid))];
    if let Some(id) = request_id {
        fields.push(("requestId", Value::from(id)));
    }
    fields.push(("type", Value::from(kind::SERVER_SIDE_EMIT)));
    fields.push(("data", Value::Array(data)));
    json(fields)
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
        fields.push(("data", codec::buffers_as_json(first, attachments)));
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

// ----------------------------------------------------------------------------- reading

/// A request or response: JSON text when it starts with `{`, notepack otherwise (as the
/// adapter decides). JSON carries no attachments.
pub fn decode_message(payload: &[u8]) -> Result<(Value, Vec<Bytes>), String> {
    if payload.first() == Some(&b'{') {
        serde_json::from_slice(payload)
            .map(|v| (v, Vec::new()))
            .map_err(|e| format!("invalid JSON: {e}"))
    } else {
        codec::decode(payload).map_err(|e: DecodeError| e.to_string())
    }
}

/// A decoded broadcast message `[uid, packet, opts]`.
#[derive(Debug)]
pub struct IncomingBroadcast {
    pub uid: Option<String>,
    /// The packet's namespace (`/` when absent, as Node defaults it).
    pub nsp: String,
    /// `[event, ...args]` with placeholders.
    pub data: Value,
    pub attachments: Vec<Bytes>,
    pub opts: BroadcastOptions,
}

pub fn parse_broadcast(payload: &[u8]) -> Result<IncomingBroadcast, String> {
    let (value, attachments) = codec::decode(payload).map_err(|e| e.to_string())?;
    let Value::Array(mut parts) = value else {
        return Err("a broadcast message is not an array".into());
    };
    if parts.len() < 3 {
        return Err(format!(
            "a broadcast message has {} parts, not 3",
            parts.len()
        ));
    }
    let opts = parts.swap_remove(2);
    let packet = parts.swap_remove(1);
    let uid = parts.swap_remove(0).as_str().map(str::to_owned);
    let (nsp, data) = parse_packet(packet)?;
    Ok(IncomingBroadcast {
        uid,
        nsp,
        data,
        attachments,
        opts: parse_opts(&opts, true),
    })
}

/// `{type, data, nsp}` → (namespace, data); only events can be broadcast.
pub fn parse_packet(packet: Value) -> Result<(String, Value), String> {
    let Value::Object(mut packet) = packet else {
        return Err("the packet is not an object".into());
    };
    match packet.get("type").and_then(Value::as_u64) {
        Some(EVENT | BINARY_EVENT) => {}
        other => return Err(format!("packet type {other:?} cannot be broadcast")),
    }
    let nsp = match packet.get("nsp") {
        None | Some(Value::Null) => "/".to_owned(),
        Some(Value::String(nsp)) => nsp.clone(),
        Some(other) => return Err(format!("packet namespace {other} is not a string")),
    };
    let data = packet.remove("data").unwrap_or(Value::Null);
    Ok((nsp, data))
}

/// A room name as Node would hold it: strings as they are, numbers as their decimal text.
fn room_of(value: &Value) -> Option<Room> {
    match value {
        Value::String(s) => Some(s.as_str().into()),
        Value::Number(n) => Some(n.to_string().into()),
        _ => None,
    }
}

pub fn rooms_of(value: Option<&Value>) -> Vec<Room> {
    match value {
        Some(Value::Array(items)) => items.iter().filter_map(room_of).collect(),
        Some(single) => room_of(single).into_iter().collect(),
        None => Vec::new(),
    }
}

/// `{rooms, except, flags?}`. Only `volatile` matters on receipt; JSON requests carry no
/// flags, and Node ignores those of a BROADCAST request (`with_flags` false).
pub fn parse_opts(opts: &Value, with_flags: bool) -> BroadcastOptions {
    let mut parsed = BroadcastOptions {
        rooms: rooms_of(opts.get("rooms")),
        except: rooms_of(opts.get("except")),
        ..BroadcastOptions::default()
    };
    if with_flags {
        let flags = opts.get("flags");
        parsed.flags.volatile = flags.and_then(|f| f.get("volatile")).is_some_and(truthy);
        parsed.flags.timeout = flags
            .and_then(|f| f.get("timeout"))
            .and_then(Value::as_u64)
            .map(Duration::from_millis);
    }
    parsed
}

/// JavaScript truthiness of a decoded value.
pub fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0 && !f.is_nan()),
        Value::String(s) => !s.is_empty(),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_names_follow_the_node_adapter() {
        let ch = Channels::new("socket.io", "/", "AbCdEf");
        assert_eq!(ch.broadcast, "socket.io#/#");
        assert_eq!(ch.pattern, "socket.io#/#*");
        assert_eq!(ch.request, "socket.io-request#/#");
        assert_eq!(ch.response, "socket.io-response#/#");
        assert_eq!(ch.specific_response, "socket.io-response#/#AbCdEf#");
        let one = BroadcastOptions {
            rooms: vec!["room1".into()],
            ..Default::default()
        };
        assert_eq!(ch.broadcast_channel(&one), "socket.io#/#room1#");
        let two = BroadcastOptions {
            rooms: vec!["a".into(), "b".into()],
            ..Default::default()
        };
        assert_eq!(ch.broadcast_channel(&two), "socket.io#/#");
        assert_eq!(
            ch.response_channel(true, Some("XyZ")),
            "socket.io-response#/#XyZ#"
        );
        assert_eq!(
            ch.response_channel(false, Some("XyZ")),
            "socket.io-response#/#"
        );
        assert_eq!(ch.response_channel(true, None), "socket.io-response#/#");
    }

    #[test]
    fn glob_characters_in_names_are_escaped_in_the_pattern() {
        let ch = Channels::new("p", "/a*[b]", "u");
        assert_eq!(ch.pattern, "p#/a\\*\\[b\\]#*");
    }
}
