//! The responder: the half of a namespace's adapter that answers. It delivers other nodes'
//! broadcasts to the local sockets, applies their room changes, and answers their requests
//! (SOCKETS, ALL_ROOMS, REMOTE_FETCH, server-side emits, broadcasts with acks) on the
//! response channel, the answers built by [`wire`].
//!
//! It skips this node's own requests: those it sent (`uid`) or is still waiting on
//! ([`Requests::is_pending`]), as the Node adapter does.

use crate::node::Ns;
use crate::relay::{relay_broadcast_with_ack, RemoteAckIds};
use crate::requests::Requests;
use crate::wire::{self, kind, IncomingRequest};
use rally::adapter::memory::MemoryAdapter;
use rally::packet::Packet;
use rally::{Adapter, Args, BroadcastOptions, ServerAck};
use std::sync::Arc;

pub(crate) struct Responder {
    ns: Arc<Ns>,
    ack_ids: RemoteAckIds,
}

impl Responder {
    pub fn new(ns: Arc<Ns>) -> Self {
        Responder {
            ns,
            ack_ids: RemoteAckIds::default(),
        }
    }

    fn respond(&self, requester: Option<&str>, payload: Vec<u8>) {
        self.ns
            .publish(self.ns.response_channel(requester), payload, None);
    }

    /// A message on `P#NSP#` or `P#NSP#room#` (Node's `onmessage`).
    pub fn on_broadcast(&self, local: &MemoryAdapter, channel: &str, payload: &[u8]) {
        let ns = &self.ns;
        let Some(rest) = channel.strip_prefix(ns.channels.broadcast.as_str()) else {
            return;
        };
        // A single-room channel is dropped unread when no local socket is in that room.
        let room = rest.strip_suffix('#').unwrap_or(rest);
        if !room.is_empty() {
            let only_room = BroadcastOptions {
                rooms: vec![room.into()],
                ..BroadcastOptions::default()
            };
            if local.local_sockets(&only_room).is_empty() {
                return;
            }
        }
        let msg = match wire::parse_broadcast(payload) {
            Ok(msg) => msg,
            Err(e) => return ns.malformed(channel, &e),
        };
        if msg.uid.as_deref() == Some(ns.uid()) {
            return;
        }
        if msg.nsp != ns.nsp {
            tracing::debug!(%channel, nsp = %msg.nsp, "broadcast for another namespace");
            return;
        }
        let packet = Packet::event(&ns.nsp, msg.data, msg.attachments, None);
        if let Err(e) = packet.validate() {
            return ns.malformed(channel, &e);
        }
        local.broadcast_local(&packet, &msg.opts);
    }

    /// A message on `P-request#NSP#` (Node's `onrequest`).
    pub fn on_request(
        &self,
        local: &MemoryAdapter,
        requests: &Requests,
        channel: &str,
        payload: &[u8],
    ) {
        let request = match IncomingRequest::decode(payload) {
            Ok(request) => request,
            Err(e) => return self.ns.malformed(channel, &e),
        };
        let uid = request.uid.as_deref();
        let own = uid == Some(self.ns.uid());
        let request_id = request.request_id.as_deref();
        // This node's own request, still collecting answers.
        let waiting = || requests.is_pending(request_id);
        match request.kind {
            kind::SOCKETS => {
                if waiting() {
                    return;
                }
                let opts = BroadcastOptions {
                    rooms: request.rooms(),
                    ..BroadcastOptions::default()
                };
                let sockets = local.local_sockets(&opts);
                self.respond(uid, wire::sockets_response(request_id, &sockets));
            }
            kind::ALL_ROOMS => {
                if waiting() {
                    return;
                }
                let rooms = local.rooms_local();
                self.respond(uid, wire::all_rooms_response(request_id, &rooms));
            }
            kind::REMOTE_JOIN | kind::REMOTE_LEAVE | kind::REMOTE_DISCONNECT => {
                self.on_room_change(local, &request, own)
            }
            kind::REMOTE_FETCH => {
                if waiting() {
                    return;
                }
                let opts = request.opts().unwrap_or_default();
                let sockets = local.fetch_sockets_local(&opts);
                self.respond(uid, wire::fetch_response(request_id, &sockets));
            }
            kind::SERVER_SIDE_EMIT => {
                if own {
                    return;
                }
                self.on_server_side_emit(local, channel, request);
            }
            kind::BROADCAST => {
                if own || waiting() {
                    return;
                }
                self.on_broadcast_request(local, channel, request);
            }
            other => tracing::debug!(%channel, "ignoring request type {other}"),
        }
    }

