//! The job metrics of docs/operations.md#metrics, captured with a thread-local debugging recorder on a
//! current-thread runtime (so the workers report to it too).

use std::time::Duration;

use chrono::Utc;
use serde_json::json;
use taskify_jobs::{JobConfig, NewJob, format_timestamp};
use taskify_test_support::{MetricKind, MetricValue as Value, capture_polling};
use uuid::Uuid;

use crate::harness::{Namespace, document, eventually, start};

#[test]
fn job_metrics_are_recorded_with_type_and_queue_labels() {
    let ns = Namespace::new();
    let s = capture_polling(|peek| {
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
            // The housekeeping refreshes the queue gauges on its own schedule: wait for it to
            // have seen the three dead letters.
            eventually("the dlq gauge", Duration::from_secs(10), || async {
                peek().find(MetricKind::Gauge, "cache_jobs_queue_size", &[("queue", "dlq")]) == Some(Value::Gauge(3.0))
            })
            .await;
            jobs.shutdown().await;
            cache.shutdown().await;
        });
    });
    let wl = [("type", "cache_warmup"), ("queue", "local")];
    assert_eq!(s.counter("cache_jobs_enqueued_total", &wl), 2);
    assert_eq!(s.counter("cache_jobs_enqueued_total", &[("type", "cache_scheduled"), ("queue", "redis")]), 1);
    assert_eq!(s.counter("cache_jobs_processed_total", &wl), 1);
    assert_eq!(s.counter("cache_jobs_processed_total", &[("type", "cache_scheduled"), ("queue", "redis")]), 1);
    assert_eq!(s.counter("cache_jobs_failed_total", &wl), 2);
    // The bogus document says max_tries 3 itself.
    assert_eq!(s.counter("cache_jobs_failed_total", &[("type", "unknown"), ("queue", "redis")]), 3);
    assert_eq!(s.counter("cache_jobs_retried_total", &[("type", "cache_warmup")]), 1);
    assert_eq!(s.counter("cache_jobs_retried_total", &[("type", "unknown")]), 2);
    assert_eq!(s.counter("cache_jobs_dead_lettered_total", &[("type", "cache_warmup")]), 1);
    assert_eq!(s.counter("cache_jobs_dead_lettered_total", &[("type", "unknown")]), 1);
    assert_eq!(s.counter("cache_jobs_dead_lettered_total", &[("type", "cache_eviction")]), 1);
    assert_eq!(s.counter("cache_jobs_lease_expired_total", &[]), 1);
    assert_eq!(
        s.find(MetricKind::Histogram, "cache_job_duration_seconds", &[("type", "cache_warmup")]),
        Some(Value::Histogram)
    );
    for queue in taskify_jobs::telemetry::QUEUE_GAUGES {
        assert!(s.find(MetricKind::Gauge, "cache_jobs_queue_size", &[("queue", queue)]).is_some(), "{queue}");
    }
    assert_eq!(s.find(MetricKind::Gauge, "cache_jobs_queue_size", &[("queue", "dlq")]), Some(Value::Gauge(3.0)));
}
