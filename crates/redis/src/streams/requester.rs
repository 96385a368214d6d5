//! The requester: what a namespace's streams adapter sends. Broadcasts without acks and
//! room changes go into the stream; broadcasts with acks, `fetch_sockets` and server-side
//! emits are published on the namespace's public channel, and their answers come back on
//! this node's own channel to the node's [`Requests`].

use super::sessions::Sessions;
use super::unplaced::Unplaced;
use crate::adapter::Requesting;
use crate::node::Ns;
use crate::requests::{Answer, Pending, Requests, Waiting};
use crate::transport::FailHook;
use crate::wire::{cluster_message, ClusterMessage, StreamMessage};
use futures::future::{BoxFuture, FutureExt};
use rally::adapter::cluster::ClusterRecovery;
use rally::broadcast::DEFAULT_ACK_TIMEOUT;
use rally::packet::Packet;
use rally::{AckCollector, AdapterError, Args, BroadcastOptions, Room, SocketInfo};
use serde_json::Value;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

pub(super) struct Requester {
    ns: Arc<Ns>,
    pub requests: Arc<Requests>,
    /// Sessions kept in Redis, for recovery on any server.
    sessions: Sessions,
    /// Stored broadcasts delivered here that the stream does not hold.
    unplaced: Arc<Unplaced>,
}

impl Requester {
    pub fn new(ns: Arc<Ns>) -> Self {
        let requests = Requests::new(
            &ns.node,
            ns.channels.broadcast.clone(),
            ns.channels.broadcast.clone(),
        );
        Requester {
            sessions: Sessions::new(ns.clone()),
            unplaced: Arc::new(Unplaced::new(ns.clone())),
            ns,
            requests: Arc::new(requests),
        }
    }

    fn append(&self, message: &StreamMessage, on_fail: Option<FailHook>) {
        super::append(&self.ns, message, on_fail);
    }

    /// The payload of a request on the public channel.
    fn request(&self, message: &ClusterMessage) -> Vec<u8> {
        cluster_message(self.ns.uid(), &self.ns.nsp, message)
    }

    /// An answer to one of this node's requests.
    pub fn on_answer(&self, message: ClusterMessage) {
        let (request_id, answer) = match message {
            ClusterMessage::FetchSocketsResponse {
                request_id,
                sockets,
            } => (request_id, Answer::Sockets(Some(sockets))),
            ClusterMessage::ServerSideEmitResponse {
                request_id,
                data,
                attachments,
            } => (
                request_id,
                Answer::ServerSideEmitAck(Args {
                    values: vec![data],
                    attachments,
                }),
            ),
            ClusterMessage::BroadcastClientCount { request_id, count } => (
                request_id,
                Answer::ClientCount(usize::try_from(count).unwrap_or(usize::MAX)),
            ),
            ClusterMessage::BroadcastAck {
                request_id,
                data,
                attachments,
            } => (
                request_id,
                Answer::BroadcastAck(Args {
                    values: vec![data],
                    attachments,
                }),
            ),
            _ => return,
        };
        // The answers say what they answer, so what the request waits for is not needed
        // to read them; a mismatch is dropped by `Requests`.
        self.requests
            .on_answer(&request_id, |_: Waiting| Some(answer));
    }
}

impl Requesting for Requester {
    fn requests(&self) -> &Arc<Requests> {
        &self.requests
    }

    fn cluster_recovery(&self) -> Option<&dyn ClusterRecovery> {
        Some(&self.sessions)
    }

    fn broadcast(&self, packet: &Packet, opts: &BroadcastOptions, on_fail: Option<FailHook>) {
        let message = StreamMessage::Broadcast {
            data: packet.data.clone().unwrap_or(Value::Null),
            attachments: packet.attachments.clone(),
            opts: opts.clone(),
        };
        // A stored broadcast (the only kind with a fallback): if it cannot be placed, the
        // cluster hears of it once Redis is back; what could not be told yet goes first.
        let on_fail = on_fail.map(|deliver_here| self.unplaced.on_fail(opts, deliver_here));
        if on_fail.is_some() {
            self.unplaced.tell();
        }
        self.append(&message, on_fail);
    }

