//! Routing (docs/jobs.md#routing, F11), the 202 bodies (docs/jobs.md#endpoints) and the stats shapes (docs/cache.md#stats).

use std::time::Duration;

use chrono::Utc;
use serde_json::{Value, json};
use taskify_cache::{Cache, CacheConfig};
use taskify_jobs::{EnqueueError, JobConfig, NewJob, Queue};

use crate::harness::{Namespace, dead_redis_cache, open_breaker, start};

fn warmup(key: &str, priority: u8) -> NewJob {
    NewJob::warmup(key, json!({"k": key}), Duration::from_secs(60), priority)
}

fn scheduled_in(key: &str, seconds: i64, priority: u8) -> NewJob {
    NewJob::scheduled(key, json!(1), Duration::from_secs(60), Utc::now() + chrono::Duration::seconds(seconds), priority)
}

#[tokio::test]
async fn with_redis_the_rules_apply_in_order() {
    let ns = Namespace::new();
    let cache = ns.cache().await;
    let jobs = start(&cache, ns.job_config());

    // Rule 3: priority 1 stays local.
    assert_eq!(jobs.enqueue(warmup("p1", 1)).await.expect("accepted").queue, Queue::Local);
    // Rule 5 until more than JOB_LOCAL_THRESHOLD (5) jobs wait locally, then rule 4.
    for i in 0..5 {
        assert_eq!(jobs.enqueue(warmup(&format!("w{i}"), 5)).await.expect("accepted").queue, Queue::Local);
    }
    let overflow = jobs.enqueue(warmup("w5", 5)).await.expect("accepted");
    assert_eq!(overflow.queue, Queue::Redis, "6 waiting > 5");
    // Rule 3 still wins over rule 4.
    assert_eq!(jobs.enqueue(warmup("p1b", 1)).await.expect("accepted").queue, Queue::Local);
    // Rule 2: scheduled jobs go to Redis, delayed when due later, ready otherwise.
    let later = jobs.enqueue(scheduled_in("s1", 600, 3)).await.expect("accepted");
    let now = jobs.enqueue(scheduled_in("s2", -600, 3)).await.expect("accepted");
    assert_eq!((later.queue, now.queue), (Queue::Redis, Queue::Redis));
    assert!(now.job.process_at >= now.job.created_at, "a past process_at means now");

    let keys = ns.keys();
    let delayed = ns.zrange(&keys.delayed).await;
    assert_eq!(delayed.len(), 1);
    assert_eq!(delayed[0].1 as i64, later.job.process_at.timestamp_millis(), "delayed score = due ms (F6)");
    let ready: Vec<_> = ns.zjobs(&keys.ready).await.iter().map(|j| j.id).collect();
    assert_eq!(ready, vec![now.job.id, overflow.job.id], "priority 3 before priority 5");

    let sizes = jobs.queue_sizes().await;
    assert_eq!(
        serde_json::to_value(sizes).expect("json"),
        json!({"local": 7, "redis_immediate": 2, "redis_delayed": 1, "redis_processing": 0, "redis_dead_letter": 0})
    );
    let stats = jobs.stats();
    assert_eq!((stats.local_jobs, stats.distributed_jobs), (7, 3));
    jobs.shutdown().await;
}

#[tokio::test]
async fn priority_1_goes_to_redis_when_the_local_queue_is_full() {
    let ns = Namespace::new();
    let cache = ns.cache().await;
    let jobs = start(&cache, JobConfig { local_capacity: 2, local_threshold: 100, ..ns.job_config() });
    for i in 0..2 {
        assert_eq!(jobs.enqueue(warmup(&format!("w{i}"), 1)).await.expect("accepted").queue, Queue::Local);
    }
    assert_eq!(jobs.enqueue(warmup("w2", 1)).await.expect("accepted").queue, Queue::Redis);
    assert_eq!(jobs.enqueue(warmup("w3", 5)).await.expect("accepted").queue, Queue::Redis, "full local queue");
    jobs.shutdown().await;
}

#[tokio::test]
async fn with_redis_unavailable_everything_stays_local() {
    let ns = Namespace::new();
    let cache = ns.cache().await;
    open_breaker(&cache);
    let jobs = start(&cache, JobConfig { local_capacity: 3, ..ns.job_config() });

    let w = jobs.enqueue(warmup("w", 5)).await.expect("accepted");
    let s = jobs.enqueue(scheduled_in("s", 600, 5)).await.expect("accepted");
    assert_eq!((w.queue, s.queue), (Queue::Local, Queue::Local), "F11: Redis stopped → local and local");
    let inspection = jobs.inspect(10).await;
    assert!(!inspection.redis_available);
    assert_eq!(inspection.local.iter().map(|j| j.id).collect::<Vec<_>>(), vec![w.job.id, s.job.id]);
    assert!(inspection.ready.is_empty() && inspection.delayed.is_empty() && inspection.processing.is_empty());
    assert_eq!(inspection.queue_sizes.redis_immediate, None);
    assert_eq!(jobs.stats().local_worker_stats.queue_length, 1, "the scheduled job waits in the delayed set");

    jobs.enqueue(warmup("x", 1)).await.expect("third fits");
    assert_eq!(jobs.enqueue(warmup("y", 1)).await, Err(EnqueueError::Full), "503: local full, Redis unavailable");
    assert!(ns.zrange(&ns.keys().ready).await.is_empty(), "nothing reached Redis");
    jobs.shutdown().await;
}

