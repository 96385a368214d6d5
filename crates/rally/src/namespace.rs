//! A namespace: one communication channel multiplexed over every connection, with its
//! own sockets, middleware, connection handlers, rooms (through its adapter) and
//! server-side event handlers. `io.of("/admin")` in socket.io.

use crate::ack::AckError;
use crate::adapter::{Adapter, AdapterFactory, BroadcastOptions, Room, SocketId};
use crate::args::{Args, IntoArgs};
use crate::broadcast::{BroadcastOperator, EmitError, IntoRooms, RemoteSocket};
use crate::client::Client;
use crate::config::RecoveryConfig;
use crate::handler::run_handler;
use crate::handshake::Handshake;
pub use crate::id_hash::IdHash;
use crate::parser::Parser;
use crate::recovery::{Claim, KeptSession, Recovery, RecoveryStats, SocketRecovery};
use crate::socket::Socket;
use crate::sync::{read, write};
use futures::future::BoxFuture;
use rally_engine::{Session, ShrinkAfterBurst};
use serde_json::Value;
use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, RwLock, Weak};
use std::time::Duration;

/// A handle to one namespace; clones share it.
#[derive(Clone)]
pub struct Namespace(pub(crate) Arc<NamespaceInner>);

/// What an adapter holds of its namespace: a weak handle, so the two do not keep each other alive.
#[derive(Clone)]
pub struct NamespaceRef(Weak<NamespaceInner>);

impl NamespaceRef {
    /// A handle to no namespace, for adapters tested on their own.
    pub fn dangling() -> Self {
        NamespaceRef(Weak::new())
    }

    /// The namespace, unless it has been dropped.
    pub fn upgrade(&self) -> Option<Namespace> {
        self.0.upgrade().map(Namespace)
    }
}

pub(crate) struct NamespaceInner {
    name: Arc<str>,
    sockets: RwLock<HashMap<SocketId, Socket, IdHash>>,
    adapter: OnceLock<Arc<dyn Adapter>>,
    middlewares: RwLock<Vec<Arc<Middleware>>>,
    connection_handlers: RwLock<Vec<Arc<ConnectionHandler>>>,
    server_event_handlers: RwLock<HashMap<String, Vec<Arc<ServerEventHandler>>>>,
    /// Ack ids are unique per namespace, so one id can serve every recipient of a broadcast.
    ack_ids: AtomicU64,
    /// Connection state recovery, when the server has it on.
    recovery: Option<Recovery>,
    /// The server's packet format.
    parser: Parser,
}

/// A middleware's refusal: the client's `connect_error` gets `message` and `data`.
#[derive(Clone, Debug)]
pub struct ConnectError {
    /// What the client sees as `err.message`.
    pub message: String,
    /// What the client sees as `err.data`, if anything.
    pub data: Option<Value>,
}

impl ConnectError {
    /// A refusal with this message and no data: `next(new Error(message))` in socket.io.
    pub fn new(message: impl Into<String>) -> Self {
        ConnectError {
            message: message.into(),
            data: None,
        }
    }

    /// Adds details for the client, as setting `err.data` does in socket.io.
    pub fn with_data(mut self, data: Value) -> Self {
        self.data = Some(data);
        self
    }
}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ConnectError {}

type Middleware = Box<dyn Fn(Socket) -> BoxFuture<'static, Result<(), ConnectError>> + Send + Sync>;
type ConnectionHandler = Box<dyn Fn(Socket) + Send + Sync>;
/// A server-side event from another server, with the callback that answers its ack if it asked for one.
type ServerEventHandler = Box<dyn Fn(Args, Option<ServerAck>) + Send + Sync>;

/// Answers another server's `server_side_emit_with_ack`.
pub struct ServerAck(Box<dyn FnOnce(Args) + Send>);

impl ServerAck {
    /// An ack that hands its arguments to `answer`; an adapter makes one for each
    /// server-side event that asks for an answer.
    pub fn new(answer: impl FnOnce(Args) + Send + 'static) -> Self {
        ServerAck(Box::new(answer))
    }

