//! The requester: the half of a namespace's adapter that speaks first. It publishes
//! broadcasts and requests in the classic protocol and hands the answers other nodes send
//! back to the node's [`Requests`], which keeps what this node waits on.

use crate::adapter::Requesting;
use crate::node::Ns;
use crate::requests::{Answer, Pending, Requests, Waiting};
use crate::transport::FailHook;
use crate::wire::{self, kind, IncomingResponse};
use futures::future::{BoxFuture, FutureExt};
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
}

impl Requester {
    pub fn new(ns: Arc<Ns>) -> Self {
        let requests = Requests::new(
            &ns.node,
            ns.channels.request.clone(),
            ns.channels.response.clone(),
        );
        Requester {
            ns,
            requests: Arc::new(requests),
        }
    }

    fn publish_request(&self, payload: Vec<u8>) {
        self.ns
            .publish(self.ns.channels.request.clone(), payload, None);
    }

    /// A message on `P-response#NSP#` or `P-response#NSP#uid#` (Node's `onresponse`).
    pub fn on_response(&self, channel: &str, payload: &[u8]) {
        let mut response = match IncomingResponse::decode(payload) {
            Ok(response) => response,
            Err(e) => return self.ns.malformed(channel, &e),
        };
        let Some(request_id) = response.request_id.take() else {
            return;
        };
        self.requests.on_answer(&request_id, |waiting| {
            Some(match waiting {
                Waiting::BroadcastAcks => match response.kind() {
                    Some(kind::BROADCAST_CLIENT_COUNT) => {
                        Answer::ClientCount(response.client_count())
                    }
                    Some(kind::BROADCAST_ACK) => Answer::BroadcastAck(response.broadcast_ack()),
                    _ => return None,
                },
                Waiting::ServerSideEmitAcks => {
                    Answer::ServerSideEmitAck(response.server_side_emit_ack())
                }
                Waiting::Sockets => Answer::Sockets(response.sockets()),
                Waiting::Rooms => Answer::Rooms(response.rooms()),
            })
        });
    }
}

impl Requesting for Requester {
    fn requests(&self) -> &Arc<Requests> {
        &self.requests
    }

    /// Publishes a broadcast for the other nodes.
    fn broadcast(&self, packet: &Packet, opts: &BroadcastOptions, on_fail: Option<FailHook>) {
        let ns = &self.ns;
        let data = packet.data.as_ref().unwrap_or(&Value::Null);
        let payload = wire::broadcast_message(ns.uid(), &ns.nsp, data, &packet.attachments, opts);
        ns.publish(ns.channels.broadcast_channel(opts), payload, on_fail);
    }

    /// Publishes a broadcast whose receivers' acks are to reach `acks`, or fails it at once
    /// when Redis is away.
    fn broadcast_with_ack(&self, packet: &Packet, opts: &BroadcastOptions, acks: &AckCollector) {
        let ns = &self.ns;
        let data = packet.data.as_ref().unwrap_or(&Value::Null);
        let build = |id: &str| {
            wire::broadcast_request(ns.uid(), id, &ns.nsp, data, &packet.attachments, opts)
        };
        // Like Node: the bookkeeping goes when the emit's own timeout is over.
        let timeout = opts.flags.timeout.unwrap_or(DEFAULT_ACK_TIMEOUT);
        self.requests.ask_for_acks(
            acks.clone(),
            Pending::BroadcastAck,
            ns.channels.request.clone(),
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
        let uid = self.ns.uid().to_owned();
        let request = move |id: &str| wire::fetch_request(&uid, id, &opts);
        let channel = self.ns.channels.request.clone();
        self.requests
            .clone()
            .gather(local, channel, request, Pending::Fetch)
            .boxed()
    }

    /// The rooms of every server, this one's (`local`) included.
    fn all_rooms(
        self: Arc<Self>,
        local: HashSet<Room>,
    ) -> BoxFuture<'static, Result<Vec<Room>, AdapterError>> {
        let uid = self.ns.uid().to_owned();
        let request = move |id: &str| wire::all_rooms_request(&uid, id);
        let channel = self.ns.channels.request.clone();
        let rooms = self
            .requests
            .clone()
            .gather(local, channel, request, Pending::AllRooms);
        async move { Ok(rooms.await?.into_iter().collect()) }.boxed()
    }

    /// REMOTE_JOIN of the sockets matching `opts`, elsewhere.
    fn join(&self, opts: &BroadcastOptions, rooms: &[Room]) {
        let payload = wire::rooms_request(self.ns.uid(), kind::REMOTE_JOIN, opts, rooms);
        self.publish_request(payload);
    }

    /// REMOTE_LEAVE of the sockets matching `opts`, elsewhere.
    fn leave(&self, opts: &BroadcastOptions, rooms: &[Room]) {
        let payload = wire::rooms_request(self.ns.uid(), kind::REMOTE_LEAVE, opts, rooms);
        self.publish_request(payload);
    }

    /// REMOTE_DISCONNECT of the sockets matching `opts`, elsewhere.
    fn disconnect_sockets(&self, opts: &BroadcastOptions, close: bool) {
        let payload = wire::disconnect_request(self.ns.uid(), opts, close);
        self.publish_request(payload);
    }

    /// A server-side emit to the other servers, whose acks (if any) are to reach `acks`.
    fn server_side_emit(&self, event: &str, args: Args, acks: Option<AckCollector>) {
        let uid = self.ns.uid();
        let build = |id: Option<&str>| {
            wire::server_side_emit_request(uid, id, event, &args.values, &args.attachments)
        };
        let Some(acks) = acks else {
            return self.publish_request(build(None));
        };
        // Node keeps the request for `requestsTimeout`; later answers are not counted.
        self.requests.ask_for_acks(
            acks,
            Pending::ServerSideEmit,
            self.ns.channels.request.clone(),
            |id| build(Some(id)),
            self.ns.config().request_timeout,
        );
    }
}
