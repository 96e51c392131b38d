//! Enqueue-to-execution latency of cache-warming jobs (BENCHMARKS.md), local and Redis.
//!
//!     cargo run --release -p taskify-jobs --example latency -- redis://127.0.0.1:6379/0 2000
//!
//! Starts a job system on a private key namespace of the given Redis, enqueues N warmup jobs on
//! each path one after another (priority 1 goes to the local queue; a scheduled job whose time
//! has come goes to the Redis ready queue), and measures from the enqueue call to the moment a
//! worker starts the job (the `before_execute` hook). Cleans its keys up afterwards.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use taskify_cache::{Cache, CacheConfig, RedisConfig};
use taskify_jobs::{JobConfig, JobSystem, NewJob, QueueKeys};
use tokio_util::sync::CancellationToken;

type Started = Arc<Mutex<Vec<(uuid::Uuid, Instant)>>>;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(index).copied().unwrap_or_default()
}

async fn measure(jobs: &JobSystem, started: &Started, n: usize, make: impl Fn(usize) -> NewJob) -> Vec<Duration> {
    let mut sent = Vec::with_capacity(n);
    for i in 0..n {
        let at = Instant::now();
        match jobs.enqueue(make(i)).await {
            Ok(enqueued) => sent.push((enqueued.job.id, at)),
            Err(e) => eprintln!("enqueue failed: {e}"),
        }
        // Paced, so the numbers show latency rather than queueing behind a burst.
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while started.lock().map(|s| s.len()).unwrap_or(0) < sent.len() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let starts: std::collections::HashMap<_, _> = started.lock().map(|mut s| s.drain(..).collect()).unwrap_or_default();
    let mut latencies: Vec<Duration> =
        sent.iter().filter_map(|(id, at)| starts.get(id).map(|s| s.duration_since(*at))).collect();
    latencies.sort();
    latencies
}

fn report(name: &str, latencies: &[Duration]) {
    println!(
        "{name}: n={} p50={:?} p99={:?} max={:?}",
        latencies.len(),
        percentile(latencies, 0.50),
        percentile(latencies, 0.99),
        latencies.last().copied().unwrap_or_default()
    );
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let url = args.next().unwrap_or_else(|| "redis://127.0.0.1:6379/0".into());
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(1000);
    let namespace = format!("taskify-bench:{}:", uuid::Uuid::new_v4().simple());

    let cache_config = CacheConfig { key_prefix: format!("{namespace}cache:"), ..CacheConfig::default() };
    let cache = match Cache::with_redis(cache_config, RedisConfig::new(url)).await {
        Ok(cache) => cache,
        Err(e) => {
            eprintln!("bad Redis URL: {e}");
            return;
        }
    };
    cache.wait_for_subscription(Duration::from_secs(5)).await;
    let started: Started = Arc::default();
    let hook_started = started.clone();
    let config = JobConfig {
        keys: QueueKeys::with_prefix(&namespace),
        before_execute: Some(Arc::new(move |job| {
            let started = hook_started.clone();
            Box::pin(async move {
                if let Ok(mut s) = started.lock() {
                    s.push((job.id, Instant::now()));
                }
            })
        })),
        ..JobConfig::default()
    };
    let stop = CancellationToken::new();
    let jobs = JobSystem::start(cache.clone(), config, stop.clone());
    let data = serde_json::json!({"bench": true});
    let ttl = Duration::from_secs(60);

    let local = measure(&jobs, &started, n, |i| NewJob::warmup(format!("bench:local:{i}"), data.clone(), ttl, 1)).await;
    report("local queue", &local);
    let redis = measure(&jobs, &started, n, |i| {
        NewJob::scheduled(format!("bench:redis:{i}"), data.clone(), ttl, chrono::Utc::now(), 5)
    })
    .await;
    report("redis queue", &redis);

    jobs.shutdown().await;
    stop.cancel();
    cache.delete_pattern("bench:*").await.ok();
    cache.shutdown().await;
}
