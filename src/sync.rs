//! Locking without losing state: one home for how centinela treats a poisoned lock.

use std::sync::{Mutex, MutexGuard, PoisonError};

/// Locks `m`, taking over a lock whose holder panicked. Every value centinela guards is
/// left whole by its writers (one assignment, insert or removal at a time), so a poisoned
/// lock is read as it is, never treated as empty: a lost silence list would let muted
/// pages out, a lost counter would reset a metric.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}