    /// REMOTE_JOIN (2), REMOTE_LEAVE (3) or REMOTE_DISCONNECT (4): of the sockets matching
    /// `opts`, or, in the legacy form, of one socket, answered by the node that has it.
    fn on_room_change(&self, local: &MemoryAdapter, request: &IncomingRequest, own: bool) {
        if let Some(opts) = request.opts() {
            // Applied here already when it was sent.
            if own {
                return;
            }
            match request.kind {
                kind::REMOTE_JOIN => local.add_sockets_local(&opts, &request.rooms()),
                kind::REMOTE_LEAVE => local.del_sockets_local(&opts, &request.rooms()),
                _ => local.disconnect_sockets_local(&opts, request.close()),
            }
            return;
        }
        let Some((sid, room)) = request.legacy_target() else {
            return;
        };
        let Some(socket) = local.namespace().and_then(|ns| ns.socket(sid)) else {
            return;
        };
        match request.kind {
            kind::REMOTE_JOIN => socket.join(room),
            kind::REMOTE_LEAVE => socket.leave(room),
            _ => socket.disconnect(request.close()),
        }
        let request_id = request.request_id.as_deref();
        self.respond(request.uid.as_deref(), wire::done_response(request_id));
    }

    /// SERVER_SIDE_EMIT (6): the namespace's server-side handlers run, and with a request
    /// id their ack is sent back.
    fn on_server_side_emit(&self, local: &MemoryAdapter, channel: &str, request: IncomingRequest) {
        let request_id = request.request_id.clone();
        let emit = match request.server_side_emit() {
            Ok(emit) => emit,
            Err(e) => return self.ns.malformed(channel, &e),
        };
        let Some(namespace) = local.namespace() else {
            return;
        };
        let ack = request_id.map(|id| {
            let ns = self.ns.clone();
            // Node answers on the shared response channel whatever its options, with the
            // first ack argument only.
            ServerAck::new(move |args: Args| {
                let payload =
                    wire::server_side_emit_response(&id, args.values.first(), &args.attachments);
                ns.publish(ns.channels.response.clone(), payload, None);
            })
        });
        let args = Args {
            values: emit.args,
            attachments: emit.attachments,
        };
        namespace.dispatch_server_event(&emit.event, args, ack);
    }

    /// BROADCAST (7): deliver with a local ack id, report the client count (8), then each
    /// client's answer (9) as it comes.
    fn on_broadcast_request(&self, local: &MemoryAdapter, channel: &str, request: IncomingRequest) {
        let ns = &self.ns;
        let response_channel = ns.response_channel(request.uid.as_deref());
        let broadcast = match request.broadcast() {
            Ok(broadcast) => broadcast,
            Err(e) => return ns.malformed(channel, &e),
        };
        // The emit's timeout bounds how long we relay acks.
        let wait_for = broadcast.timeout.unwrap_or(ns.config().request_timeout);
        let request_id = broadcast.request_id;
        let count = |count| {
            let payload = wire::client_count_response(&request_id, count);
            ns.publish(response_channel.clone(), payload, None);
        };
        let answer = {
            let (ns, channel, request_id) =
                (ns.clone(), response_channel.clone(), request_id.clone());
            move |answer: Args| {
                let payload = wire::broadcast_ack_response(
                    &request_id,
                    answer.values.first(),
                    &answer.attachments,
                );
                ns.publish(channel.clone(), payload, None);
            }
        };
        let relayed = relay_broadcast_with_ack(
            local,
            ns.transport(),
            &self.ack_ids,
            &ns.nsp,
            broadcast.data,
            broadcast.attachments,
            &broadcast.opts,
            wait_for,
            count,
            answer,
        );
        if let Err(e) = relayed {
            ns.malformed(channel, &e);
        }
    }
}
