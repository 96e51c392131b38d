//! The two-level cache: see the crate documentation for the guarantees.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::breaker::{BreakerState, CircuitBreaker};
use crate::bus::{self, BusListener, Invalidation, SubscriberSettings};
use crate::config::{CacheConfig, RedisConfig};
use crate::flight::{Flights, Role};
use crate::glob::{self, Glob, GlobError};
use crate::l1::{Change, Entry, L1, WriteMode, Written};
use crate::pending::Pending;
use crate::redis_handle::{CallKind, RedisCallError, RedisHandle};
use crate::scripts::{META_SUFFIX, Scripts};
use crate::stats::{self, CacheStats, Counters, L1Stats, L2Info, L2Stats, OperationStats};
use crate::telemetry::{self, Level, Op, Outcome};

/// The logical key reserved for the namespace epoch (`<prefix>epoch`).
const EPOCH_NAME: &str = "epoch";
/// The most counter values remembered as an outage fallback.
const MAX_REMEMBERED_COUNTERS: usize = 100_000;
/// A tombstone must be older than the fill's ticket by this margin before an L1 fill trusts it.
const TOMBSTONE_AGE_MARGIN: Duration = Duration::from_millis(10);

/// A failure to build the cache.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    /// `REDIS_URL` is not a valid Redis URL.
    #[error("invalid Redis URL: {0}")]
    InvalidRedisUrl(#[source] redis::RedisError),
}

/// A value produced by a loader (or a warm-up) to be cached.
#[derive(Debug, Clone)]
pub struct Fill {
    /// The serialised value (JSON).
    pub value: Bytes,
    /// Its TTL in L2; L1 keeps it at most `CACHE_L1_TTL`.
    pub ttl: Duration,
    /// The writer version of the value (a task's `version`), when it has one. A later writer set
    /// replaces it only with a higher version.
    pub version: Option<i64>,
}

impl Fill {
    /// A value without version.
    pub fn new(value: impl Into<Bytes>, ttl: Duration) -> Self {
        Self { value: value.into(), ttl, version: None }
    }

    /// Sets the writer version.
    pub fn with_version(mut self, version: i64) -> Self {
        self.version = Some(version);
        self
    }
}

/// What a writer set or a plain set did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetOutcome {
    /// Stored (in L2 when configured, and in L1); the invalidation was published.
    Stored,
    /// An equal or higher version is in place: kept, and this instance's L1 copy dropped.
    KeptNewer,
    /// A tombstone is in place: nothing stored (SPEC §5.1).
    Tombstoned,
    /// Redis unavailable: L1 applied the write under the same rules, the key is pending.
    Pending,
    /// Larger than `CACHE_MAX_VALUE_BYTES`: not cached; the key was invalidated instead.
    TooLarge,
    /// Not a cacheable key (empty, the reserved `epoch`, or with a control character).
    Rejected,
}

/// What an invalidation or eviction did at L2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum L2Outcome {
    /// Applied in L2 and published to the other instances.
    Applied,
    /// Redis unavailable: recorded as pending, replayed when Redis is back (SPEC §5.6).
    Pending,
    /// Redis is not configured: L1 only.
    Local,
}

/// What a warm-up fill did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FillOutcome {
    /// Stored in L2 (and in L1 unless an eviction of the key arrived since the ticket).
    Stored,
    /// L2 already holds a current value or a tombstone, or an invalidation arrived since the
    /// ticket: nothing stored.
    Refused,
    /// L2 unavailable: stored in L1 only.
    L1Only,
    /// Too large or not a cacheable key.
    NotCached,
}

/// Taken before loading data for [`Cache::fill`]: it lets the fill detect invalidations that
/// happened while the data was being loaded.
#[derive(Debug, Clone)]
pub struct FillTicket {
    seq: u64,
    epoch: Option<String>,
}

/// The two-level cache (SPEC §5). Cheap to clone: clones share one cache.
#[derive(Clone)]
pub struct Cache {
    inner: Arc<Inner>,
}

struct Inner {
    config: CacheConfig,
    l1: L1,
    flights: Flights,
    breaker: CircuitBreaker,
    redis: Option<RedisSide>,
    /// Counters without Redis, and the local view of counters while Redis cannot be used.
    counters: Mutex<CounterView>,
    stats: Counters,
    start_time: u64,
    cancel: CancellationToken,
    tasks: TaskTracker,
}

#[derive(Default)]
struct CounterView {
    /// Without Redis: the counters. With Redis: the last value read or written per counter.
    seen: HashMap<String, u64>,
    /// With Redis: increments not yet applied in Redis (pending).
    unapplied: HashMap<String, u64>,
}

struct RedisSide {
    handle: RedisHandle,
    scripts: Scripts,
    channel: String,
    epoch_key: String,
    pending: Mutex<Pending>,
    /// Loss events (pending writes, subscription drops). With the breaker's open count, it
    /// forms the "loss mark"; L2 reads are enabled only when the mark equals `resynced`.
    losses: AtomicU64,
    resynced: AtomicU64,
    /// Completed replays after a loss.
    replays: AtomicU64,
    sub_up: AtomicBool,
    sub_state: watch::Sender<SubState>,
    resync_lock: tokio::sync::Mutex<()>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SubState {
    Connecting,
    Up,
    Down,
}

impl RedisSide {
    fn loss_mark(&self, breaker: &CircuitBreaker) -> u64 {
        self.losses.load(Ordering::Acquire) + breaker.times_opened()
    }

    fn needs_resync(&self, breaker: &CircuitBreaker) -> bool {
        self.loss_mark(breaker) != self.resynced.load(Ordering::Acquire)
    }
}

/// The result of an L2 read.
enum L2Read {
    Hit {
        data: Bytes,
        pttl_ms: i64,
        version: Option<i64>,
    },
    Miss {
        epoch: String,
    },
    Tombstone {
        pttl_ms: i64,
    },
    /// Configured but not usable now (skipped, failed, or reads disabled until replay).
    Unavailable,
    /// Redis not configured.
    Disabled,
}

enum L2Fill {
    Stored,
    Refused,
    Failed,
}

impl Cache {
    /// A cache without Redis: L1 only, single-instance semantics, local invalidations and
    /// in-process generation counters (SPEC §5.1 "Redis disabled"). Needs a Tokio runtime.
    pub fn local(config: CacheConfig) -> Self {
        let breaker = CircuitBreaker::new("redis", config.breaker.clone());
        let cache = Self { inner: Arc::new(Inner::new(config, breaker, None)) };
        cache.spawn_upkeep();
        cache
    }

