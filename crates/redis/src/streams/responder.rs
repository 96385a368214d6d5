//! The responder: what a namespace's streams adapter does with what other servers sent.
//! Stream entries are applied to the local sockets (broadcasts delivered, rooms changed,
//! sockets disconnected); requests on the public channel are answered on the requester's
//! own channel. This node's own entries and requests are skipped: it applied them when it
//! sent them.

use super::requester::Requester;
use crate::node::Ns;
use crate::relay::{relay_broadcast_with_ack, RemoteAckIds};
use crate::wire::{cluster_message, ClusterEnvelope, ClusterMessage, StreamEntry, StreamMessage};
use bytes::Bytes;
use rally::adapter::memory::MemoryAdapter;
use rally::packet::Packet;
use rally::{Args, BroadcastOptions, ServerAck};
use serde_json::Value;
use std::sync::Arc;

pub(super) struct Responder {
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

    /// A stream entry of this namespace. A broadcast the namespace stores for recovery is
    /// delivered now whoever sent it, this node included, with the entry's id as its
    /// offset; anything else from this node was applied when it was sent (its unplaced
    /// events were marked in its log as it delivered them).
    pub fn on_stream_entry(&self, local: &MemoryAdapter, id: &str, entry: StreamEntry) {
        let own = entry.uid == self.ns.uid();
        match entry.message {
            StreamMessage::Broadcast {
                data,
                attachments,
                opts,
            } => {
                let packet = Packet::event(&self.ns.nsp, data, attachments, None);
                if let Err(e) = packet.validate() {
                    return self.ns.malformed(&format!("stream entry {id}"), &e);
                }
                if local.stores(&packet, &opts) {
                    local.broadcast_local_placed(&packet, &opts, id);
                } else if !own {
                    local.broadcast_local(&packet, &opts);
                }
            }
            _ if own => {}
            StreamMessage::SocketsJoin { opts, rooms } => local.add_sockets_local(&opts, &rooms),
            StreamMessage::SocketsLeave { opts, rooms } => local.del_sockets_local(&opts, &rooms),
            StreamMessage::DisconnectSockets { opts, close } => {
                local.disconnect_sockets_local(&opts, close)
            }
            StreamMessage::Unplaced { opts } => local.mark_unplaced(&opts),
        }
    }

    /// A message on the public channel or this node's own.
    pub fn on_message(
        &self,
        local: &MemoryAdapter,
        requester: &Requester,
        channel: &str,
        envelope: ClusterEnvelope,
    ) {
        let ns = &self.ns;
        if envelope.uid == ns.uid() || envelope.nsp != ns.nsp {
            return;
        }
        let from = envelope.uid;
        match envelope.message {
            ClusterMessage::BroadcastWithAck {
                request_id,
                data,
                attachments,
                opts,
            } => self.on_broadcast_with_ack(
                local,
                channel,
                from,
                request_id,
                data,
                attachments,
                opts,
            ),
            ClusterMessage::FetchSockets { request_id, opts } => {
                let sockets = local.fetch_sockets_local(&opts);
                let message = ClusterMessage::FetchSocketsResponse {
                    request_id,
                    sockets,
                };
                answer(ns, &from, &message);
            }
            ClusterMessage::ServerSideEmit {
                request_id,
                data,
                attachments,
            } => self.on_server_side_emit(local, channel, from, request_id, data, attachments),
            answer => requester.on_answer(answer),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn on_broadcast_with_ack(
        &self,
        local: &MemoryAdapter,
        channel: &str,
        from: String,
        request_id: String,
        data: Value,
        attachments: Vec<Bytes>,
        opts: BroadcastOptions,
    ) {
        let ns = &self.ns;
        // The emit's timeout bounds how long acks are relayed.
        let wait_for = opts.flags.timeout.unwrap_or(ns.config().request_timeout);
        let count = |count: usize| {
            let message = ClusterMessage::BroadcastClientCount {
                request_id: request_id.clone(),
                count: count as u64,
            };
            answer(ns, &from, &message);
        };
        let ack = {
            let (ns, from, request_id) = (ns.clone(), from.clone(), request_id.clone());
            move |ack: Args| {
                let message = ClusterMessage::BroadcastAck {
                    request_id: request_id.clone(),
                    data: ack.values.into_iter().next().unwrap_or(Value::Null),
                    attachments: ack.attachments,
                };
                answer(&ns, &from, &message);
            }
        };
        let relayed = relay_broadcast_with_ack(
            local,
            ns.transport(),
            &self.ack_ids,
            &ns.nsp,
            data,
            attachments,
            &opts,
            wait_for,
            count,
            ack,
        );
        if let Err(e) = relayed {
            ns.malformed(channel, &e);
        }
    }

    /// `[event, ...args]` for this namespace's server-side handlers; with a request id,
    /// the first handler's first ack argument goes back to the sender.
    fn on_server_side_emit(
        &self,
        local: &MemoryAdapter,
        channel: &str,
        from: String,
        request_id: Option<String>,
        data: Value,
        attachments: Vec<Bytes>,
    ) {
        let Value::Array(mut values) = data else {
            return self
                .ns
                .malformed(channel, &"a server-side emit that is not a list");
        };
        let event = match values.first() {
            Some(Value::String(_)) => values.remove(0),
            _ => {
                return self
                    .ns
                    .malformed(channel, &"a server-side emit without an event name")
            }
        };
        let Some(namespace) = local.namespace() else {
            return;
        };
        let ack = request_id.map(|request_id| {
            let ns = self.ns.clone();
            ServerAck::new(move |args: Args| {
                let message = ClusterMessage::ServerSideEmitResponse {
                    request_id,
                    data: args.values.into_iter().next().unwrap_or(Value::Null),
                    attachments: args.attachments,
                };
                answer(&ns, &from, &message);
            })
        });
        let args = Args {
            values,
            attachments,
        };
        namespace.dispatch_server_event(event.as_str().unwrap_or_default(), args, ack);
    }
}

/// Publishes `message` where the server `to` hears answers.
fn answer(ns: &Ns, to: &str, message: &ClusterMessage) {
    let payload = cluster_message(ns.uid(), &ns.nsp, message);
    ns.publish(own_channel(&ns.channels.broadcast, to), payload, None);
}

/// `P#NSP#<uid>#`, where the server `uid` hears answers: the public channel `P#NSP#`
/// followed by the uid.
pub(super) fn own_channel(public: &str, uid: &str) -> String {
    format!("{public}{uid}#")
}
