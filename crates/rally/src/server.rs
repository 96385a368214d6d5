//! The Socket.IO server: `io` in socket.io's API.
//!
//! It owns the Engine.IO engine and the namespaces, turns engine sessions into clients,
//! and mounts into an axum app. The main namespace's API is repeated here so that code
//! reads like the tutorial: `io.on_connection(…)`, `io.emit(…)`, `io.to(room).emit(…)`.

use crate::adapter::memory::MemoryAdapterFactory;
use crate::adapter::{AdapterError, AdapterFactory, Room};
use crate::args::{Args, IntoArgs};
use crate::broadcast::RemoteSocket;
use crate::broadcast::{BroadcastOperator, EmitError, IntoRooms};
use crate::builder::{ServerBuilder, States};
use crate::client::Client;
use crate::config::ServerConfig;
use crate::connect_timeout::ConnectDeadlines;
use crate::namespace::{ConnectError, Namespace};
use crate::serve_client;
use crate::socket::Socket;
use crate::sync::{read, write};
use rally_engine::{CloseReason, Engine, EngineConfig, EngineHandler, Message, Session};
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, OnceLock, RwLock, Weak};
use std::time::Duration;

/// A handle to the server; clones share it.
#[derive(Clone)]
pub struct Server(Arc<ServerInner>);

pub(crate) struct ServerInner {
    pub(crate) config: ServerConfig,
    /// Application state, by type ([`ServerBuilder::state`]); fixed once built.
    pub(crate) states: States,
    pub(crate) adapter_factory: Arc<dyn AdapterFactory>,
    pub(crate) connect_deadlines: Arc<ConnectDeadlines>,
    engine: OnceLock<Arc<Engine>>,
    namespaces: RwLock<HashMap<String, Namespace>>,
}

/// What the engine calls: one client per session, kept in the session's extensions.
struct EngineBridge(Weak<ServerInner>);

fn client_of(session: &Session) -> Option<Arc<Client>> {
    session
        .extensions()
        .get()?
        .clone()
        .downcast::<Client>()
        .ok()
}

impl EngineHandler for EngineBridge {
    fn on_open(&self, session: &Arc<Session>) {
        let Some(server) = self.0.upgrade() else {
            return;
        };
        let client = Client::new(session, server);
        let _ = session.extensions().set(client);
    }

    fn on_message(&self, session: &Arc<Session>, msg: Message) {
        if let Some(client) = client_of(session) {
            client.on_message(msg);
        }
    }

    fn on_close(&self, session: &Arc<Session>, reason: CloseReason) {
        if let Some(client) = client_of(session) {
            client.on_close(reason);
        }
    }
}

impl Default for Server {
    fn default() -> Self {
        Server::new(ServerConfig::default())
    }
}

impl Server {
    /// `new Server(options)`: a server whose namespaces keep their rooms in this process
    /// (the memory adapter). The main namespace `/` exists from the start.
    pub fn new(config: ServerConfig) -> Server {
        Server::with_adapter(config, MemoryAdapterFactory)
    }

    /// A server whose namespaces use another adapter (a cluster's).
    pub fn with_adapter(config: ServerConfig, adapter_factory: impl AdapterFactory) -> Server {
        Server::assemble(config, Arc::new(adapter_factory), States::default())
    }

    /// Settings, adapter and application state, one call each: `Server::builder()
    /// .ping_interval(…).state(app).build()`.
    pub fn builder() -> ServerBuilder {
        ServerBuilder::default()
    }

    pub(crate) fn assemble(
        mut config: ServerConfig,
        adapter_factory: Arc<dyn AdapterFactory>,
        states: States,
    ) -> Server {
        if config.engine.path != config.path && config.engine.path != EngineConfig::default().path {
            tracing::warn!(
                engine_path = %config.engine.path,
                path = %config.path,
                "EngineConfig::path is not used by rally::Server: it serves ServerConfig::path"
            );
        }
        config.engine.path = config.path.clone();
        let inner = Arc::new(ServerInner {
            config: config.clone(),
            states,
            adapter_factory,
            connect_deadlines: ConnectDeadlines::new(config.connect_timeout),
            engine: OnceLock::new(),
            namespaces: RwLock::default(),
        });
        let engine = Engine::new(
            config.engine,
            Arc::new(EngineBridge(Arc::downgrade(&inner))),
        );
        let _ = inner.engine.set(engine);
        let server = Server(inner);
        server.of("/");
        server
    }

    /// The settings the server was made with.
    pub fn config(&self) -> &ServerConfig {
        &self.0.config
    }

    /// The Engine.IO engine underneath: `io.engine`, for its settings and session count.
    pub fn engine(&self) -> &Arc<Engine> {
        self.0
            .engine
            .get()
            .expect("the engine is set when the server is made")
    }

    /// The axum routes: the Engine.IO endpoint and, unless disabled, the client bundle.
    /// Merge them into any app, as socket.io attaches to an Express server.
    pub fn router(&self) -> axum::Router {
        let router = self.engine().router();
        if self.0.config.serve_client {
            router.merge(serve_client::router(&self.0.config.path))
        } else {
            router
        }
    }

    /// `io.of(name)`: the namespace, made on first use.
    pub fn of(&self, name: &str) -> Namespace {
        let name = if name.starts_with('/') {
            name.to_owned()
        } else {
            format!("/{name}")
        };
        if let Some(ns) = read(&self.0.namespaces).get(&name) {
            return ns.clone();
        }
        write(&self.0.namespaces)
            .entry(name.clone())
            .or_insert_with(|| {
                Namespace::new(
                    &name,
                    &*self.0.adapter_factory,
                    self.0.config.connection_state_recovery.clone(),
                    self.0.config.parser,
                )
            })
            .clone()
    }

