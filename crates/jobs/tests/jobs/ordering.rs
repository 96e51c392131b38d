//! Priority and due-time order (docs/jobs.md#priority, docs/jobs.md#redis-structures, F12, and the acceptance rule "with workers
//! paused, enqueue mixed priorities and due times; once resumed they run in order").

use std::time::Duration;

use chrono::Utc;
use serde_json::json;
use taskify_cache::{Cache, CacheConfig};
use taskify_jobs::{JobConfig, NewJob, PRIORITY_FACTOR, Queue};
use uuid::Uuid;

use crate::harness::{Namespace, Recorder, eventually, start};

fn scheduled(key: &str, in_ms: i64, priority: u8) -> NewJob {
    let at = Utc::now() + chrono::Duration::milliseconds(in_ms);
    NewJob::scheduled(key, json!(key), Duration::from_secs(60), at, priority)
}

fn keys_in_start_order(recorder: &Recorder) -> Vec<String> {
    recorder.starts().iter().map(|s| s.job.payload["key"].as_str().unwrap_or_default().to_owned()).collect()
}

#[tokio::test]
async fn local_jobs_run_by_priority_then_enqueue_order_then_due_time() {
    let cache = Cache::local(CacheConfig::default());
    let recorder = Recorder::default();
    let config = JobConfig {
        local_workers: 1,
        local_threshold: 100,
        before_execute: Some(recorder.hook()),
        ..JobConfig::default()
    };
    let jobs = start(&cache, config);
    jobs.pause();
    // Without Redis, scheduled jobs wait in the local delayed set.
    for (key, in_ms, priority) in [
        ("a", 0, 5),
        ("b", 0, 1),
        ("late-1", 1500, 1),
        ("c", 0, 10),
        ("late-10", 1000, 10),
        ("d", 0, 3),
        ("e", 0, 1),
        ("f", 0, 5),
    ] {
        assert_eq!(jobs.enqueue(scheduled(key, in_ms, priority)).await.expect("accepted").queue, Queue::Local);
    }
    let snapshot: Vec<String> = jobs.inspect(20).await.local.iter().map(|j| j.payload["key"].to_string()).collect();
    assert_eq!(snapshot.len(), 8);
    jobs.resume();
    eventually("all 8 ran", Duration::from_secs(10), || async { recorder.len() == 8 }).await;
    assert_eq!(keys_in_start_order(&recorder), ["b", "e", "d", "a", "f", "c", "late-10", "late-1"]);
    for s in recorder.starts() {
        assert!(s.at >= s.job.process_at, "never before process_at");
    }
    assert_eq!(jobs.stats().local_worker_stats.jobs_processed, 8);
    // Same shutdown-then-fresh-Namespace frame as the job scenarios of effects.rs: each test is
    // self-contained.
    jobs.shutdown().await;
}

#[tokio::test]
async fn redis_jobs_are_scored_by_priority_and_run_in_order_after_resume() {
    let ns = Namespace::new();
    let cache = ns.cache().await;
    let recorder = Recorder::default();
    let config = JobConfig { distributed_workers: 1, before_execute: Some(recorder.hook()), ..ns.job_config() };
    let jobs = start(&cache, config);
    jobs.pause();
    // F12: scheduled jobs due in the past go straight to cache_jobs.
    let mut enqueued = Vec::new();
    for (key, priority) in [("p5", 5), ("p1", 1), ("p10", 10), ("p3", 3)] {
        let e = jobs.enqueue(scheduled(key, -60_000, priority)).await.expect("accepted");
        assert_eq!(e.queue, Queue::Redis);
        enqueued.push(e.job);
    }
    let late_a = jobs.enqueue(scheduled("late-10", 1000, 10)).await.expect("accepted").job;
    let late_b = jobs.enqueue(scheduled("late-1", 1500, 1)).await.expect("accepted").job;

    let keys = ns.keys();
    let ready = ns.zrange(&keys.ready).await;
    let order: Vec<String> = ready
        .iter()
        .map(|(m, _)| {
            serde_json::from_str::<serde_json::Value>(m).expect("json")["payload"]["key"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    assert_eq!(order, ["p1", "p3", "p5", "p10"]);
    for (member, score) in &ready {
        let job: taskify_jobs::Job = serde_json::from_str(member).expect("job");
        let original = enqueued.iter().find(|j| j.id == job.id).expect("ours");
        assert_eq!(*original, job, "stored as enqueued");
        assert_eq!(*score as i64, i64::from(job.priority) * PRIORITY_FACTOR + job.process_at.timestamp_millis());
    }
    let delayed = ns.zrange(&keys.delayed).await;
    let delayed_ids: Vec<Uuid> =
        delayed.iter().map(|(m, _)| serde_json::from_str::<taskify_jobs::Job>(m).expect("job").id).collect();
    assert_eq!(delayed_ids, [late_a.id, late_b.id]);
    assert_eq!(delayed[0].1 as i64, late_a.process_at.timestamp_millis());

    jobs.resume();
    eventually("all 6 ran", Duration::from_secs(10), || async { recorder.len() == 6 }).await;
    assert_eq!(keys_in_start_order(&recorder), ["p1", "p3", "p5", "p10", "late-10", "late-1"]);
    for s in recorder.starts() {
        assert!(s.at >= s.job.process_at, "never before process_at");
        assert_eq!(s.job.attempts, 1, "attempts is incremented when a job starts");
    }
    eventually("acked", Duration::from_secs(5), || async { jobs.stats().processed_jobs == 6 }).await;
    assert!(ns.zrange(&keys.processing).await.is_empty());
    assert_eq!(ns.l2("p1").await.as_deref(), Some("\"p1\""));
    jobs.shutdown().await;
}
