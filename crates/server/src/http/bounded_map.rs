//! A map keyed by request data (a client key) with a hard size cap. A client that varies its
//! key (IPv6 addresses are plentiful) must not grow the process's memory, and no request may pay
//! for a scan of the whole map under a lock.
//!
//! The map is split into shards, each behind its own lock and holding at most `cap / SHARDS`
//! entries. When a shard is full, one pass drops its stale entries and, if that frees less than
//! half of it, the least recently used ones down to half. The next pass on that shard is then at
//! least `cap / SHARDS / 2` insertions away, so eviction costs O(1) per request, amortised.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Instant;

/// Independent locks: concurrent requests for different keys rarely wait for each other.
const SHARDS: usize = 16;

/// What the map needs to know about its values to evict them.
pub trait Entry {
    /// When the entry was last used (the least recently used go first).
    fn last_used(&self) -> Instant;
    /// Whether the entry holds nothing worth keeping at `now`.
    fn is_stale(&self, now: Instant) -> bool;
}

/// A sharded map of at most `cap` entries.
pub struct BoundedMap<V> {
    shards: Box<[Mutex<HashMap<String, V>>]>,
    shard_cap: usize,
    hasher: std::collections::hash_map::RandomState,
}

impl<V: Entry> BoundedMap<V> {
    /// A map that never holds more than `cap` entries (at least one per shard).
    pub fn new(cap: usize) -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            shard_cap: (cap / SHARDS).max(1),
            hasher: std::collections::hash_map::RandomState::new(),
        }
    }

    fn shard(&self, key: &str) -> MutexGuard<'_, HashMap<String, V>> {
        let index = (self.hasher.hash_one(key) as usize) % SHARDS;
        self.shards[index].lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `f` on the entry of `key`, created by `init` when missing.
    pub fn with<R>(&self, key: &str, now: Instant, init: impl FnOnce() -> V, f: impl FnOnce(&mut V) -> R) -> R {
        let mut shard = self.shard(key);
        if let Some(value) = shard.get_mut(key) {
            return f(value);
        }
        if shard.len() >= self.shard_cap {
            evict(&mut shard, self.shard_cap / 2, now);
        }
        f(shard.entry(key.to_owned()).or_insert_with(init))
    }

    /// Runs `f` on the entry of `key` if there is one.
    pub fn get<R>(&self, key: &str, f: impl FnOnce(&mut V) -> R) -> Option<R> {
        self.shard(key).get_mut(key).map(f)
    }

    /// Entries held now.
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| s.lock().unwrap_or_else(PoisonError::into_inner).len()).sum()
    }

    /// Whether the map is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The most entries the map ever holds.
    pub fn capacity(&self) -> usize {
        self.shard_cap * SHARDS
    }
}

/// Drops the stale entries of `shard`, then the least recently used down to `keep`.
fn evict<V: Entry>(shard: &mut HashMap<String, V>, keep: usize, now: Instant) {
    shard.retain(|_, v| !v.is_stale(now));
    if shard.len() <= keep {
        return;
    }
    let mut ages: Vec<Instant> = shard.values().map(Entry::last_used).collect();
    let drop = ages.len() - keep;
    let (_, cutoff, _) = ages.select_nth_unstable(drop - 1);
    let cutoff = *cutoff;
    // Entries used at the cutoff instant itself may be many (one clock tick); drop them in turn
    // until the shard is down to `keep`.
    let mut excess = drop;
    shard.retain(|_, v| {
        if excess > 0 && v.last_used() <= cutoff {
            excess -= 1;
            false
        } else {
            true
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    struct Stamp(Instant);
    impl Entry for Stamp {
        fn last_used(&self) -> Instant {
            self.0
        }
        fn is_stale(&self, _: Instant) -> bool {
            false
        }
    }

    #[test]
    fn it_never_holds_more_than_its_capacity_and_keeps_the_recently_used() {
        let map = BoundedMap::new(1_000);
        let t0 = Instant::now();
        for i in 0..20_000u64 {
            let now = t0 + Duration::from_micros(i);
            map.with(&format!("k{i}"), now, || Stamp(now), |_| ());
            assert!(map.len() <= map.capacity());
        }
        assert!(map.len() <= 1_000);
        assert!(map.get("k19999", |_| ()).is_some(), "the most recent entry is kept");
        assert!(map.get("k0", |_| ()).is_none(), "the oldest entry went first");
    }
}
