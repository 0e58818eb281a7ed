//! The crate's one way to take a lock: nothing panics while holding one of its mutexes, and if
//! something ever did, the data is recovered rather than every later caller panicking too.

use std::sync::{Mutex, MutexGuard};

/// Locks `m`, recovering the data from a poisoned lock.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
