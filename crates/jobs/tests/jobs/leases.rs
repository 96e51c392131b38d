//! Leases, the atomic scripts, exactly-once execution across instances, and graceful shutdown
//! (docs/jobs.md#redis-structures, docs/operations.md#graceful-shutdown the job stop, F15, F17).

use std::collections::HashMap;
use std::time::Duration;

use chrono::Utc;
use serde_json::json;
use taskify_cache::redis::{self, AsyncCommands};
use taskify_cache::{Cache, CacheConfig, CallKind};
use taskify_jobs::{Claim, Job, JobConfig, NewJob, Queue, RedisQueue, RetryDecision, format_timestamp};
use uuid::Uuid;

use crate::harness::{Namespace, Recorder, document, eventually, start};

fn queue(cache: &Cache, ns: &Namespace) -> RedisQueue {
    RedisQueue::new(cache.redis().expect("redis configured"), ns.keys(), Duration::from_secs(2))
}

fn claimed(claim: Claim) -> taskify_jobs::Claimed {
    match claim {
        Claim::Claimed(c) => c,
        other => panic!("expected a claim, got {other:?}"),
    }
}

#[tokio::test]
async fn an_expired_lease_in_processing_is_reaped_and_executed() {
    // F15: a job ZADDed straight into processing with a lease that already expired.
    let ns = Namespace::new();
    let cache = ns.cache().await;
    let config = JobConfig { distributed_workers: 1, reap_interval: Duration::from_millis(200), ..ns.job_config() };
    let jobs = start(&cache, config);
    let keys = ns.keys();
    let mut doc: serde_json::Value = serde_json::from_str(&document(
        Uuid::new_v4(),
        "cache_warmup",
        json!({"key":"f15","data":{"x":1},"ttl":"15m0s"}),
        5,
    ))
    .expect("json");
    doc["attempts"] = json!(1);
    doc["worker_id"] = json!("crashed-worker");
    doc["lease_expires_at"] = json!(format_timestamp(Utc::now() - chrono::Duration::seconds(5)));
    ns.zadd(&keys.processing, &doc.to_string(), Utc::now().timestamp_millis() - 5000).await;

    eventually("executed", Duration::from_secs(10), || async { ns.l2("f15").await.as_deref() == Some(r#"{"x":1}"#) })
        .await;
    eventually("gone from processing", Duration::from_secs(10), || async {
        ns.zrange(&keys.processing).await.is_empty()
    })
    .await;
    // Each scenario shuts its workers down and the next starts from a fresh Namespace (the frame of
    // effects.rs too): self-contained tests.
    jobs.shutdown().await;
}

#[tokio::test]
async fn a_job_claimed_by_a_crashed_worker_runs_again_after_its_lease() {
    let ns = Namespace::new();
    let cache = ns.cache().await;
    let q = queue(&cache, &ns);
    let recorder = Recorder::default();
    // A job is claimed by a worker that then dies: never acked, never renewed.
    let paused = start(&cache, ns.job_config());
    let job =
        paused.enqueue(NewJob::scheduled("crash", json!(7), Duration::from_secs(60), Utc::now(), 5)).await.expect("ok");
    assert_eq!(job.queue, Queue::Redis);
    let lost = claimed(q.claim("crashed-worker", Duration::from_millis(300)).await.expect("claim"));
    assert_eq!(lost.job.as_ref().map(|j| j.attempts).ok(), Some(1));

    let config = JobConfig {
        distributed_workers: 1,
        reap_interval: Duration::from_millis(100),
        before_execute: Some(recorder.hook()),
        ..ns.job_config()
    };
    let jobs = start(&cache, config);
    eventually("run again", Duration::from_secs(10), || async { recorder.len() == 1 }).await;
    let start = &recorder.starts()[0];
    assert_eq!((start.job.id, start.job.attempts), (job.job.id, 2));
    eventually("acked", Duration::from_secs(5), || async { jobs.stats().processed_jobs == 1 }).await;
    assert_eq!(ns.l2("crash").await.as_deref(), Some("7"));
    assert!(ns.zrange(&ns.keys().processing).await.is_empty());
    // The crashed worker's late ack is a no-op.
    assert!(!q.ack(&lost.document).await.expect("ack"));
    // Same shutdown-then-fresh-Namespace frame as the other lease scenarios.
    jobs.shutdown().await;
    paused.shutdown().await;
}

#[tokio::test]
async fn settling_a_lease_that_moved_to_another_worker_is_a_no_op() {
    let ns = Namespace::new();
    let cache = ns.cache().await;
    let q = queue(&cache, &ns);
    let keys = ns.keys();
    let id = Uuid::new_v4();
    ns.zadd(&keys.ready, &document(id, "cache_warmup", json!({"key":"k"}), 5), 0).await;

    let first = claimed(q.claim("w1", Duration::from_millis(1)).await.expect("claim"));
    eventually("lease expired", Duration::from_secs(5), || async {
        q.reap(100, 3, 100).await.expect("reap").requeued == 1
    })
    .await;
    let second = claimed(q.claim("w2", Duration::from_secs(30)).await.expect("claim"));
    let job = second.job.clone().expect("job");
    assert_eq!((job.attempts, job.worker_id.as_deref()), (2, Some("w2")));

    assert!(!q.ack(&first.document).await.expect("ack"));
    assert!(!q.retry(&first.document, RetryDecision::DeadLetter, "x", 100).await.expect("retry"));
    assert_eq!(q.renew(&first.document, Duration::from_secs(30)).await.expect("renew"), None);
    assert!(!q.release(&first.document).await.expect("release"));
    assert_eq!(ns.zrange(&keys.processing).await.len(), 1, "w2 keeps its lease");
    assert!(ns.dlq_jobs().await.is_empty());

    let renewed = q.renew(&second.document, Duration::from_secs(60)).await.expect("renew").expect("still ours");
    let renewed_job: Job = serde_json::from_str(&renewed).expect("job");
    assert!(renewed_job.lease_expires_at > job.lease_expires_at);
    let leases = ns.zrange(&keys.processing).await;
    assert_eq!(leases.len(), 1);
    assert_eq!(leases[0].1 as i64, renewed_job.lease_expires_at.expect("lease").timestamp_millis());
    assert!(!q.ack(&second.document).await.expect("ack"), "the pre-renewal document is stale");
    assert!(q.ack(&renewed).await.expect("ack"));
    assert!(ns.zrange(&keys.processing).await.is_empty());
}

#[tokio::test]
async fn an_expired_lease_at_max_tries_is_dead_lettered_with_lease_expired() {
    let ns = Namespace::new();
    let cache = ns.cache().await;
    let q = queue(&cache, &ns);
    let keys = ns.keys();
    let mut doc: serde_json::Value =
        serde_json::from_str(&document(Uuid::new_v4(), "cache_warmup", json!({"key":"k"}), 5)).expect("json");
    doc["attempts"] = json!(3);
    ns.zadd(&keys.processing, &doc.to_string(), 1).await;
    let reaped = q.reap(100, 3, 100).await.expect("reap");
    assert_eq!((reaped.requeued, reaped.dead_lettered.clone()), (0, vec!["cache_warmup".to_owned()]));
    let dead = ns.dlq_jobs().await;
    assert_eq!(dead[0].last_error.as_deref(), Some("lease expired"));
    assert!(dead[0].failed_at.is_some());
}

#[tokio::test]
async fn scripts_keep_the_payload_byte_for_byte() {
    let ns = Namespace::new();
    let cache = ns.cache().await;
    let q = queue(&cache, &ns);
    let keys = ns.keys();
    // cjson would turn [] into {} and round 1.2345678901234567; the scripts must not.
    let payload = r#"{"key":"k","data":{"empty":[],"obj":{},"pi":1.2345678901234567,"big":123456789012345678901234567890,"s":"é \"q\" \\ } ] ,","n":null,"nested":[[{"a":[]}]]},"ttl":"15m0s"}"#;
    let id = Uuid::new_v4();
    let now = format_timestamp(Utc::now());
    let doc = format!(
        r#"{{ "id" : "{id}", "type":"cache_warmup",  "payload": {payload}, "attempts":0,"max_tries":3,"priority":4,"created_at":"{now}","process_at":"{now}","last_error":null}}"#
    );
    ns.zadd(&keys.ready, &doc, 0).await;
    let c = claimed(q.claim("w", Duration::from_secs(30)).await.expect("claim"));
    assert!(c.document.contains(payload), "claim: {}", c.document);
    let process_at = Utc::now() - chrono::Duration::seconds(1);
    assert!(q.retry(&c.document, RetryDecision::Delay { process_at }, "boom \"x\"", 100).await.expect("retry"));
    let delayed = ns.zrange(&keys.delayed).await;
    assert!(delayed[0].0.contains(payload), "retry: {}", delayed[0].0);
    let job: Job = serde_json::from_str(&delayed[0].0).expect("job");
    assert_eq!((job.attempts, job.last_error.as_deref()), (1, Some("boom \"x\"")));
    assert_eq!(job.process_at.timestamp_millis(), process_at.timestamp_millis());
    assert!(job.worker_id.is_none() && job.lease_expires_at.is_none());

    assert_eq!(q.promote(100).await.expect("promote"), 1);
    let ready = ns.zrange(&keys.ready).await;
    assert_eq!(ready[0].0, delayed[0].0, "promote moves the member verbatim");
    assert_eq!(ready[0].1 as i64, 4 * taskify_jobs::PRIORITY_FACTOR + process_at.timestamp_millis());
    let c = claimed(q.claim("w", Duration::from_secs(30)).await.expect("claim"));
    assert!(q.retry(&c.document, RetryDecision::DeadLetter, "final", 100).await.expect("retry"));
    let dead: Vec<String> = ns.raw().await.lrange(&keys.dlq, 0, -1).await.expect("LRANGE");
    assert!(dead[0].contains(payload), "dlq: {}", dead[0]);
    let job: Job = serde_json::from_str(&dead[0]).expect("job");
    assert_eq!((job.attempts, job.last_error.as_deref()), (2, Some("final")));
    assert!(job.failed_at.is_some());
}

#[tokio::test]
async fn members_that_are_not_documents_are_discarded_not_fatal() {
    let ns = Namespace::new();
    let cache = ns.cache().await;
    let q = queue(&cache, &ns);
    let keys = ns.keys();
    ns.zadd(&keys.ready, "not json", 0).await;
    assert!(
        matches!(q.claim("w", Duration::from_secs(1)).await.expect("claim"), Claim::Discarded(m) if m == "not json")
    );
    // A JSON object that is not a job fails like a job and ends in the DLQ after max tries.
    let config = JobConfig { distributed_workers: 1, retry_backoff: Duration::from_millis(20), ..ns.job_config() };
    let jobs = start(&cache, config);
    ns.zadd(&keys.ready, r#"{"type":"cache_warmup","max_tries":2}"#, 0).await;
    eventually("dead-lettered", Duration::from_secs(10), || async {
        let dead: Vec<String> = ns.raw().await.lrange(&keys.dlq, 0, -1).await.expect("LRANGE");
        dead.len() == 1 && dead[0].contains(r#""attempts":2"#) && dead[0].contains("invalid job document")
    })
    .await;
    assert!(ns.zrange(&keys.processing).await.is_empty());
    jobs.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_instances_execute_each_of_1000_jobs_exactly_once() {
    let ns = Namespace::new();
    let keys = ns.keys();
    let recorder = Recorder::default();
    let mut systems = Vec::new();
    for _ in 0..3 {
        let cache = ns.cache().await;
        let config = JobConfig { distributed_workers: 5, before_execute: Some(recorder.hook()), ..ns.job_config() };
        systems.push((start(&cache, config), cache));
    }
    // F17: pushed straight to cache_jobs.
    let ids: Vec<Uuid> = (0..1000).map(|_| Uuid::new_v4()).collect();
    let mut pipe = redis::pipe();
    for (i, id) in ids.iter().enumerate() {
        let doc = document(*id, "cache_warmup", json!({"key": format!("once:{i}"), "data": i, "ttl": "15m0s"}), 5);
        pipe.zadd(&keys.ready, doc, 5 * taskify_jobs::PRIORITY_FACTOR + i as i64).ignore();
    }
    let _: () = pipe.query_async(&mut ns.raw().await).await.expect("ZADD");

    let processed = || systems.iter().map(|(s, _)| s.stats().processed_jobs).sum::<u64>();
    eventually("1000 processed", Duration::from_secs(30), || async { processed() == 1000 }).await;
    assert!(ns.zrange(&keys.processing).await.is_empty());
    assert!(ns.zrange(&keys.ready).await.is_empty());

    let mut runs: HashMap<Uuid, usize> = HashMap::new();
    for id in recorder.started_ids() {
        *runs.entry(id).or_default() += 1;
    }
    assert_eq!(runs.len(), 1000);
    assert!(runs.values().all(|n| *n == 1), "each job ran exactly once");
    assert!(ids.iter().all(|id| runs.contains_key(id)));
    // Which instance ran how many is up to scheduling: on a loaded machine one instance can drain
    // all 1 000 before the others poll, so only exactly-once is asserted, not a fair share.
    let physical: Vec<String> = (0..1000).map(|i| ns.physical(&format!("once:{i}"))).collect();
    let values: Vec<Option<String>> = ns.raw().await.mget(physical).await.expect("MGET");
    assert!(values.iter().enumerate().all(|(i, v)| v.as_deref() == Some(&*i.to_string())), "every effect landed");
    for (s, _) in &systems {
        s.shutdown().await;
    }
}

#[tokio::test]
async fn shutdown_releases_running_redis_jobs_and_hands_local_jobs_to_redis() {
    let ns = Namespace::new();
    let cache = ns.cache().await;
    let keys = ns.keys();
    let recorder = Recorder::default();
    let config = JobConfig {
        distributed_workers: 1,
        shutdown_grace: Duration::from_millis(200),
        before_execute: Some(recorder.hook()),
        ..ns.job_config()
    };
    let jobs = start(&cache, config);
    // In flight on the Redis worker: the hook holds `hold:` keys until interrupted.
    let held =
        jobs.enqueue(NewJob::scheduled("hold:1", json!(1), Duration::from_secs(60), Utc::now(), 5)).await.expect("ok");
    assert_eq!(held.queue, Queue::Redis);
    eventually("running", Duration::from_secs(5), || async { recorder.len() == 1 }).await;
    assert_eq!(ns.zrange(&keys.processing).await.len(), 1);
    // Waiting locally (no local workers): a ready job and a scheduled one due later.
    let local = jobs.enqueue(NewJob::warmup("l1", json!(1), Duration::from_secs(60), 1)).await.expect("ok");
    assert_eq!(local.queue, Queue::Local);

    let report = jobs.shutdown().await;
    assert_eq!((report.interrupted, report.moved_to_redis, report.dropped), (1, 1, 0));
    assert!(!jobs.running());
    assert!(ns.zrange(&keys.processing).await.is_empty(), "lease released");
    let ready = ns.zjobs(&keys.ready).await;
    let ids: Vec<Uuid> = ready.iter().map(|j| j.id).collect();
    assert_eq!(ids, [local.job.id, held.job.id], "priority 1 first");
    let released = &ready[1];
    assert_eq!(released.attempts, 0, "the interrupted attempt is given back");
    assert!(released.worker_id.is_none() && released.lease_expires_at.is_none());
    assert_eq!(jobs.queue_sizes().await.local, 0);
    assert_eq!(jobs.shutdown().await, report, "idempotent");
    // After shutdown, jobs still go to Redis while it is available.
    let late = jobs.enqueue(NewJob::warmup("late", json!(1), Duration::from_secs(60), 1)).await.expect("ok");
    assert_eq!(late.queue, Queue::Redis);
    assert_eq!(queue(&cache, &ns).sizes(CallKind::Read).await.expect("sizes").ready, 3);
}

#[tokio::test]
async fn shutdown_without_redis_drops_local_jobs_and_says_how_many() {
    let cache = Cache::local(CacheConfig::default());
    let jobs = start(&cache, JobConfig { local_workers: 0, ..JobConfig::default() });
    jobs.enqueue(NewJob::warmup("a", json!(1), Duration::from_secs(60), 5)).await.expect("ok");
    jobs.enqueue(NewJob::scheduled("b", json!(1), Duration::from_secs(60), Utc::now() + chrono::Duration::hours(1), 5))
        .await
        .expect("ok");
    let report = jobs.shutdown().await;
    assert_eq!((report.moved_to_redis, report.dropped), (0, 2));
    assert_eq!(
        jobs.enqueue(NewJob::warmup("c", json!(1), Duration::from_secs(60), 5)).await.err(),
        Some(taskify_jobs::EnqueueError::ShuttingDown)
    );
}

#[tokio::test]
async fn cancelling_the_start_token_shuts_the_system_down() {
    let cache = Cache::local(CacheConfig::default());
    let token = tokio_util::sync::CancellationToken::new();
    let jobs = taskify_jobs::JobSystem::start(cache, JobConfig::default(), token.clone());
    assert!(jobs.running());
    token.cancel();
    assert!(!jobs.running());
    assert_eq!(jobs.shutdown().await, taskify_jobs::ShutdownReport::default());
}
