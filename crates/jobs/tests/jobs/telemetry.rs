//! The job metrics of docs/operations.md#metrics, captured with a thread-local debugging recorder on a
//! current-thread runtime (so the workers report to it too).

use std::time::Duration;

use chrono::Utc;
use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use metrics_util::{CompositeKey, MetricKind};
use serde_json::json;
use taskify_jobs::{JobConfig, NewJob, format_timestamp};
use uuid::Uuid;

use crate::harness::{Namespace, document, eventually, start};

type Snapshot = Vec<(CompositeKey, Option<metrics::Unit>, Option<metrics::SharedString>, DebugValue)>;

#[derive(Debug, PartialEq)]
enum Value {
    Counter(u64),
    Gauge(f64),
    Histogram,
}

fn find(snapshot: &Snapshot, kind: MetricKind, name: &str, labels: &[(&str, &str)]) -> Option<Value> {
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

fn counter(snapshot: &Snapshot, name: &str, labels: &[(&str, &str)]) -> u64 {
    match find(snapshot, MetricKind::Counter, name, labels) {
        Some(Value::Counter(n)) => n,
        _ => 0,
    }
}

#[test]
fn job_metrics_are_recorded_with_type_and_queue_labels() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let ns = Namespace::new();
    metrics::with_local_recorder(&recorder, || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        rt.block_on(async {
            let cache = ns.cache().await;
            let config = JobConfig {
                local_workers: 1,
                distributed_workers: 1,
                max_tries: 2,
                retry_backoff: Duration::from_millis(10),
                reap_interval: Duration::from_millis(100),
                ..ns.job_config()
            };
            let jobs = start(&cache, config);
            let keys = ns.keys();
            let ttl = Duration::from_secs(60);
            jobs.enqueue(NewJob::warmup("ok", json!(1), ttl, 5)).await.expect("ok");
            jobs.enqueue(NewJob::warmup("task:1", json!(1), ttl, 5)).await.expect("ok");
            jobs.enqueue(NewJob::scheduled("sched", json!(1), ttl, Utc::now(), 5)).await.expect("ok");
            ns.zadd(&keys.ready, &document(Uuid::new_v4(), "bogus", json!({}), 5), 0).await;
            let mut expired: serde_json::Value =
                serde_json::from_str(&document(Uuid::new_v4(), "cache_eviction", json!({"key":"x"}), 5)).expect("json");
            expired["attempts"] = json!(3);
            expired["lease_expires_at"] = json!(format_timestamp(Utc::now()));
            ns.zadd(&keys.processing, &expired.to_string(), 1).await;
            eventually("settled", Duration::from_secs(10), || async {
                let s = jobs.stats();
                s.processed_jobs == 2 && s.dead_lettered_jobs == 3
            })
            .await;
            // Let the housekeeping refresh the gauges once more.
            tokio::time::sleep(Duration::from_millis(1100)).await;
            jobs.shutdown().await;
            cache.shutdown().await;
        });
    });
    let s: Snapshot = snapshotter.snapshot().into_vec();
    let wl = [("type", "cache_warmup"), ("queue", "local")];
    assert_eq!(counter(&s, "cache_jobs_enqueued_total", &wl), 2);
    assert_eq!(counter(&s, "cache_jobs_enqueued_total", &[("type", "cache_scheduled"), ("queue", "redis")]), 1);
    assert_eq!(counter(&s, "cache_jobs_processed_total", &wl), 1);
    assert_eq!(counter(&s, "cache_jobs_processed_total", &[("type", "cache_scheduled"), ("queue", "redis")]), 1);
    assert_eq!(counter(&s, "cache_jobs_failed_total", &wl), 2);
    // The bogus document says max_tries 3 itself.
    assert_eq!(counter(&s, "cache_jobs_failed_total", &[("type", "unknown"), ("queue", "redis")]), 3);
    assert_eq!(counter(&s, "cache_jobs_retried_total", &[("type", "cache_warmup")]), 1);
    assert_eq!(counter(&s, "cache_jobs_retried_total", &[("type", "unknown")]), 2);
    assert_eq!(counter(&s, "cache_jobs_dead_lettered_total", &[("type", "cache_warmup")]), 1);
    assert_eq!(counter(&s, "cache_jobs_dead_lettered_total", &[("type", "unknown")]), 1);
    assert_eq!(counter(&s, "cache_jobs_dead_lettered_total", &[("type", "cache_eviction")]), 1);
    assert_eq!(counter(&s, "cache_jobs_lease_expired_total", &[]), 1);
    assert_eq!(
        find(&s, MetricKind::Histogram, "cache_job_duration_seconds", &[("type", "cache_warmup")]),
        Some(Value::Histogram)
    );
    for queue in taskify_jobs::telemetry::QUEUE_GAUGES {
        assert!(find(&s, MetricKind::Gauge, "cache_jobs_queue_size", &[("queue", queue)]).is_some(), "{queue}");
    }
    assert_eq!(find(&s, MetricKind::Gauge, "cache_jobs_queue_size", &[("queue", "dlq")]), Some(Value::Gauge(3.0)));
}