    /// Answers the emitting server: the callback a socket.io `serverSideEmit` listener
    /// calls. Arguments that do not serialize are logged and nothing is sent.
    pub fn send(self, args: impl IntoArgs) {
        match args.into_args() {
            Ok(args) => (self.0)(args),
            Err(e) => tracing::warn!("server-side ack arguments not serializable: {e}"),
        }
    }
}

impl Namespace {
    /// A namespace with its adapter, which `adapter_factory` makes for it.
    pub(crate) fn new(
        name: &str,
        adapter_factory: &dyn AdapterFactory,
        recovery: Option<RecoveryConfig>,
        parser: Parser,
    ) -> Namespace {
        let ns = Namespace(Arc::new(NamespaceInner {
            name: name.into(),
            sockets: RwLock::default(),
            adapter: OnceLock::new(),
            middlewares: RwLock::default(),
            connection_handlers: RwLock::default(),
            server_event_handlers: RwLock::default(),
            ack_ids: AtomicU64::new(0),
            recovery: recovery.map(|config| Recovery::new(config, parser)),
            parser,
        }));
        let adapter = adapter_factory.create(NamespaceRef(Arc::downgrade(&ns.0)));
        if let (Some(recovery), Some(_)) = (ns.recovery(), adapter.cluster_recovery()) {
            recovery.placed_by_cluster();
        }
        let _ = ns.0.adapter.set(adapter);
        if let (Some(recovery), Ok(runtime)) =
            (ns.recovery(), tokio::runtime::Handle::try_current())
        {
            runtime.spawn(sweep_recovery(
                Arc::downgrade(&ns.0),
                recovery.sweep_every(),
            ));
        }
        ns
    }

    /// The packet format its sockets speak: the server's.
    pub(crate) fn parser(&self) -> Parser {
        self.0.parser
    }

    /// `nsp.name`: the name, starting with `/`.
    pub fn name(&self) -> &str {
        &self.0.name
    }

    /// `nsp.adapter`: the adapter that holds the namespace's rooms and reaches other servers.
    pub fn adapter(&self) -> &Arc<dyn Adapter> {
        self.0
            .adapter
            .get()
            .expect("the adapter is set when the namespace is made")
    }

    /// `nsp.on("connection", socket => …)`: runs for each socket that joined, before the
    /// client is told so; register the socket's handlers here. Emits wait for the CONNECT answer.
    pub fn on_connection(&self, handler: impl Fn(Socket) + Send + Sync + 'static) {
        write(&self.0.connection_handlers).push(Arc::new(Box::new(handler)));
    }

