//! The pieces several messages are made of, both ways: the request types, the envelope
//! (JSON text or notepack), the `requestId`, the packet `{type, data, nsp}`, the broadcast
//! options `{rooms, except, flags}` (MessagePack or JSON), room lists, and JavaScript
//! truthiness for the flags Node sends as whatever it was given.

use super::error::WireError;
use bytes::Bytes;
use rally::msgpack;
use rally::{BroadcastOptions, Room};
use serde_json::{Map, Value};
use std::time::Duration;

/// `RequestType` of the classic adapter.
pub mod kind {
    /// The ids of the sockets in `rooms` (`allSockets`); every node answers with its own.
    pub const SOCKETS: u64 = 0;
    /// The rooms of every node (`allRooms`); every node answers with its own.
    pub const ALL_ROOMS: u64 = 1;
    /// The sockets `opts` names join `rooms` (`socketsJoin`). The legacy form names one
    /// socket (`sid`, `room`), and the node that has it answers once done.
    pub const REMOTE_JOIN: u64 = 2;
    /// The sockets `opts` names leave `rooms` (`socketsLeave`); legacy form as for
    /// [`REMOTE_JOIN`].
    pub const REMOTE_LEAVE: u64 = 3;
    /// The sockets `opts` names are disconnected, their connections too when `close` is
    /// set (`disconnectSockets`); legacy form (`sid`) as for [`REMOTE_JOIN`].
    pub const REMOTE_DISCONNECT: u64 = 4;
    /// The sockets `opts` names, with their handshake, rooms and data (`fetchSockets`).
    pub const REMOTE_FETCH: u64 = 5;
    /// An event for the other nodes' server-side handlers (`serverSideEmit`); with a
    /// `requestId`, each node answers with its handler's ack, under the same type.
    pub const SERVER_SIDE_EMIT: u64 = 6;
    /// A broadcast whose clients' acks the sender collects (notepack); each node answers
    /// with [`BROADCAST_CLIENT_COUNT`], then one [`BROADCAST_ACK`] per client that acks.
    pub const BROADCAST: u64 = 7;
    /// The answer to [`BROADCAST`]: how many local clients it reached, so how many acks the
    /// sender waits for from that node.
    pub const BROADCAST_CLIENT_COUNT: u64 = 8;
    /// The answer to [`BROADCAST`] carrying one client's ack (notepack).
    pub const BROADCAST_ACK: u64 = 9;
}

/// socket.io-parser's EVENT and BINARY_EVENT packet types.
const EVENT: u64 = 2;
const BINARY_EVENT: u64 = 5;

// ---------------------------------------------------------------------------- envelope

/// A request or response: JSON text when it starts with `{`, notepack otherwise (as the
/// adapter decides). JSON carries no attachments.
pub fn decode_message(payload: &[u8]) -> Result<(Value, Vec<Bytes>), WireError> {
    if payload.first() == Some(&b'{') {
        serde_json::from_slice(payload)
            .map(|v| (v, Vec::new()))
            .map_err(WireError::Json)
    } else {
        Ok(msgpack::decode(payload)?)
    }
}

/// JSON text of an object whose fields are given in order (Node's `JSON.stringify` order).
pub fn json(fields: Vec<(&str, Value)>) -> Vec<u8> {
    let map: Map<String, Value> = fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
    serde_json::to_vec(&Value::Object(map)).unwrap_or_default()
}

/// The `requestId` of a request or response: a string, or a number as its decimal text.
pub(super) fn request_id(message: &Value) -> Option<String> {
    match message.get("requestId")? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

// ----------------------------------------------------------------------------- writing

/// `{type: 2, data, nsp}`: the packet as the adapter publishes it (no `id`: every receiver
/// picks its own).
pub(super) fn write_packet(buf: &mut Vec<u8>, nsp: &str, data: &Value, attachments: &[Bytes]) {
    msgpack::write_map_len(buf, 3);
    msgpack::write_str(buf, "type");
    msgpack::write_uint(buf, EVENT);
    msgpack::write_str(buf, "data");
    msgpack::write_value(buf, data, attachments);
    msgpack::write_str(buf, "nsp");
    msgpack::write_str(buf, nsp);
}

fn write_rooms(buf: &mut Vec<u8>, rooms: &[Room]) {
    msgpack::write_array_len(buf, rooms.len());
    for room in rooms {
        msgpack::write_str(buf, room);
    }
}

/// `{rooms, except, flags}`; flags hold only what is set, as socket.io's flag objects do.
pub(super) fn write_opts(buf: &mut Vec<u8>, opts: &BroadcastOptions) {
    msgpack::write_map_len(buf, 3);
    msgpack::write_str(buf, "rooms");
    write_rooms(buf, &opts.rooms);
    msgpack::write_str(buf, "except");
    let mut except: Vec<&Room> = Vec::with_capacity(opts.except.len());
    for room in &opts.except {
        if !except.contains(&room) {
            except.push(room);
        }
    }
    msgpack::write_array_len(buf, except.len());
    for room in except {
        msgpack::write_str(buf, room);
    }
    msgpack::write_str(buf, "flags");
    let volatile = opts.flags.volatile;
    let timeout = opts.flags.timeout;
    msgpack::write_map_len(buf, usize::from(volatile) + usize::from(timeout.is_some()));
    if volatile {
        msgpack::write_str(buf, "volatile");
        msgpack::write_bool(buf, true);
    }
    if let Some(timeout) = timeout {
        msgpack::write_str(buf, "timeout");
        msgpack::write_uint(buf, u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX));
    }
}

/// `{rooms, except}`: the opts of JSON requests (no flags, as Node sends them).
pub fn json_opts(opts: &BroadcastOptions) -> Value {
    let mut map = Map::new();
    map.insert("rooms".into(), rooms_json(&opts.rooms));
    map.insert("except".into(), rooms_json(&opts.except));
    Value::Object(map)
}

/// A list of rooms (or of socket ids) as a JSON array of strings.
pub(super) fn rooms_json(rooms: &[Room]) -> Value {
    Value::Array(rooms.iter().map(|r| Value::from(&**r)).collect())
}

// ----------------------------------------------------------------------------- reading

/// `{type, data, nsp}` → (namespace, data); only events can be broadcast.
pub fn parse_packet(packet: Value) -> Result<(String, Value), WireError> {
    let Value::Object(mut packet) = packet else {
        return Err(WireError::PacketNotAnObject);
    };
    match packet.get("type").and_then(Value::as_u64) {
        Some(EVENT | BINARY_EVENT) => {}
        other => return Err(WireError::NotAnEvent(other)),
    }
    let nsp = match packet.get("nsp") {
        None | Some(Value::Null) => "/".to_owned(),
        Some(Value::String(nsp)) => nsp.clone(),
        Some(other) => return Err(WireError::NamespaceNotAString(other.clone())),
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

/// A room list as Node would hold it: an array (items neither strings nor numbers left
/// out), a single value as a list of one, an absent field as no rooms.
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
