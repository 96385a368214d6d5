//! The messages of `@socket.io/redis-adapter` 8.3 (classic) and `@socket.io/redis-emitter`
//! 5.1, built and read exactly as `dist/index.js` does: field names, field order, and which
//! are MessagePack (broadcasts, the BROADCAST request and BROADCAST_ACK responses) and which
//! are JSON text (every other request and response); and the stream entries of
//! `@socket.io/redis-streams-adapter` 0.3 (`stream`), its pub/sub requests and answers
//! (`cluster`) and the sessions it keeps (`session`), read from its built code and checked against what a Node server writes.
//!
//! Pure functions and plain types, no I/O: the adapter decides what to send and when, this
//! module only says what it looks like on Redis. One file per kind of message —
//! [`channels`](Channels) (the names), `broadcast`, `request`, `response`, `stream` — plus `parts`,
//! the pieces several messages share (the JSON-or-notepack envelope, the packet, the
//! broadcast options, room lists), and `error`: everything that can fail to read fails with
//! a [`WireError`].

mod broadcast;
mod channels;
mod cluster;
mod error;
mod parts;
mod request;
mod response;
mod session;
mod stream;

pub use broadcast::{broadcast_message, parse_broadcast, IncomingBroadcast};
pub use channels::Channels;
pub use cluster::{
    cluster_kind, cluster_message, parse_cluster_message, ClusterEnvelope, ClusterMessage,
};
pub use error::WireError;
pub use parts::{
    decode_message, json, json_opts, kind, parse_opts, parse_packet, rooms_of, truthy,
};
pub use request::{
    all_rooms_request, broadcast_request, disconnect_request, fetch_request, rooms_request,
    server_side_emit_request, BroadcastRequest, IncomingRequest, ServerSideEmit,
};
pub use response::{
    all_rooms_response, broadcast_ack_response, client_count_response, done_response,
    fetch_response, server_side_emit_response, sockets_response, IncomingResponse,
};
pub use session::{parse_session_value, session_key, session_value, SESSION_KEY_PREFIX};
pub use stream::{is_stream_id, parse_stream_entry, stream_fields, StreamEntry, StreamMessage};
