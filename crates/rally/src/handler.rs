//! What user code plugs in: event handlers, what they take (the raw `Event`, or the
//! arguments typed as a tuple) and return (`()`, or a `Result` that answers the
//! client's ack), and the `Ack` itself.
//!
//! Handlers are invoked in the order their events arrived and each runs as its own
//! future, like listeners in Node.js: a handler that awaits a client's ack does not
//! hold back the socket's next event. Most handlers finish without ever waiting, so
//! each is polled once in place and only spawned as a task when it is still pending.

use crate::args::{Args, ArgsError, IntoArgs};
use crate::reason::DisconnectReason;
use crate::socket::Socket;
use serde::de::DeserializeOwned;
use std::borrow::Cow;
use std::fmt::Display;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

/// One event from a client: its arguments, and the ack callback when the client asked for one.
pub struct Event {
    /// The event's name, as the client emitted it.
    pub name: String,
    /// The arguments that followed the name.
    pub args: Args,
    /// The client's callback, when it emitted with one; [`Event::ack`] answers it.
    pub ack: Option<Ack>,
}

impl Event {
    /// Argument `i`, deserialized; `Binary` fields take their bytes from the attachments.
    pub fn arg<T: DeserializeOwned>(&self, i: usize) -> Result<T, ArgsError> {
        self.args.get(i)
    }

    /// The whole argument list as `T`, usually a tuple: `event.args::<(String,
    /// Option<String>)>()`. See [`Args::parse`].
    pub fn args<T: DeserializeOwned>(&self) -> Result<T, ArgsError> {
        self.args.parse()
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
    /// Set when a handler that returns a `Result` holds this ack: the handler's
    /// error answers it only if the handler did not.
    answered: Option<Arc<AtomicBool>>,
}

impl Ack {
    pub(crate) fn new(socket: Socket, id: u64) -> Ack {
        Ack {
            socket,
            id,
            answered: None,
        }
    }

    /// Calls the client's callback with `args`, as `callback(...args)` does in a socket.io
    /// handler. Arguments that do not serialize are logged and nothing is sent.
    pub fn send(self, args: impl IntoArgs) {
        if let Some(answered) = &self.answered {
            if answered.swap(true, Ordering::AcqRel) {
                return;
            }
        }
        self.answer(args);
    }

    fn answer(self, args: impl IntoArgs) {
        match args.into_args() {
            Ok(args) => self.socket.send_ack(self.id, args),
            Err(e) => {
                tracing::warn!(socket = %self.socket.id(), "ack arguments not serializable: {e}")
            }
        }
    }
}

/// What a handler registered with [`Socket::on`] takes besides the socket.
///
/// - [`Event`]: the event as it came (name, [`Args`], ack), for relaying payloads
///   unchanged and for handlers that answer the ack themselves;
/// - a tuple of deserializable types: the arguments, typed (see [`Args::parse`]). An
///   event whose arguments do not fit is not handed to the handler: it is logged with
///   the socket and event, and answered through the ack, when there is one, with
///   `{"error": message}`. The handler's return value answers the ack.
pub trait FromEvent: Sized + Send + 'static {
    #[doc(hidden)]
    const RAW: bool = false;

    #[doc(hidden)]
    fn from_event(event: Event) -> Result<Self, ArgsError>;
}

impl FromEvent for Event {
    const RAW: bool = true;

    fn from_event(event: Event) -> Result<Self, ArgsError> {
        Ok(event)
    }
}

/// A handler that needs no arguments: whatever the client sent is ignored.
impl FromEvent for () {
    fn from_event(_event: Event) -> Result<Self, ArgsError> {
        Ok(())
    }
}

macro_rules! tuple_from_event {
    ($($name:ident)+) => {
        impl<$($name: DeserializeOwned + Send + 'static),+> FromEvent for ($($name,)+) {
            fn from_event(event: Event) -> Result<Self, ArgsError> {
                event.args.parse()
            }
        }
    };
}

tuple_from_event!(A);
tuple_from_event!(A B);
tuple_from_event!(A B C);
tuple_from_event!(A B C D);
tuple_from_event!(A B C D E);
tuple_from_event!(A B C D E F);
tuple_from_event!(A B C D E F G);
tuple_from_event!(A B C D E F G H);