    /// A cache with Redis as L2. Never blocks start-up on Redis: the command connection is
    /// established lazily, and the invalidation subscription connects (and reconnects) in the
    /// background. Waits at most `redis.startup_wait` for the first subscription attempt (a
    /// refused connection ends the wait at once), so that a healthy Redis is in use as soon as
    /// this returns. Fails only for an invalid URL.
    pub async fn with_redis(config: CacheConfig, redis: RedisConfig) -> Result<Self, CacheError> {
        let breaker = CircuitBreaker::new("redis", config.breaker.clone());
        let handle = RedisHandle::new(redis.clone(), breaker.clone()).map_err(CacheError::InvalidRedisUrl)?;
        let (sub_state, mut sub_rx) = watch::channel(SubState::Connecting);
        let side = RedisSide {
            handle,
            scripts: Scripts::new(),
            channel: format!("{}invalidate", config.key_prefix),
            epoch_key: format!("{}{}", config.key_prefix, EPOCH_NAME),
            pending: Mutex::new(Pending::default()),
            losses: AtomicU64::new(0),
            resynced: AtomicU64::new(0),
            replays: AtomicU64::new(0),
            sub_up: AtomicBool::new(false),
            sub_state,
            resync_lock: tokio::sync::Mutex::new(()),
        };
        telemetry::redis_up(false);
        let settings = SubscriberSettings {
            client: side.handle.client().clone(),
            channel: side.channel.clone(),
            dial_timeout: redis.dial_timeout,
            ping_interval: redis.subscription_ping_interval,
        };
        let cache = Self { inner: Arc::new(Inner::new(config, breaker, Some(side))) };
        let weak = Arc::downgrade(&cache.inner);
        let cancel = cache.inner.cancel.clone();
        cache.inner.tasks.spawn(bus::run_subscriber(settings, cancel, move || weak.upgrade()));
        cache.spawn_upkeep();
        let _ = tokio::time::timeout(redis.startup_wait, sub_rx.wait_for(|s| *s != SubState::Connecting)).await;
        Ok(cache)
    }

    fn spawn_upkeep(&self) {
        let weak: Weak<Inner> = Arc::downgrade(&self.inner);
        let cancel = self.inner.cancel.clone();
        let interval = self.inner.config.maintenance_interval;
        self.inner.tasks.spawn(async move {
            loop {
                tokio::select! {
                    _ = cancel.cancelled() => return,
                    _ = tokio::time::sleep(interval) => {}
                }
                let Some(inner) = weak.upgrade() else { return };
                inner.upkeep().await;
            }
        });
    }

    // ------------------------------------------------------------------ reads

    /// Reads a key: L1, then L2 (a hit is promoted to L1 with TTL = min(PTTL, `CACHE_L1_TTL`)).
    /// A tombstone, a value of an older epoch and any failure read as a miss.
    pub async fn get(&self, key: &str) -> Option<Bytes> {
        let inner = &self.inner;
        if !inner.cacheable(key) {
            return None;
        }
        if let Some(v) = inner.l1_lookup(key) {
            inner.count_read(true);
            return Some(v);
        }
        let ticket = inner.l1.ticket();
        let sent = Instant::now();
        match inner.l2_read(key).await {
            L2Read::Hit { data, pttl_ms, version } => {
                inner.promote(key, &data, pttl_ms, version, ticket, sent);
                inner.count_read(true);
                Some(data)
            }
            _ => {
                inner.count_read(false);
                None
            }
        }
    }

    /// Reads a key through both levels and, on a miss, loads it once per instance (single
    /// flight: concurrent callers for the same key wait for the first one's result, errors
    /// included) and fills the cache by the read-fill rules of SPEC §5.1:
    /// - L2 is written only if no current value or tombstone is there (SET NX semantics) and the
    ///   namespace epoch has not changed since the read;
    /// - L1 is filled only if L2 accepted the fill (or L2 is not in use) and no invalidation of
    ///   the key arrived since the load began.
    ///
    /// A loader returning `Ok(None)` ("not found") is not cached. Values above
    /// `CACHE_MAX_VALUE_BYTES` are returned but not cached. Keys that are not cacheable bypass
    /// the cache.
    pub async fn get_or_load<F, Fut, E>(&self, key: &str, load: F) -> Result<Option<Bytes>, Arc<E>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Option<Fill>, E>>,
        E: Send + Sync + 'static,
    {
        let inner = &self.inner;
        if !inner.cacheable(key) {
            return load().await.map(|o| o.map(|f| f.value)).map_err(Arc::new);
        }
        if let Some(v) = inner.l1_lookup(key) {
            inner.count_read(true);
            return Ok(Some(v));
        }
        let guard = loop {
            match inner.flights.join(key) {
                Role::Leader(guard) => break Some(guard),
                Role::Follower(slot) => match Flights::wait(slot).await {
                    Some(outcome) => match outcome.downcast_ref::<Result<Option<Bytes>, Arc<E>>>() {
                        Some(result) => {
                            inner.count_read(matches!(result, Ok(Some(_))));
                            return result.clone();
                        }
                        // Another call site loads this key with another error type: load alone.
                        None => break None,
                    },
                    // The leader was cancelled: try again (one of the waiters leads).
                    None => continue,
                },
            }
        };
        let result = inner.load_through(key, load).await;
        if let Some(guard) = guard {
            guard.complete(Arc::new(result.clone()));
        }
        result
    }

    /// Starts a warm-up fill: take the ticket *before* loading the data, then call
    /// [`Cache::fill`] for each key.
    pub async fn begin_fill(&self) -> FillTicket {
        let inner = &self.inner;
        let seq = inner.l1.ticket();
        let epoch = match &inner.redis {
            Some(r) if !r.needs_resync(&inner.breaker) => {
                let key = r.epoch_key.clone();
                r.handle
                    .call(CallKind::Read, |mut c| async move {
                        redis::cmd("GET").arg(key).query_async::<Option<String>>(&mut c).await
                    })
                    .await
                    .ok()
                    .map(|e| e.unwrap_or_else(|| "0".to_owned()))
            }
            _ => None,
        };
        FillTicket { seq, epoch }
    }

