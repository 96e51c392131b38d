//! Failures, retries with linear backoff and the DLQ (docs/jobs.md#local-queue-retries-and-dead-letters, F13, F14).

use std::time::Duration;

use chrono::Utc;
use serde_json::json;
use taskify_cache::{BreakerConfig, Cache, CacheConfig};
use taskify_jobs::{DlqSelection, JobConfig, NewJob, Queue};
use uuid::Uuid;

use crate::harness::{Namespace, Recorder, document, eventually, open_breaker, start};

#[tokio::test]
async fn unknown_types_are_retried_after_1s_and_2s_then_dead_lettered() {
    let ns = Namespace::new();
    let cache = ns.cache().await;
    let recorder = Recorder::default();
    let jobs =
        start(&cache, JobConfig { distributed_workers: 1, before_execute: Some(recorder.hook()), ..ns.job_config() });
    let keys = ns.keys();
    let id = Uuid::new_v4();
    ns.zadd(&keys.ready, &document(id, "bogus", json!({}), 5), 5).await;

    eventually("the job is dead-lettered", Duration::from_secs(15), || async { !ns.dlq_jobs().await.is_empty() }).await;
    let dead = ns.dlq_jobs().await;
    assert_eq!(dead.len(), 1);
    let job = &dead[0];
    assert_eq!(job.id, id);
    assert_eq!(job.attempts, 3);
    assert_eq!(job.last_error.as_deref(), Some("unknown job type bogus"));
    assert!(job.failed_at.is_some());
    assert!(job.worker_id.is_none() && job.lease_expires_at.is_none(), "no lease members in the DLQ");

    // process_at of each retry = failure time + attempts × 1 s (checked against the recorded
    // start of the failed attempt, with slack for the execution itself).
    let starts = recorder.starts();
    assert_eq!(starts.iter().map(|s| s.job.attempts).collect::<Vec<_>>(), [1, 2, 3]);
    for (n, pair) in starts.windows(2).enumerate() {
        let backoff = chrono::Duration::seconds(n as i64 + 1);
        let delay = pair[1].job.process_at - pair[0].at;
        assert!(delay >= backoff && delay < backoff + chrono::Duration::milliseconds(500), "retry {n}: {delay}");
        assert!(pair[1].at >= pair[1].job.process_at, "not started before process_at");
        assert_eq!(pair[1].job.last_error.as_deref(), Some("unknown job type bogus"));
    }
    assert!(ns.zrange(&keys.processing).await.is_empty());
    assert!(ns.zrange(&keys.delayed).await.is_empty());
    let stats = jobs.stats();
    assert_eq!((stats.failed_jobs, stats.retry_jobs, stats.dead_lettered_jobs), (3, 2, 1));
    jobs.shutdown().await;
}

#[tokio::test]
async fn dlq_entries_can_be_listed_retried_and_purged() {
    let ns = Namespace::new();
    let cache = ns.cache().await;
    let config = JobConfig {
        local_workers: 1,
        distributed_workers: 1,
        retry_backoff: Duration::from_millis(20),
        ..ns.job_config()
    };
    let jobs = start(&cache, config);
    let keys = ns.keys();
    let id = Uuid::new_v4();
    let mut conn = ns.raw().await;
    let mut dead: taskify_jobs::Job = serde_json::from_str(&document(id, "bogus", json!({}), 5)).expect("job");
    dead.attempts = 3;
    dead.last_error = Some("unknown job type bogus".to_owned());
    dead.failed_at = Some(Utc::now());
    let _: u64 = taskify_cache::redis::AsyncCommands::lpush(&mut conn, &keys.dlq, dead.to_json()).await.expect("LPUSH");

    let page = jobs.dlq(50, 0).await;
    assert_eq!(page.total, 1);
    assert_eq!(page.jobs[0].id, id);
    let body = serde_json::to_value(&page).expect("json");
    assert!(body["jobs"][0]["failed_at"].is_string() && body["jobs"][0]["last_error"].is_string());

    let unknown = Uuid::new_v4();
    let outcome = jobs.dlq_retry(DlqSelection::Ids(vec![id, unknown])).await;
    assert_eq!((outcome.retried, outcome.not_found.clone()), (1, vec![unknown]));
    // A bogus job fails again: after three more attempts it is back in the DLQ.
    eventually("back in the DLQ", Duration::from_secs(10), || async {
        ns.dlq_jobs().await.first().is_some_and(|j| j.id == id && j.attempts == 3)
    })
    .await;
    assert_eq!(jobs.dlq(50, 0).await.total, 1);

    assert!(jobs.dlq_purge(DlqSelection::All).await >= 1);
    assert_eq!(jobs.dlq(50, 0).await.total, 0);
    assert_eq!(jobs.dlq_purge(DlqSelection::Ids(vec![id])).await, 0);
    // Same shutdown-then-fresh-Namespace frame as the job scenarios of effects.rs: each test is
    // self-contained.
    jobs.shutdown().await;
}