    /// Publishes a broadcast whose receivers' acks are to reach `acks`, or fails it at once
    /// when Redis is away.
    fn broadcast_with_ack(&self, packet: &Packet, opts: &BroadcastOptions, acks: &AckCollector) {
        let build = |id: &str| {
            self.request(&ClusterMessage::BroadcastWithAck {
                request_id: id.to_owned(),
                data: packet.data.clone().unwrap_or(Value::Null),
                attachments: packet.attachments.clone(),
                opts: opts.clone(),
            })
        };
        let timeout = opts.flags.timeout.unwrap_or(DEFAULT_ACK_TIMEOUT);
        self.requests.ask_for_acks(
            acks.clone(),
            Pending::BroadcastAck,
            self.ns.channels.broadcast.clone(),
            build,
            timeout + Duration::from_millis(100),
        );
    }

    /// The sockets of every server matching `opts`, this one's (`local`) first.
    fn fetch_sockets(
        self: Arc<Self>,
        opts: BroadcastOptions,
        local: Vec<SocketInfo>,
    ) -> BoxFuture<'static, Result<Vec<SocketInfo>, AdapterError>> {
        let ns = self.ns.clone();
        let request = move |id: &str| {
            let message = ClusterMessage::FetchSockets {
                request_id: id.to_owned(),
                opts,
            };
            cluster_message(ns.uid(), &ns.nsp, &message)
        };
        let channel = self.ns.channels.broadcast.clone();
        self.requests
            .clone()
            .gather(local, channel, request, Pending::Fetch)
            .boxed()
    }

    /// Every room with a socket in it across the cluster. The protocol has no request for
    /// it, so it is read from every server's sockets.
    fn all_rooms(
        self: Arc<Self>,
        local: HashSet<Room>,
    ) -> BoxFuture<'static, Result<Vec<Room>, AdapterError>> {
        let sockets = self.fetch_sockets(BroadcastOptions::default(), Vec::new());
        async move {
            let mut rooms = local;
            rooms.extend(
                sockets
                    .await?
                    .into_iter()
                    .flat_map(|s| s.rooms)
                    .map(Room::from),
            );
            Ok(rooms.into_iter().collect())
        }
        .boxed()
    }

    fn join(&self, opts: &BroadcastOptions, rooms: &[Room]) {
        self.append(
            &StreamMessage::SocketsJoin {
                opts: opts.clone(),
                rooms: rooms.to_vec(),
            },
            None,
        );
    }

    fn leave(&self, opts: &BroadcastOptions, rooms: &[Room]) {
        self.append(
            &StreamMessage::SocketsLeave {
                opts: opts.clone(),
                rooms: rooms.to_vec(),
            },
            None,
        );
    }

    fn disconnect_sockets(&self, opts: &BroadcastOptions, close: bool) {
        self.append(
            &StreamMessage::DisconnectSockets {
                opts: opts.clone(),
                close,
            },
            None,
        );
    }

    /// A server-side emit to the other servers, whose acks (if any) are to reach `acks`.
    fn server_side_emit(&self, event: &str, args: Args, acks: Option<AckCollector>) {
        let mut data = Vec::with_capacity(args.values.len() + 1);
        data.push(Value::from(event));
        data.extend(args.values);
        let build = |request_id: Option<&str>| {
            self.request(&ClusterMessage::ServerSideEmit {
                request_id: request_id.map(str::to_owned),
                data: Value::Array(data),
                attachments: args.attachments,
            })
        };
        let Some(acks) = acks else {
            let payload = build(None);
            return self
                .ns
                .publish(self.ns.channels.broadcast.clone(), payload, None);
        };
        self.requests.ask_for_acks(
            acks,
            Pending::ServerSideEmit,
            self.ns.channels.broadcast.clone(),
            |id| build(Some(id)),
            self.ns.config().request_timeout,
        );
    }
}