    /// `nsp.use((socket, next) => …)`: runs, in order, before a socket joins; an error refuses it
    /// with a CONNECT_ERROR carrying the error's message and data.
    pub fn use_middleware<F, Fut>(&self, middleware: F)
    where
        F: Fn(Socket) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), ConnectError>> + Send + 'static,
    {
        let middleware: Middleware = Box::new(move |socket| Box::pin(middleware(socket)));
        write(&self.0.middlewares).push(Arc::new(middleware));
    }

    /// `nsp.on(event, …)` for events other servers send with `server_side_emit`.
    pub fn on_server_event(
        &self,
        event: impl Into<String>,
        handler: impl Fn(Args, Option<ServerAck>) + Send + Sync + 'static,
    ) {
        write(&self.0.server_event_handlers)
            .entry(event.into())
            .or_default()
            .push(Arc::new(Box::new(handler)));
    }

    /// The local socket with this id.
    pub fn socket(&self, id: &str) -> Option<Socket> {
        read(&self.0.sockets).get(id).cloned()
    }

    /// This server's sockets in the namespace.
    pub fn local_sockets(&self) -> Vec<Socket> {
        read(&self.0.sockets).values().cloned().collect()
    }

    /// Visits local sockets under one lock: the broadcast hot path.
    pub fn with_sockets<R>(&self, f: impl FnOnce(&HashMap<SocketId, Socket, IdHash>) -> R) -> R {
        f(&read(&self.0.sockets))
    }

    /// Every socket of the namespace, as a broadcast operator: for sending several
    /// packets to one audience, or adding flags (`volatile`, `local`, `timeout`) later.
    pub fn everyone(&self) -> BroadcastOperator {
        BroadcastOperator::new(self.clone(), BroadcastOptions::default())
    }

    /// `nsp.to(room)`: a broadcast to the sockets in any of `rooms`.
    pub fn to(&self, rooms: impl IntoRooms) -> BroadcastOperator {
        self.everyone().to(rooms)
    }

    /// `nsp.in(room)`: the same as [`to`](Self::to); `in` is a Rust keyword.
    pub fn in_(&self, rooms: impl IntoRooms) -> BroadcastOperator {
        self.everyone().to(rooms)
    }

    /// `nsp.except(room)`: a broadcast to every socket but those in any of `rooms`.
    pub fn except(&self, rooms: impl IntoRooms) -> BroadcastOperator {
        self.everyone().except(rooms)
    }

    /// `nsp.local`: a broadcast to this server's sockets only.
    pub fn local(&self) -> BroadcastOperator {
        self.everyone().local()
    }

    /// `nsp.volatile`: a broadcast that may be dropped for clients that cannot take it now.
    pub fn volatile(&self) -> BroadcastOperator {
        self.everyone().volatile()
    }

    /// `nsp.timeout(ms)`: a broadcast whose `emit_with_ack` waits at most `timeout`.
    pub fn timeout(&self, timeout: Duration) -> BroadcastOperator {
        self.everyone().timeout(timeout)
    }

    /// `nsp.emit(event, ...args)`: to every socket of the namespace.
    pub fn emit(&self, event: &str, args: impl IntoArgs) -> Result<(), EmitError> {
        self.everyone().emit(event, args)
    }

    /// `nsp.emitWithAck(event, ...args)`: one answer per socket of the namespace, on every
    /// server, collected for 10 s (see [`timeout`](Self::timeout) for another bound).
    pub async fn emit_with_ack(
        &self,
        event: &str,
        args: impl IntoArgs,
    ) -> Result<Vec<Args>, AckError> {
        self.everyone().emit_with_ack(event, args).await
    }

    /// `nsp.fetchSockets()`: every socket of the namespace, on every server.
    pub async fn fetch_sockets(&self) -> Result<Vec<RemoteSocket>, crate::adapter::AdapterError> {
        self.everyone().fetch_sockets().await
    }

    /// `nsp.socketsJoin(rooms)`: every socket of the namespace, on every server, joins `rooms`.
    pub fn sockets_join(&self, rooms: impl IntoRooms) {
        self.everyone().sockets_join(rooms)
    }

    /// `nsp.socketsLeave(rooms)`: every socket of the namespace, on every server, leaves `rooms`.
    pub fn sockets_leave(&self, rooms: impl IntoRooms) {
        self.everyone().sockets_leave(rooms)
    }

    /// `nsp.disconnectSockets(close)`: every socket of the namespace, on every server, is
    /// disconnected; with `close`, its connection too.
    pub fn disconnect_sockets(&self, close: bool) {
        self.everyone().disconnect_sockets(close)
    }

    /// Every room of the namespace across the cluster, socket-id rooms included.
    pub async fn all_rooms(&self) -> Result<Vec<Room>, crate::adapter::AdapterError> {
        self.adapter().all_rooms().await
    }

    /// `nsp.serverSideEmit(event, ...args)`: to the other servers' `on_server_event` handlers.
    pub fn server_side_emit(&self, event: &str, args: impl IntoArgs) -> Result<(), EmitError> {
        let args = args.into_args().map_err(EmitError::Args)?;
        self.adapter().server_side_emit(event, args, None);
        Ok(())
    }

    /// `nsp.timeout(ms).serverSideEmitWithAck(…)`: one answer per other server.
    pub async fn server_side_emit_with_ack(
        &self,
        event: &str,
        args: impl IntoArgs,
        timeout: Duration,
    ) -> Result<Vec<Args>, AckError> {
        let args = args
            .into_args()
            .map_err(|e| AckError::NotSent(e.to_string()))?;
        let (collector, wait) = crate::ack::ack_collector();
        self.adapter()
            .server_side_emit(event, args, Some(collector));
        let others = self.adapter().server_count().await.saturating_sub(1);
        wait.collect(others, timeout).await
    }

    /// Runs local `on_server_event` handlers for an event another server sent.
    pub fn dispatch_server_event(&self, event: &str, args: Args, ack: Option<ServerAck>) {
        let handlers = read(&self.0.server_event_handlers).get(event).cloned();
        match handlers.as_deref() {
            Some([first, rest @ ..]) => {
                first(args.clone(), ack);
                for handler in rest {
                    handler(args.clone(), None);
                }
            }
            _ => tracing::debug!(nsp = %self.0.name, event, "no server-side handler"),
        }
    }

    pub(crate) fn recovery(&self) -> Option<&Recovery> {
        self.0.recovery.as_ref()
    }

    /// Connection state recovery's figures for this namespace, when it is on.
    pub fn recovery_stats(&self) -> Option<RecoveryStats> {
        self.recovery().map(Recovery::stats)
    }

    /// A fresh ack id, unique in this namespace: adapters use it for broadcasts with acks.
    pub fn next_ack_id(&self) -> u64 {
        self.0.ack_ids.fetch_add(1, Ordering::Relaxed)
    }

    /// A client asked to join: its session back when it claims one that can be
    /// restored, else a fresh socket; then middleware (skipped by a recovered socket
    /// unless configured otherwise), then the socket joins and its handlers are
    /// registered, then the client is told. Without middleware this completes in place.
    pub(crate) fn connect(&self, client: Arc<Client>, session: &Arc<Session>, mut auth: Value) {
        let claim = match self.recovery() {
            Some(recovery) => Claim::take(&mut auth).unwrap_or_else(|refusal| {
                recovery.count_refusal(refusal);
                tracing::info!(nsp = %self.0.name, "connection state not recovered: {refusal}");
                None
            }),
            None => None,
        };
        let handshake = Handshake::new(session.handshake(), auth);
        let offered = !client.is_legacy() && self.recovery().is_some_and(|r| r.offers(&handshake));
        let claim = claim.filter(|_| offered);
        let ns = self.clone();
        run_handler(Box::pin(async move {
            let restored = match claim {
                Some(claim) => ns.restore(&client, &handshake, &claim).await,
                None => None,
            };
            ns.admit(client, handshake, offered, restored).await;
        }));
    }

    /// Runs middleware for a socket (skipped by a recovered socket unless configured
    /// otherwise), then lets it join.
    async fn admit(
        &self,
        client: Arc<Client>,
        handshake: Handshake,
        offered: bool,
        restored: Option<Socket>,
    ) {
        let skip_middlewares =
            restored.is_some() && self.recovery().is_some_and(|r| r.config().skip_middlewares);
        let socket = restored.clone().unwrap_or_else(|| {
            Socket::new(
                self.clone(),
                client.clone(),
                handshake,
                offered.then(SocketRecovery::fresh),
            )
        });
        let middlewares = if skip_middlewares {
            Vec::new()
        } else {
            read(&self.0.middlewares).clone()
        };
        for middleware in middlewares {
            if let Err(refusal) = middleware(socket.clone()).await {
                if restored.is_some() {
                    // It was put back in the namespace to receive what came meanwhile.
                    socket.on_close(crate::reason::DisconnectReason::ServerNamespaceDisconnect);
                }
                client.send_connect_error(&self.0.name, &refusal.message, refusal.data);
                return;
            }
        }
        self.add_socket(client, socket, restored.is_some());
    }

    /// Takes over the connected socket a claim's `pid` belongs to, if there is one: its
    /// client gave up on a connection this server still holds.
    fn take_over_live(&self, recovery: &Recovery, claim: &Claim) {
        if let Some(old) = recovery
            .live_socket(claim.pid())
            .and_then(|sid| self.socket(&sid))
            .filter(|old| {
                old.recovery()
                    .is_some_and(|r| r.is_named_by(claim.pid(), |at| old.client_confirmed(at)))
            })
        {
            old.take_over();
            recovery.count_takeover();
        }
    }

    /// Puts a restored socket in the namespace and its rooms.
    fn put_back(
        &self,
        client: &Arc<Client>,
        handshake: &Handshake,
        session: KeptSession,
        missed: Vec<rally_engine::OutMessage>,
        part: SocketRecovery,
    ) -> Socket {
        let socket = Socket::restored(
            self.clone(),
            client.clone(),
            handshake.clone(),
            &session,
            missed,
            part,
        );
        write(&self.0.sockets).insert(socket.id().clone(), socket.clone());
        self.adapter().add_all(socket.id(), &session.rooms);
        socket
    }

    /// Puts back the session a client claims, as a socket in the namespace and its
    /// rooms: kept here, or, when the adapter keeps sessions for the cluster
    /// ([`ClusterRecovery`](crate::adapter::cluster::ClusterRecovery)), read from there
    /// with what its client missed. `None` (and a log line saying why) when it cannot be.
    async fn restore(
        &self,
        client: &Arc<Client>,
        handshake: &Handshake,
        claim: &Claim,
    ) -> Option<Socket> {
        let recovery = self.recovery()?;
        self.take_over_live(recovery, claim);
        let put_back =
            |session, missed, part| self.put_back(client, handshake, session, missed, part);
        let restored = match self.adapter().cluster_recovery() {
            Some(cluster) => {
                let asked = cluster.restore_session(
                    claim.pid().to_owned(),
                    claim.offset().map(str::to_owned),
                    recovery.config().max_packets,
                );
                match asked.await {
                    Ok(found) => {
                        recovery.restore_from_cluster(&self.0.name, claim, found, put_back)
                    }
                    Err(refusal) => {
                        recovery.count_refusal(refusal);
                        Err(refusal)
                    }
                }
            }
            None => recovery.restore(claim, put_back),
        };
        match restored {
            Ok(socket) => {
                tracing::debug!(nsp = %self.0.name, sid = %socket.id(), "connection state recovered");
                Some(socket)
            }
            Err(refusal) => {
                tracing::info!(nsp = %self.0.name, "connection state not recovered: {refusal}");
                None
            }
        }
    }

    fn add_socket(&self, client: Arc<Client>, socket: Socket, restored: bool) {
        if !client.add_socket(&socket) {
            if restored {
                // The new connection went too: the session is kept again.
                socket.on_close(crate::reason::DisconnectReason::TransportClose);
            }
            return;
        }
        if !restored {
            let insert = || {
                write(&self.0.sockets).insert(socket.id().clone(), socket.clone());
                self.adapter()
                    .add_all(socket.id(), std::slice::from_ref(socket.id()));
            };
            match self.recovery() {
                Some(recovery) => recovery.attach(&socket, insert),
                None => insert(),
            }
        }
        let handlers = read(&self.0.connection_handlers).clone();
        for handler in &handlers {
            handler(socket.clone());
        }
        socket.finish_connect();
    }

    /// Takes a leaving socket out of the namespace and its rooms; with `keep`, its
    /// session is kept for connection state recovery.
    pub(crate) fn remove_socket(&self, socket: &Socket, keep: bool) {
        let remove = || {
            let id = socket.id();
            let mut sockets = write(&self.0.sockets);
            // A socket that recovered may hold the id already: only the leaving one goes.
            if sockets.get(id).is_some_and(|s| s == socket) {
                sockets.remove(id);
                sockets.shrink_after_burst();
                drop(sockets);
                self.adapter().del_all(id);
            }
        };
        match self.recovery() {
            Some(recovery) => {
                recovery.detach(socket, keep, self.adapter().cluster_recovery(), remove)
            }
            None => remove(),
        }
    }
}

/// Sweeps a namespace's recovery state until the namespace is gone.
async fn sweep_recovery(ns: Weak<NamespaceInner>, every: Duration) {
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let Some(ns) = ns.upgrade() else { return };
        if let Some(recovery) = &ns.recovery {
            recovery.sweep();
        }
    }
}

impl fmt::Debug for Namespace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Namespace").field(&self.0.name).finish()
    }
}
