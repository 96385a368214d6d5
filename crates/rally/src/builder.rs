//! `Server::builder()`: the server's settings, adapter and application state, set
//! one call at a time.
//!
//! `ServerConfig` with struct update syntax works too, but it nests the engine's
//! settings, and an application changing one of them had to remember to keep
//! Socket.IO's path. Here every setter changes one thing and the defaults are
//! socket.io's. Application state is kept by type, as axum's extensions are, and
//! read from any handler with [`Socket::state`](crate::Socket::state).

use crate::adapter::memory::MemoryAdapterFactory;
use crate::adapter::AdapterFactory;
use crate::config::{RecoveryConfig, ServerConfig};
use crate::parser::Parser;
use crate::server::Server;
use rally_engine::{AllowRequest, Cors, EngineConfig};
use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// Builds a [`Server`]; from [`Server::builder`].
#[derive(Default)]
pub struct ServerBuilder {
    config: ServerConfig,
    adapter: Option<Arc<dyn AdapterFactory>>,
    states: States,
}

impl ServerBuilder {
    /// Every setting at once, replacing those set so far.
    pub fn config(mut self, config: ServerConfig) -> Self {
        self.config = config;
        self
    }

    /// Changes the Engine.IO settings that have no setter of their own.
    pub fn engine(mut self, change: impl FnOnce(&mut EngineConfig)) -> Self {
        change(&mut self.config.engine);
        self
    }

    /// socket.io's `path`: where clients connect; `/socket.io/` by default.
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.config.path = path.into();
        self
    }

    /// socket.io's `pingInterval`; 25 s by default.
    pub fn ping_interval(mut self, interval: Duration) -> Self {
        self.config.engine.ping_interval = interval;
        self
    }

    /// socket.io's `pingTimeout`; 20 s by default.
    pub fn ping_timeout(mut self, timeout: Duration) -> Self {
        self.config.engine.ping_timeout = timeout;
        self
    }

    /// socket.io's `maxHttpBufferSize`: the largest message a client may send; 1 MB by default.
    pub fn max_payload(mut self, bytes: usize) -> Self {
        self.config.engine.max_payload = bytes;
        self
    }

    /// socket.io's `cors`; off by default.
    pub fn cors(mut self, cors: Cors) -> Self {
        self.config.engine.cors = Some(cors);
        self
    }

    /// socket.io's `allowRequest`: decides, possibly asynchronously, whether a new
    /// connection may open; see [`AllowRequest::new`].
    pub fn allow_request<F, Fut>(mut self, decide: F) -> Self
    where
        F: Fn(&http::request::Parts) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), String>> + Send + 'static,
    {
        self.config.engine.allow_request = Some(AllowRequest::new(decide));
        self
    }

    /// socket.io's `connectTimeout`: how long a connection may stay without joining a
    /// namespace; 45 s by default.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.config.connect_timeout = timeout;
        self
    }

    /// socket.io's `connectionStateRecovery`; off by default.
    pub fn connection_state_recovery(mut self, recovery: RecoveryConfig) -> Self {
        self.config.connection_state_recovery = Some(recovery);
        self
    }

    /// The packet format, socket.io's `parser`: [`Parser::MsgPack`] for clients
    /// configured with `socket.io-msgpack-parser`; JSON by default.
    pub fn parser(mut self, parser: Parser) -> Self {
        self.config.parser = parser;
        self
    }

    /// The adapter every namespace uses (a cluster's); the memory adapter by default.
    pub fn adapter(mut self, factory: impl AdapterFactory) -> Self {
        self.adapter = Some(Arc::new(factory));
        self
    }

    /// Application state that handlers read with [`Socket::state::<T>()`](crate::Socket::state)
    /// or [`Server::state`]; one value per type, a later one replacing an earlier.
    pub fn state<T: Send + Sync + 'static>(mut self, state: T) -> Self {
        self.states.0.insert(TypeId::of::<T>(), Arc::new(state));
        self
    }

    /// The server.
    pub fn build(self) -> Server {
        let adapter = self
            .adapter
            .unwrap_or_else(|| Arc::new(MemoryAdapterFactory));
        Server::assemble(self.config, adapter, self.states)
    }
}

/// Application state by type.
#[derive(Default)]
pub(crate) struct States(HashMap<TypeId, Arc<dyn Any + Send + Sync>>);

impl States {
    pub(crate) fn get<T: 'static>(&self) -> Option<&T> {
        self.0.get(&TypeId::of::<T>())?.downcast_ref()
    }
}