    /// A read fill outside a read (the built-in warm-up of SPEC §1.6): `SET NX` semantics in L2,
    /// never over a newer value or a tombstone, and no L1 fill over an invalidation that arrived
    /// since the ticket.
    pub async fn fill(&self, ticket: &FillTicket, key: &str, fill: Fill) -> FillOutcome {
        let inner = &self.inner;
        if !inner.cacheable(key) || fill.value.len() > inner.config.max_value_bytes {
            return FillOutcome::NotCached;
        }
        match (&inner.redis, &ticket.epoch) {
            (Some(_), Some(epoch)) => match inner.l2_fill(key, &fill, epoch).await {
                L2Fill::Stored => {
                    inner.l1_fill(key, &fill, ticket.seq);
                    FillOutcome::Stored
                }
                L2Fill::Refused | L2Fill::Failed => FillOutcome::Refused,
            },
            _ => {
                if inner.l1_fill(key, &fill, ticket.seq) {
                    FillOutcome::L1Only
                } else {
                    FillOutcome::Refused
                }
            }
        }
    }

    // ------------------------------------------------------------------ writes

    /// The writer path (create and update, after the commit): stores `value` under `key` unless
    /// L2 holds an equal or higher `version` or a tombstone, atomically in one script, and
    /// publishes the invalidation before returning. L1 follows L2's verdict. Without Redis (or
    /// while it is unavailable) L1 applies the same rules; an unavailable L2 makes the key
    /// pending.
    pub async fn set_versioned(&self, key: &str, value: impl Into<Bytes>, version: i64, ttl: Duration) -> SetOutcome {
        self.write(key, value.into(), Some(version), ttl).await
    }

    /// An unconditional set through both levels plus an invalidation broadcast (the warm-up jobs
    /// of SPEC §6.1). It replaces a tombstone.
    pub async fn set(&self, key: &str, value: impl Into<Bytes>, ttl: Duration) -> SetOutcome {
        self.write(key, value.into(), None, ttl).await
    }

    async fn write(&self, key: &str, value: Bytes, version: Option<i64>, ttl: Duration) -> SetOutcome {
        let inner = &self.inner;
        if !inner.cacheable(key) {
            return SetOutcome::Rejected;
        }
        if value.len() > inner.config.max_value_bytes {
            self.invalidate(&[key]).await;
            return SetOutcome::TooLarge;
        }
        let keys = [key.to_owned()];
        let entry = Entry::value(value.clone(), version, inner.l1.cap_ttl(ttl));
        let outcome = match &inner.redis {
            None => {
                let mode = if version.is_some() { WriteMode::Versioned } else { WriteMode::Force };
                match inner.l1.write(key, entry, mode, None) {
                    Written::Stored => SetOutcome::Stored,
                    Written::KeptNewer | Written::Superseded => SetOutcome::KeptNewer,
                    Written::Tombstoned => SetOutcome::Tombstoned,
                }
            }
            Some(r) => {
                let ticket = inner.l1.ticket();
                let message = Invalidation::keys(&inner.config.instance_id, keys.to_vec()).to_json();
                let ttl_ms = ttl_millis(ttl);
                let (vkey, mkey) = inner.physical(key);
                let epoch_key = r.epoch_key.clone();
                let channel = r.channel.clone();
                let result = r
                    .handle
                    .call(CallKind::Write, |mut c| {
                        let mut inv = match version {
                            Some(_) => r.scripts.set_versioned.prepare_invoke(),
                            None => r.scripts.set_plain.prepare_invoke(),
                        };
                        inv.key(epoch_key).key(vkey).key(mkey).arg(value.as_ref()).arg(ttl_ms);
                        if let Some(v) = version {
                            inv.arg(v);
                        }
                        inv.arg(channel).arg(message);
                        async move { inv.invoke_async::<redis::Value>(&mut c).await }
                    })
                    .await;
                match result {
                    Ok(verdict) => {
                        telemetry::operation(Level::L2, Op::Set, Outcome::Ok);
                        telemetry::published();
                        match verdict_of(&verdict) {
                            'K' => {
                                inner.l1.record_and_apply(Change::Keys(&keys), None);
                                SetOutcome::KeptNewer
                            }
                            'T' => {
                                inner.l1.record_and_apply(Change::Keys(&keys), None);
                                SetOutcome::Tombstoned
                            }
                            _ => {
                                inner.l1.write(key, entry, WriteMode::Force, Some(ticket));
                                SetOutcome::Stored
                            }
                        }
                    }
                    Err(e) => {
                        inner.l2_failed(Op::Set, &e);
                        inner.add_pending(|p| {
                            p.keys.insert(key.to_owned());
                        });
                        let mode = if version.is_some() { WriteMode::Versioned } else { WriteMode::Force };
                        inner.l1.write(key, entry, mode, Some(ticket));
                        SetOutcome::Pending
                    }
                }
            }
        };
        inner.flights.forget_keys(&keys);
        telemetry::operation(Level::L1, Op::Set, Outcome::Ok);
        if matches!(outcome, SetOutcome::Stored | SetOutcome::Pending) {
            Counters::add(&inner.stats.sets, 1);
        }
        outcome
    }

    /// Invalidates single keys (a task delete, an attribute change, and every DEL of SPEC §5.3):
    /// each key gets a tombstone in L2 that lives `tombstone_ttl` (60 s): the value is deleted,
    /// reads miss, and neither read fills nor writer sets land while it lives. L1 drops the keys
    /// and one message is published before this returns. Unavailable Redis makes the keys
    /// pending.
    pub async fn invalidate(&self, keys: &[&str]) -> L2Outcome {
        let inner = &self.inner;
        let keys: Vec<String> = keys.iter().filter(|k| inner.cacheable(k)).map(|k| (*k).to_owned()).collect();
        if keys.is_empty() {
            return if inner.redis.is_some() { L2Outcome::Applied } else { L2Outcome::Local };
        }
        let outcome = match &inner.redis {
            None => L2Outcome::Local,
            Some(r) => {
                let message = Invalidation::keys(&inner.config.instance_id, keys.clone()).to_json();
                let tomb_ms = ttl_millis(inner.config.tombstone_ttl);
                let result = r
                    .handle
                    .call(CallKind::Write, |mut c| {
                        let mut inv = r.scripts.tombstone.prepare_invoke();
                        inv.key(r.epoch_key.as_str());
                        for k in &keys {
                            let (v, m) = inner.physical(k);
                            inv.key(v).key(m);
                        }
                        inv.arg(tomb_ms).arg(r.channel.as_str()).arg(message);
                        async move { inv.invoke_async::<redis::Value>(&mut c).await }
                    })
                    .await;
                match result {
                    Ok(_) => {
                        telemetry::operation(Level::L2, Op::Delete, Outcome::Ok);
                        telemetry::published();
                        L2Outcome::Applied
                    }
                    Err(e) => {
                        inner.l2_failed(Op::Delete, &e);
                        inner.add_pending(|p| p.keys.extend(keys.iter().cloned()));
                        L2Outcome::Pending
                    }
                }
            }
        };
        // L2 first, then L1: a local reader that read the old L2 value before the tombstone took
        // its ticket before this change, so its promotion is discarded.
        inner.l1.record_and_apply(Change::Keys(&keys), Some(inner.config.tombstone_ttl));
        inner.flights.forget_keys(&keys);
        telemetry::operation(Level::L1, Op::Delete, Outcome::Ok);
        Counters::add(&inner.stats.deletes, keys.len() as u64);
        outcome
    }