#[tokio::test]
async fn dlq_pages_are_newest_first_and_purge_by_id_removes_one() {
    let ns = Namespace::new();
    let cache = ns.cache().await;
    let jobs = start(&cache, ns.job_config());
    let keys = ns.keys();
    let mut conn = ns.raw().await;
    let ids: Vec<Uuid> = (0..5).map(|_| Uuid::new_v4()).collect();
    for id in &ids {
        let _: u64 =
            taskify_cache::redis::AsyncCommands::lpush(&mut conn, &keys.dlq, document(*id, "bogus", json!({}), 5))
                .await
                .expect("LPUSH");
    }
    let page = jobs.dlq(2, 1).await;
    assert_eq!(page.total, 5);
    assert_eq!(page.jobs.iter().map(|j| j.id).collect::<Vec<_>>(), [ids[3], ids[2]]);
    assert_eq!(jobs.dlq_purge(DlqSelection::Ids(vec![ids[0]])).await, 1);
    assert_eq!(jobs.dlq(50, 0).await.total, 4);

    // retry all: every job leaves the DLQ and is routed (workers paused: they wait).
    let outcome = jobs.dlq_retry(DlqSelection::All).await;
    assert_eq!(outcome.retried, 4);
    assert_eq!(jobs.dlq(50, 0).await.total, 0);
    let inspection = jobs.inspect(10).await;
    let waiting = inspection.local.len() + inspection.ready.len();
    assert_eq!(waiting, 4);
    assert!(inspection.local.iter().chain(&inspection.ready).all(|j| j.attempts == 0 && j.failed_at.is_none()));
    jobs.shutdown().await;
}

#[tokio::test]
async fn without_redis_failures_go_to_the_local_dlq() {
    let cache = Cache::local(CacheConfig::default());
    let config = JobConfig { local_workers: 1, retry_backoff: Duration::from_millis(20), ..JobConfig::default() };
    let jobs = start(&cache, config);
    // A warmup aimed at a reserved key fails in the worker (the API would have refused it).
    let e = jobs.enqueue(NewJob::warmup("task:1", json!(1), Duration::from_secs(60), 5)).await.expect("accepted");
    eventually("dead-lettered locally", Duration::from_secs(10), || async { jobs.dlq(50, 0).await.total == 1 }).await;
    let dead = jobs.dlq(50, 0).await.jobs.remove(0);
    assert_eq!((dead.id, dead.attempts), (e.job.id, 3));
    assert!(dead.last_error.as_deref().is_some_and(|m| m.contains("reserved prefix")));
    assert!(dead.failed_at.is_some());
    let stats = jobs.stats();
    assert_eq!((stats.local_worker_stats.total_errors, stats.retry_jobs, stats.dead_lettered_jobs), (3, 2, 1));

    let outcome = jobs.dlq_retry(DlqSelection::Ids(vec![e.job.id])).await;
    assert_eq!(outcome.retried, 1);
    eventually("dead again", Duration::from_secs(10), || async { jobs.dlq(50, 0).await.total == 1 }).await;
    assert_eq!(jobs.dlq_purge(DlqSelection::Ids(vec![e.job.id])).await, 1);
    assert_eq!(jobs.dlq(50, 0).await.total, 0);
    jobs.shutdown().await;
}

#[tokio::test]
async fn local_dead_letters_move_to_redis_once_it_is_available() {
    let ns = Namespace::new();
    let breaker = BreakerConfig { timeout: Duration::from_millis(1500), ..BreakerConfig::default() };
    let cache = ns.cache_with(taskify_cache::CacheConfig { breaker, ..ns.cache_config() }).await;
    open_breaker(&cache);
    let config = JobConfig { local_workers: 1, retry_backoff: Duration::from_millis(20), ..ns.job_config() };
    let jobs = start(&cache, config);
    let e = jobs.enqueue(NewJob::warmup("task:1", json!(1), Duration::from_secs(60), 5)).await.expect("accepted");
    assert_eq!(e.queue, Queue::Local);
    eventually("dead-lettered", Duration::from_secs(10), || async { jobs.stats().dead_lettered_jobs == 1 }).await;
    // Either still local (breaker open) or already moved: the DLQ listing shows it either way.
    assert_eq!(jobs.dlq(50, 0).await.jobs.first().map(|j| j.id), Some(e.job.id));
    eventually("moved to the Redis DLQ", Duration::from_secs(10), || async {
        ns.dlq_jobs().await.iter().any(|j| j.id == e.job.id)
    })
    .await;
    assert_eq!(jobs.dlq(50, 0).await.total, 1);
    jobs.shutdown().await;
}
