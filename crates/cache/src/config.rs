//! Configuration of the cache, its Redis connection and the circuit breaker (docs/cache.md, docs/operations.md#configuration).

use std::fmt;
use std::time::Duration;

/// The generation counter bumped when an overflowing pending set is collapsed (docs/cache.md#redis-outages: "clear
/// the whole cache namespace and INCR Gall"). The cache itself knows nothing about tasks: this
/// is only the default of [`CacheConfig::overflow_counters`].
pub const DEFAULT_OVERFLOW_COUNTER: &str = "taskify:gen:tasks:all";

/// Settings of the Redis circuit breaker (docs/cache.md#circuit-breaker, `CACHE_BREAKER_*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BreakerConfig {
    /// Consecutive failures in `closed` that open the breaker (`CACHE_BREAKER_MAX_FAILURES`, 5).
    pub max_failures: u32,
    /// How long the breaker stays `open` after the failure that opened it
    /// (`CACHE_BREAKER_TIMEOUT`, 30 s).
    pub timeout: Duration,
    /// Consecutive successes in `half-open` that close it (`CACHE_BREAKER_HALF_OPEN_SUCCESSES`, 3).
    pub half_open_successes: u32,
    /// Trial calls allowed in flight while `half-open` (3); other calls are skipped.
    pub half_open_max_calls: u32,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self { max_failures: 5, timeout: Duration::from_secs(30), half_open_successes: 3, half_open_max_calls: 3 }
    }
}

/// Settings of the two-level cache (docs/cache.md#levels, docs/cache.md#redis-outages, docs/operations.md#configuration `CACHE_*`).
///
/// The key prefix defines the whole L2 namespace of one deployment: the values live under
/// `key_prefix + key`, the namespace epoch under `key_prefix + "epoch"` and the invalidation
/// channel is `key_prefix + "invalidate"`. With the default prefix these are exactly the names of
/// the design (`taskify:cache:…`, `taskify:cache:epoch`, `taskify:cache:invalidate`); another
/// prefix gives an isolated namespace (tests use one each).
#[derive(Debug, Clone)]
pub struct CacheConfig {
    /// `CACHE_KEY_PREFIX` (`taskify:cache:`).
    pub key_prefix: String,
    /// `CACHE_L1_MAX_ENTRIES` (10 000).
    pub l1_max_entries: u64,
    /// `CACHE_L1_MAX_BYTES` (64 MiB): the sum of the serialised sizes kept in L1.
    pub l1_max_bytes: u64,
    /// `CACHE_L1_TTL` (5 min): the longest an entry lives in L1.
    pub l1_ttl: Duration,
    /// `CACHE_L1_OUTAGE_TTL` (1 s): the age up to which an L1 entry is served while the
    /// invalidation subscription is down or the breaker is open.
    pub l1_outage_ttl: Duration,
    /// `CACHE_MAX_VALUE_BYTES` (256 KiB): larger values are cached at neither level.
    pub max_value_bytes: usize,
    /// Lifetime of a tombstone (60 s).
    pub tombstone_ttl: Duration,
    /// Pending items above which the pending set collapses into "clear all" (10 000).
    pub pending_limit: usize,
    /// Counters incremented by a collapsed pending set (`taskify:gen:tasks:all`).
    pub overflow_counters: Vec<String>,
    /// The circuit breaker named `redis`.
    pub breaker: BreakerConfig,
    /// This instance's id: the `origin` of its invalidation messages. Must be unique per process.
    pub instance_id: String,
    /// Period of the background upkeep (Redis ping, replay of pending invalidations, gauges).
    pub maintenance_interval: Duration,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            key_prefix: "taskify:cache:".to_owned(),
            l1_max_entries: 10_000,
            l1_max_bytes: 64 * 1024 * 1024,
            l1_ttl: Duration::from_secs(5 * 60),
            l1_outage_ttl: Duration::from_secs(1),
            max_value_bytes: 256 * 1024,
            tombstone_ttl: Duration::from_secs(60),
            pending_limit: 10_000,
            overflow_counters: vec![DEFAULT_OVERFLOW_COUNTER.to_owned()],
            breaker: BreakerConfig::default(),
            instance_id: format!("taskify-{}", uuid::Uuid::new_v4().simple()),
            maintenance_interval: Duration::from_millis(500),
        }
    }
}

/// How to reach Redis (docs/operations.md#configuration `REDIS_*`).
#[derive(Clone)]
pub struct RedisConfig {
    /// `redis://[:password@]host:port/db`.
    pub url: String,
    /// `REDIS_DIAL_TIMEOUT` (5 s): one connection attempt.
    pub dial_timeout: Duration,
    /// `REDIS_READ_TIMEOUT` (250 ms): per-call timeout of reads on request paths.
    pub read_timeout: Duration,
    /// `REDIS_WRITE_TIMEOUT` (250 ms): per-call timeout of writes on request paths.
    pub write_timeout: Duration,
    /// `REDIS_MAX_RETRIES` (3): retries of one connection set-up (never of commands).
    pub max_retries: usize,
    /// How often the pub/sub connection is pinged to detect a dead peer (1 s).
    pub subscription_ping_interval: Duration,
    /// The longest [`crate::Cache::with_redis`] waits for the first subscription attempt (1 s).
    /// A refused connection ends the wait at once; start-up never waits for Redis to come up.
    pub startup_wait: Duration,
}

impl RedisConfig {
    /// The defaults of docs/operations.md#configuration for `url`.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            dial_timeout: Duration::from_secs(5),
            read_timeout: Duration::from_millis(250),
            write_timeout: Duration::from_millis(250),
            max_retries: 3,
            subscription_ping_interval: Duration::from_secs(1),
            startup_wait: Duration::from_secs(1),
        }
    }
}

impl fmt::Debug for RedisConfig {
    // The URL may carry a password: never print it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Field by field like the other config Debug impls (core's CoreConfig): each field listed
        // by choice so secrets stay redacted.
        f.debug_struct("RedisConfig")
            .field("url", &redact_url(&self.url))
            .field("dial_timeout", &self.dial_timeout)
            .field("read_timeout", &self.read_timeout)
            .field("write_timeout", &self.write_timeout)
            .field("max_retries", &self.max_retries)
            .field("subscription_ping_interval", &self.subscription_ping_interval)
            .field("startup_wait", &self.startup_wait)
            .finish()
    }
}

/// `redis://user:secret@host` → `redis://user:***@host`; URLs without credentials are unchanged.
pub fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else { return url.to_owned() };
    let rest = &url[scheme_end..];
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else { return url.to_owned() };
    let userinfo = &rest[..at];
    let user = userinfo.split(':').next().unwrap_or("");
    format!("{}{}:***{}", &url[..scheme_end], user, &rest[at..])
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn passwords_are_redacted_from_urls() {
        assert_eq!(redact_url("redis://:pw@localhost:6379/0"), "redis://:***@localhost:6379/0");
        assert_eq!(redact_url("redis://u:pw@h/1"), "redis://u:***@h/1");
        assert_eq!(redact_url("redis://localhost:6379"), "redis://localhost:6379");
    }
}
