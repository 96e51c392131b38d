//! A bounded client load through nginx, counted: GET workers read one task over and over, POST
//! workers create tasks with an `Idempotency-Key` and retry a request that got no answer, a 502,
//! a 503, a 504 or a 409 with the same key, as a careful client does. A 409 means the key is
//! still `in_progress`: when the replica that ran the first attempt died, the claim is taken over
//! only after `REQUEST_TIMEOUT` + 10 s, so the client keeps retrying for longer than that.
//! Afterwards the tasks on the server are compared with the acknowledged ones: every acknowledged
//! title exactly once.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::harness::POLL;
use crate::helpers::{ApiClient, json_body};

/// Upper bound on the rounds of one worker, so a loop ends even if the stop is missed.
const MAX_ROUNDS: u64 = 20_000;
/// How long a client retries one POST with the same key: above the take-over time of an
/// `in_progress` claim, `REQUEST_TIMEOUT` (5 s in the cluster) + 10 s.
const RETRY_WINDOW: Duration = Duration::from_secs(25);
// Plain tuning constants, same shape as redis_restart.rs: each file has its own bounds.
/// The pause before a client retry.
const RETRY_PAUSE: Duration = Duration::from_millis(200);
/// Per-request timeout of the load clients.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);
/// Error messages kept per worker.
const MAX_ERRORS: usize = 20;

#[derive(Default)]
struct Stats {
    gets: AtomicU64,
    get_failures: AtomicU64,
    posts: AtomicU64,
    post_failures: AtomicU64,
    post_retries: AtomicU64,
}

/// What a worker saw.
#[derive(Default)]
struct WorkerReport {
    errors: Vec<String>,
    /// Titles of the tasks the server acknowledged (201, or the replay of one).
    created: Vec<String>,
}

pub struct Load {
    stop: Arc<AtomicBool>,
    stats: Arc<Stats>,
    workers: Vec<JoinHandle<WorkerReport>>,
}

/// The counts of a finished load, with the messages of the failures.
pub struct Report {
    // Plain counters, one field per figure; the shape matches unrelated field lists elsewhere (store rows, domain
    // types).
    pub gets: u64,
    pub get_failures: u64,
    pub posts: u64,
    pub post_failures: u64,
    pub post_retries: u64,
    pub errors: Vec<String>,
    pub created: Vec<String>,
}

impl Load {
    /// Starts `readers` GET workers on task `task_id` and `writers` POST workers, all through
    /// `entry` as the holder of `token`. `label` prefixes the titles.
    pub fn start(entry: &ApiClient, token: &str, task_id: &str, readers: usize, writers: usize, label: &str) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let stats = Arc::new(Stats::default());
        let mut workers = Vec::new();
        for _ in 0..readers {
            let (entry, token, id) = (entry.clone(), token.to_owned(), task_id.to_owned());
            let (stop, stats) = (stop.clone(), stats.clone());
            workers.push(tokio::spawn(async move { read_loop(entry, token, id, stop, stats).await }));
        }
        for worker in 0..writers {
            let (entry, token, label) = (entry.clone(), token.to_owned(), format!("{label} w{worker}"));
            let (stop, stats) = (stop.clone(), stats.clone());
            workers.push(tokio::spawn(async move { write_loop(entry, token, label, stop, stats).await }));
        }
        Load { stop, stats, workers }
    }

    /// Requests answered so far (GETs and POSTs, failed or not).
    pub fn requests(&self) -> u64 {
        self.stats.gets.load(Ordering::Relaxed) + self.stats.posts.load(Ordering::Relaxed)
    }

    /// Waits until `more` requests beyond the current count have been made and at least
    /// `at_least` has passed, so an event is surrounded by load. Bounded by `deadline`.
    pub async fn run_for(&self, more: u64, at_least: Duration, deadline: Duration) {
        let target = self.requests() + more;
        let started = Instant::now();
        while self.requests() < target || started.elapsed() < at_least {
            assert!(
                started.elapsed() < deadline,
                "the load made {} of {target} requests in {deadline:?}",
                self.requests()
            );
            tokio::time::sleep(POLL).await;
        }
    }

    /// Stops the workers and collects their counts.
    pub async fn finish(self) -> Report {
        self.stop.store(true, Ordering::Relaxed);
        let mut errors = Vec::new();
        let mut created = Vec::new();
        for worker in self.workers {
            let report = worker.await.expect("a load worker does not panic");
            errors.extend(report.errors);
            created.extend(report.created);
        }
        let count = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        Report {
            gets: count(&self.stats.gets),
            get_failures: count(&self.stats.get_failures),
            posts: count(&self.stats.posts),
            post_failures: count(&self.stats.post_failures),
            post_retries: count(&self.stats.post_retries),
            errors,
            created,
        }
    }
}

