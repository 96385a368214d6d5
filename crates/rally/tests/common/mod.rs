//! What the integration tests share: a Rally server started in-process on a
//! loopback port, and a small Socket.IO client written on the engine's public
//! codecs (`ws` for the WebSocket floor, `client` for Engine.IO and
//! Socket.IO), so that `cargo test -p rally` drives the real server through
//! real sockets in milliseconds, with no JavaScript involved.
//!
//! Each test file uses part of it only.
#![allow(dead_code)]

pub mod client;
pub mod ws;

pub use client::{Client, WAIT};

use rally::{Event, Server, ServerConfig, Socket};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

/// How long `expect_no_event` listens where nothing must come.
pub const QUIET: Duration = Duration::from_millis(100);

/// The settings the tests use: socket.io's defaults, without the client bundle.
pub fn config() -> ServerConfig {
    ServerConfig {
        serve_client: false,
        ..ServerConfig::default()
    }
}

/// A server listening on 127.0.0.1 with an ephemeral port.
pub struct TestServer {
    pub io: Server,
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    served: JoinHandle<std::io::Result<()>>,
    fences: AtomicU64,
}

impl TestServer {
    /// Serves `io` (handlers already registered, or registered later: they are
    /// looked up on each connection) in a task of the test's runtime.
    pub async fn start(io: Server) -> TestServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("local address");
        let (stop, stopped) = oneshot::channel::<()>();
        let served = tokio::spawn(rally::serve(listener, io.router(), async {
            let _ = stopped.await;
        }));
        TestServer {
            io,
            addr,
            stop: Some(stop),
            served,
            fences: AtomicU64::new(0),
        }
    }

    /// A server with the test settings and no handler yet.
    pub async fn with_defaults() -> TestServer {
        TestServer::start(Server::new(config())).await
    }

    /// A client in the main namespace, without auth.
    pub async fn client(&self) -> Client {
        self.client_in("/").await
    }

    /// A client in `nsp`, without auth.
    pub async fn client_in(&self, nsp: &str) -> Client {
        Client::connect(self.addr, nsp, None).await
    }

    /// `N` clients in the main namespace.
    pub async fn clients<const N: usize>(&self) -> [Client; N] {
        let mut clients = Vec::with_capacity(N);
        for _ in 0..N {
            clients.push(self.client().await);
        }
        clients.try_into().ok().expect("N clients")
    }

    /// The server's side of `client`'s socket.
    pub fn socket(&self, client: &Client) -> Socket {
        self.io
            .of(&client.nsp)
            .socket(&client.sid)
            .expect("the client's socket is on the server")
    }

    /// Asserts that nothing is waiting for any of `clients`: a `fence` event is
    /// sent to each one alone, after whatever the test sent, and must be the
    /// next packet it reads. A connection delivers in order, so anything a
    /// broadcast wrongly sent would come first. Exact, and needs no sleep.
    pub async fn assert_quiet<'a>(&self, clients: impl IntoIterator<Item = &'a mut Client>) {
        let mut clients: Vec<&mut Client> = clients.into_iter().collect();
        for client in &clients {
            let n = self.fences.fetch_add(1, Ordering::Relaxed);
            self.io
                .of(&client.nsp)
                .to(client.sid.as_str())
                .emit("fence", (n,))
                .expect("fence");
        }
        for client in &mut clients {
            let (name, _) = client.next_event().await;
            assert_eq!(name, "fence", "{} got an event it was not sent", client.sid);
        }
    }

    /// Graceful shutdown: `io.close()` closes every connection, then the
    /// accept loop stops and `serve` returns once the connections are gone.
    pub async fn shutdown(mut self) {
        self.io.close().await;
        let _ = self.stop.take().expect("not stopped yet").send(());
        let served = tokio::time::timeout(WAIT, &mut self.served).await;
        served
            .expect("serve returns after shutdown")
            .expect("serve task")
            .expect("serve");
    }
}

/// Every socket of `io`'s main namespace answers `echo` with the arguments it got.
pub fn on_echo(io: &Server) {
    io.on_connection(|socket| {
        socket.on("echo", |_, mut event: Event| async move {
            let args = event.args.clone();
            event.ack(args);
        });
    });
}

/// A channel on which server handlers report what they saw to the test.
pub fn report<T>() -> (mpsc::UnboundedSender<T>, Reports<T>) {
    let (tx, rx) = mpsc::unbounded_channel();
    (tx, Reports(rx))
}

pub struct Reports<T>(mpsc::UnboundedReceiver<T>);

impl<T> Reports<T> {
    /// The next report; fails the test if none comes within [`WAIT`].
    pub async fn next(&mut self) -> T {
        tokio::time::timeout(WAIT, self.0.recv())
            .await
            .expect("a report in time")
            .expect("a sender is alive")
    }

    /// Whatever was reported so far, without waiting.
    pub fn drain(&mut self) -> Vec<T> {
        std::iter::from_fn(|| self.0.try_recv().ok()).collect()
    }
}

/// Awaits `fut`, failing the test if it takes longer than [`WAIT`].
pub async fn within<T>(fut: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(WAIT, fut)
        .await
        .expect("finished in time")
}

/// Sorts a JSON array of scalars, for answers that arrive in any order.
pub fn sorted(values: Vec<Value>) -> Vec<Value> {
    let mut values = values;
    values.sort_by_key(|v| v.to_string());
    values
}

/// `{"_placeholder":true,"num":n}`: how attachment `n` appears in a packet's JSON.
pub fn placeholder(n: usize) -> Value {
    json!({ "_placeholder": true, "num": n })
}
