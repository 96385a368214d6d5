//! What user code plugs in: event handlers, the `Event` they receive and the `Ack`
//! that answers the client.
//!
//! Handlers are invoked in the order their events arrived and each runs as its own
//! future, like listeners in Node.js: a handler that awaits a client's ack does not
//! hold back the socket's next event. Most handlers finish without ever waiting, so
//! each is polled once in place and only spawned as a task when it is still pending.

use crate::args::{Args, ArgsError, IntoArgs};
use crate::reason::DisconnectReason;
use crate::socket::Socket;
use serde::de::DeserializeOwned;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// One event from a client: its arguments, and the ack callback when the client asked for one.
pub struct Event {
    /// The event's name, as the client emitted it.
    pub name: String,
    /// The arguments that followed the name.
    pub args: Args,
    /// The client's callback, when it emitted with one; [`Event::ack`] takes it.
    pub ack: Option<Ack>,
}

impl Event {
    /// Argument `i`, deserialized; `Binary` fields take their bytes from the attachments.
    pub fn arg<T: DeserializeOwned>(&self, i: usize) -> Result<T, ArgsError> {
        self.args.get(i)
    }

    /// Answer the client's ack callback, if it asked for one.
    pub fn ack(&mut self, args: impl IntoArgs) {
        if let Some(ack) = self.ack.take() {
            ack.send(args);
        }
    }
}

/// The client's ack callback for one event. Sending consumes it: a client's callback runs once.
pub struct Ack {
    pub(crate) socket: Socket,
    pub(crate) id: u64,
}

impl Ack {
    /// Calls the client's callback with `args`, as `callback(...args)` does in a socket.io
    /// handler. Arguments that do not serialize are logged and nothing is sent.
    pub fn send(self, args: impl IntoArgs) {
        match args.into_args() {
            Ok(args) => self.socket.send_ack(self.id, args),
            Err(e) => {
                tracing::warn!(socket = %self.socket.id(), "ack arguments not serializable: {e}")
            }
        }
    }
}

pub(crate) type BoxFuture = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// `socket.on(event, handler)`. Kept as `Arc<dyn …>`: one allocation per handler.
pub(crate) type EventHandler = dyn Fn(Socket, Event) -> BoxFuture + Send + Sync;
/// `socket.on_any(handler)`: the event's name and arguments, before the named handler.
pub(crate) type AnyHandler = dyn Fn(Socket, &str, &Args) + Send + Sync;
/// `socket.on_disconnect` / `socket.on_disconnecting`.
pub(crate) type DisconnectHandler = dyn Fn(Socket, DisconnectReason) -> BoxFuture + Send + Sync;

/// Runs a handler's future: in place when it completes at once, as a task otherwise.
///
/// The in-place poll runs on the connection's reading path; a handler that panics
/// there is logged and dropped, so it cannot take the connection's task down with it
/// (a spawned task's panic is contained by tokio the same way).
pub(crate) fn run_handler(mut fut: BoxFuture) {
    let mut cx = Context::from_waker(futures::task::noop_waker_ref());
    // A pending future registered only the no-op waker; the task polls it again at once
    // with a real waker, so no wake-up is lost.
    let polled =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| fut.as_mut().poll(&mut cx)));
    match polled {
        Ok(Poll::Pending) => {
            tokio::spawn(fut);
        }
        Ok(Poll::Ready(())) => {}
        Err(_) => tracing::error!("an event handler panicked; the event is dropped"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    #[test]
    fn a_handler_that_completes_at_once_runs_in_place() {
        let ran = Arc::new(AtomicBool::new(false));
        let flag = ran.clone();
        run_handler(Box::pin(async move { flag.store(true, Ordering::SeqCst) }));
        assert!(ran.load(Ordering::SeqCst));
    }

    #[test]
    fn a_panicking_handler_does_not_unwind_into_the_caller() {
        run_handler(Box::pin(async { panic!("handler bug") }));
    }

    #[tokio::test]
    async fn a_handler_that_waits_finishes_as_a_task() {
        let (tx, rx) = tokio::sync::oneshot::channel();
        run_handler(Box::pin(async move {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            let _ = tx.send(());
        }));
        assert!(tokio::time::timeout(std::time::Duration::from_secs(2), rx)
            .await
            .is_ok());
    }
}
