//! What the chat keeps in each socket's `data`: the user's display name.
//!
//! It crosses the cluster in `fetch_sockets` (presence, guest names, socket-id checks)
//! as `{"name": …}`, the shape a Node.js server of the same cluster would read and
//! write, and a recovered socket gets it back.

use rally::{RemoteSocket, Socket};
use serde::{Deserialize, Serialize};

/// A socket's user.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ChatUser {
    pub name: String,
}

/// What a socket is called where there is no name: only a socket from another kind
/// of server, or one whose data was lost, has none.
const NAMELESS: &str = "guest";

/// The display name of a socket of this server.
pub fn name_of(socket: &Socket) -> String {
    socket
        .data::<ChatUser>()
        .map_or_else(|| NAMELESS.to_owned(), |user| user.name.clone())
}

/// The display name of a socket anywhere on the cluster, if it has one.
pub fn remote_name(socket: &RemoteSocket) -> Option<String> {
    socket.data_as::<ChatUser>().ok().map(|user| user.name)
}

/// The display name of a socket anywhere on the cluster, as presence lists show it.
pub fn listed_name(socket: &RemoteSocket) -> String {
    remote_name(socket).unwrap_or_else(|| NAMELESS.to_owned())
}
