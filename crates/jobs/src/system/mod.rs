//! The job system of one instance: router, local workers, Redis workers, reaper, local delayed
//! set pump, DLQ administration, stats and graceful shutdown (docs/jobs.md, docs/operations.md#graceful-shutdown the job stop).

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64};
use std::time::Duration;

use chrono::{DateTime, SubsecRound, Utc};
use serde_json::{Value, json};
use taskify_cache::{Cache, CallKind};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::JobConfig;
use crate::job::format_timestamp;
use crate::job::{FALLBACK_MAX_TRIES, Job, JobType, Queue};
use crate::local::LocalQueue;
use crate::redis_queue::RedisQueue;
use crate::stats::{Counters, ShutdownReport};

mod execution;
mod operations;
mod routing;
mod shutdown;
mod upkeep;
mod workers;

/// The most due jobs one promote call moves (docs/jobs.md#redis-structures).
const PROMOTE_BATCH: usize = 100;
/// The most expired leases one reap call handles; a reap repeats while it finds that many.
const REAP_BATCH: usize = 1000;
/// How often the local DLQ is handed to Redis and the queue gauges are refreshed.
const HOUSEKEEPING_INTERVAL: Duration = Duration::from_secs(1);

/// A job accepted by [`JobSystem::enqueue`].
#[derive(Debug, Clone, PartialEq)]
pub struct Enqueued {
    /// The job as stored (id, timestamps, normalised priority and `process_at`).
    pub job: Job,
    /// Where the router put it.
    pub queue: Queue,
}

impl Enqueued {
    /// The 202 body of the endpoint that enqueued this job (docs/jobs.md#endpoints), with `job_id` and
    /// `queue`:
    /// - warmup: `status`, `message`, `key`, `ttl`, `priority`;
    /// - batch: `status`, `message`, `key_count`, `priority`;
    /// - scheduled: `status`, `message`, `key`, `process_at` (normalised: a past time is now),
    ///   `ttl`, `priority`;
    /// - validation: `status`, `message`, `key`, `priority`;
    /// - eviction: `status`, `message`, `key` or `pattern`, `priority`.
    pub fn accepted_body(&self) -> Value {
        let job = &self.job;
        let p = &job.payload;
        let kind = job.job_type().unwrap_or(JobType::Warmup);
        let mut body = json!({
            "status": "success",
            "message": kind.accepted_message(),
            "priority": job.priority,
            "job_id": job.id,
            "queue": self.queue,
        });
        let mut put = |name: &str, value: Value| {
            if let Some(map) = body.as_object_mut() {
                map.insert(name.to_owned(), value);
            }
        };
        let member = |name: &str| p.get(name).cloned().unwrap_or(Value::Null);
        match kind {
            JobType::Warmup => {
                put("key", member("key"));
                put("ttl", member("ttl"));
            }
            JobType::Scheduled => {
                put("key", member("key"));
                put("process_at", Value::String(format_timestamp(job.process_at)));
                put("ttl", member("ttl"));
            }
            JobType::Batch => {
                put("key_count", json!(p.get("keys").and_then(Value::as_array).map_or(0, Vec::len)));
            }
            JobType::Validation => put("key", member("key")),
            JobType::Eviction => {
                if p.get("pattern").is_some_and(|v| !v.is_null()) {
                    put("pattern", member("pattern"));
                } else {
                    put("key", member("key"));
                }
            }
        }
        body
    }
}

/// Why a job was not accepted. Both map to 503 `service_unavailable`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EnqueueError {
    /// The local queue is at capacity and Redis is unavailable (or refused the job).
    #[error("the local job queue is full and Redis is unavailable")]
    Full,
    /// The job system is shutting down and Redis is unavailable.
    #[error("the job system is shutting down")]
    ShuttingDown,
}

