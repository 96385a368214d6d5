//! Socket options for an accepted TCP connection.
//!
//! Two settings matter for a Socket.IO server. Nagle's algorithm off: a small
//! frame written while the previous one is unacknowledged would otherwise wait
//! for the peer's delayed ACK, tens of milliseconds. And a low-water mark on
//! unsent bytes (Linux `TCP_NOTSENT_LOWAT`): without it the kernel's send
//! buffer autotunes to megabytes, so a client that stops reading keeps
//! accepting writes (each one a full system call for the server) for minutes,
//! and pins that much kernel memory. With it the socket stops taking bytes once
//! the peer's window is full and 16 KiB wait unsent; from then on the engine's
//! own bounded queue holds the backlog, where a stalled client costs no system
//! call and is disconnected at the bound. Bytes in flight are not limited, so
//! throughput on a long fat link is not either.

use tokio::net::TcpStream;

/// Unsent bytes the kernel keeps for a connection before reporting it unwritable.
pub const NOTSENT_LOWAT: u32 = 16 * 1024;

/// Applies Rally's socket options to an accepted connection. [`serve`](crate::serve)
/// does it for every connection; under `axum::serve`, whose connections the
/// engine cannot reach, pass this to the listener:
/// `listener.tap_io(rally_engine::tune_tcp)`.
pub fn tune_tcp(tcp: &mut TcpStream) {
    if let Err(e) = tcp.set_nodelay(true) {
        tracing::debug!(error = %e, "cannot disable Nagle's algorithm");
    }
    #[cfg(any(target_os = "linux", target_os = "android"))]
    if let Err(e) = socket2::SockRef::from(&*tcp).set_tcp_notsent_lowat(NOTSENT_LOWAT) {
        tracing::debug!(error = %e, "cannot set TCP_NOTSENT_LOWAT");
    }
}
