//! The crate's one way to take a lock: `lock`, `read` and `write` over std's locks.
//!
//! Handlers are user code, and a panic while a lock is held marks std's lock poisoned.
//! Rally's locks guard plain collections (sockets, rooms, handlers, pending acks) that
//! stay usable after such a panic, so one panicking handler must not turn every later
//! access into a panic for every other connection: these helpers take the guard either
//! way. Std's locks rather than `parking_lot`: no new dependency, and the hot paths keep
//! the code they had.
use std::sync::{Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// Locks `m`, whether or not a panic poisoned it.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Read-locks `l`, whether or not a panic poisoned it.
pub(crate) fn read<T>(l: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(|e| e.into_inner())
}

/// Write-locks `l`, whether or not a panic poisoned it.
pub(crate) fn write<T>(l: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(|e| e.into_inner())
}
