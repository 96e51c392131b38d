//! The in-process level (docs/cache.md#levels): a moka cache bounded by entries and bytes, with a TTL per
//! entry, plus the invalidation log that lets a read fill detect an invalidation that arrived
//! while it was loading.
//!
//! Every change of L1 other than a read fill (writer sets, tombstones, received invalidations,
//! pattern evictions, clears) goes through [`L1::record_and_apply`]: under one lock it takes the
//! next sequence number, records which keys it concerns and applies itself. A read fill takes a
//! ticket (the current sequence number) before it reads L2 or the database, and lands only if,
//! under the same lock, no recorded change after its ticket concerns its key. So a fill that
//! began before an invalidation can never be stored after it.

use std::any::Any;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use moka::Expiry;
use moka::sync::Cache as Moka;

use crate::glob::Glob;

/// The decoded form of an entry's bytes, set once by the first reader that decodes them
/// (docs/cache.md#decoded-values). It belongs to one entry: a new value is a new entry with an
/// empty slot, so a decoded value can never outlive or differ from the bytes it came from.
pub(crate) type DecodedSlot = Arc<OnceLock<Arc<dyn Any + Send + Sync>>>;

/// One L1 entry: a value (or a tombstone), its version if the writer gave one, and when it was
/// filled. Values are immutable `Bytes`: readers never share mutable state with the cache,
/// except the write-once decoded form of those bytes.
#[derive(Clone)]
pub(crate) struct Entry {
    /// `None` is a tombstone: this instance invalidated the key recently.
    pub data: Option<Bytes>,
    pub version: Option<i64>,
    pub filled_at: Instant,
    // The struct's tail and its hand-written Debug below have the shape of
    // server/src/config/mod.rs's Debug by coincidence: Debug is spelled out here to show the
    // decoded slot as a flag.
    /// Lifetime in L1 (already capped by `CACHE_L1_TTL`).
    pub ttl: Duration,
    /// Shared by every clone of this entry handed out by moka.
    pub decoded: DecodedSlot,
}

impl std::fmt::Debug for Entry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Entry")
            .field("data", &self.data)
            .field("version", &self.version)
            .field("ttl", &self.ttl)
            .field("decoded", &self.decoded.get().is_some())
            .finish_non_exhaustive()
    }
}

impl Entry {
    pub fn value(data: Bytes, version: Option<i64>, ttl: Duration) -> Self {
        Self { data: Some(data), version, filled_at: Instant::now(), ttl, decoded: DecodedSlot::default() }
    }

    pub fn tombstone(ttl: Duration) -> Self {
        Self { data: None, version: None, filled_at: Instant::now(), ttl, decoded: DecodedSlot::default() }
    }
}

struct PerEntryTtl;

impl Expiry<String, Entry> for PerEntryTtl {
    fn expire_after_create(&self, _key: &String, value: &Entry, _created_at: Instant) -> Option<Duration> {
        Some(value.ttl)
    }

    fn expire_after_update(
        &self,
        _key: &String,
        value: &Entry,
        _updated_at: Instant,
        _duration_until_expiry: Option<Duration>,
    ) -> Option<Duration> {
        Some(value.ttl)
    }
}

/// What a recorded change concerns.
#[derive(Clone, Copy)]
pub(crate) enum Change<'a> {
    Keys(&'a [String]),
    Patterns(&'a [Glob]),
    All,
}

/// How a write lands in L1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WriteMode {
    /// Replace whatever is there (L2 accepted the write, or a plain set).
    Force,
    /// Keep an existing tombstone or an equal or higher version (the L1-only rules of a writer
    /// set when L2 cannot decide).
    Versioned,
}

/// The verdict of [`L1::write`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Written {
    Stored,
    KeptNewer,
    Tombstoned,
    /// Another change of the key arrived while the write was in flight: L1 dropped the key.
    Superseded,
}

/// Records older than this are forgotten; a fill that started before the forgotten ones is
/// discarded (it would have to prove no forgotten change concerned it).
const LOG_HORIZON: Duration = Duration::from_secs(30);

#[derive(Default)]
struct InvalidationLog {
    keys: HashMap<String, (u64, Instant)>,
    patterns: VecDeque<(Glob, u64, Instant)>,
    all: u64,
    /// Every record with a sequence number ≤ this has been forgotten.
    forgotten_upto: u64,
}