    /// `io.sockets`: the main namespace, `/`.
    pub fn sockets(&self) -> Namespace {
        self.of("/")
    }

    /// `io.on("connection", socket => …)`: [`Namespace::on_connection`] on the main namespace.
    pub fn on_connection(&self, handler: impl Fn(Socket) + Send + Sync + 'static) {
        self.sockets().on_connection(handler)
    }

    /// `io.use((socket, next) => …)`: [`Namespace::use_middleware`] on the main namespace.
    pub fn use_middleware<F, Fut>(&self, middleware: F)
    where
        F: Fn(Socket) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), ConnectError>> + Send + 'static,
    {
        self.sockets().use_middleware(middleware)
    }

    /// `io.emit(event, ...args)`: to every socket of the main namespace, on every server.
    pub fn emit(&self, event: &str, args: impl IntoArgs) -> Result<(), EmitError> {
        self.sockets().emit(event, args)
    }

    /// `io.to(room)`: a broadcast to the main namespace's sockets in any of `rooms`.
    pub fn to(&self, rooms: impl IntoRooms) -> BroadcastOperator {
        self.sockets().to(rooms)
    }

    /// `io.in(room)`: the same as [`to`](Self::to); `in` is a Rust keyword.
    pub fn in_(&self, rooms: impl IntoRooms) -> BroadcastOperator {
        self.sockets().in_(rooms)
    }

    /// `io.except(room)`: a broadcast to the main namespace's sockets but those in any of `rooms`.
    pub fn except(&self, rooms: impl IntoRooms) -> BroadcastOperator {
        self.sockets().except(rooms)
    }

    /// Every socket of the main namespace, as a broadcast operator (`Namespace::everyone`).
    pub fn everyone(&self) -> BroadcastOperator {
        self.sockets().everyone()
    }

    /// `io.local`: a broadcast to this server's sockets of the main namespace only.
    pub fn local(&self) -> BroadcastOperator {
        self.sockets().local()
    }

    /// `io.volatile`: a broadcast that may be dropped for clients that cannot take it now.
    pub fn volatile(&self) -> BroadcastOperator {
        self.sockets().volatile()
    }

    /// `io.timeout(ms)`: a broadcast whose `emit_with_ack` waits at most `timeout`.
    pub fn timeout(&self, timeout: Duration) -> BroadcastOperator {
        self.sockets().timeout(timeout)
    }

    /// `io.emitWithAck(event, ...args)`: one answer per socket of the main namespace, on
    /// every server ([`Namespace::emit_with_ack`]).
    pub async fn emit_with_ack(
        &self,
        event: &str,
        args: impl IntoArgs,
    ) -> Result<Vec<Args>, crate::ack::AckError> {
        self.sockets().emit_with_ack(event, args).await
    }

    /// `io.fetchSockets()`: every socket of the main namespace, on every server.
    pub async fn fetch_sockets(&self) -> Result<Vec<RemoteSocket>, AdapterError> {
        self.sockets().fetch_sockets().await
    }

    /// Every room of the main namespace across the cluster, socket-id rooms included.
    pub async fn all_rooms(&self) -> Result<Vec<Room>, AdapterError> {
        self.sockets().all_rooms().await
    }

    /// `io.socketsJoin(rooms)`: every socket of the main namespace, on every server, joins `rooms`.
    pub fn sockets_join(&self, rooms: impl IntoRooms) {
        self.sockets().sockets_join(rooms)
    }

    /// `io.socketsLeave(rooms)`: every socket of the main namespace, on every server, leaves `rooms`.
    pub fn sockets_leave(&self, rooms: impl IntoRooms) {
        self.sockets().sockets_leave(rooms)
    }

    /// `io.disconnectSockets(close)`: every socket of the main namespace, on every
    /// server, is disconnected; with `close`, its connection too.
    pub fn disconnect_sockets(&self, close: bool) {
        self.sockets().disconnect_sockets(close)
    }

    /// The application state of type `T` given to [`ServerBuilder::state`], if any.
    pub fn state<T: Send + Sync + 'static>(&self) -> Option<&T> {
        self.0.states.get()
    }

    /// `io.serverSideEmit(event, ...args)`: to the other servers' main-namespace
    /// [`on_server_event`](Namespace::on_server_event) handlers.
    pub fn server_side_emit(&self, event: &str, args: impl IntoArgs) -> Result<(), EmitError> {
        self.sockets().server_side_emit(event, args)
    }

    /// `io.timeout(ms).serverSideEmitWithAck(event, ...args)`: one answer per other server,
    /// collected for at most `timeout`.
    pub async fn server_side_emit_with_ack(
        &self,
        event: &str,
        args: impl IntoArgs,
        timeout: Duration,
    ) -> Result<Vec<Args>, crate::ack::AckError> {
        self.sockets()
            .server_side_emit_with_ack(event, args, timeout)
            .await
    }

    /// `io.close()`: stops accepting connections and closes every one of them, so that
    /// clients reconnect by themselves (to this server when it is back, or to another).
    pub async fn close(&self) {
        self.engine().close().await;
        for ns in read(&self.0.namespaces).values() {
            ns.adapter().close();
        }
    }
}

impl ServerInner {
    /// The handle for user code, from the crate's side.
    pub(crate) fn handle(self: &Arc<Self>) -> Server {
        Server(self.clone())
    }

    pub(crate) fn namespace(&self, name: &str) -> Option<Namespace> {
        read(&self.namespaces).get(name).cloned()
    }
}
