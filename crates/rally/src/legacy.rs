//! Socket.IO protocol v4, as socket.io-client 2.x speaks it over Engine.IO v3 (let in
//! with `EngineConfig::allow_eio3`, as Node's `allowEIO3`). Packets are written as in
//! v5; what differs is how a socket joins and how it is told:
//! - the client never asks for the main namespace: it is in it as soon as its
//!   connection opens, and its socket there is named by the connection's id (another
//!   namespace's by `<nsp>#<connection id>`), which is what the client takes for
//!   `socket.id`;
//! - another namespace is joined with a CONNECT whose namespace carries the client's
//!   `query` (`/admin?token=x`): that query is the socket's `auth`;
//! - the CONNECT answer carries nothing, and a refusal is the bare error value its
//!   `error` listener gets: the middleware's `data` when there is some, else its message.
//!
//! Connection state recovery is not offered to these clients: they would take the
//! offset each stored event carries for one more argument.

use crate::handshake::query_object;
use serde_json::Value;

/// A CONNECT's namespace, split into the name and the `auth` its query stands for.
pub(crate) fn namespace_and_auth(nsp: &str) -> (&str, Value) {
    match nsp.split_once('?') {
        Some((name, query)) => (name, Value::Object(query_object(query))),
        None => (nsp, Value::Object(Default::default())),
    }
}

/// The socket id a v2 client expects for its socket in namespace `nsp`.
pub(crate) fn socket_id(nsp: &str, connection_id: &str) -> String {
    if nsp == "/" {
        connection_id.to_owned()
    } else {
        format!("{nsp}#{connection_id}")
    }
}

/// What a v2 client's `error` listener gets when a middleware refuses it.
pub(crate) fn refusal(message: &str, data: Option<Value>) -> Value {
    data.unwrap_or_else(|| Value::String(message.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_query_of_a_connect_is_its_auth() {
        assert_eq!(
            namespace_and_auth("/admin?token=a%20b&x=1"),
            ("/admin", json!({"token": "a b", "x": "1"}))
        );
        assert_eq!(namespace_and_auth("/admin"), ("/admin", json!({})));
    }

    #[test]
    fn ids_are_the_connection_s_as_v2_names_them() {
        assert_eq!(socket_id("/", "abc"), "abc");
        assert_eq!(socket_id("/admin", "abc"), "/admin#abc");
    }

    #[test]
    fn a_refusal_is_its_data_or_its_message() {
        assert_eq!(refusal("no", None), json!("no"));
        assert_eq!(
            refusal("no", Some(json!({"reason": 1}))),
            json!({"reason": 1})
        );
    }
}