#[tokio::test]
async fn a_failed_redis_enqueue_is_retried_on_the_local_queue() {
    // Breaker still closed (5 failures needed), but nothing listens: the ZADD fails.
    let cache = dead_redis_cache(5).await;
    let jobs = start(&cache, JobConfig { local_workers: 0, distributed_workers: 0, ..JobConfig::default() });
    assert!(cache.redis_available());
    let s = jobs.enqueue(scheduled_in("s", 600, 5)).await.expect("accepted locally");
    assert_eq!(s.queue, Queue::Local);
    assert_eq!(jobs.queue_sizes().await.local, 1);
    jobs.shutdown().await;
}

#[tokio::test]
async fn without_redis_the_system_is_local_only() {
    let cache = Cache::local(CacheConfig::default());
    let jobs = start(&cache, JobConfig { local_workers: 0, local_capacity: 2, ..JobConfig::default() });
    assert_eq!(jobs.enqueue(scheduled_in("s", 600, 5)).await.expect("accepted").queue, Queue::Local);
    assert_eq!(jobs.enqueue(warmup("w", 5)).await.expect("accepted").queue, Queue::Local);
    assert_eq!(jobs.enqueue(warmup("x", 5)).await, Err(EnqueueError::Full));

    let stats = serde_json::to_value(jobs.stats()).expect("json");
    assert_eq!(stats["system_type"], "local_only");
    assert_eq!(stats["distributed_workers"], 0);
    assert_eq!(stats["redis_available"], false);
    assert_eq!(
        stats["local_worker_stats"],
        json!({"workers": 0, "running": true, "jobs_processed": 0, "total_errors": 0, "avg_duration": "0s",
               "total_duration": "0s", "queue_length": 1, "queue_capacity": 2})
    );
    for key in ["processed_jobs", "failed_jobs", "retry_jobs", "dead_lettered_jobs", "distributed_jobs", "local_jobs"] {
        assert!(stats[key].is_u64(), "{key}");
    }
    assert_eq!(
        serde_json::to_value(jobs.queue_sizes().await).expect("json"),
        json!({"local": 2, "redis_immediate": null, "redis_delayed": null, "redis_processing": null,
               "redis_dead_letter": null})
    );
    assert_eq!(jobs.mode(), "local_only");
    assert!(jobs.running());
    jobs.shutdown().await;
    assert!(!jobs.running());
}

#[tokio::test]
async fn accepted_bodies_carry_the_fields_of_each_endpoint() {
    let cache = Cache::local(CacheConfig::default());
    let jobs = start(&cache, JobConfig { local_workers: 0, ..JobConfig::default() });
    let body = |e: taskify_jobs::Enqueued| {
        let b = e.accepted_body();
        assert_eq!(b["status"], "success");
        assert_eq!(b["job_id"], json!(e.job.id));
        assert_eq!(b["queue"], "local");
        b
    };
    let b = body(jobs.enqueue(NewJob::warmup("test:key", json!({}), Duration::from_secs(900), 5)).await.expect("ok"));
    assert_eq!(b["message"], "Warmup job enqueued successfully");
    assert_eq!((&b["key"], &b["ttl"], &b["priority"]), (&json!("test:key"), &json!("15m0s"), &json!(5)));

    let keys = vec!["a".to_owned(), "b".to_owned(), "c".to_owned()];
    let b = body(jobs.enqueue(NewJob::batch(keys, json!({}), Duration::from_secs(3600), 4)).await.expect("ok"));
    assert_eq!(
        (&b["message"], &b["key_count"], &b["priority"]),
        (&json!("Batch job enqueued successfully"), &json!(3), &json!(4))
    );

    let past = Utc::now() - chrono::Duration::minutes(5);
    let e = jobs.enqueue(NewJob::scheduled("s", json!(1), Duration::from_secs(90), past, 3)).await.expect("ok");
    let process_at = e.job.process_at;
    let b = body(e);
    assert_eq!(b["message"], "Scheduled job enqueued successfully");
    assert_eq!(b["ttl"], "1m30s");
    let text = b["process_at"].as_str().expect("timestamp");
    assert_eq!(text, taskify_jobs::format_timestamp(process_at));
    assert!(text.ends_with('Z') && text.len() == 27, "6 fractional digits: {text}");
    assert!(process_at > past, "a past time means now");

    let b = body(jobs.enqueue(NewJob::validation("v", json!(null), Duration::from_secs(3600), 5)).await.expect("ok"));
    assert_eq!((&b["message"], &b["key"]), (&json!("Validation job enqueued successfully"), &json!("v")));

    let b = body(jobs.enqueue(NewJob::evict_pattern("batch:*", 5)).await.expect("ok"));
    assert_eq!(
        (&b["message"], &b["pattern"], &b["key"]),
        (&json!("Eviction job enqueued successfully"), &json!("batch:*"), &Value::Null)
    );
    let b = body(jobs.enqueue(NewJob::evict_key("user:1", 5)).await.expect("ok"));
    assert_eq!(b["key"], "user:1");
    assert!(b.get("pattern").is_none());
    jobs.shutdown().await;
}
