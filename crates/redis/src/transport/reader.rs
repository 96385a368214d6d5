//! The stream reader task (streams adapter): one connection of its own, blocked in
//! `XREAD COUNT n BLOCK t STREAMS <stream> <last id>`, handing each entry to
//! [`Transport::dispatch_entry`]. It starts at `$` (what is added from now on), then follows
//! the last id it read, across reconnections too: entries added while Redis was
//! unreachable from here but kept in the stream are read when it comes back.

use super::shared::{Transport, BACKOFF_MAX, BACKOFF_MIN};
use crate::connection::{ConnectError, Reconnect};
use crate::stats::Counters;
use std::sync::Weak;
use std::time::Duration;

/// How long one XREAD waits for entries before it is sent again; bounds how long the task
/// outlives its transport.
const BLOCK: Duration = Duration::from_secs(2);

/// One entry as XREAD returns it: its id and its field/value pairs.
pub(crate) type RawEntry = (String, Vec<(Vec<u8>, Vec<u8>)>);

pub(super) async fn run(
    client: redis::Client,
    stream: String,
    read_count: usize,
    transport: Weak<Transport>,
) {
    let Some(config) = transport.upgrade().map(|t| t.config.clone()) else {
        return;
    };
    let mut reconnect = Reconnect::new(BACKOFF_MIN, BACKOFF_MAX);
    let mut last_id = "$".to_owned();
    let mut connected_before = false;
    loop {
        let attempt = reconnect
            .multiplexed(
                &client,
                config.connect_timeout,
                config.command_timeout + BLOCK,
            )
            .await;
        let mut conn = match attempt {
            Ok(conn) => conn,
            Err(e) => {
                if let ConnectError::Failed(e) = e {
                    tracing::debug!("redis adapter: stream reader cannot connect: {e}");
                }
                reconnect.wait().await;
                if transport.strong_count() == 0 {
                    return;
                }
                continue;
            }
        };
        match transport.upgrade() {
            Some(t) => Counters::add(&t.stats.stream_reader_connects, 1),
            None => return,
        }
        if connected_before {
            tracing::info!("redis adapter: stream reader reconnected, reading on from {last_id}");
        }
        connected_before = true;
        let why = loop {
            let read = redis::cmd("XREAD")
                .arg("COUNT")
                .arg(read_count)
                .arg("BLOCK")
                .arg(BLOCK.as_millis() as u64)
                .arg("STREAMS")
                .arg(&stream)
                .arg(&last_id)
                .query_async::<redis::Value>(&mut conn)
                .await;
            let Some(transport) = transport.upgrade() else {
                return;
            };
            match read {
                Ok(reply) => match parse_xread(&reply) {
                    Ok(entries) => {
                        for (id, fields) in entries {
                            transport.dispatch_entry(&id, &fields);
                            last_id = id;
                        }
                    }
                    Err(e) => break e,
                },
                Err(e) => break format!("redis error: {e}"),
            }
        };
        tracing::warn!("redis adapter: stream reader lost Redis ({why}); reconnecting");
        reconnect.retry_later();
        reconnect.wait().await;
    }
}

/// `XREAD` answers nil on timeout, else `[[stream, [[id, [field, value, …]], …]]]`.
pub(crate) fn parse_xread(reply: &redis::Value) -> Result<Vec<RawEntry>, String> {
    use redis::Value;
    let bad = || format!("unexpected XREAD answer {reply:?}");
    let streams = match reply {
        Value::Nil => return Ok(Vec::new()),
        Value::Array(streams) => streams,
        _ => return Err(bad()),
    };
    let mut out = Vec::new();
    for stream in streams {
        let Value::Array(pair) = stream else {
            return Err(bad());
        };
        let [_, Value::Array(entries)] = pair.as_slice() else {
            return Err(bad());
        };
        for entry in entries {
            out.push(parse_entry(entry).ok_or_else(bad)?);
        }
    }
    Ok(out)
}

/// `[id, [field, value, …]]`, as XREAD and XRANGE give each entry.
pub(crate) fn parse_entry(entry: &redis::Value) -> Option<RawEntry> {
    use redis::Value;
    let Value::Array(parts) = entry else {
        return None;
    };
    let [Value::BulkString(id), Value::Array(flat)] = parts.as_slice() else {
        return None;
    };
    let bytes = |v: &Value| match v {
        Value::BulkString(b) => Some(b.clone()),
        _ => None,
    };
    let fields = flat
        .chunks_exact(2)
        .map(|kv| Some((bytes(&kv[0])?, bytes(&kv[1])?)))
        .collect::<Option<Vec<_>>>()?;
    Some((String::from_utf8(id.clone()).ok()?, fields))
}

#[cfg(test)]
mod tests {
    use super::*;
    use redis::Value;

    fn bulk(s: &str) -> Value {
        Value::BulkString(s.as_bytes().to_vec())
    }

    #[test]
    fn xread_answers_are_read_entry_by_entry() {
        let reply = Value::Array(vec![Value::Array(vec![
            bulk("socket.io"),
            Value::Array(vec![
                Value::Array(vec![
                    bulk("1-0"),
                    Value::Array(vec![bulk("uid"), bulk("a"), bulk("type"), bulk("3")]),
                ]),
                Value::Array(vec![bulk("1-1"), Value::Array(vec![])]),
            ]),
        ])]);
        let entries = parse_xread(&reply).unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].0, "1-0");
        assert_eq!(entries[0].1[1], (b"type".to_vec(), b"3".to_vec()));
        assert_eq!(parse_xread(&Value::Nil).unwrap(), vec![]);
        assert!(parse_xread(&Value::Int(3)).is_err());
        let odd = Value::Array(vec![Value::Array(vec![
            bulk("s"),
            Value::Array(vec![bulk("x")]),
        ])]);
        assert!(parse_xread(&odd).is_err());
    }
}