async fn read_loop(
    entry: ApiClient,
    token: String,
    id: String,
    stop: Arc<AtomicBool>,
    stats: Arc<Stats>,
) -> WorkerReport {
    let mut report = WorkerReport::default();
    let path = format!("/api/v1/tasks/{id}");
    for _ in 0..MAX_ROUNDS {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let sent = entry.authed(reqwest::Method::GET, &path, &token).timeout(REQUEST_TIMEOUT).send().await;
        stats.gets.fetch_add(1, Ordering::Relaxed);
        let problem = match sent {
            Ok(response) if response.status() == StatusCode::OK => continue,
            Ok(response) => {
                format!("GET {path} answered {}: {}", response.status(), response.text().await.unwrap_or_default())
            }
            Err(error) => format!("GET {path} failed: {error}"),
        };
        stats.get_failures.fetch_add(1, Ordering::Relaxed);
        if report.errors.len() < MAX_ERRORS {
            report.errors.push(problem);
        }
    }
    report
}

async fn write_loop(
    entry: ApiClient,
    token: String,
    label: String,
    stop: Arc<AtomicBool>,
    stats: Arc<Stats>,
) -> WorkerReport {
    let mut report = WorkerReport::default();
    for round in 0..MAX_ROUNDS {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let title = format!("{label} #{round}");
        let key = uuid::Uuid::new_v4().to_string();
        stats.posts.fetch_add(1, Ordering::Relaxed);
        let mut last = String::new();
        let mut acknowledged = false;
        let first = Instant::now();
        for attempt in 0..u32::MAX {
            if attempt > 0 {
                if first.elapsed() >= RETRY_WINDOW {
                    break;
                }
                stats.post_retries.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(RETRY_PAUSE).await;
            }
            let request = entry
                .authed(reqwest::Method::POST, "/api/v1/tasks", &token)
                .header("Idempotency-Key", &key)
                .json(&json!({"title": title}))
                .timeout(REQUEST_TIMEOUT);
            match request.send().await {
                Ok(response) if response.status().is_success() => {
                    acknowledged = true;
                    break;
                }
                Ok(response) if retryable(response.status()) => {
                    last = format!("POST answered {}", response.status());
                }
                Ok(response) => {
                    last =
                        format!("POST answered {}: {}", response.status(), response.text().await.unwrap_or_default());
                    break;
                }
                Err(error) => last = format!("POST failed: {error}"),
            }
        }
        if acknowledged {
            report.created.push(title);
        } else {
            stats.post_failures.fetch_add(1, Ordering::Relaxed);
            if report.errors.len() < MAX_ERRORS {
                report.errors.push(format!("{title}: {last}"));
            }
        }
    }
    report
}

/// Answers after which a client retries with the same `Idempotency-Key`.
fn retryable(status: StatusCode) -> bool {
    matches!(
        status,
        StatusCode::BAD_GATEWAY | StatusCode::SERVICE_UNAVAILABLE | StatusCode::GATEWAY_TIMEOUT | StatusCode::CONFLICT
    )
}

/// How many times each task title occurs in the caller's task list (read through `entry`).
pub async fn titles_on_server(entry: &ApiClient, token: &str) -> HashMap<String, usize> {
    let mut titles = HashMap::new();
    for page in 1..=1_000_u32 {
        let page_number = page.to_string();
        let query = [("pageSize", "100"), ("page", page_number.as_str())];
        let list: Value = json_body(entry.list_tasks(token, &query).await, StatusCode::OK).await;
        for task in list["tasks"].as_array().expect("a tasks array") {
            *titles.entry(task["title"].as_str().unwrap_or_default().to_owned()).or_insert(0) += 1;
        }
        if u64::from(page) >= list["total_pages"].as_u64().expect("total_pages") {
            break;
        }
    }
    titles
}

/// Duplicates (titles stored more than once) and missing tasks (acknowledged, not stored).
pub fn compare(created: &[String], stored: &HashMap<String, usize>) -> (Vec<String>, Vec<String>) {
    let duplicates = stored.iter().filter(|(_, n)| **n > 1).map(|(title, n)| format!("{title} x{n}")).collect();
    let missing = created.iter().filter(|title| !stored.contains_key(*title)).cloned().collect();
    (duplicates, missing)
}