    /// Evicts every key matching a glob (`*`, `?`, `[…]`, Redis semantics) in L2 (`SCAN MATCH
    /// <prefix><pattern> COUNT 1000` + `UNLINK` in batches; never `KEYS`), in this L1, and in the
    /// L1 of every instance (published before returning). Returns the number of L2 values
    /// deleted, or `None` when L2 was not reached (pending) or is not configured.
    pub async fn delete_pattern(&self, pattern: &str) -> Result<Option<u64>, GlobError> {
        let inner = &self.inner;
        let glob = Glob::new(pattern)?;
        let deleted = match &inner.redis {
            None => None,
            Some(r) => match inner.scan_unlink(r, Some(&glob)).await {
                Ok(n) => {
                    telemetry::operation(Level::L2, Op::DeletePattern, Outcome::Ok);
                    Some(n)
                }
                Err(e) => {
                    inner.l2_failed(Op::DeletePattern, &e);
                    inner.add_pending(|p| {
                        p.patterns.insert(pattern.to_owned());
                    });
                    None
                }
            },
        };
        let globs = [glob];
        inner.l1.record_and_apply(Change::Patterns(&globs), None);
        inner.flights.forget_matching(&globs);
        telemetry::operation(Level::L1, Op::DeletePattern, Outcome::Ok);
        Counters::add(&inner.stats.deletes, 1);
        if let Some(r) = &inner.redis
            && deleted.is_some()
        {
            let message = Invalidation::patterns(&inner.config.instance_id, vec![pattern.to_owned()]);
            if !inner.publish(r, &message).await {
                inner.add_pending(|p| {
                    p.patterns.insert(pattern.to_owned());
                });
                return Ok(None);
            }
        }
        Ok(deleted)
    }

    /// Clears the cache: every L2 key under the prefix (SCAN + UNLINK, the epoch key included;
    /// never the job queues, counters, rate-limit or throttle keys, which live outside the
    /// prefix), this L1, and the L1 of every instance. Returns the number of L2 values deleted,
    /// or `None` when Redis is disabled or unreachable (then the L2 clear stays pending).
    pub async fn clear(&self) -> Option<u64> {
        let inner = &self.inner;
        let deleted = match &inner.redis {
            None => None,
            Some(r) => {
                let result = async {
                    let n = inner.scan_unlink(r, None).await?;
                    // Deleting the epoch is safe: it only grows (see the bump script), so no
                    // older epoch can become current again.
                    let epoch_key = r.epoch_key.clone();
                    r.handle
                        .call(CallKind::Write, |mut c| async move {
                            redis::cmd("UNLINK").arg(epoch_key).query_async::<u64>(&mut c).await
                        })
                        .await?;
                    Ok::<_, RedisCallError>(n)
                }
                .await;
                match result {
                    Ok(n) => {
                        telemetry::operation(Level::L2, Op::DeletePattern, Outcome::Ok);
                        Some(n)
                    }
                    Err(e) => {
                        inner.l2_failed(Op::DeletePattern, &e);
                        inner.add_pending(|p| p.clear_all = true);
                        None
                    }
                }
            }
        };
        inner.l1.record_and_apply(Change::All, None);
        inner.flights.forget_all();
        telemetry::operation(Level::L1, Op::DeletePattern, Outcome::Ok);
        Counters::add(&inner.stats.deletes, 1);
        if let Some(r) = &inner.redis
            && deleted.is_some()
            && !inner.publish(r, &Invalidation::all(&inner.config.instance_id)).await
        {
            inner.add_pending(|p| p.clear_all = true);
            return None;
        }
        deleted
    }

    // ------------------------------------------------------------------ generation counters

    /// Reads a generation counter (`taskify:gen:…`, outside the cache prefix, no TTL; a missing
    /// counter is 0). With Redis it is read from Redis on every call, never from L1; while Redis
    /// cannot be used, the last value seen plus this instance's unapplied increments. Without
    /// Redis, an in-process counter.
    pub async fn generation(&self, counter: &str) -> u64 {
        self.generations(&[counter]).await.first().copied().unwrap_or(0)
    }

