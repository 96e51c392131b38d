//! Rate limiting (SPEC §7.5): a token bucket per (class, client key), in process.
//!
//! The client key is `user:<uuid>` when the bearer token passes the signature and claim checks
//! (no database involved), otherwise `ip:<client ip>` (IPv6 reduced to its /64). Every answer
//! on a limited route carries the `RateLimit-*` headers; a 429 adds `Retry-After`.

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
use taskify_core::auth::throttle::ip_key;

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
    let verdict = state.rate_limiter.check(class, &key, Instant::now());
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
