//! The bodies the job system reports: the `cache_warming` and `queue_sizes` parts of the stats
//! (docs/cache.md#stats), the inspection and the DLQ page (docs/jobs.md#endpoints), and the shutdown report.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::Serialize;
use uuid::Uuid;

use crate::duration::format_duration;
use crate::job::Job;

/// The `queue_sizes` object (docs/cache.md#stats): `{"local","redis_immediate","redis_delayed",
/// "redis_processing","redis_dead_letter"}`. The `redis_*` sizes are `null` when Redis is
/// disabled or unavailable.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct QueueSizes {
    /// Jobs in this instance's local queue: ready plus delayed (retries, scheduled jobs held
    /// while Redis is unavailable).
    pub local: u64,
    // Optional per-queue counts; the shape matches store's RefreshToken tail by coincidence only.
    /// `cache_jobs`.
    pub redis_immediate: Option<u64>,
    /// `cache_jobs_delayed`.
    pub redis_delayed: Option<u64>,
    /// `cache_jobs_processing`.
    pub redis_processing: Option<u64>,
    /// `cache_jobs_dlq`.
    pub redis_dead_letter: Option<u64>,
}

/// The `local_worker_stats` object of `cache_warming` (docs/cache.md#stats).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LocalWorkerStats {
    /// `JOB_LOCAL_WORKERS`.
    pub workers: usize,
    /// Whether the job system runs (started, not shut down).
    pub running: bool,
    /// Successful executions by the local workers.
    pub jobs_processed: u64,
    /// Failed executions by the local workers.
    pub total_errors: u64,
    /// Mean execution time of the local workers, Go style (`"1.2ms"`; `"0s"` before the first).
    pub avg_duration: String,
    /// Total execution time of the local workers, Go style (`"8.4ms"`).
    pub total_duration: String,
    /// Ready jobs waiting in the local queue.
    pub queue_length: u64,
    /// `JOB_LOCAL_QUEUE_CAPACITY`.
    pub queue_capacity: u64,
}

/// The `cache_warming` object (docs/cache.md#stats). Counts are per instance since it started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WarmingStats {
    /// Successful executions (local and Redis workers of this instance).
    pub processed_jobs: u64,
    /// Failed executions (each failed attempt counts).
    pub failed_jobs: u64,
    /// Failed jobs re-queued for another attempt.
    pub retry_jobs: u64,
    /// Jobs this instance moved to a DLQ (failures and expired leases it reaped).
    pub dead_lettered_jobs: u64,
    /// Jobs this instance routed to the Redis queue.
    pub distributed_jobs: u64,
    /// Jobs this instance routed to its local queue.
    pub local_jobs: u64,
    /// "Redis available" (docs/jobs.md#routing): configured and the breaker not open.
    pub redis_available: bool,
    /// `JOB_DISTRIBUTED_WORKERS`, or 0 without Redis.
    pub distributed_workers: usize,
    /// `local_only` without Redis, else `integrated_redis_local`.
    pub system_type: &'static str,
    /// The local workers.
    pub local_worker_stats: LocalWorkerStats,
}

/// The body of `GET /api/v1/cache/jobs` (docs/jobs.md#endpoints), ready to serialise.
#[derive(Debug, Clone, Serialize)]
pub struct Inspection {
    /// "Redis available" when the inspection was taken.
    pub redis_available: bool,
    /// The sizes (as [`crate::JobSystem::queue_sizes`]).
    pub queue_sizes: QueueSizes,
    /// This instance's local queue: ready jobs in execution order, then delayed ones by due time.
    pub local: Vec<Job>,
    /// `cache_jobs`, most urgent first (`[]` while Redis is unavailable).
    pub ready: Vec<Job>,
    /// `cache_jobs_delayed`, earliest `process_at` first.
    pub delayed: Vec<Job>,
    /// `cache_jobs_processing`, earliest lease expiry first, with `worker_id` and
    /// `lease_expires_at`.
    pub processing: Vec<Job>,
}

/// The body of `GET /api/v1/cache/jobs/dlq` (docs/jobs.md#endpoints): `{"jobs":[…],"total":N}`, newest first.
#[derive(Debug, Clone, Serialize)]
pub struct DlqPage {
    /// The page, newest first; each job carries `last_error` and `failed_at`.
    pub jobs: Vec<Job>,
    /// Entries in the DLQ.
    pub total: u64,
}

/// The result of a DLQ retry (the 200 body adds `"status":"success"`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DlqRetryOutcome {
    /// Jobs taken from the DLQ and enqueued again.
    pub retried: u64,
    /// Requested ids that were not in the DLQ.
    pub not_found: Vec<Uuid>,
}

/// What [`crate::JobSystem::shutdown`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ShutdownReport {
    /// Running jobs interrupted after the grace period (Redis leases released, local jobs put
    /// back into the local queue before it was handed over).
    pub interrupted: u64,
    /// Local jobs (ready, delayed and dead-lettered) moved to Redis.
    pub moved_to_redis: u64,
    /// Local jobs lost because Redis was not available (logged).
    pub dropped: u64,
}

/// The instance's counters.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub processed: AtomicU64,
    pub failed: AtomicU64,
    pub retried: AtomicU64,
    pub dead_lettered: AtomicU64,
    pub distributed: AtomicU64,
    pub local: AtomicU64,
    pub local_processed: AtomicU64,
    pub local_errors: AtomicU64,
    pub local_nanos: AtomicU64,
}

impl Counters {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    pub fn local_durations(&self) -> (String, String) {
        let executions = Self::get(&self.local_processed) + Self::get(&self.local_errors);
        let total = Self::get(&self.local_nanos);
        let avg = total.checked_div(executions).unwrap_or(0);
        (format_duration(Duration::from_nanos(avg)), format_duration(Duration::from_nanos(total)))
    }
}
