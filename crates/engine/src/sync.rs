//! The crate's one poison-tolerant way to take a lock.
//!
//! A panic in another thread while holding a lock cannot leave the state
//! half-updated in a way that matters more than a dead session, and the layer
//! above's panics are caught before they reach the engine's tasks: a poisoned
//! lock is taken as it is, so poison never spreads into the network paths.
//! Std locks rather than `parking_lot`, so the hot paths keep the exact code
//! they were measured with; every lock of the crate goes through here.

use std::sync::{Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// Locks `m`, poisoned or not.
#[inline]
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Read-locks `l`, poisoned or not.
#[inline]
pub(crate) fn read<T>(l: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(|e| e.into_inner())
}

/// Write-locks `l`, poisoned or not.
#[inline]
pub(crate) fn write<T>(l: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(|e| e.into_inner())
}
