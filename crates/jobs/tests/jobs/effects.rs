//! The effects of each job type (docs/jobs.md#job-document, F3 and F5–F8), on local and Redis workers, and the
//! inspection body (F16).

use std::time::Duration;

use chrono::Utc;
use serde_json::json;
use taskify_cache::redis::AsyncCommands;
use taskify_jobs::{JobConfig, JobSystem, NewJob, Queue};

use crate::harness::{Namespace, Recorder, eventually, start};

/// A system with one local and one Redis worker.
fn both(cache: &taskify_cache::Cache, ns: &Namespace) -> JobSystem {
    start(cache, JobConfig { local_workers: 1, distributed_workers: 1, ..ns.job_config() })
}

#[tokio::test]
async fn warmup_writes_through_both_levels_with_its_ttl() {
    let ns = Namespace::new();
    let cache = ns.cache().await;
    let jobs = both(&cache, &ns);
    let e = jobs
        .enqueue(NewJob::warmup("test:key", json!({"test":"data"}), Duration::from_secs(900), 5))
        .await
        .expect("ok");
    assert_eq!(e.queue, Queue::Local);
    eventually("written", Duration::from_secs(2), || async { ns.l2("test:key").await.is_some() }).await;
    assert_eq!(ns.l2("test:key").await.as_deref(), Some(r#"{"test":"data"}"#));
    let pttl: i64 = ns.raw().await.pttl(ns.physical("test:key")).await.expect("PTTL");
    assert!(pttl > 0 && pttl <= 900_000, "{pttl}");
    assert_eq!(cache.get("test:key").await.as_deref(), Some(&br#"{"test":"data"}"#[..]), "L1 agrees");
    eventually("counted", Duration::from_secs(2), || async { jobs.stats().processed_jobs == 1 }).await;
    let stats = jobs.stats();
    assert_eq!(stats.local_worker_stats.jobs_processed, 1);
    assert_ne!(stats.local_worker_stats.total_duration, "0s");
    // Each scenario shuts its workers down and the next starts from a fresh Namespace: the tests
    // share a frame, not state, so each stays self-contained.
    jobs.shutdown().await;
}

#[tokio::test]
async fn batch_writes_every_key_on_either_queue() {
    let ns = Namespace::new();
    let cache = ns.cache().await;
    let jobs = both(&cache, &ns);
    let keys: Vec<String> = (1..=3).map(|i| format!("batch:{i}")).collect();
    let e = jobs.enqueue(NewJob::batch(keys.clone(), json!({}), Duration::from_secs(3600), 5)).await.expect("ok");
    assert_eq!(e.queue, Queue::Local);
    // Without local capacity, everything goes to Redis: the Redis worker runs this one.
    let redis_only = start(&cache, JobConfig { local_capacity: 0, distributed_workers: 1, ..ns.job_config() });
    let many: Vec<String> = (0..200).map(|i| format!("many:{i}")).collect();
    let e =
        redis_only.enqueue(NewJob::batch(many.clone(), json!([1.5]), Duration::from_secs(60), 5)).await.expect("ok");
    assert_eq!(e.queue, Queue::Redis);
    for key in keys {
        eventually("batch key set", Duration::from_secs(2), || async { ns.l2(&key).await.as_deref() == Some("{}") })
            .await;
    }
    for key in many {
        eventually("batch key set", Duration::from_secs(5), || async { ns.l2(&key).await.as_deref() == Some("[1.5]") })
            .await;
    }
    // Same shutdown-then-fresh-Namespace frame as the other job scenarios (here and in
    // ordering.rs).
    jobs.shutdown().await;
    redis_only.shutdown().await;
}

#[tokio::test]
async fn scheduled_jobs_wait_in_the_delayed_set_until_due() {
    let ns = Namespace::new();
    let cache = ns.cache().await;
    let recorder = Recorder::default();
    let jobs =
        start(&cache, JobConfig { distributed_workers: 1, before_execute: Some(recorder.hook()), ..ns.job_config() });
    let at = Utc::now() + chrono::Duration::milliseconds(800);
    let e = jobs.enqueue(NewJob::scheduled("sched", json!("v"), Duration::from_secs(60), at, 3)).await.expect("ok");
    assert_eq!(e.queue, Queue::Redis);
    let sizes = jobs.queue_sizes().await;
    assert!(sizes.redis_delayed >= Some(1), "F6: redis_delayed ≥ 1 ({sizes:?})");
    eventually("ran", Duration::from_secs(5), || async { ns.l2("sched").await.as_deref() == Some("\"v\"") }).await;
    let start = &recorder.starts()[0];
    assert!(start.at >= e.job.process_at, "ran at {} before {}", start.at, e.job.process_at);
    jobs.shutdown().await;
}

#[tokio::test]
async fn validation_rewarms_missing_and_mismatched_keys() {
    let ns = Namespace::new();
    let cache = ns.cache().await;
    let recorder = Recorder::default();
    let jobs = start(&cache, JobConfig { local_workers: 1, before_execute: Some(recorder.hook()), ..ns.job_config() });
    // F7 (1): absent key.
    jobs.enqueue(NewJob::validation("test:val", json!({"v":1}), Duration::from_secs(3600), 4)).await.expect("ok");
    eventually("corrected", Duration::from_secs(5), || async {
        ns.l2("test:val").await.as_deref() == Some(r#"{"v":1}"#)
    })
    .await;
    let warmup = recorder.starts().into_iter().find(|s| s.job.kind == "cache_warmup").expect("a warmup was enqueued");
    assert_eq!(warmup.job.priority, 4, "same priority");
    assert_eq!(warmup.job.payload["ttl"], "1h0m0s", "same ttl");

    // F7 (2): mismatch.
    jobs.enqueue(NewJob::warmup("test:val", json!({"v":2}), Duration::from_secs(60), 5)).await.expect("ok");
    eventually("v2", Duration::from_secs(5), || async { ns.l2("test:val").await.as_deref() == Some(r#"{"v":2}"#) })
        .await;
    jobs.enqueue(NewJob::validation("test:val", json!({"v":1}), Duration::from_secs(3600), 5)).await.expect("ok");
    eventually("corrected again", Duration::from_secs(5), || async {
        ns.l2("test:val").await.as_deref() == Some(r#"{"v":1}"#)
    })
    .await;

    // A match (numbers by value) enqueues nothing.
    let before = recorder.len();
    jobs.enqueue(NewJob::validation("test:val", json!({"v":1.0}), Duration::from_secs(3600), 5)).await.expect("ok");
    eventually("validated", Duration::from_secs(5), || async { recorder.len() == before + 1 }).await;
    eventually("settled", Duration::from_secs(5), || async { jobs.stats().processed_jobs == 6 }).await;
    assert_eq!(recorder.len(), before + 1, "no warmup for an equal value");
    // Same shutdown-then-fresh-Namespace frame as the other job scenarios.
    jobs.shutdown().await;
}

#[tokio::test]
async fn eviction_removes_a_key_or_every_glob_match() {
    let ns = Namespace::new();
    let cache = ns.cache().await;
    let jobs = both(&cache, &ns);
    for key in ["batch:1", "batch:2", "batch:3", "keep:1", "user:9"] {
        cache.set(key, "1", Duration::from_secs(60)).await;
    }
    jobs.enqueue(NewJob::evict_pattern("batch:*", 5)).await.expect("ok");
    jobs.enqueue(NewJob::evict_key("user:9", 5)).await.expect("ok");
    for key in ["batch:1", "batch:2", "batch:3", "user:9"] {
        eventually("evicted", Duration::from_secs(5), || async { cache.get(key).await.is_none() }).await;
        assert_eq!(ns.l2(key).await, None);
    }
    assert_eq!(ns.l2("keep:1").await.as_deref(), Some("1"));
    // Same shutdown-then-fresh-Namespace frame as the other job scenarios (here and in
    // failures.rs).
    jobs.shutdown().await;
}

#[tokio::test]
async fn inspection_lists_each_queue_in_execution_order() {
    let ns = Namespace::new();
    let cache = ns.cache().await;
    let jobs = start(&cache, ns.job_config());
    let ttl = Duration::from_secs(60);
    let l1 = jobs.enqueue(NewJob::warmup("l1", json!(1), ttl, 5)).await.expect("ok");
    let l2 = jobs.enqueue(NewJob::warmup("l2", json!(1), ttl, 2)).await.expect("ok");
    let r5 = jobs.enqueue(NewJob::scheduled("r5", json!(1), ttl, Utc::now(), 5)).await.expect("ok");
    let r1 = jobs.enqueue(NewJob::scheduled("r1", json!(1), ttl, Utc::now(), 1)).await.expect("ok");
    let d = jobs
        .enqueue(NewJob::scheduled("d", json!(1), ttl, Utc::now() + chrono::Duration::hours(1), 5))
        .await
        .expect("ok");
    let queue = jobs.redis_queue().expect("redis");
    let leased = match queue.claim("inspector", Duration::from_secs(30)).await.expect("claim") {
        taskify_jobs::Claim::Claimed(c) => c.job.expect("job"),
        other => panic!("{other:?}"),
    };
    assert_eq!(leased.id, r1.job.id);

    let inspection = jobs.inspect(5).await;
    let ids = |jobs: &[taskify_jobs::Job]| jobs.iter().map(|j| j.id).collect::<Vec<_>>();
    assert!(inspection.redis_available);
    assert_eq!(ids(&inspection.local), [l2.job.id, l1.job.id]);
    assert_eq!(ids(&inspection.ready), [r5.job.id]);
    assert_eq!(ids(&inspection.delayed), [d.job.id]);
    assert_eq!(ids(&inspection.processing), [r1.job.id]);
    let body = serde_json::to_value(&inspection).expect("json");
    assert_eq!(body["processing"][0]["worker_id"], "inspector");
    assert!(body["processing"][0]["lease_expires_at"].is_string());
    assert!(body["delayed"][0]["process_at"].is_string());
    assert!(body["ready"][0].get("worker_id").is_none(), "lease members only in processing");
    assert_eq!(
        body["queue_sizes"],
        json!({"local": 2, "redis_immediate": 1, "redis_delayed": 1, "redis_processing": 1, "redis_dead_letter": 0})
    );
    assert_eq!(jobs.inspect(1).await.local.len(), 1, "limit applies per list");
    jobs.shutdown().await;
}