impl InvalidationLog {
    fn invalidated_since(&self, key: &str, ticket: u64) -> bool {
        if ticket < self.forgotten_upto || self.all > ticket {
            return true;
        }
        if self.keys.get(key).is_some_and(|(seq, _)| *seq > ticket) {
            return true;
        }
        self.patterns.iter().rev().take_while(|(_, seq, _)| *seq > ticket).any(|(g, _, _)| g.matches(key))
    }
}

pub(crate) struct L1 {
    cache: Moka<String, Entry>,
    log: Mutex<InvalidationLog>,
    /// The last sequence number handed out; only advanced under `log`'s lock.
    seq: AtomicU64,
    l1_ttl: Duration,
}

impl L1 {
    pub fn new(max_entries: u64, max_bytes: u64, l1_ttl: Duration) -> Self {
        let max_entries = max_entries.max(1);
        let max_bytes = max_bytes.max(1);
        // moka has one budget. Weighing every entry at least max_bytes / max_entries enforces
        // both bounds: at most max_entries entries fit, and the real sizes sum to ≤ max_bytes.
        let min_weight = max_bytes.div_ceil(max_entries);
        let cache = Moka::builder()
            .max_capacity(max_bytes)
            .weigher(move |key: &String, entry: &Entry| -> u32 {
                let size = key.len() as u64 + entry.data.as_ref().map_or(0, |d| d.len() as u64);
                u32::try_from(size.max(min_weight)).unwrap_or(u32::MAX)
            })
            .expire_after(PerEntryTtl)
            .build();
        Self { cache, log: Mutex::new(InvalidationLog::default()), seq: AtomicU64::new(0), l1_ttl }
    }

    /// The L1 TTL of an entry whose own TTL is `ttl`: min(ttl, `CACHE_L1_TTL`).
    pub fn cap_ttl(&self, ttl: Duration) -> Duration {
        ttl.min(self.l1_ttl)
    }

    pub fn get(&self, key: &str) -> Option<Entry> {
        self.cache.get(key)
    }

    /// A ticket for a read fill: take it before reading L2 or the database.
    pub fn ticket(&self) -> u64 {
        self.seq.load(Ordering::Acquire)
    }

    /// Stores a read fill unless a change concerning `key` was recorded after `ticket`.
    pub fn fill(&self, key: &str, entry: Entry, ticket: u64) -> bool {
        let log = self.lock();
        if log.invalidated_since(key, ticket) {
            return false;
        }
        self.cache.insert(key.to_owned(), entry);
        true
    }

    /// A writer's set: recorded as a change of `key` (so older fills are discarded), then
    /// stored according to `mode`.
    ///
    /// `since` is the ticket taken before the write went to L2: if another change of the key was
    /// recorded after it (a newer write from another instance whose message arrived while this
    /// one was in flight), this write must not land in L1 over it; the key is dropped instead.
    pub fn write(&self, key: &str, entry: Entry, mode: WriteMode, since: Option<u64>) -> Written {
        let key = key.to_owned();
        let mut log = self.lock();
        let superseded = since.is_some_and(|ticket| log.invalidated_since(&key, ticket));
        self.record(&mut log, Change::Keys(std::slice::from_ref(&key)));
        if superseded {
            self.cache.invalidate(&key);
            return Written::Superseded;
        }
        if mode == WriteMode::Versioned
            && let Some(existing) = self.cache.get(&key)
        {
            match (&existing.data, existing.version, entry.version) {
                (None, _, _) => return Written::Tombstoned,
                (Some(_), Some(old), Some(new)) if old >= new => return Written::KeptNewer,
                _ => {}
            }
        }
        self.cache.insert(key, entry);
        Written::Stored
    }

    /// Records a change and applies it: the keys are removed, or replaced by tombstones when
    /// `tombstone` is given; patterns remove every matching key; `All` empties L1.
    pub fn record_and_apply(&self, change: Change<'_>, tombstone: Option<Duration>) {
        let mut log = self.lock();
        self.record(&mut log, change);
        match change {
            Change::Keys(keys) => {
                for key in keys {
                    match tombstone {
                        Some(ttl) => self.cache.insert(key.clone(), Entry::tombstone(ttl)),
                        None => self.cache.invalidate(key),
                    }
                }
            }
            Change::Patterns(globs) => {
                let doomed: Vec<_> =
                    self.cache.iter().filter(|(k, _)| globs.iter().any(|g| g.matches(k))).map(|(k, _)| k).collect();
                for key in doomed {
                    self.cache.invalidate(key.as_str());
                }
            }
            Change::All => self.cache.invalidate_all(),
        }
    }

