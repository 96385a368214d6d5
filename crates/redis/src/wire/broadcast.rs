//! Broadcast messages on `P#NSP#` and `P#NSP#room#`: notepack `[uid, packet, opts]`, written
//! by a node's `broadcast` and by the emitter, read by every other node.

use super::error::WireError;
use super::parts::{parse_opts, parse_packet, write_opts, write_packet};
use bytes::Bytes;
use rally::msgpack;
use rally::BroadcastOptions;
use serde_json::Value;

/// A broadcast: notepack `[uid, {type: 2, data, nsp}, {rooms, except, flags}]`.
pub fn broadcast_message(
    uid: &str,
    nsp: &str,
    data: &Value,
    attachments: &[Bytes],
    opts: &BroadcastOptions,
) -> Vec<u8> {
    let mut buf = Vec::with_capacity(64);
    msgpack::write_array_len(&mut buf, 3);
    msgpack::write_str(&mut buf, uid);
    write_packet(&mut buf, nsp, data, attachments);
    write_opts(&mut buf, opts);
    buf
}

/// A decoded broadcast message `[uid, packet, opts]`.
#[derive(Debug)]
pub struct IncomingBroadcast {
    /// The sender's uid, the first part (`emitter` for `@socket.io/redis-emitter`); None when
    /// it is not a string. A node skips its own broadcasts by it.
    pub uid: Option<String>,
    /// The packet's namespace (`/` when absent, as Node defaults it).
    pub nsp: String,
    /// `[event, ...args]` with placeholders.
    pub data: Value,
    /// The packet's binary values, in order, which the placeholders in `data` point to.
    pub attachments: Vec<Bytes>,
    /// The third part, `{rooms, except, flags}`: which local sockets it is delivered to,
    /// with the `volatile` and `timeout` flags.
    pub opts: BroadcastOptions,
}

/// Reads a broadcast published by a node or the emitter. Fails on anything but an array of
/// at least three parts whose second is an EVENT packet.
pub fn parse_broadcast(payload: &[u8]) -> Result<IncomingBroadcast, WireError> {
    let (value, attachments) = msgpack::decode(payload)?;
    let Value::Array(mut parts) = value else {
        return Err(WireError::NotAnArray);
    };
    if parts.len() < 3 {
        return Err(WireError::TooFewParts(parts.len()));
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
