//! Redis is killed under load and started again (it reloads its append-only file, as a
//! production Redis would). Through nginx, no request may get a 5xx, and a read may return an
//! older version of a task only within the coherence bound: 1 s while every replica is on the
//! same side of the outage; while they may disagree (from the kill until the circuit breakers
//! have closed again after the restart) the bound is `CACHE_BREAKER_TIMEOUT` (2 s) plus 2 s for
//! the reconnect, as the cache's contract states.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::harness::{Cluster, POLL};
use crate::helpers::ApiClient;
use crate::load::Load;

// Plain tuning constants, same shape as load.rs: each scenario has its own bounds.
const PROPAGATION: Duration = Duration::from_secs(1);
const TRANSITION_BOUND: Duration = Duration::from_secs(4);
const MAX_ROUNDS: u64 = 5_000;

#[derive(Default)]
struct Shared {
    stop: AtomicBool,
    /// When the replicas may start to disagree about Redis (the kill), and when they agree again.
    transition: Mutex<(Option<Instant>, Option<Instant>)>,
    rounds: AtomicU64,
    /// Reads that returned an older version within the bound, while the replicas may disagree
    /// about Redis and outside that window.
    stale_in_transition: AtomicU64,
    stale_outside: AtomicU64,
}

impl Shared {
    fn mark(&self, start: bool) {
        let mut window = self.transition.lock().expect("the lock is not poisoned");
        if start { window.0 = Some(Instant::now()) } else { window.1 = Some(Instant::now()) }
    }

    /// The staleness bound for a value superseded at `since` and still served now.
    fn bound(&self, since: Instant) -> Duration {
        let window = *self.transition.lock().expect("the lock is not poisoned");
        let overlaps = match window {
            (Some(start), end) => end.is_none_or(|end| end >= since) && start <= Instant::now(),
            (None, _) => false,
        };
        if overlaps { TRANSITION_BOUND } else { PROPAGATION }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_restart_under_load_gives_no_5xx_and_no_stale_read() {
    let Some(mut cluster) = Cluster::start(3, &[]).await else { return };
    let user = cluster.entry.new_account("redisload", None).await;
    let read_task = cluster.entry.new_task_id(user.token(), "read me").await;
    let shared = Arc::new(Shared::default());
    let mut writers = Vec::new();
    for worker in 0..3 {
        let id = cluster.entry.new_task_id(user.token(), &format!("versioned {worker}")).await;
        let (entry, token, shared) = (cluster.entry.clone(), user.token().to_owned(), shared.clone());
        writers.push(tokio::spawn(async move { write_then_read(entry, token, id, shared).await }));
    }
    let load = Load::start(&cluster.entry, user.token(), &read_task, 2, 1, "redis");

    load.run_for(100, Duration::from_secs(1), Duration::from_secs(60)).await;
    shared.mark(true);
    cluster.redis.stop();
    load.run_for(100, Duration::from_secs(3), Duration::from_secs(60)).await;
    cluster.redis.start_again().await;
    // The breakers close within CACHE_BREAKER_TIMEOUT (2 s) plus the reconnect.
    load.run_for(100, Duration::from_secs(5), Duration::from_secs(60)).await;
    shared.mark(false);
    load.run_for(100, Duration::from_secs(2), Duration::from_secs(60)).await;
    shared.stop.store(true, Ordering::Relaxed);
    let report = load.finish().await;
    let mut errors = report.errors.clone();
    for writer in writers {
        errors.extend(writer.await.expect("a writer does not panic"));
    }

    println!(
        "redis restart: GET requests {} failures {}; POST requests {} failures {} client retries {}; \
         write-then-read rounds {}, stale reads within the bound: {} while the replicas may disagree about \
         Redis, {} outside (within 1 s); errors {}",
        report.gets,
        report.get_failures,
        report.posts,
        report.post_failures,
        report.post_retries,
        shared.rounds.load(Ordering::Relaxed),
        shared.stale_in_transition.load(Ordering::Relaxed),
        shared.stale_outside.load(Ordering::Relaxed),
        errors.len()
    );
    assert!(errors.is_empty(), "errors: {errors:#?}{}", cluster.logs());
    assert_eq!(
        report.get_failures + report.post_failures + report.post_retries,
        0,
        "every request answered without a 5xx"
    );
    assert!(shared.rounds.load(Ordering::Relaxed) > 0, "the writers ran");
}

/// Round after round: update the task through nginx, then read it through nginx until the new
/// version shows. Any replica may answer a read, so an answer older than the latest acknowledged
/// version is judged by its age: the time since the version after it was acknowledged, which
/// must stay within the bound.
async fn write_then_read(entry: ApiClient, token: String, id: String, shared: Arc<Shared>) -> Vec<String> {
    let mut errors = Vec::new();
    let mut version = 1;
    // When each version was acknowledged.
    let mut acknowledged: BTreeMap<i64, Instant> = BTreeMap::new();
    for round in 0..MAX_ROUNDS {
        if shared.stop.load(Ordering::Relaxed) || !errors.is_empty() {
            break;
        }
        let response = entry.update_task(&token, &id, &json!({"title": format!("round {round}")})).await;
        let status = response.status();
        let body: Value = response.json().await.unwrap_or_default();
        let written = body["task"]["version"].as_i64().unwrap_or_default();
        if status != StatusCode::OK || written <= version {
            errors.push(format!("PUT {id} answered {status} with version {written} after {version}: {body}"));
            break;
        }
        acknowledged.insert(written, Instant::now());
        loop {
            let response = entry.get_task(&token, &id).await;
            let status = response.status();
            let seen = response.json::<Value>().await.unwrap_or_default()["version"].as_i64().unwrap_or_default();
            if status != StatusCode::OK {
                errors.push(format!("GET {id} answered {status}"));
                break;
            }
            if seen >= written {
                break;
            }
            // The first acknowledged version after the one served: its age is the staleness.
            let superseded = acknowledged.range(seen + 1..).next().map(|(_, at)| *at).unwrap_or_else(Instant::now);
            let bound = shared.bound(superseded);
            if superseded.elapsed() >= bound {
                errors.push(format!(
                    "GET {id} served version {seen} {:?} after a newer one was acknowledged (bound {bound:?}; \
                     latest {written})",
                    superseded.elapsed()
                ));
                break;
            }
            let counter = if bound == TRANSITION_BOUND { &shared.stale_in_transition } else { &shared.stale_outside };
            counter.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(POLL).await;
        }
        version = written;
        shared.rounds.fetch_add(1, Ordering::Relaxed);
    }
    errors
}