/// The cache-warming job system of one instance (docs/jobs.md). Cheap to clone: clones share it.
///
/// - **Routing** ([`JobSystem::enqueue`]) follows docs/jobs.md#routing and re-checks "Redis available"
///   (configured, breaker not open) on every call.
/// - **Execution**: local and Redis workers run the same effects (docs/jobs.md#job-document table); the
///   effects write through the [`Cache`] (both levels, invalidation broadcast). `attempts` is
///   incremented when a job starts; a failed job is retried `attempts × JOB_RETRY_BACKOFF` later
///   in the delayed set of its queue, or dead-lettered once `attempts ≥ max_tries`.
/// - **Redis workers** promote due jobs, claim the most urgent one with a lease, renew the lease
///   every third of `JOB_LEASE` while the job runs, and ack or retry it; all through the cache's
///   Redis handle and breaker. An idle worker sleeps `JOB_POLL_INTERVAL` ±20 %.
/// - **Reaper**: every `reap_interval`, expired leases go back to ready (or to the DLQ).
/// - **Shutdown** ([`JobSystem::shutdown`], or cancelling the token given to `start`): workers
///   stop taking jobs; running jobs get `shutdown_grace` to finish, then are interrupted and
///   handed back (Redis leases released); the local queue and local DLQ move to Redis when it
///   is available, else they are dropped and the count is logged.
#[derive(Clone)]
pub struct JobSystem {
    shared: Arc<Shared>,
}

struct Shared {
    cache: Cache,
    config: JobConfig,
    redis: Option<RedisQueue>,
    local: LocalQueue,
    counters: Counters,
    interrupted: AtomicU64,
    /// Cancelled when the shutdown begins: workers stop taking jobs.
    stop: CancellationToken,
    /// Cancelled when the grace period is over: running jobs are interrupted.
    abort: CancellationToken,
    paused: watch::Sender<bool>,
    tasks: TaskTracker,
    report: watch::Sender<Option<ShutdownReport>>,
    last_promote_ms: AtomicI64,
}

impl JobSystem {
    /// Starts the job system: `local_workers` local workers, `distributed_workers` Redis workers
    /// (only when the cache has Redis configured), the reaper and housekeeping loop, and the
    /// local delayed-set pump. 0 workers of a kind leaves that queue unserved (paused), as
    /// `JOB_*_WORKERS=0` does in tests. Cancelling `shutdown` begins the graceful shutdown (as
    /// [`JobSystem::shutdown`] does). Needs a Tokio runtime.
    pub fn start(cache: Cache, config: JobConfig, shutdown: CancellationToken) -> Self {
        let redis = cache.redis().map(|h| RedisQueue::new(h, config.keys.clone(), config.redis_timeout));
        let shared = Arc::new(Shared {
            local: LocalQueue::new(config.local_capacity, config.local_dlq_max),
            cache,
            redis,
            counters: Counters::default(),
            interrupted: AtomicU64::new(0),
            stop: shutdown.child_token(),
            abort: CancellationToken::new(),
            paused: watch::channel(false).0,
            tasks: TaskTracker::new(),
            report: watch::channel(None).0,
            last_promote_ms: AtomicI64::new(0),
            config,
        });
        for _ in 0..shared.config.local_workers {
            shared.tasks.spawn(shared.clone().local_worker());
        }
        if let Some(queue) = &shared.redis {
            for n in 1..=shared.config.distributed_workers {
                let worker_id = format!("{}-r{n}", shared.config.worker_id_prefix);
                shared.tasks.spawn(shared.clone().redis_worker(queue.clone(), worker_id));
            }
        }
        shared.tasks.spawn(shared.clone().local_pump());
        shared.tasks.spawn(shared.clone().upkeep());
        tokio::spawn(shared.clone().supervise());
        Self { shared }
    }
}

impl std::fmt::Debug for JobSystem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobSystem")
            .field("mode", &self.mode())
            .field("running", &self.running())
            .field("config", &self.shared.config)
            .finish()
    }
}

fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

fn chrono_duration(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

/// `attempts`, `max_tries` and `type` of a document that is not a valid [`Job`].
fn loose_fields(document: &str) -> (u32, u32, String) {
    let value: Value = serde_json::from_str(document).unwrap_or(Value::Null);
    let number = |name: &str, default: u32| {
        value.get(name).and_then(Value::as_u64).map_or(default, |n| u32::try_from(n).unwrap_or(u32::MAX))
    };
    let kind = value.get("type").and_then(Value::as_str).unwrap_or_default().to_owned();
    (number("attempts", 1), number("max_tries", FALLBACK_MAX_TRIES), kind)
}

impl Shared {
    /// The Redis queue if Redis is configured and the breaker is not open.
    fn available_queue(&self) -> Option<RedisQueue> {
        self.redis.as_ref().filter(|q| q.is_available()).cloned()
    }

    fn worker_call(&self) -> CallKind {
        CallKind::Custom(self.config.redis_timeout)
    }
}