    /// Reads several generation counters in one round trip (`MGET`).
    pub async fn generations(&self, counters: &[&str]) -> Vec<u64> {
        let inner = &self.inner;
        if counters.is_empty() {
            return Vec::new();
        }
        let read = match &inner.redis {
            None => None,
            Some(r) => {
                let keys: Vec<String> = counters.iter().map(|c| (*c).to_owned()).collect();
                r.handle
                    .call(CallKind::Read, |mut c| async move {
                        redis::cmd("MGET").arg(keys).query_async::<Vec<Option<u64>>>(&mut c).await
                    })
                    .await
                    .ok()
            }
        };
        let mut view = inner.counter_view();
        if read.is_some() && view.seen.len() > MAX_REMEMBERED_COUNTERS {
            // With Redis, `seen` is only the fallback for outages: bound it (one per user).
            view.seen.clear();
        }
        counters
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let base = match &read {
                    Some(values) => {
                        let v = values.get(i).copied().flatten().unwrap_or(0);
                        view.seen.insert((*c).to_owned(), v);
                        v
                    }
                    None => view.seen.get(*c).copied().unwrap_or(0),
                };
                base + view.unapplied.get(*c).copied().unwrap_or(0)
            })
            .collect()
    }

    /// Increments generation counters (`INCR`, one round trip). While Redis cannot be used, the
    /// increments are pending and the local view moves at once, so this instance reads its own
    /// writes.
    pub async fn bump(&self, counters: &[&str]) {
        let inner = &self.inner;
        if counters.is_empty() {
            return;
        }
        let Some(r) = &inner.redis else {
            let mut view = inner.counter_view();
            for c in counters {
                *view.seen.entry((*c).to_owned()).or_default() += 1;
            }
            return;
        };
        let keys: Vec<String> = counters.iter().map(|c| (*c).to_owned()).collect();
        let result = r
            .handle
            .call(CallKind::Write, |mut c| {
                let mut pipe = redis::pipe();
                for k in &keys {
                    pipe.cmd("INCR").arg(k);
                }
                async move { pipe.query_async::<Vec<u64>>(&mut c).await }
            })
            .await;
        match result {
            Ok(values) => {
                let mut view = inner.counter_view();
                for (k, v) in keys.iter().zip(values) {
                    view.seen.insert(k.clone(), v);
                }
            }
            Err(e) => {
                inner.l2_failed(Op::Set, &e);
                // Pending first: a replay finishing in between can only make the view count an
                // increment twice (a fresh list key), never miss it (a stale one).
                inner.add_pending(|p| {
                    for k in &keys {
                        *p.counters.entry(k.clone()).or_default() += 1;
                    }
                });
                let mut view = inner.counter_view();
                for k in &keys {
                    *view.unapplied.entry(k.clone()).or_default() += 1;
                }
            }
        }
    }

    // ------------------------------------------------------------------ state and stats

    /// The breaker named `redis` (always present; it never sees a call without Redis).
    pub fn breaker(&self) -> &CircuitBreaker {
        &self.inner.breaker
    }

    /// The Redis handle, to run other commands and scripts through the same connection and
    /// breaker (rate limiting, throttles, jobs). `None` when Redis is not configured.
    pub fn redis(&self) -> Option<RedisHandle> {
        self.inner.redis.as_ref().map(|r| r.handle.clone())
    }

    /// Whether Redis is configured.
    pub fn redis_configured(&self) -> bool {
        self.inner.redis.is_some()
    }

    /// "Redis available" of SPEC §6.3: configured and the breaker not open.
    pub fn redis_available(&self) -> bool {
        self.inner.redis.is_some() && self.inner.breaker.allows_calls()
    }

    /// Whether the last Redis call succeeded and the breaker is not open (`l2.connected`).
    pub fn redis_connected(&self) -> bool {
        self.inner.redis.as_ref().is_some_and(|r| r.handle.is_up()) && self.inner.breaker.allows_calls()
    }

    /// Whether the invalidation subscription is established.
    pub fn subscription_connected(&self) -> bool {
        self.inner.redis.as_ref().is_some_and(|r| r.sub_up.load(Ordering::Acquire))
    }

    /// Waits until the invalidation subscription is established, at most `timeout`.
    pub async fn wait_for_subscription(&self, timeout: Duration) -> bool {
        let Some(r) = &self.inner.redis else { return false };
        let mut rx = r.sub_state.subscribe();
        tokio::time::timeout(timeout, rx.wait_for(|s| *s == SubState::Up)).await.is_ok_and(|r| r.is_ok())
    }

    /// Whether L2 reads are enabled: Redis configured, and nothing lost since the last replay
    /// (no pending item, no breaker opening, no subscription drop not yet followed by an epoch
    /// bump).
    pub fn l2_reads_enabled(&self) -> bool {
        self.inner.redis.as_ref().is_some_and(|r| !r.needs_resync(&self.inner.breaker))
    }

    /// How many times this instance has recovered from a loss of Redis (epoch bumped, pending
    /// set replayed, `{"all":true}` published) since it started.
    pub fn recoveries(&self) -> u64 {
        self.inner.redis.as_ref().map_or(0, |r| r.replays.load(Ordering::Acquire))
    }

    /// Items in the pending set (SPEC §5.6); 0 without Redis.
    pub fn pending_invalidations(&self) -> usize {
        self.inner.redis.as_ref().map_or(0, |r| lock(&r.pending).len())
    }

    /// Invalidation messages received from other instances and applied since start.
    pub fn invalidations_received(&self) -> u64 {
        self.inner.stats.received.load(Ordering::Relaxed)
    }

    /// This instance's id (the `origin` of its messages).
    pub fn instance_id(&self) -> &str {
        &self.inner.config.instance_id
    }

    /// The configuration.
    pub fn config(&self) -> &CacheConfig {
        &self.inner.config
    }

    /// The stats of SPEC §5.8 without the `INFO` figures (no Redis call).
    pub fn stats(&self) -> CacheStats {
        let inner = &self.inner;
        let s = &inner.stats;
        let hits = s.hits.load(Ordering::Relaxed);
        let misses = s.misses.load(Ordering::Relaxed);
        CacheStats {
            l1: L1Stats {
                items: inner.l1.entry_count(),
                kind: "memory",
                capacity: inner.config.l1_max_entries,
                enabled: true,
            },
            metrics: OperationStats {
                hits,
                misses,
                errors: s.errors.load(Ordering::Relaxed),
                sets: s.sets.load(Ordering::Relaxed),
                deletes: s.deletes.load(Ordering::Relaxed),
                start_time: inner.start_time,
            },
            hit_rate_percent: stats::hit_rate(hits, misses),
            circuit_breaker: inner.breaker.snapshot(),
            l2: L2Stats {
                enabled: inner.redis.is_some(),
                connected: self.redis_connected(),
                info: None,
                pending_invalidations: inner.redis.as_ref().map(|_| self.pending_invalidations() as u64),
            },
        }
    }

    /// [`Cache::stats`] plus the `INFO` figures when Redis answers.
    pub async fn detailed_stats(&self) -> CacheStats {
        let info = self.l2_info().await;
        let mut stats = self.stats();
        stats.l2.info = info;
        if info.is_some() {
            stats.l2.connected = self.redis_connected();
        }
        stats
    }

    /// `used_memory`, `evicted_keys`, `keyspace_hits` and `keyspace_misses` from Redis `INFO`
    /// (through the breaker); `None` without Redis or when it does not answer.
    pub async fn l2_info(&self) -> Option<L2Info> {
        let r = self.inner.redis.as_ref()?;
        let text = r
            .handle
            .call(CallKind::Read, |mut c| async move {
                redis::cmd("INFO").arg("memory").arg("stats").query_async::<String>(&mut c).await
            })
            .await
            .ok()?;
        L2Info::parse(&text)
    }

    /// Stops the background tasks (subscriber, upkeep) and waits for them, at most 5 s.
    pub async fn shutdown(&self) {
        self.inner.cancel.cancel();
        self.inner.tasks.close();
        let _ = tokio::time::timeout(Duration::from_secs(5), self.inner.tasks.wait()).await;
    }
}

