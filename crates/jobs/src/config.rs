//! Configuration of the job system (docs/operations.md#configuration `JOB_*`).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use crate::job::Job;

/// The names of the four Redis structures (docs/jobs.md#redis-structures). The defaults are the fixed names of the
/// design, without any prefix; a deployment MUST use them. Tests use [`QueueKeys::with_prefix`] to
/// get a private set on a shared Redis.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueKeys {
    /// The ready sorted set (`cache_jobs`).
    pub ready: String,
    /// The delayed sorted set (`cache_jobs_delayed`).
    pub delayed: String,
    /// The lease sorted set (`cache_jobs_processing`).
    pub processing: String,
    /// The dead-letter list (`cache_jobs_dlq`).
    pub dlq: String,
}

impl QueueKeys {
    /// The documented names behind `prefix` (`<prefix>cache_jobs`, …).
    pub fn with_prefix(prefix: &str) -> Self {
        Self {
            ready: format!("{prefix}cache_jobs"),
            delayed: format!("{prefix}cache_jobs_delayed"),
            processing: format!("{prefix}cache_jobs_processing"),
            dlq: format!("{prefix}cache_jobs_dlq"),
        }
    }
}

impl Default for QueueKeys {
    /// `cache_jobs`, `cache_jobs_delayed`, `cache_jobs_processing`, `cache_jobs_dlq`.
    fn default() -> Self {
        Self::with_prefix("")
    }
}

/// A callback awaited by a worker right before it executes a job's effect, with the job as the
/// worker started it (`attempts` already incremented). For instrumentation and tests (recording
/// execution order, holding a job in flight); it counts as part of the job's execution: the
/// lease is renewed while it runs, and shutdown may interrupt it.
pub type ExecutionHook = Arc<dyn Fn(Job) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// Settings of [`crate::JobSystem`]. `Default` gives the defaults of docs/operations.md#configuration.
#[derive(Clone)]
pub struct JobConfig {
    /// `JOB_LOCAL_WORKERS` (5). 0 leaves the local queue unserved (paused).
    pub local_workers: usize,
    /// `JOB_DISTRIBUTED_WORKERS` (5): Redis workers, started only when Redis is configured.
    /// 0 leaves the Redis queue unserved by this instance.
    pub distributed_workers: usize,
    /// `JOB_LOCAL_QUEUE_CAPACITY` (1000): the most jobs the local queue holds (ready and
    /// delayed). Retries of jobs already accepted are never refused.
    pub local_capacity: usize,
    /// `JOB_LOCAL_THRESHOLD` (5): with more waiting local jobs than this, new jobs go to Redis.
    pub local_threshold: usize,
    /// `JOB_MAX_TRIES` (3): starts allowed before a job goes to the DLQ.
    pub max_tries: u32,
    /// `JOB_RETRY_BACKOFF` (1 s): a failed job is retried `attempts × backoff` later.
    pub retry_backoff: Duration,
    /// `JOB_LEASE` (30 s): a Redis job's lease; renewed every third of it while the job runs.
    pub lease: Duration,
    /// `JOB_POLL_INTERVAL` (100 ms): how long an idle Redis worker sleeps (±20 % jitter).
    pub poll_interval: Duration,
    /// `JOB_DLQ_MAX` (10 000): the Redis DLQ is trimmed to this many entries.
    pub dlq_max: usize,
    /// The local DLQ's bound (1000), used while Redis is unavailable; the oldest entry goes.
    pub local_dlq_max: usize,
    /// Prefix of the worker ids written into leases (`<prefix>-r<n>`); the instance id.
    pub worker_id_prefix: String,
    /// The Redis structure names; the documented names by default.
    pub keys: QueueKeys,
    /// How often expired leases are reaped (5 s).
    pub reap_interval: Duration,
    /// Per-call timeout of the workers' Redis calls (promote, claim, ack, …; 2 s). Enqueueing
    /// uses the request-path write timeout of the cache's Redis handle instead.
    pub redis_timeout: Duration,
    /// At shutdown, how long running jobs may take to finish before they are interrupted and
    /// their jobs handed back (10 s).
    pub shutdown_grace: Duration,
    /// Optional callback before each execution (see [`ExecutionHook`]); `None` by default.
    pub before_execute: Option<ExecutionHook>,
}

impl Default for JobConfig {
    fn default() -> Self {
        Self {
            local_workers: 5,
            distributed_workers: 5,
            local_capacity: 1000,
            local_threshold: 5,
            max_tries: 3,
            retry_backoff: Duration::from_secs(1),
            lease: Duration::from_secs(30),
            poll_interval: Duration::from_millis(100),
            dlq_max: 10_000,
            local_dlq_max: 1000,
            worker_id_prefix: format!("jobs-{}", &uuid::Uuid::new_v4().simple().to_string()[..6]),
            keys: QueueKeys::default(),
            reap_interval: Duration::from_secs(5),
            redis_timeout: Duration::from_secs(2),
            shutdown_grace: Duration::from_secs(10),
            before_execute: None,
        }
    }
}

impl fmt::Debug for JobConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JobConfig")
            .field("local_workers", &self.local_workers)
            .field("distributed_workers", &self.distributed_workers)
            .field("local_capacity", &self.local_capacity)
            .field("local_threshold", &self.local_threshold)
            .field("max_tries", &self.max_tries)
            .field("retry_backoff", &self.retry_backoff)
            .field("lease", &self.lease)
            .field("poll_interval", &self.poll_interval)
            .field("dlq_max", &self.dlq_max)
            .field("local_dlq_max", &self.local_dlq_max)
            .field("worker_id_prefix", &self.worker_id_prefix)
            .field("keys", &self.keys)
            .field("reap_interval", &self.reap_interval)
            .field("redis_timeout", &self.redis_timeout)
            .field("shutdown_grace", &self.shutdown_grace)
            .field("before_execute", &self.before_execute.is_some())
            .finish()
    }
}
