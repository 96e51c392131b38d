//! The metrics of docs/operations.md#metrics, captured with a thread-local debugging recorder on a
//! current-thread runtime (so background tasks report to it too).

use std::time::Duration;

use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use metrics_util::{CompositeKey, MetricKind};
use taskify_cache::{BreakerConfig, Cache, CacheConfig, CircuitBreaker};

#[derive(Debug, PartialEq)]
enum Value {
    Counter(u64),
    Gauge(f64),
    Histogram,
}

fn find(
    snapshot: &[(CompositeKey, Option<metrics::Unit>, Option<metrics::SharedString>, DebugValue)],
    kind: MetricKind,
    name: &str,
    labels: &[(&str, &str)],
) -> Option<Value> {
    snapshot.iter().find_map(|(key, _, _, value)| {
        let k = key.key();
        let matches = key.kind() == kind
            && k.name() == name
            && labels.iter().all(|(n, v)| k.labels().any(|l| l.key() == *n && l.value() == *v));
        matches.then(|| match value {
            DebugValue::Counter(n) => Value::Counter(*n),
            DebugValue::Gauge(g) => Value::Gauge(g.into_inner()),
            DebugValue::Histogram(_) => Value::Histogram,
        })
    })
}

fn snapshot(s: &Snapshotter) -> Vec<(CompositeKey, Option<metrics::Unit>, Option<metrics::SharedString>, DebugValue)> {
    s.snapshot().into_vec()
}

#[test]
fn breaker_transitions_and_cache_operations_are_counted() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    metrics::with_local_recorder(&recorder, || {
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
    let snap = snapshot(&snapshotter);
    assert_eq!(
        find(
            &snap,
            MetricKind::Counter,
            "circuit_breaker_transitions_total",
            &[("name", "redis"), ("from", "closed"), ("to", "open")]
        ),
        Some(Value::Counter(1))
    );
    assert!(matches!(
        find(&snap, MetricKind::Gauge, "circuit_breaker_state", &[("name", "redis")]),
        Some(Value::Gauge(g)) if g == 0.0 || g == 2.0
    ));
    assert_eq!(
        find(
            &snap,
            MetricKind::Counter,
            "cache_operations_total",
            &[("level", "l1"), ("op", "get"), ("result", "hit")]
        ),
        Some(Value::Counter(1))
    );
    assert_eq!(find(&snap, MetricKind::Counter, "cache_hits_total", &[]), Some(Value::Counter(1)));
    assert_eq!(find(&snap, MetricKind::Counter, "cache_misses_total", &[]), Some(Value::Counter(1)));
    assert!(find(&snap, MetricKind::Gauge, "redis_up", &[]).is_none(), "absent without Redis");
}
