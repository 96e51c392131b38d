//! Rate limiting (docs/http-contract.md#rate-limits): a token bucket per (class, client key).
//!
//! The client key is `user:<uuid>` when the bearer token passes the signature and claim checks
//! (no database involved), otherwise `ip:<client ip>` (IPv6 reduced to its /64). Every answer
//! on a limited route carries the `RateLimit-*` headers; a 429 adds `Retry-After`.
//!
//! With Redis the bucket is shared by every instance: one script call takes a *lease* of tokens
//! that this instance then spends locally, so no client is admitted beyond the shared bucket and
//! Redis is not called once per request at high limits. A lease is sized from the key's recent
//! rate on this instance (about 0.1 s of it, at most a tenth of the burst), is kept until spent,
//! and only one request per key takes a lease at a time; so a client is admitted up to its limit
//! minus at most one small lease per instance. After a 429 the instance answers 429 for that key
//! locally until a lease's worth has refilled. While Redis is unavailable each instance falls
//! back to its own buckets (bounded: see [`BoundedMap`]).

use super::bounded_map::{BoundedMap, Entry};
use crate::config::{ClassLimit, RateLimits};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use taskify_cache::redis::Script;
use taskify_cache::{CallKind, RedisHandle};
use taskify_core::auth::throttle::ceil_secs;
use taskify_domain::metric_names as names;

impl ClassLimit {
    fn refill_per_sec(&self) -> f64 {
        f64::from(self.rpm) / 60.0
    }
    /// Seconds for an empty bucket to fill (the `w` of `RateLimit-Policy`).
    pub(crate) fn window_secs(&self) -> u64 {
        (f64::from(self.burst) / self.refill_per_sec()).ceil() as u64
    }
}

impl RateLimits {
    /// The class of a matched API route.
    pub(crate) fn class_of(&self, route: &str) -> ClassLimit {
        match route {
            "/api/v1/auth/login" | "/api/v1/auth/register" => self.auth,
            "/api/v1/auth/refresh" | "/api/v1/auth/logout" => self.refresh,
            _ => self.api,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    updated: Instant,
    /// When the bucket is full again: from then on it is the same as a fresh one.
    full_at: Instant,
    /// Dropped first once unused that long (`RATE_LIMIT_IDLE`), even if not full yet.
    idle: Duration,
}

/// What one check decided.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Verdict {
    pub allowed: bool,
    /// Whole tokens left after this request.
    pub remaining: u64,
    /// Seconds until the bucket is full again, rounded up.
    pub reset_secs: u64,
    /// Seconds until the next token, at least 1 (only meaningful when limited).
    pub retry_after_secs: u64,
}

/// At most this many local buckets (and leases) are kept; beyond it, idle ones, then the least
/// recently used, are dropped (see [`BoundedMap`]).
const MAX_BUCKETS: usize = 100_000;

impl Entry for Bucket {
    fn last_used(&self) -> Instant {
        self.updated
    }
    fn is_stale(&self, now: Instant) -> bool {
        now >= self.full_at || now.saturating_duration_since(self.updated) >= self.idle
    }
}

/// Per-instance token buckets, used without Redis (or while it is down).
pub struct LocalBuckets {
    buckets: BoundedMap<Bucket>,
    idle: Duration,
}

impl LocalBuckets {
    pub fn new(idle: Duration) -> Self {
        Self { buckets: BoundedMap::new(MAX_BUCKETS), idle }
    }

    /// Buckets held now (never above [`MAX_BUCKETS`]).
    pub fn len(&self) -> usize {
        self.buckets.len()
    }

    /// Whether no bucket is held.
    pub fn is_empty(&self) -> bool {
        self.buckets.is_empty()
    }