/// What a handler may return.
///
/// - `()`: nothing more happens;
/// - `Result<T, E>` with `T:` [`IntoArgs`] and `E: Display`: an `Err` is logged with
///   the socket id and the event name, and answers the client's ack, when it asked
///   for one and the handler did not answer it, as `{"error": message}`. An `Ok`
///   answers the ack with its value (`()`: no arguments) unless the handler answered
///   the ack or kept it to answer later.
pub trait HandlerOutput: Send + 'static {
    #[doc(hidden)]
    const ANSWERS: bool;

    /// The handler's future, boxed with what its outcome does (for `()`, nothing: the
    /// future is boxed as it is).
    #[doc(hidden)]
    fn run<F: Future<Output = Self> + Send + 'static>(handler: F, reply: Reply) -> BoxFuture;
}

impl HandlerOutput for () {
    const ANSWERS: bool = false;

    fn run<F: Future<Output = Self> + Send + 'static>(handler: F, _reply: Reply) -> BoxFuture {
        Box::pin(handler)
    }
}

impl<T, E> HandlerOutput for Result<T, E>
where
    T: IntoArgs + Send + 'static,
    E: Display + Send + 'static,
{
    const ANSWERS: bool = true;

    fn run<F: Future<Output = Self> + Send + 'static>(handler: F, reply: Reply) -> BoxFuture {
        Box::pin(async move {
            match handler.await {
                Ok(value) => reply.succeed(value),
                Err(e) => reply.fail(e.to_string()),
            }
        })
    }
}

/// How a handler's outcome reaches the client's ack: kept by the framework beside the
/// handler's future. Not constructed by applications.
#[doc(hidden)]
pub struct Reply {
    /// Who to log, and the event's name as it was registered.
    source: Option<(Socket, Cow<'static, str>)>,
    ack: ReplyAck,
}

enum ReplyAck {
    None,
    /// The handler never sees the ack: its result answers it.
    Owned(Ack),
    /// The handler holds the ack (in its [`Event`]); `answered` is shared with it.
    Shared(Ack, Arc<AtomicBool>),
}

impl Reply {
    /// Sets aside what answering needs, before `event` goes to a handler taking `T`
    /// and returning `O`. A raw handler that returns `()` costs nothing here.
    // `&Cow`, not `&str`: the name is cloned only when the outcome may be logged, and
    // cloning the `Cow` of a literal copies no bytes.
    #[allow(clippy::ptr_arg)]
    pub(crate) fn prepare<T: FromEvent, O: HandlerOutput>(
        socket: &Socket,
        name: &Cow<'static, str>,
        event: &mut Event,
    ) -> Reply {
        if T::RAW && !O::ANSWERS {
            return Reply {
                source: None,
                ack: ReplyAck::None,
            };
        }
        let ack = match event.ack.as_mut() {
            None => ReplyAck::None,
            Some(_) if !T::RAW => ReplyAck::Owned(event.ack.take().expect("checked above")),
            Some(held) => {
                let answered = Arc::new(AtomicBool::new(false));
                held.answered = Some(answered.clone());
                ReplyAck::Shared(Ack::new(socket.clone(), held.id), answered)
            }
        };
        Reply {
            source: Some((socket.clone(), name.clone())),
            ack,
        }
    }

    /// The event's arguments did not fit the handler's types.
    pub(crate) fn refuse(self, error: &ArgsError) {
        self.fail(error.to_string());
    }

    fn succeed(self, value: impl IntoArgs) {
        match self.ack {
            ReplyAck::None => {}
            ReplyAck::Owned(ack) => ack.answer(value),
            // Only this reply holds the flag: the handler's ack is gone unanswered.
            ReplyAck::Shared(ack, answered) if Arc::strong_count(&answered) == 1 => {
                if !answered.load(Ordering::Acquire) {
                    ack.answer(value);
                }
            }
            ReplyAck::Shared(..) => {}
        }
    }

    fn fail(self, message: String) {
        if let Some((socket, event)) = &self.source {
            tracing::warn!(socket = %socket.id(), event = %event, "event handler failed: {message}");
        }
        let ack = match self.ack {
            ReplyAck::None => return,
            ReplyAck::Owned(ack) => ack,
            ReplyAck::Shared(ack, answered) => {
                if answered.swap(true, Ordering::AcqRel) {
                    return;
                }
                ack
            }
        };
        ack.answer(serde_json::json!({ "error": message }));
    }
}

/// A handler's future, boxed.
pub type BoxFuture = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// `socket.on(event, handler)`. Kept as `Arc<dyn …>`: one allocation per handler.
pub(crate) type EventHandler = dyn Fn(Socket, Event) -> BoxFuture + Send + Sync;
/// `socket.on_any(handler)`: the event's name and arguments, before the named handler.
pub(crate) type AnyHandler = dyn Fn(Socket, &str, &Args) -> BoxFuture + Send + Sync;
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
