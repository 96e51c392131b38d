//! The metrics of docs/operations.md#metrics, captured with a thread-local debugging recorder on a
//! current-thread runtime (so background tasks report to it too).

use std::time::Duration;

use taskify_cache::{BreakerConfig, Cache, CacheConfig, CircuitBreaker};
use taskify_test_support::{MetricKind, MetricValue as Value, capture};

#[test]
fn breaker_transitions_and_cache_operations_are_counted() {
    let snap = capture(|| {
        let breaker = CircuitBreaker::new(
            "redis",
            BreakerConfig { max_failures: 2, timeout: Duration::from_secs(30), ..BreakerConfig::default() },
        );
        breaker.try_acquire().expect("closed").failure();
        breaker.try_acquire().expect("closed").failure();

        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        rt.block_on(async {
            let cache = Cache::local(CacheConfig::default());
            cache.set("k", "v", Duration::from_secs(60)).await;
            assert!(cache.get("k").await.is_some());
            assert!(cache.get("missing").await.is_none());
            cache.shutdown().await;
        });
    });
    assert_eq!(
        snap.find(
            MetricKind::Counter,
            "circuit_breaker_transitions_total",
            &[("name", "redis"), ("from", "closed"), ("to", "open")]
        ),
        Some(Value::Counter(1))
    );
    assert!(matches!(
        snap.find(MetricKind::Gauge, "circuit_breaker_state", &[("name", "redis")]),
        Some(Value::Gauge(g)) if g == 0.0 || g == 2.0
    ));
    assert_eq!(
        snap.find(MetricKind::Counter, "cache_operations_total", &[("level", "l1"), ("op", "get"), ("result", "hit")]),
        Some(Value::Counter(1))
    );
    assert_eq!(snap.find(MetricKind::Counter, "cache_hits_total", &[]), Some(Value::Counter(1)));
    assert_eq!(snap.find(MetricKind::Counter, "cache_misses_total", &[]), Some(Value::Counter(1)));
    assert!(snap.find(MetricKind::Gauge, "redis_up", &[]).is_none(), "absent without Redis");
}
