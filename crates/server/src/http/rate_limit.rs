//! Rate limiting (SPEC §7.5): a token bucket per (class, client key).
//!
//! The client key is `user:<uuid>` when the bearer token passes the signature and claim checks
//! (no database involved), otherwise `ip:<client ip>` (IPv6 reduced to its /64). Every answer
//! on a limited route carries the `RateLimit-*` headers; a 429 adds `Retry-After`.
//!
//! With Redis the bucket is shared by every instance: one script call takes a *lease* of
//! `max(1, burst / 10)` tokens that this instance then spends locally for at most a second, so
//! no client is admitted beyond the shared bucket and Redis is not called once per request at
//! high limits. After a 429 the instance answers 429 for that key locally until `Retry-After`.
//! While Redis is unavailable each instance falls back to its own buckets.

use super::extract::ClientIp;
use super::problem::Problem;
use super::state::AppState;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use taskify_cache::redis::Script;
use taskify_cache::{CallKind, RedisHandle};
use taskify_core::auth::throttle::{ceil_secs, ip_key};

/// A route class with its bucket parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClassLimit {
    pub name: &'static str,
    pub rpm: u32,
    pub burst: u32,
}

impl ClassLimit {
    fn refill_per_sec(&self) -> f64 {
        f64::from(self.rpm) / 60.0
    }
    /// Seconds for an empty bucket to fill (the `w` of `RateLimit-Policy`).
    fn window_secs(&self) -> u64 {
        (f64::from(self.burst) / self.refill_per_sec()).ceil() as u64
    }
}

/// The three limited classes.
#[derive(Debug, Clone, Copy)]
pub struct RateLimits {
    pub enabled: bool,
    pub auth: ClassLimit,
    pub refresh: ClassLimit,
    pub api: ClassLimit,
    pub idle: Duration,
}

impl RateLimits {
    /// The class of a matched API route.
    fn class_of(&self, route: &str) -> ClassLimit {
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

/// At most this many local buckets are kept; beyond it, idle ones are dropped first.
const MAX_BUCKETS: usize = 100_000;

/// Per-instance token buckets.
pub struct LocalBuckets {
    buckets: Mutex<HashMap<String, Bucket>>,
    idle: Duration,
}

impl LocalBuckets {
    pub fn new(idle: Duration) -> Self {
        Self { buckets: Mutex::new(HashMap::new()), idle }
    }

    /// Takes one token from the bucket `key` of `class`, if there is one.
    pub fn check(&self, class: ClassLimit, key: &str, now: Instant) -> Verdict {
        let mut buckets = self.buckets.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if buckets.len() >= MAX_BUCKETS {
            let idle = self.idle;
            buckets.retain(|_, b| now.duration_since(b.updated) < idle);
        }
        let burst = f64::from(class.burst.max(1));
        let rate = class.refill_per_sec().max(f64::MIN_POSITIVE);
        let bucket = buckets.entry(format!("{}:{key}", class.name)).or_insert(Bucket { tokens: burst, updated: now });
        bucket.tokens = (bucket.tokens + now.duration_since(bucket.updated).as_secs_f64() * rate).min(burst);
        bucket.updated = now;
        let allowed = bucket.tokens >= 1.0;
        if allowed {
            bucket.tokens -= 1.0;
        }
        Verdict {
            allowed,
            remaining: bucket.tokens.floor() as u64,
            reset_secs: ((burst - bucket.tokens) / rate).ceil() as u64,
            retry_after_secs: (((1.0 - bucket.tokens) / rate).ceil() as u64).max(1),
        }
    }
}

fn set(headers: &mut HeaderMap, name: &'static str, value: String) {
    if let Ok(v) = HeaderValue::from_str(&value) {
        headers.insert(HeaderName::from_static(name), v);
    }
}

/// How long an unspent lease may be used.
const LEASE_LIFETIME: Duration = Duration::from_secs(1);

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
redis.call('HSET', KEYS[1], 't', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], ARGV[5])
local wait = 0
if tokens < 1 then wait = math.ceil((1 - tokens) / rate) end
return {granted, tostring(tokens), wait}
"#;

/// Tokens this instance took from the shared bucket and has not spent yet.
#[derive(Debug, Clone, Copy)]
struct Lease {
    tokens: u64,
    /// The shared bucket's level right after the lease was taken.
    shared_left: f64,
    until: Instant,
    /// Set after a 429: answer 429 locally until then.
    limited_until: Option<Instant>,
}

/// The limiter: shared buckets through Redis when available, local buckets otherwise.
pub struct RateLimiter {
    local: LocalBuckets,
    redis: Option<RedisHandle>,
    leases: Mutex<HashMap<String, Lease>>,
    script: Script,
}

impl RateLimiter {
    pub fn new(idle: Duration, redis: Option<RedisHandle>) -> Self {
        Self {
            local: LocalBuckets::new(idle),
            redis,
            leases: Mutex::new(HashMap::new()),
            script: Script::new(TAKE_SCRIPT),
        }
    }

