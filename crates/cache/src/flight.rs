//! Single flight per key (docs/cache.md#levels): concurrent misses of one key on one instance load once,
//! and the other callers wait for that result.
//!
//! The first caller becomes the leader and runs the load itself (so the loader's future need not
//! be `'static`); the others wait on a watch channel. If the leader is cancelled before it
//! finishes, the waiters wake up and one of them leads. An invalidation of a key forgets its
//! flight, so a caller that arrives after the invalidation starts a fresh load instead of
//! joining one that began before it.

use std::any::Any;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::watch;

use crate::glob::Glob;

/// A finished load, type-erased (the concrete type is `Result<Option<Bytes>, Arc<E>>`).
pub(crate) type Outcome = Arc<dyn Any + Send + Sync>;

type Slot = watch::Receiver<Option<Outcome>>;

#[derive(Default)]
pub(crate) struct Flights {
    map: Mutex<HashMap<String, (u64, Slot)>>,
    next_id: AtomicU64,
}

pub(crate) enum Role<'a> {
    Leader(LeaderGuard<'a>),
    Follower(Slot),
}

/// Held by the leader; publishes the outcome and removes the flight (if still its own) on drop.
pub(crate) struct LeaderGuard<'a> {
    flights: &'a Flights,
    key: String,
    id: u64,
    tx: watch::Sender<Option<Outcome>>,
}

impl LeaderGuard<'_> {
    pub fn complete(self, outcome: Outcome) {
        // Nobody listening is fine.
        let _ = self.tx.send(Some(outcome));
    }
}

impl Drop for LeaderGuard<'_> {
    fn drop(&mut self) {
        let mut map = self.flights.lock();
        if map.get(&self.key).is_some_and(|(id, _)| *id == self.id) {
            map.remove(&self.key);
        }
    }
}

impl Flights {
    pub fn join(&self, key: &str) -> Role<'_> {
        let mut map = self.lock();
        if let Some((_, rx)) = map.get(key) {
            return Role::Follower(rx.clone());
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = watch::channel(None);
        map.insert(key.to_owned(), (id, rx));
        Role::Leader(LeaderGuard { flights: self, key: key.to_owned(), id, tx })
    }

    /// Waits for the leader. `None` when it was cancelled without a result.
    pub async fn wait(mut slot: Slot) -> Option<Outcome> {
        match slot.wait_for(Option::is_some).await {
            Ok(v) => v.clone(),
            Err(_) => None,
        }
    }

    pub fn forget_keys(&self, keys: &[String]) {
        let mut map = self.lock();
        for k in keys {
            map.remove(k);
        }
    }

    pub fn forget_matching(&self, globs: &[Glob]) {
        self.lock().retain(|k, _| !globs.iter().any(|g| g.matches(k)));
    }

    pub fn forget_all(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, (u64, Slot)>> {
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }
}
