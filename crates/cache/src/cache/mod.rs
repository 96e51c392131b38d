//! The two-level cache: see the crate documentation for the guarantees.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::breaker::CircuitBreaker;
use crate::breaker_state::BreakerState;
use crate::bus::{self, SubscriberSettings};
use crate::config::{CacheConfig, RedisConfig};
use crate::flight::Flights;
use crate::l1::L1;
use crate::pending::Pending;
use crate::redis_handle::RedisHandle;
use crate::scripts::{META_SUFFIX, Scripts};
use crate::stats::Counters;
use crate::telemetry;

mod generations;
mod l2_writes;
mod levels;
mod reads;
mod recovery;
mod state;
mod writes;

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
    /// A tombstone is in place: nothing stored (docs/cache.md#levels).
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
    /// Redis unavailable: recorded as pending, replayed when Redis is back (docs/cache.md#redis-outages).
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

/// The two-level cache (docs/cache.md). Cheap to clone: clones share one cache.
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
    /// in-process generation counters (docs/cache.md#levels "Redis disabled"). Needs a Tokio runtime.
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
        // Control characters are rejected by docs/http-contract.md#request-bodies-and-field-rules anyway; excluding them here guarantees
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