    fn record(&self, log: &mut InvalidationLog, change: Change<'_>) {
        let seq = self.seq.load(Ordering::Acquire) + 1;
        let now = Instant::now();
        match change {
            Change::Keys(keys) => {
                for key in keys {
                    log.keys.insert(key.clone(), (seq, now));
                }
            }
            Change::Patterns(globs) => {
                for g in globs {
                    log.patterns.push_back((g.clone(), seq, now));
                }
            }
            Change::All => log.all = seq,
        }
        self.seq.store(seq, Ordering::Release);
    }

    /// Forgets records older than the horizon (called by the upkeep loop).
    pub fn prune(&self) {
        let mut log = self.lock();
        let Some(cutoff) = Instant::now().checked_sub(LOG_HORIZON) else { return };
        let mut forgotten = log.forgotten_upto;
        log.keys.retain(|_, (seq, at)| {
            let keep = *at >= cutoff;
            if !keep {
                forgotten = forgotten.max(*seq);
            }
            keep
        });
        while log.patterns.front().is_some_and(|(_, _, at)| *at < cutoff) {
            if let Some((_, seq, _)) = log.patterns.pop_front() {
                forgotten = forgotten.max(seq);
            }
        }
        log.forgotten_upto = forgotten;
    }

    pub fn entry_count(&self) -> u64 {
        self.cache.run_pending_tasks();
        self.cache.entry_count()
    }

    fn lock(&self) -> MutexGuard<'_, InvalidationLog> {
        self.log.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn l1() -> L1 {
        L1::new(100, 1 << 20, Duration::from_secs(300))
    }

    fn val(s: &'static str) -> Entry {
        Entry::value(Bytes::from_static(s.as_bytes()), None, Duration::from_secs(60))
    }

    #[test]
    fn a_fill_that_began_before_an_invalidation_is_discarded() {
        let c = l1();
        let ticket = c.ticket();
        c.record_and_apply(Change::Keys(&["k".to_owned()]), None);
        assert!(!c.fill("k", val("old"), ticket));
        assert!(c.get("k").is_none());
        // Unrelated keys still fill.
        assert!(c.fill("other", val("x"), ticket));
        // A fill that began afterwards lands.
        let ticket = c.ticket();
        assert!(c.fill("k", val("new"), ticket));
    }

    #[test]
    fn patterns_and_clears_discard_matching_fills() {
        let c = l1();
        let ticket = c.ticket();
        c.record_and_apply(Change::Patterns(&[Glob::new("user:*").expect("glob")]), None);
        assert!(!c.fill("user:1", val("a"), ticket));
        assert!(c.fill("task:1", val("b"), ticket));
        let ticket = c.ticket();
        c.record_and_apply(Change::All, None);
        assert!(!c.fill("task:2", val("c"), ticket));
    }

    #[test]
    fn versioned_writes_keep_higher_versions_and_tombstones() {
        let c = l1();
        let v = |n| Entry::value(Bytes::from(format!("v{n}")), Some(n), Duration::from_secs(60));
        assert_eq!(c.write("t", v(2), WriteMode::Versioned, None), Written::Stored);
        assert_eq!(c.write("t", v(1), WriteMode::Versioned, None), Written::KeptNewer);
        assert_eq!(c.write("t", v(3), WriteMode::Versioned, None), Written::Stored);
        c.record_and_apply(Change::Keys(&["t".to_owned()]), Some(Duration::from_secs(60)));
        assert_eq!(c.write("t", v(9), WriteMode::Versioned, None), Written::Tombstoned);
        assert!(c.get("t").is_some_and(|e| e.data.is_none()));
        assert_eq!(c.write("t", v(9), WriteMode::Force, None), Written::Stored);
        // A write whose ticket predates another change of the key does not land.
        let ticket = c.ticket();
        c.record_and_apply(Change::Keys(&["t".to_owned()]), None);
        assert_eq!(c.write("t", v(10), WriteMode::Force, Some(ticket)), Written::Superseded);
        assert!(c.get("t").is_none());
    }

    #[test]
    fn both_bounds_hold() {
        let c = L1::new(10, 1000, Duration::from_secs(300));
        for i in 0..100 {
            c.cache.insert(format!("k{i}"), val("x"));
        }
        assert!(c.entry_count() <= 10);
        let c = L1::new(1000, 1000, Duration::from_secs(300));
        for i in 0..100 {
            c.cache.insert(format!("k{i}"), Entry::value(Bytes::from(vec![0u8; 200]), None, Duration::from_secs(60)));
        }
        c.cache.run_pending_tasks();
        assert!(c.cache.weighted_size() <= 1000);
    }
}
