//! rally-chat: a real-time chat server built on Rally (Socket.IO for Rust).
//!
//! It speaks the Socket.IO chat tutorial's protocol (`message`, `join`, `leave`,
//! `private_message`), so the tutorial's page and any Socket.IO client work with it, and
//! adds what a chat one deploys needs: presence, display names, history in SQLite,
//! typing indicators, limits, graceful shutdown, logs and `/health`. See `chat` for the
//! events, `history` for storage, `limits` for the rules, `web` for the page. With
//! `--redis-url` it is a cluster member: the `rally-redis` adapter carries events between
//! servers and history lives in Redis (`history::RedisStore`).

pub mod chat;
pub mod guests;
pub mod history;
pub mod limits;
pub mod server;
pub mod user;
pub mod web;

/// Locks a mutex whose data stays consistent even if a holder panicked (every critical
/// section here leaves it whole), so one panicking handler cannot wedge the chat.
pub(crate) fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