impl std::fmt::Debug for Cache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cache")
            .field("instance_id", &self.inner.config.instance_id)
            .field("redis", &self.inner.redis.is_some())
            .finish()
    }
}

impl Inner {
    fn new(config: CacheConfig, breaker: CircuitBreaker, redis: Option<RedisSide>) -> Self {
        telemetry::breaker_state(breaker.name(), BreakerState::Closed);
        telemetry::pending(0);
        Self {
            l1: L1::new(config.l1_max_entries, config.l1_max_bytes, config.l1_ttl),
            flights: Flights::default(),
            breaker,
            redis,
            counters: Mutex::new(CounterView::default()),
            stats: Counters::default(),
            start_time: SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()),
            cancel: CancellationToken::new(),
            tasks: TaskTracker::new(),
            config,
        }
    }

    fn cacheable(&self, key: &str) -> bool {
        // Control characters are rejected by SPEC §0.3 anyway; excluding them here guarantees
        // that no logical key can end with the meta suffix.
        !key.is_empty() && key != EPOCH_NAME && !key.bytes().any(|b| b < 0x20 || b == 0x7f)
    }

    fn physical(&self, key: &str) -> (String, String) {
        let v = format!("{}{}", self.config.key_prefix, key);
        let m = format!("{v}{META_SUFFIX}");
        (v, m)
    }

    fn counter_view(&self) -> MutexGuard<'_, CounterView> {
        lock(&self.counters)
    }

    fn count_read(&self, hit: bool) {
        Counters::add(if hit { &self.stats.hits } else { &self.stats.misses }, 1);
        telemetry::read_result(hit);
    }

    /// While the subscription is down or the breaker open, L1 entries older than
    /// `CACHE_L1_OUTAGE_TTL` are not served (SPEC §5.6).
    fn outage_mode(&self) -> bool {
        match &self.redis {
            None => false,
            Some(r) => !r.sub_up.load(Ordering::Acquire) || self.breaker.state_fast() == BreakerState::Open,
        }
    }

    fn l1_lookup(&self, key: &str) -> Option<Bytes> {
        let found = self.l1.get(key).and_then(|e| {
            let data = e.data?;
            if self.outage_mode() && e.filled_at.elapsed() >= self.config.l1_outage_ttl {
                return None;
            }
            Some(data)
        });
        telemetry::operation(Level::L1, Op::Get, if found.is_some() { Outcome::Hit } else { Outcome::Miss });
        found
    }

    fn l1_fill(&self, key: &str, fill: &Fill, ticket: u64) -> bool {
        let entry = Entry::value(fill.value.clone(), fill.version, self.l1.cap_ttl(fill.ttl));
        let stored = self.l1.fill(key, entry, ticket);
        if stored {
            Counters::add(&self.stats.sets, 1);
            telemetry::operation(Level::L1, Op::Set, Outcome::Ok);
        }
        stored
    }

    /// Promotes an L2 hit read by a call sent at `sent`. The PTTL is counted from `sent`, so the
    /// L1 copy never outlives the L2 one (the reply's transit time is taken off).
    fn promote(&self, key: &str, data: &Bytes, pttl_ms: i64, version: Option<i64>, ticket: u64, sent: Instant) {
        let ttl = match pttl_ms {
            -1 => self.config.l1_ttl,
            ms if ms > 0 => Duration::from_millis(ms as u64).saturating_sub(sent.elapsed()),
            _ => return,
        };
        if ttl.is_zero() {
            return;
        }
        let entry = Entry::value(data.clone(), version, self.l1.cap_ttl(ttl));
        self.l1.fill(key, entry, ticket);
    }

    /// The miss path of `get_or_load` (run by the flight's leader).
    async fn load_through<F, Fut, E>(&self, key: &str, load: F) -> Result<Option<Bytes>, Arc<E>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Option<Fill>, E>>,
    {
        let ticket = self.l1.ticket();
        let started = Instant::now();
        let l2 = self.l2_read(key).await;
        let since_ticket = started.elapsed();
        if let L2Read::Hit { data, pttl_ms, version } = &l2 {
            self.promote(key, data, *pttl_ms, *version, ticket, started);
            self.count_read(true);
            return Ok(Some(data.clone()));
        }
        self.count_read(false);
        let Some(fill) = load().await.map_err(Arc::new)? else { return Ok(None) };
        if fill.value.len() > self.config.max_value_bytes {
            return Ok(Some(fill.value));
        }
        let l1_allowed = match &l2 {
            L2Read::Miss { epoch } => matches!(self.l2_fill(key, &fill, epoch).await, L2Fill::Stored),
            // The fill would be refused. L1 may still take it when the tombstone is older than
            // the ticket: the load then began after the change that wrote it.
            L2Read::Tombstone { pttl_ms, .. } => {
                let age = self.config.tombstone_ttl.saturating_sub(Duration::from_millis((*pttl_ms).max(0) as u64));
                age > since_ticket + TOMBSTONE_AGE_MARGIN
            }
            L2Read::Unavailable | L2Read::Disabled => true,
            L2Read::Hit { .. } => false,
        };
        if l1_allowed {
            self.l1_fill(key, &fill, ticket);
        }
        Ok(Some(fill.value))
    }

    async fn l2_read(&self, key: &str) -> L2Read {
        let Some(r) = &self.redis else { return L2Read::Disabled };
        if r.needs_resync(&self.breaker) {
            telemetry::operation(Level::L2, Op::Get, Outcome::Skipped);
            return L2Read::Unavailable;
        }
        let (vkey, mkey) = self.physical(key);
        let result = r
            .handle
            .call(CallKind::Read, |mut c| {
                let mut inv = r.scripts.read.prepare_invoke();
                inv.key(r.epoch_key.as_str()).key(vkey).key(mkey);
                async move { inv.invoke_async::<(String, String, i64, String, Vec<u8>)>(&mut c).await }
            })
            .await;
        match result {
            Ok((kind, epoch, pttl_ms, version, value)) => match kind.as_str() {
                "V" => {
                    telemetry::operation(Level::L2, Op::Get, Outcome::Hit);
                    L2Read::Hit { data: Bytes::from(value), pttl_ms, version: version.parse().ok() }
                }
                "T" => {
                    telemetry::operation(Level::L2, Op::Get, Outcome::Miss);
                    L2Read::Tombstone { pttl_ms }
                }
                _ => {
                    telemetry::operation(Level::L2, Op::Get, Outcome::Miss);
                    L2Read::Miss { epoch }
                }
            },
            Err(e) => {
                self.l2_failed(Op::Get, &e);
                L2Read::Unavailable
            }
        }
    }

    async fn l2_fill(&self, key: &str, fill: &Fill, epoch: &str) -> L2Fill {
        let Some(r) = &self.redis else { return L2Fill::Failed };
        let (vkey, mkey) = self.physical(key);
        let version = fill.version.map(|v| v.to_string()).unwrap_or_default();
        let result = r
            .handle
            .call(CallKind::Write, |mut c| {
                let mut inv = r.scripts.fill.prepare_invoke();
                inv.key(r.epoch_key.as_str())
                    .key(vkey)
                    .key(mkey)
                    .arg(epoch)
                    .arg(fill.value.as_ref())
                    .arg(ttl_millis(fill.ttl))
                    .arg(version);
                async move { inv.invoke_async::<redis::Value>(&mut c).await }
            })
            .await;
        match result {
            Ok(v) => {
                telemetry::operation(Level::L2, Op::Set, Outcome::Ok);
                if verdict_of(&v) == 'S' {
                    Counters::add(&self.stats.sets, 1);
                    L2Fill::Stored
                } else {
                    L2Fill::Refused
                }
            }
            Err(e) => {
                self.l2_failed(Op::Set, &e);
                L2Fill::Failed
            }
        }
    }

    fn l2_failed(&self, op: Op, e: &RedisCallError) {
        match e {
            RedisCallError::Skipped => telemetry::operation(Level::L2, op, Outcome::Skipped),
            RedisCallError::Command(err) => {
                Counters::add(&self.stats.errors, 1);
                telemetry::operation(Level::L2, op, Outcome::Error);
                tracing::error!(error = %err, "cache: Redis rejected a command");
            }
            other => {
                Counters::add(&self.stats.errors, 1);
                telemetry::operation(Level::L2, op, Outcome::Error);
                tracing::debug!(error = %other, "cache: Redis call failed");
            }
        }
    }

    fn add_pending(&self, f: impl FnOnce(&mut Pending)) {
        let Some(r) = &self.redis else { return };
        let mut pending = lock(&r.pending);
        f(&mut pending);
        pending.normalize();
        if pending.collapse_if_over(self.config.pending_limit, &self.config.overflow_counters) {
            tracing::warn!(
                limit = self.config.pending_limit,
                "cache: too many pending invalidations; replaced by a full clear of the namespace"
            );
        }
        telemetry::pending(pending.len());
        r.losses.fetch_add(1, Ordering::AcqRel);
    }

    async fn publish(&self, r: &RedisSide, message: &Invalidation) -> bool {
        let channel = r.channel.clone();
        let payload = message.to_json();
        let ok = r
            .handle
            .call(CallKind::Write, |mut c| async move {
                redis::cmd("PUBLISH").arg(channel).arg(payload).query_async::<u64>(&mut c).await
            })
            .await
            .is_ok();
        if ok {
            telemetry::published();
        }
        ok
    }

    /// SCAN MATCH `<prefix><pattern>` (all of the prefix for `None`), COUNT 1000, and UNLINK of
    /// the matching values and their metas, batch by batch. The epoch key is skipped. Returns
    /// the number of values deleted.
    async fn scan_unlink(&self, r: &RedisSide, glob: Option<&Glob>) -> Result<u64, RedisCallError> {
        let prefix = self.config.key_prefix.as_bytes();
        let pattern = format!("{}{}", glob::escape(&self.config.key_prefix), glob.map_or("*", Glob::as_str));
        let mut cursor: u64 = 0;
        let mut deleted = 0;
        loop {
            let pattern = pattern.clone();
            let (next, batch) = r
                .handle
                .call(CallKind::Write, |mut c| async move {
                    redis::cmd("SCAN")
                        .arg(cursor)
                        .arg("MATCH")
                        .arg(pattern)
                        .arg("COUNT")
                        .arg(1000)
                        .query_async::<(u64, Vec<Vec<u8>>)>(&mut c)
                        .await
                })
                .await?;
            let mut values: Vec<Vec<u8>> = Vec::new();
            let mut metas: Vec<Vec<u8>> = Vec::new();
            for key in batch {
                if key == r.epoch_key.as_bytes() || !key.starts_with(prefix) {
                    continue;
                }
                let rest = &key[prefix.len()..];
                let (logical, is_meta) = match rest.strip_suffix(META_SUFFIX.as_bytes()) {
                    Some(l) => (l, true),
                    None => (rest, false),
                };
                if glob.is_some_and(|g| !g.matches_bytes(logical)) {
                    continue;
                }
                if is_meta {
                    metas.push(key);
                } else {
                    let mut meta = key.clone();
                    meta.extend_from_slice(META_SUFFIX.as_bytes());
                    metas.push(meta);
                    values.push(key);
                }
            }
            metas.sort_unstable();
            metas.dedup();
            if !values.is_empty() || !metas.is_empty() {
                let counts = r
                    .handle
                    .call(CallKind::Write, |mut c| {
                        let mut pipe = redis::pipe();
                        if !values.is_empty() {
                            pipe.cmd("UNLINK").arg(&values);
                        }
                        if !metas.is_empty() {
                            pipe.cmd("UNLINK").arg(&metas).ignore();
                        }
                        async move { pipe.query_async::<Vec<u64>>(&mut c).await }
                    })
                    .await?;
                deleted += counts.first().copied().unwrap_or(0);
            }
            cursor = next;
            if cursor == 0 {
                return Ok(deleted);
            }
        }
    }

    /// Periodic upkeep: prune the invalidation log, refresh gauges, ping Redis (this is what
    /// moves an idle breaker through half-open), and replay pending work.
    async fn upkeep(&self) {
        self.l1.prune();
        telemetry::l1_entries(self.l1.entry_count());
        // Re-exported every round: the metrics recorder may be installed after the cache.
        let state = self.breaker.state();
        telemetry::breaker_state(self.breaker.name(), state);
        let Some(r) = &self.redis else { return };
        telemetry::redis_up(r.handle.is_up());
        if state != BreakerState::Open && r.handle.ping().await.is_err() {
            tracing::debug!("cache: Redis ping failed");
        }
        if r.needs_resync(&self.breaker) && self.breaker.state() != BreakerState::Open {
            self.resync(r).await;
        }
        telemetry::pending(lock(&r.pending).len());
    }

    /// Replays the pending set after a loss (SPEC §5.6): bump the namespace epoch (hides every
    /// value written before, including those changed during the outage), apply the unapplied
    /// counter increments, redo a pending clear, publish `{"all":true}`, and clear this L1.
    /// Only then are L2 reads enabled again.
    async fn resync(&self, r: &RedisSide) {
        let Ok(_guard) = r.resync_lock.try_lock() else { return };
        let mark = r.loss_mark(&self.breaker);
        // Replay a copy: the pending set stays visible (stats) until the replay succeeded.
        let snapshot = lock(&r.pending).clone();
        let result = async {
            let epoch_key = r.epoch_key.clone();
            let epoch = r
                .handle
                .call(CallKind::Write, |mut c| {
                    let mut inv = r.scripts.bump_epoch.prepare_invoke();
                    inv.key(epoch_key);
                    async move { inv.invoke_async::<i64>(&mut c).await }
                })
                .await?;
            if !snapshot.counters.is_empty() {
                let counters: Vec<(String, u64)> = snapshot.counters.iter().map(|(k, n)| (k.clone(), *n)).collect();
                r.handle
                    .call(CallKind::Write, |mut c| {
                        let mut pipe = redis::pipe();
                        for (k, n) in &counters {
                            pipe.cmd("INCRBY").arg(k).arg(*n).ignore();
                        }
                        async move { pipe.query_async::<()>(&mut c).await }
                    })
                    .await?;
            }
            if snapshot.clear_all {
                self.scan_unlink(r, None).await?;
            }
            let payload = Invalidation::all(&self.config.instance_id).to_json();
            let channel = r.channel.clone();
            r.handle
                .call(CallKind::Write, |mut c| async move {
                    redis::cmd("PUBLISH").arg(channel).arg(payload).query_async::<u64>(&mut c).await
                })
                .await?;
            Ok::<_, RedisCallError>(epoch)
        }
        .await;
        match result {
            Ok(epoch) => {
                telemetry::published();
                self.l1.record_and_apply(Change::All, None);
                self.flights.forget_all();
                let still_pending = {
                    let mut pending = lock(&r.pending);
                    pending.subtract(&snapshot);
                    telemetry::pending(pending.len());
                    pending.counters.clone()
                };
                {
                    // The local view now adds only what is still pending. Increments dropped by
                    // a collapse are gone from the view too: this L1 was just cleared and every
                    // older L2 value hidden by the epoch, so going back cannot serve stale lists.
                    let mut view = self.counter_view();
                    for (k, n) in &snapshot.counters {
                        *view.seen.entry(k.clone()).or_default() += n;
                    }
                    view.unapplied = still_pending;
                }
                r.resynced.store(mark, Ordering::Release);
                r.replays.fetch_add(1, Ordering::AcqRel);
                tracing::info!(
                    epoch,
                    replayed_items = snapshot.len(),
                    "cache: Redis is back; namespace epoch bumped, pending invalidations replayed"
                );
            }
            Err(e) if e.is_unavailable() => {
                tracing::debug!(error = %e, "cache: replay of pending invalidations failed; will retry");
            }
            Err(e) => {
                tracing::error!(error = %e, "cache: Redis rejected the replay of pending invalidations; will retry");
            }
        }
    }

    fn apply_remote(&self, message: Invalidation) {
        telemetry::received();
        Counters::add(&self.stats.received, 1);
        if message.all {
            self.l1.record_and_apply(Change::All, None);
            self.flights.forget_all();
            return;
        }
        if !message.keys.is_empty() {
            self.l1.record_and_apply(Change::Keys(&message.keys), None);
            self.flights.forget_keys(&message.keys);
        }
        if !message.patterns.is_empty() {
            let globs: Vec<Glob> = message.patterns.iter().map(|p| Glob::lenient(p)).collect();
            self.l1.record_and_apply(Change::Patterns(&globs), None);
            self.flights.forget_matching(&globs);
        }
    }
}

