//! A dropped socket's session as `@socket.io/redis-streams-adapter` 0.3 keeps it in Redis:
//! `SET <prefix><pid> <value> PX <window ms>`, the value base64 of the MessagePack map
//! `{sid, pid, rooms, data}` (rooms with the socket's own id among them). A server of
//! either kind can then restore a session the other saved. Rally adds `leftAt` (the
//! stream's last id when the socket left, for a client that has no offset), which a Node
//! server does not read.

use super::error::WireError;
use base64::Engine;
use rally::adapter::cluster::ClusterSession;
use rally::msgpack;
use serde_json::Value;

/// The adapter's default key prefix.
pub const SESSION_KEY_PREFIX: &str = "sio:session:";

/// The key a session is kept under.
pub fn session_key(prefix: &str, pid: &str) -> String {
    format!("{prefix}{pid}")
}

/// The value to SET: base64 of `{sid, pid, rooms, data[, leftAt]}` in MessagePack.
pub fn session_value(session: &ClusterSession) -> String {
    let mut buf = Vec::with_capacity(96);
    msgpack::write_map_len(&mut buf, 4 + usize::from(session.left_at.is_some()));
    msgpack::write_str(&mut buf, "sid");
    msgpack::write_str(&mut buf, &session.sid);
    msgpack::write_str(&mut buf, "pid");
    msgpack::write_str(&mut buf, &session.pid);
    msgpack::write_str(&mut buf, "rooms");
    msgpack::write_array_len(&mut buf, session.rooms.len());
    for room in &session.rooms {
        msgpack::write_str(&mut buf, room);
    }
    msgpack::write_str(&mut buf, "data");
    msgpack::write_value(&mut buf, &session.data, &[]);
    if let Some(left_at) = &session.left_at {
        msgpack::write_str(&mut buf, "leftAt");
        msgpack::write_str(&mut buf, left_at);
    }
    base64::engine::general_purpose::STANDARD.encode(buf)
}

/// Reads a session value. Binary inside `data` (a Node server may keep a Buffer there)
/// becomes the JSON `JSON.stringify` gives a Buffer, as `socket.data` is JSON here.
pub fn parse_session_value(value: &[u8]) -> Result<ClusterSession, WireError> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(value)
        .map_err(|_| WireError::Missing("a session value in base64"))?;
    let (value, attachments) = msgpack::decode(&bytes)?;
    let Value::Object(mut fields) = value else {
        return Err(WireError::Missing("a session map"));
    };
    let text = |v: Option<Value>, what: &'static str| match v {
        Some(Value::String(s)) => Ok(s),
        _ => Err(WireError::Missing(what)),
    };
    let rooms = match fields.remove("rooms") {
        Some(Value::Array(rooms)) => rooms
            .into_iter()
            .filter_map(|room| match room {
                Value::String(s) => Some(s),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    let data = fields.remove("data").unwrap_or(Value::Null);
    Ok(ClusterSession {
        sid: text(fields.remove("sid"), "sid")?,
        pid: text(fields.remove("pid"), "pid")?,
        rooms,
        data: msgpack::buffers_as_json(&data, &attachments),
        left_at: text(fields.remove("leftAt"), "leftAt").ok(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_session_is_kept_as_node_keeps_it() {
        // Saved by a Node 0.3 server for a socket in "room1" with data {user: "alice"}.
        let mut session = ClusterSession {
            sid: "cNfsRDh4fJjzMmSmAAAA".into(),
            pid: "YO1I1m3FyS-0B-K4AAAB".into(),
            rooms: vec!["cNfsRDh4fJjzMmSmAAAA".into(), "room1".into()],
            data: json!({"user": "alice"}),
            left_at: None,
        };
        let saved = "hKNzaWS0Y05mc1JEaDRmSmp6TW1TbUFBQUGjcGlktFlPMUkxbTNGeVMtMEItSzRBQUFCpXJvb21zkrRjTmZzUkRoNGZKanpNbVNtQUFBQaVyb29tMaRkYXRhgaR1c2VypWFsaWNl";
        assert_eq!(session_value(&session), saved);
        assert_eq!(parse_session_value(saved.as_bytes()).unwrap(), session);
        // Rally's own addition reads back, and a Node server reads the rest as before.
        session.left_at = Some("1733000000000-3".into());
        let with_left_at = session_value(&session);
        assert_eq!(
            parse_session_value(with_left_at.as_bytes()).unwrap(),
            session
        );
        assert_eq!(
            session_key(SESSION_KEY_PREFIX, &session.pid),
            "sio:session:YO1I1m3FyS-0B-K4AAAB"
        );
    }

    #[test]
    fn binary_data_reads_as_nodes_json_of_a_buffer_and_garbage_is_refused() {
        let mut buf = Vec::new();
        msgpack::write_map_len(&mut buf, 4);
        for (key, value) in [("sid", "s"), ("pid", "p")] {
            msgpack::write_str(&mut buf, key);
            msgpack::write_str(&mut buf, value);
        }
        msgpack::write_str(&mut buf, "rooms");
        msgpack::write_array_len(&mut buf, 0);
        msgpack::write_str(&mut buf, "data");
        msgpack::write_bin(&mut buf, &[1, 2]);
        let value = base64::engine::general_purpose::STANDARD.encode(buf);
        let session = parse_session_value(value.as_bytes()).unwrap();
        assert_eq!(session.data, json!({"type": "Buffer", "data": [1, 2]}));
        assert!(parse_session_value(b"!!").is_err());
        let no_sid = base64::engine::general_purpose::STANDARD.encode([0x80]);
        assert!(parse_session_value(no_sid.as_bytes()).is_err());
    }
}
