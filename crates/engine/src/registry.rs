//! The engine's live sessions: opened here, found here by id, and taken out
//! by themselves when they end.
//!
//! A session does not know this registry. Its [`SessionContext`] carries a
//! remover closure holding only a `Weak` to the registry, so no session owns
//! a path back to the server, and no reference cycle keeps the registry alive
//! after the engine and its routes are gone. The registry signals when its
//! last session leaves, which is what [`Engine::close`](crate::Engine::close)
//! waits on.

use std::collections::HashMap;
use std::sync::{Arc, RwLock, Weak};

use tokio::sync::Notify;

use crate::config::EngineConfig;
use crate::handshake::HandshakeInfo;
use crate::session::{EngineHandler, Session, SessionContext, Wire};
use crate::shrink::ShrinkAfterBurst;
use crate::sync::{read, write};
use crate::transport_kind::TransportKind;

pub(crate) struct Registry {
    sessions: RwLock<HashMap<String, Arc<Session>>>,
    /// Signalled each time the registry becomes empty.
    emptied: Notify,
    /// Given to every session opened here.
    context: Arc<SessionContext>,
}

impl Registry {
    pub(crate) fn new(config: EngineConfig, handler: Arc<dyn EngineHandler>) -> Arc<Registry> {
        Arc::new_cyclic(|this: &Weak<Registry>| {
            let this = this.clone();
            let remove = move |sid: &str| {
                if let Some(registry) = this.upgrade() {
                    registry.remove(sid);
                }
            };
            Registry {
                sessions: RwLock::new(HashMap::new()),
                emptied: Notify::new(),
                context: Arc::new(SessionContext {
                    max_lag_ms: u64::try_from(config.max_lag.as_millis()).unwrap_or(u64::MAX),
                    config,
                    handler,
                    remove: Box::new(remove),
                }),
            }
        })
    }

    pub(crate) fn config(&self) -> &EngineConfig {
        &self.context.config
    }

    /// Registers a fresh session and announces it. Registration comes first:
    /// `on_open` may close the session, and closing unregisters it.
    pub(crate) fn open(
        &self,
        info: HandshakeInfo,
        kind: TransportKind,
        wire: Wire,
    ) -> Arc<Session> {
        let session = Session::new(
            crate::sid::generate(),
            info,
            self.context.clone(),
            kind,
            wire,
        );
        write(&self.sessions).insert(session.id().to_owned(), session.clone());
        tracing::debug!(
            sid = session.id(),
            transport = kind.as_str(),
            "session opened"
        );
        self.context.handler.on_open(&session);
        session
    }

    pub(crate) fn get(&self, sid: &str) -> Option<Arc<Session>> {
        read(&self.sessions).get(sid).cloned()
    }

    fn remove(&self, sid: &str) {
        let emptied = {
            let mut sessions = write(&self.sessions);
            let removed = sessions.remove(sid).is_some();
            sessions.shrink_after_burst();
            removed && sessions.is_empty()
        };
        if emptied {
            self.emptied.notify_waiters();
        }
    }

    pub(crate) fn snapshot(&self) -> Vec<Arc<Session>> {
        read(&self.sessions).values().cloned().collect()
    }

    pub(crate) fn count(&self) -> usize {
        read(&self.sessions).len()
    }

    /// Returns once no session is left.
    pub(crate) async fn wait_empty(&self) {
        loop {
            // Enabled before the count is read, so that the last session
            // leaving in between still wakes this wait.
            let emptied = self.emptied.notified();
            tokio::pin!(emptied);
            emptied.as_mut().enable();
            if self.count() == 0 {
                return;
            }
            emptied.await;
        }
    }
}