impl BusListener for Inner {
    fn subscription_up(&self) {
        let Some(r) = &self.redis else { return };
        // Messages may have been missed while disconnected.
        self.l1.record_and_apply(Change::All, None);
        self.flights.forget_all();
        r.sub_up.store(true, Ordering::Release);
        r.sub_state.send_replace(SubState::Up);
    }

    fn subscription_down(&self, was_up: bool) {
        let Some(r) = &self.redis else { return };
        if was_up {
            r.sub_up.store(false, Ordering::Release);
            self.l1.record_and_apply(Change::All, None);
            self.flights.forget_all();
            r.losses.fetch_add(1, Ordering::AcqRel);
        }
        r.sub_state.send_replace(SubState::Down);
    }

    fn message(&self, payload: &[u8]) {
        match serde_json::from_slice::<Invalidation>(payload) {
            Ok(m) if m.origin == self.config.instance_id => {}
            Ok(m) => self.apply_remote(m),
            Err(e) => tracing::warn!(error = %e, "cache: ignoring a malformed invalidation message"),
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

/// The first letter of a script's status reply (`S`, `K`, `T`, `E`, `X`).
fn verdict_of(v: &redis::Value) -> char {
    let s = match v {
        redis::Value::BulkString(b) => b.first().copied().map(char::from),
        redis::Value::SimpleString(s) => s.chars().next(),
        redis::Value::Okay => Some('S'),
        redis::Value::Int(_) => Some('S'),
        _ => None,
    };
    s.unwrap_or('?')
}

fn ttl_millis(ttl: Duration) -> u64 {
    u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1)
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
