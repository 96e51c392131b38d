//! The shared (Redis) rate limiter, across limits from 10/min to 10^8/min, with two instances on
//! one private Redis and a simulated clock (`RateLimiter::check_at`), so every assertion counts
//! verdicts and none depends on how fast the machine is.
//!
//! A client at half its limit never sees a 429; a client at twice its limit is admitted exactly
//! as far as its bucket allows, minus at most one lease per instance (plus one lease's worth
//! that may still be refilling in Redis when the count stops). Before, leases of a tenth of the
//! burst lapsed after a second mostly unspent, so at high limits most requests were refused.

use std::time::{Duration, Instant};

use taskify_server::config::ClassLimit;
use taskify_server::http::rate_limit::RateLimiter;

use crate::helpers::eventually;
use crate::redis::RedisServer;

const INSTANCES: usize = 2;
const LIMITS_PER_MINUTE: [u32; 5] = [10, 600, 60_000, 6_000_000, 100_000_000];

/// `INSTANCES` limiters on `redis`, with the caches that own their connections.
async fn instances(redis: &RedisServer) -> (Vec<taskify_cache::Cache>, Vec<RateLimiter>) {
    let url = redis.url();
    let config = taskify_server::Config::from_lookup(move |key| match key {
        "REDIS_URL" => Some(url.clone()),
        "REDIS_READ_TIMEOUT" | "REDIS_WRITE_TIMEOUT" => Some("2s".to_owned()),
        _ => None,
    })
    .expect("a valid configuration");
    let mut caches = Vec::new();
    let mut limiters = Vec::new();
    for _ in 0..INSTANCES {
        let cache = taskify_server::app::build_cache(&config).await.expect("a cache on Redis");
        eventually("the cache to reach Redis", Duration::from_secs(15), || async {
            cache.redis_connected().then_some(())
        })
        .await;
        limiters.push(RateLimiter::new(Duration::from_secs(600), cache.redis()));
        caches.push(cache);
    }
    (caches, limiters)
}

/// The simulated span of a run: some ten thousand checks, at most two minutes, and
/// (with `drain`) at least twice the time the burst takes to refill, so the bucket runs dry.
fn span(class: ClassLimit, drain: bool) -> Duration {
    let rate = f64::from(class.rpm) / 60.0;
    let mut seconds = (20_000.0 / rate).min(120.0);
    if drain {
        seconds = seconds.max((2.0 * f64::from(class.burst) / rate).min(120.0));
    }
    Duration::from_secs_f64(seconds)
}

/// Sends requests at `per_sec` (simulated) for `span`, alternating instances, and returns how
/// many were admitted and how many refused.
async fn run(limiters: &[RateLimiter], class: ClassLimit, per_sec: f64, span: Duration) -> (u64, u64) {
    let key = format!("user:{}", uuid::Uuid::new_v4());
    let t0 = Instant::now();
    let ms0 = u64::try_from(chrono::Utc::now().timestamp_millis()).expect("a positive time");
    let count = (per_sec * span.as_secs_f64()).floor() as u64;
    let (mut admitted, mut refused) = (0, 0);
    for i in 0..count {
        let offset = Duration::from_secs_f64(i as f64 / per_sec);
        let limiter = &limiters[(i as usize) % limiters.len()];
        let millis = u64::try_from(offset.as_millis()).expect("a short span");
        let verdict = limiter.check_at(class, &key, t0 + offset, ms0 + millis).await;
        if verdict.allowed {
            admitted += 1;
        } else {
            refused += 1;
        }
    }
    (admitted, refused)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_at_half_its_limit_is_never_refused() {
    let redis = RedisServer::start().await;
    let (_caches, limiters) = instances(&redis).await;
    for rpm in LIMITS_PER_MINUTE {
        // A burst of a whole minute, as `RATE_LIMIT_BURST=RATE_LIMIT_RPM` configures.
        let class = ClassLimit { name: "api", rpm, burst: rpm };
        let rate = f64::from(rpm) / 60.0;
        let (admitted, refused) = run(&limiters, class, rate / 2.0, span(class, false)).await;
        assert_eq!(refused, 0, "{rpm}/min: a client at half its limit got {refused} 429s ({admitted} admitted)");
        assert!(admitted > 0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_at_twice_its_limit_is_admitted_at_its_limit_within_one_lease_per_instance() {
    let redis = RedisServer::start().await;
    let (_caches, limiters) = instances(&redis).await;
    for rpm in LIMITS_PER_MINUTE {
        // A burst of a tenth of a second of refill, so the bucket runs dry within the run.
        let class = ClassLimit { name: "api", rpm, burst: (rpm / 600).max(1) };
        let rate = f64::from(rpm) / 60.0;
        let span = span(class, true);
        let (admitted, refused) = run(&limiters, class, rate * 2.0, span).await;
        let last = span.as_secs_f64() - 1.0 / (rate * 2.0);
        let allowed = f64::from(class.burst) + rate * last;
        let lease = f64::from((class.burst / 10).max(1));
        // Redis counts time in whole milliseconds: up to one millisecond of refill per instance.
        let rounding = rate * 0.001 * INSTANCES as f64 + INSTANCES as f64;
        let floor = allowed - lease * (INSTANCES + 1) as f64 - rounding;
        assert!(refused > 0, "{rpm}/min: the limit applies");
        assert!(admitted as f64 <= allowed + 1.0, "{rpm}/min: {admitted} admitted, the bucket allows {allowed:.0}");
        assert!(
            admitted as f64 >= floor,
            "{rpm}/min: {admitted} admitted, the bucket allows {allowed:.0}, at least {floor:.0} expected"
        );
    }
}
