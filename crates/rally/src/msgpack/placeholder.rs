//! Rally's (and socket.io-parser's) stand-in for a binary value inside JSON:
//! `{"_placeholder":true,"num":n}`, pointing at the n-th attachment. The decoder makes them,
//! the encoder turns them back into binary.

use serde_json::{Map, Value};

/// The placeholder object Rally (and socket.io-parser) uses for attachment `num`.
pub fn placeholder(num: usize) -> Value {
    let mut map = Map::new();
    map.insert("_placeholder".to_owned(), Value::Bool(true));
    map.insert("num".to_owned(), Value::from(num));
    Value::Object(map)
}

/// The attachment index of a placeholder, if `value` is one that points into `count` attachments
/// (socket.io-parser's test: `_placeholder === true` and a valid `num`).
pub fn placeholder_index(value: &Map<String, Value>, count: usize) -> Option<usize> {
    if value.get("_placeholder") != Some(&Value::Bool(true)) {
        return None;
    }
    let num = usize::try_from(value.get("num")?.as_u64()?).ok()?;
    (num < count).then_some(num)
}