    fn leases(&self) -> std::sync::MutexGuard<'_, HashMap<String, Lease>> {
        self.leases.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// One request's verdict for `key` in `class`.
    pub async fn check(&self, class: ClassLimit, key: &str) -> Verdict {
        let now = Instant::now();
        let Some(redis) = &self.redis else {
            return self.local.check(class, key, now);
        };
        let bucket = format!("rate_limit:{}:{key}", class.name);
        let rate_ms = class.refill_per_sec() / 1000.0;
        if let Some(verdict) = self.spend_lease(&bucket, class, now) {
            return verdict;
        }
        let want = u64::from((class.burst / 10).max(1));
        let ttl_ms = class.window_secs().saturating_mul(1000).saturating_add(60_000);
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
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
            Ok((granted, left, wait_ms)) => {
                metrics::gauge!("rate_limit_fallback_active").set(0.0);
                let shared_left: f64 = left.parse().unwrap_or(0.0);
                self.after_take(&bucket, class, granted, shared_left, wait_ms, now)
            }
            Err(e) => {
                if !e.is_unavailable() {
                    tracing::warn!(error = %e, "rate-limit script failed; using the local bucket");
                }
                metrics::gauge!("rate_limit_fallback_active").set(1.0);
                self.local.check(class, key, now)
            }
        }
    }

    /// Spends a token of a live lease, or answers a recent 429 again, without calling Redis.
    fn spend_lease(&self, bucket: &str, class: ClassLimit, now: Instant) -> Option<Verdict> {
        let mut leases = self.leases();
        let lease = leases.get_mut(bucket)?;
        if let Some(until) = lease.limited_until {
            if until > now {
                let secs = ceil_secs(until - now).max(1);
                return Some(Verdict {
                    allowed: false,
                    remaining: 0,
                    reset_secs: class.window_secs(),
                    retry_after_secs: secs,
                });
            }
            leases.remove(bucket);
            return None;
        }
        if lease.until <= now || lease.tokens == 0 {
            leases.remove(bucket);
            return None;
        }
        lease.tokens -= 1;
        Some(shared_verdict(class, lease.shared_left + lease.tokens as f64, true, 1))
    }

    fn after_take(
        &self,
        bucket: &str,
        class: ClassLimit,
        granted: u64,
        shared_left: f64,
        wait_ms: u64,
        now: Instant,
    ) -> Verdict {
        let mut leases = self.leases();
        if leases.len() >= MAX_BUCKETS {
            leases.retain(|_, l| l.until > now || l.limited_until.is_some_and(|u| u > now));
        }
        if granted == 0 {
            let retry = Duration::from_millis(wait_ms.max(1));
            leases.insert(
                bucket.to_owned(),
                Lease { tokens: 0, shared_left, until: now, limited_until: Some(now + retry) },
            );
            return shared_verdict(class, shared_left, false, ceil_secs(retry));
        }
        let unspent = granted - 1;
        if unspent > 0 {
            leases.insert(
                bucket.to_owned(),
                Lease { tokens: unspent, shared_left, until: now + LEASE_LIFETIME, limited_until: None },
            );
        }
        shared_verdict(class, shared_left + unspent as f64, true, 1)
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

/// The limiting middleware for matched API routes.
pub async fn limit(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let limits = &state.config.rate_limits;
    if !limits.enabled {
        return next.run(request).await;
    }
    let route = request.extensions().get::<MatchedPath>().map_or("", |m| m.as_str());
    let class = limits.class_of(route);
    let authorization = request.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    let key = match state.services.auth.verify_access_token(authorization) {
        Ok(claims) if class.name == "api" => format!("user:{}", claims.user_id),
        _ => {
            let ip = request.extensions().get::<ClientIp>().map(|ip| ip.0.to_string()).unwrap_or_default();
            format!("ip:{}", ip_key(&ip))
        }
    };
    let verdict = state.rate_limiter.check(class, &key).await;
    let decision = if verdict.allowed { "allowed" } else { "limited" };
    metrics::counter!("rate_limit_decisions_total", "class" => class.name, "decision" => decision).increment(1);
    let mut response = if verdict.allowed {
        next.run(request).await
    } else {
        Problem {
            retry_after: Some(verdict.retry_after_secs),
            ..Problem::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", "rate limit exceeded")
        }
        .into_response()
    };
    let h = response.headers_mut();
    set(h, "ratelimit-limit", class.burst.to_string());
    set(h, "ratelimit-remaining", verdict.remaining.to_string());
    set(h, "ratelimit-reset", verdict.reset_secs.to_string());
    set(h, "ratelimit-policy", format!("{};w={};name=\"{}\"", class.burst, class.window_secs(), class.name));
    response
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
}