    /// Takes one token from the bucket `key` of `class`, if there is one.
    pub fn check(&self, class: ClassLimit, key: &str, now: Instant) -> Verdict {
        let burst = f64::from(class.burst.max(1));
        let rate = class.refill_per_sec().max(f64::MIN_POSITIVE);
        let fresh = || Bucket { tokens: burst, updated: now, full_at: now, idle: self.idle };
        self.buckets.with(&format!("{}:{key}", class.name), now, fresh, |bucket| {
            let elapsed = now.saturating_duration_since(bucket.updated).as_secs_f64();
            bucket.tokens = (bucket.tokens + elapsed * rate).min(burst);
            bucket.updated = bucket.updated.max(now);
            let allowed = bucket.tokens >= 1.0;
            if allowed {
                bucket.tokens -= 1.0;
            }
            let refill = Duration::try_from_secs_f64((burst - bucket.tokens) / rate).unwrap_or(Duration::MAX);
            bucket.full_at = now.checked_add(refill).unwrap_or(bucket.updated + bucket.idle);
            Verdict {
                allowed,
                remaining: bucket.tokens.floor() as u64,
                reset_secs: ((burst - bucket.tokens) / rate).ceil() as u64,
                retry_after_secs: (((1.0 - bucket.tokens) / rate).ceil() as u64).max(1),
            }
        })
    }
}

/// A lease covers about this much of the key's recent traffic on this instance, so Redis is
/// called about ten times a second per busy key, and a lease left unspent is small.
const LEASE_SPAN_SECS: f64 = 0.1;

/// The window over which a key's request rate on this instance is counted.
const RATE_WINDOW: Duration = Duration::from_secs(1);

/// Takes up to ARGV[4] tokens from the bucket at KEYS[1] (a hash of tokens and the time they
/// were counted). ARGV: burst, refill per ms, now in ms, wanted, TTL in ms. Returns
/// {granted, tokens left (string), ms until the next token}.
const TAKE_SCRIPT: &str = r#"
local burst = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local want = tonumber(ARGV[4])
local state = redis.call('HMGET', KEYS[1], 't', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil then tokens = burst; ts = now end
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate)
local granted = math.min(want, math.floor(tokens))
tokens = tokens - granted
redis.call('HSET', KEYS[1], 't', tostring(tokens), 'ts', tostring(math.max(now, ts)))
redis.call('PEXPIRE', KEYS[1], ARGV[5])
local wait = 0
if tokens < 1 then wait = math.ceil((1 - tokens) / rate) end
return {granted, tostring(tokens), wait}
"#;

/// This instance's share of one shared bucket. Tokens taken from Redis stay here until spent
/// (they do not lapse), so at most one lease per instance and key is ever held back from the
/// client; the lease is sized from the key's recent rate on this instance.
struct KeyLease {
    state: Mutex<LeaseState>,
    /// Single flight: while one request of the key takes a lease, the others wait for it
    /// instead of draining the shared bucket with leases of their own.
    refill: tokio::sync::Mutex<()>,
}

#[derive(Debug)]
struct LeaseState {
    tokens: u64,
    /// The shared bucket's level right after the last lease was taken.
    shared_left: f64,
    /// Set after a 429: answer 429 locally until then.
    limited_until: Option<Instant>,
    last_used: Instant,
    window_start: Instant,
    this_window: u64,
    last_window: u64,
}

impl KeyLease {
    fn new(now: Instant) -> Self {
        Self {
            state: Mutex::new(LeaseState {
                tokens: 0,
                shared_left: 0.0,
                limited_until: None,
                last_used: now,
                window_start: now,
                this_window: 0,
                last_window: 0,
            }),
            refill: tokio::sync::Mutex::new(()),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, LeaseState> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Counts one request (`count`) and answers it from the lease or a recent 429, if it can.
    fn try_spend(&self, class: ClassLimit, now: Instant, count: bool) -> Option<Verdict> {
        let mut state = self.state();
        state.last_used = state.last_used.max(now);
        if count {
            let elapsed = now.saturating_duration_since(state.window_start);
            if elapsed >= RATE_WINDOW {
                state.last_window = if elapsed >= RATE_WINDOW * 2 { 0 } else { state.this_window };
                state.this_window = 0;
                state.window_start = now;
            }
            state.this_window += 1;
        }
        if state.tokens > 0 {
            state.tokens -= 1;
            return Some(shared_verdict(class, state.shared_left + state.tokens as f64, true, 1));
        }
        match state.limited_until {
            Some(until) if until > now => {
                Some(shared_verdict(class, state.shared_left, false, ceil_secs(until - now).max(1)))
            }
            _ => None,
        }
    }

    /// Tokens to ask for: the key's recent traffic here over [`LEASE_SPAN_SECS`], at least one,
    /// at most a tenth of the burst.
    fn lease_size(&self, class: ClassLimit) -> u64 {
        let state = self.state();
        let per_sec = state.last_window.max(state.this_window) as f64 / RATE_WINDOW.as_secs_f64();
        let cap = u64::from((class.burst / 10).max(1));
        ((per_sec * LEASE_SPAN_SECS).ceil() as u64).clamp(1, cap)
    }

    /// Stores what Redis granted and answers the request that asked.
    fn granted(&self, class: ClassLimit, want: u64, granted: u64, shared_left: f64, now: Instant) -> Verdict {
        let mut state = self.state();
        state.shared_left = shared_left;
        if granted == 0 {
            // Come back when the whole lease has refilled: the tokens wait in Redis meanwhile,
            // and this key costs a Redis call per lease rather than per token.
            let rate_ms = class.refill_per_sec() / 1000.0;
            let wait_ms = ((want as f64 - shared_left).max(1.0) / rate_ms.max(f64::MIN_POSITIVE)).ceil();
            let retry = Duration::from_millis((wait_ms as u64).max(1));
            state.limited_until = Some(now + retry);
            return shared_verdict(class, shared_left, false, ceil_secs(retry));
        }
        state.limited_until = None;
        state.tokens += granted - 1;
        shared_verdict(class, shared_left + state.tokens as f64, true, 1)
    }
}

impl Entry for Arc<KeyLease> {
    fn last_used(&self) -> Instant {
        self.state().last_used
    }
    /// Holds no tokens and no 429. (A lease evicted with tokens loses at most one lease.)
    fn is_stale(&self, now: Instant) -> bool {
        let state = self.state();
        state.tokens == 0 && state.limited_until.is_none_or(|until| until <= now)
    }
}

/// The limiter: shared buckets through Redis when available, local buckets otherwise.
pub struct RateLimiter {
    local: LocalBuckets,
    redis: Option<RedisHandle>,
    leases: BoundedMap<Arc<KeyLease>>,
    script: Script,
}

impl RateLimiter {
    pub fn new(idle: Duration, redis: Option<RedisHandle>) -> Self {
        Self {
            local: LocalBuckets::new(idle),
            redis,
            leases: BoundedMap::new(MAX_BUCKETS),
            script: Script::new(TAKE_SCRIPT),
        }
    }

    /// One request's verdict for `key` in `class`.
    pub async fn check(&self, class: ClassLimit, key: &str) -> Verdict {
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        self.check_at(class, key, Instant::now(), now_ms).await
    }

    /// [`RateLimiter::check`] at a given moment: `now` for this instance, `now_ms` (Unix
    /// milliseconds) for the shared bucket. Tests drive time through it.
    pub async fn check_at(&self, class: ClassLimit, key: &str, now: Instant, now_ms: u64) -> Verdict {
        let Some(redis) = &self.redis else {
            return self.local.check(class, key, now);
        };
        let bucket = format!("rate_limit:{}:{key}", class.name);
        let lease = self.leases.with(&bucket, now, || Arc::new(KeyLease::new(now)), |lease| lease.clone());
        if let Some(verdict) = lease.try_spend(class, now, true) {
            return verdict;
        }
        let _single_flight = lease.refill.lock().await;
        if let Some(verdict) = lease.try_spend(class, now, false) {
            return verdict;
        }
        let want = lease.lease_size(class);
        let rate_ms = class.refill_per_sec() / 1000.0;
        let ttl_ms = class.window_secs().saturating_mul(1000).saturating_add(60_000);
        let script = &self.script;
        let name = bucket.clone();
        let result = redis
            .call(CallKind::Read, |mut conn| async move {
                script
                    .key(&name)
                    .arg(class.burst)
                    .arg(rate_ms)
                    .arg(now_ms)
                    .arg(want)
                    .arg(ttl_ms)
                    .invoke_async::<(u64, String, u64)>(&mut conn)
                    .await
            })
            .await;
        match result {
            Ok((granted, left, _wait_ms)) => {
                metrics::gauge!(names::RATE_LIMIT_FALLBACK_ACTIVE).set(0.0);
                let shared_left: f64 = left.parse().unwrap_or(0.0);
                lease.granted(class, want, granted.min(want), shared_left, now)
            }
            Err(e) => {
                if !e.is_unavailable() {
                    tracing::warn!(error = %e, "rate-limit script failed; using the local bucket");
                }
                metrics::gauge!(names::RATE_LIMIT_FALLBACK_ACTIVE).set(1.0);
                self.local.check(class, key, now)
            }
        }
    }

    /// Local buckets held now (used without Redis).
    pub fn local_buckets(&self) -> &LocalBuckets {
        &self.local
    }
}

/// A verdict from the level of the shared bucket as this instance sees it.
fn shared_verdict(class: ClassLimit, level: f64, allowed: bool, retry_after_secs: u64) -> Verdict {
    let rate = class.refill_per_sec().max(f64::MIN_POSITIVE);
    Verdict {
        allowed,
        remaining: level.max(0.0).floor() as u64,
        reset_secs: ((f64::from(class.burst) - level).max(0.0) / rate).ceil() as u64,
        retry_after_secs: retry_after_secs.max(1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const API: ClassLimit = ClassLimit { name: "api", rpm: 6, burst: 10 };

    #[test]
    fn a_burst_then_refill_at_rpm_over_60() {
        let buckets = LocalBuckets::new(Duration::from_secs(600));
        let t0 = Instant::now();
        for expected in (0..10).rev() {
            let v = buckets.check(API, "user:a", t0);
            assert!(v.allowed);
            assert_eq!(v.remaining, expected);
        }
        let limited = buckets.check(API, "user:a", t0);
        assert!(!limited.allowed);
        assert_eq!(limited.retry_after_secs, 10);
        assert!(buckets.check(API, "user:b", t0).allowed, "buckets are per key");
        assert!(buckets.check(API, "user:a", t0 + Duration::from_secs(10)).allowed);
        assert_eq!(API.window_secs(), 100);
    }

    /// Defect: the fallback map grew past its cap (its only eviction dropped idle buckets, and
    /// none are idle under a flood) and rescanned itself under the lock on every request.
    #[test]
    fn two_hundred_thousand_client_keys_leave_the_local_map_bounded() {
        let buckets = LocalBuckets::new(Duration::from_secs(600));
        let t0 = Instant::now();
        for i in 0..200_000u64 {
            let now = t0 + Duration::from_micros(i);
            assert!(buckets.check(API, &format!("ip:{i}"), now).allowed);
        }
        assert!(buckets.len() <= MAX_BUCKETS, "{} buckets", buckets.len());
        // A client that keeps coming is still limited: its bucket survived the flood.
        let now = t0 + Duration::from_secs(1);
        let verdicts: Vec<bool> = (0..11).map(|_| buckets.check(API, "ip:199999", now).allowed).collect();
        assert_eq!(verdicts.iter().filter(|allowed| **allowed).count(), 9, "{verdicts:?}");
    }
}
