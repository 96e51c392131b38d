//! The job system of one instance: router, local workers, Redis workers, reaper, local delayed
//! set pump, DLQ administration, stats and graceful shutdown (SPEC §6, §8.3 (4)).

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64};
use std::time::{Duration, Instant};

use chrono::{DateTime, SubsecRound, Utc};
use futures::FutureExt;
use serde::Serialize;
use serde_json::{Value, json};
use taskify_cache::{Cache, CallKind};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use uuid::Uuid;

use crate::config::JobConfig;
use crate::effects;
use crate::job::format_timestamp;
use crate::job::{DEFAULT_PRIORITY, FALLBACK_MAX_TRIES, Job, JobType, LEAST_URGENT, MOST_URGENT, NewJob};
use crate::local::LocalQueue;
use crate::redis_queue::{Claim, Claimed, RedisQueue, RetryDecision};
use crate::request::DlqSelection;
use crate::stats::{
    Counters, DlqPage, DlqRetryOutcome, Inspection, LocalWorkerStats, QueueSizes, ShutdownReport, WarmingStats,
};
use crate::telemetry;

/// The most due jobs one promote call moves (SPEC §6.4).
const PROMOTE_BATCH: usize = 100;
/// The most expired leases one reap call handles; a reap repeats while it finds that many.
const REAP_BATCH: usize = 1000;
/// How often the local DLQ is handed to Redis and the queue gauges are refreshed.
const HOUSEKEEPING_INTERVAL: Duration = Duration::from_secs(1);

/// Which queue a job was routed to: the `queue` of the 202 bodies and of the metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Queue {
    /// This instance's in-process queue.
    Local,
    /// The shared Redis queue.
    Redis,
}

impl Queue {
    /// `local` or `redis`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Local => "local",
            Self::Redis => "redis",
        }
    }
}

/// A job accepted by [`JobSystem::enqueue`].
#[derive(Debug, Clone, PartialEq)]
pub struct Enqueued {
    /// The job as stored (id, timestamps, normalised priority and `process_at`).
    pub job: Job,
    /// Where the router put it.
    pub queue: Queue,
}

impl Enqueued {
    /// The 202 body of the endpoint that enqueued this job (SPEC §1.7), with `job_id` and
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

/// The cache-warming job system of one instance (SPEC §6). Cheap to clone: clones share it.
///
/// - **Routing** ([`JobSystem::enqueue`]) follows SPEC §6.3 and re-checks "Redis available"
///   (configured, breaker not open) on every call.
/// - **Execution**: local and Redis workers run the same effects (SPEC §6.1 table); the
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

pub(crate) struct Shared {
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
            shared.tasks.spawn(local_worker(shared.clone()));
        }
        if let Some(queue) = &shared.redis {
            for n in 1..=shared.config.distributed_workers {
                let worker_id = format!("{}-r{n}", shared.config.worker_id_prefix);
                shared.tasks.spawn(redis_worker(shared.clone(), queue.clone(), worker_id));
            }
        }
        shared.tasks.spawn(local_pump(shared.clone()));
        shared.tasks.spawn(upkeep(shared.clone()));
        tokio::spawn(supervise(shared.clone()));
        Self { shared }
    }

    /// Creates a job from `job` and routes it (SPEC §6.3), first matching rule wins:
    /// 1. Redis unavailable → local (a scheduled job due later goes to the local delayed set);
    /// 2. `cache_scheduled` → Redis (delayed if due later, else ready);
    /// 3. priority 1 → local (Redis if the local queue is at capacity);
    /// 4. more than `JOB_LOCAL_THRESHOLD` jobs waiting locally → Redis;
    /// 5. otherwise → local.
    ///
    /// A Redis enqueue that fails is retried once on the local queue.
    /// [`EnqueueError::Full`] when the local queue is at capacity and the job cannot go to
    /// Redis.
    pub async fn enqueue(&self, job: NewJob) -> Result<Enqueued, EnqueueError> {
        self.shared.enqueue(job).await
    }

    /// The `queue_sizes` object of SPEC §5.8 (`redis_*` are `None` when Redis is disabled,
    /// unavailable or does not answer).
    pub async fn queue_sizes(&self) -> QueueSizes {
        self.shared.queue_sizes().await
    }

    /// The body of `GET /api/v1/cache/jobs?limit=` (SPEC §1.7): the first `limit` entries of each
    /// queue in execution order. The Redis lists are empty while Redis is unavailable.
    pub async fn inspect(&self, limit: usize) -> Inspection {
        let s = &self.shared;
        let local = s.local.snapshot(limit);
        let peek = match s.available_queue() {
            Some(q) => q.peek(limit).await.ok(),
            None => None,
        };
        let (peek, sizes) = peek.map_or((Default::default(), None), |(p, sizes)| (p, Some(sizes)));
        Inspection {
            redis_available: s.cache.redis_available(),
            queue_sizes: s.sizes_body(sizes),
            local,
            ready: peek.ready,
            delayed: peek.delayed,
            processing: peek.processing,
        }
    }

    /// The body of `GET /api/v1/cache/jobs/dlq` (SPEC §1.7): a page of the DLQ, newest first,
    /// and its total. The Redis DLQ when Redis is available (this instance's local dead letters
    /// are moved there first), else this instance's local DLQ.
    pub async fn dlq(&self, limit: usize, offset: usize) -> DlqPage {
        let s = &self.shared;
        if let Some(q) = s.available_queue() {
            s.flush_local_dlq(&q).await;
            if let Ok((jobs, total)) = q.dlq_page(offset, limit).await {
                return DlqPage { jobs, total };
            }
        }
        let (jobs, total) = s.local.dlq_page(offset, limit);
        DlqPage { jobs, total }
    }

    /// `POST /api/v1/cache/jobs/dlq/retry`: takes the selected jobs out of the DLQ (Redis when
    /// available, and this instance's local DLQ), resets `attempts` to 0 and enqueues them again
    /// through the routing rules. Ids that are in neither DLQ are returned in `not_found`. A job
    /// that cannot be enqueued (queue full) goes back to the DLQ and is not counted.
    pub async fn dlq_retry(&self, selection: DlqSelection) -> DlqRetryOutcome {
        let s = &self.shared;
        let taken = s.dlq_take(&selection).await;
        let mut outcome = DlqRetryOutcome::default();
        if let DlqSelection::Ids(ids) = &selection {
            outcome.not_found = ids.iter().filter(|id| !taken.iter().any(|j| j.id == **id)).copied().collect();
        }
        for original in taken {
            let mut job = original.clone();
            job.reset_for_retry(now());
            match s.route(job).await {
                Ok(_) => outcome.retried += 1,
                Err(e) => {
                    tracing::warn!(job_id = %original.id, error = %e, "DLQ retry could not enqueue the job; it stays in the DLQ");
                    s.dead_letter_raw(original).await;
                }
            }
        }
        outcome
    }

    /// `DELETE /api/v1/cache/jobs/dlq`: deletes the selected entries (Redis DLQ when available,
    /// and this instance's local DLQ); returns how many were deleted.
    pub async fn dlq_purge(&self, selection: DlqSelection) -> u64 {
        let s = &self.shared;
        let mut purged = 0;
        if let Some(q) = s.available_queue() {
            s.flush_local_dlq(&q).await;
            match q.dlq_purge(&selection).await {
                Ok(n) => purged += n,
                Err(e) => tracing::warn!(error = %e, "DLQ purge in Redis failed"),
            }
        }
        purged + s.local.dlq_take(&selection).len() as u64
    }

    /// The `cache_warming` object of SPEC §5.8 (no I/O).
    pub fn stats(&self) -> WarmingStats {
        let s = &self.shared;
        let c = &s.counters;
        let (avg, total) = c.local_durations();
        let configured = s.redis.is_some();
        WarmingStats {
            processed_jobs: Counters::get(&c.processed),
            failed_jobs: Counters::get(&c.failed),
            retry_jobs: Counters::get(&c.retried),
            dead_lettered_jobs: Counters::get(&c.dead_lettered),
            distributed_jobs: Counters::get(&c.distributed),
            local_jobs: Counters::get(&c.local),
            redis_available: s.cache.redis_available(),
            distributed_workers: if configured { s.config.distributed_workers } else { 0 },
            system_type: if configured { "integrated_redis_local" } else { "local_only" },
            local_worker_stats: LocalWorkerStats {
                workers: s.config.local_workers,
                running: self.running(),
                jobs_processed: Counters::get(&c.local_processed),
                total_errors: Counters::get(&c.local_errors),
                avg_duration: avg,
                total_duration: total,
                queue_length: s.local.waiting() as u64,
                queue_capacity: s.local.capacity() as u64,
            },
        }
    }

    /// Whether the system runs: started and not shutting down.
    pub fn running(&self) -> bool {
        !self.shared.stop.is_cancelled()
    }

    /// The `checks.jobs.mode` of `/health`: `integrated_redis_local` or `local_only`.
    pub fn mode(&self) -> &'static str {
        if self.shared.redis.is_some() { "integrated_redis_local" } else { "local_only" }
    }

    /// The configuration.
    pub fn config(&self) -> &JobConfig {
        &self.shared.config
    }

    /// The Redis queue, when Redis is configured.
    pub fn redis_queue(&self) -> Option<&RedisQueue> {
        self.shared.redis.as_ref()
    }

    /// Stops every worker from taking new jobs (running jobs finish). For tests and
    /// maintenance; the reaper keeps running.
    pub fn pause(&self) {
        self.shared.paused.send_replace(true);
    }

    /// Lets the workers take jobs again after [`JobSystem::pause`].
    pub fn resume(&self) {
        self.shared.paused.send_replace(false);
        self.shared.local.ready_signal.notify_waiters();
    }

    /// The graceful shutdown of SPEC §8.3 (4): workers stop taking jobs; running jobs get
    /// `shutdown_grace` to finish, after which they are interrupted and handed back (a Redis
    /// job's lease is released, so the job is ready again; a local job returns to the local
    /// queue); then the local queue (ready and delayed) and the local DLQ move to Redis when it
    /// is available, else they are dropped and their count is logged. Idempotent: every call
    /// returns the same report.
    pub async fn shutdown(&self) -> ShutdownReport {
        self.shared.stop.cancel();
        let mut rx = self.shared.report.subscribe();
        rx.wait_for(Option::is_some).await.map(|r| r.unwrap_or_default()).unwrap_or_default()
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
    pub(crate) fn cache(&self) -> &Cache {
        &self.cache
    }

    /// The Redis queue if Redis is configured and the breaker is not open.
    fn available_queue(&self) -> Option<RedisQueue> {
        self.redis.as_ref().filter(|q| q.is_available()).cloned()
    }

    fn worker_call(&self) -> CallKind {
        CallKind::Custom(self.config.redis_timeout)
    }

    // ---------------------------------------------------------------- routing

    pub(crate) async fn enqueue(&self, new: NewJob) -> Result<Enqueued, EnqueueError> {
        let at = now();
        let priority = match new.priority {
            0 => DEFAULT_PRIORITY,
            p => p.min(LEAST_URGENT),
        };
        let job = Job {
            id: Uuid::new_v4(),
            kind: new.kind.as_str().to_owned(),
            payload: new.payload,
            attempts: 0,
            max_tries: self.config.max_tries.max(1),
            priority,
            created_at: at,
            process_at: new.process_at.map_or(at, |t| t.trunc_subsecs(6).max(at)),
            last_error: None,
            failed_at: None,
            worker_id: None,
            lease_expires_at: None,
        };
        self.route(job).await
    }

    async fn route(&self, job: Job) -> Result<Enqueued, EnqueueError> {
        let queue = self.available_queue();
        let stopping = self.stop.is_cancelled();
        let target = match &queue {
            None if stopping => return Err(EnqueueError::ShuttingDown),
            None => Queue::Local,
            Some(_) if stopping => Queue::Redis,
            Some(_) if job.kind == JobType::Scheduled.as_str() => Queue::Redis,
            Some(_) if job.priority == MOST_URGENT => {
                if self.local.is_full() {
                    Queue::Redis
                } else {
                    Queue::Local
                }
            }
            Some(_) if self.local.waiting() > self.config.local_threshold || self.local.is_full() => Queue::Redis,
            Some(_) => Queue::Local,
        };
        if let (Queue::Redis, Some(q)) = (target, &queue) {
            match q.push(&job, CallKind::Write).await {
                Ok(_) => return Ok(self.accepted(job, Queue::Redis)),
                Err(e) => {
                    tracing::warn!(job_id = %job.id, error = %e, "Redis enqueue failed; trying the local queue");
                }
            }
        }
        if self.local.try_push(job.clone()) {
            return Ok(self.accepted(job, Queue::Local));
        }
        // The local queue filled up since the routing decision: Redis can still take it.
        if let (Queue::Local, Some(q)) = (target, &queue)
            && q.push(&job, CallKind::Write).await.is_ok()
        {
            return Ok(self.accepted(job, Queue::Redis));
        }
        Err(EnqueueError::Full)
    }

    fn accepted(&self, job: Job, queue: Queue) -> Enqueued {
        let counter = match queue {
            Queue::Local => &self.counters.local,
            Queue::Redis => &self.counters.distributed,
        };
        Counters::add(counter, 1);
        telemetry::enqueued(&job.kind, queue);
        tracing::debug!(job_id = %job.id, kind = %job.kind, queue = queue.as_str(), "job enqueued");
        Enqueued { job, queue }
    }

    // ---------------------------------------------------------------- execution

    /// The hook, then the effect. A panic fails the job instead of killing the worker.
    async fn execute(&self, job: Job) -> Result<(), String> {
        let run = async {
            if let Some(hook) = &self.config.before_execute {
                hook(job.clone()).await;
            }
            effects::perform(self, &job).await
        };
        match AssertUnwindSafe(run).catch_unwind().await {
            Ok(result) => result,
            Err(_) => Err("the job panicked".to_owned()),
        }
    }

    /// Waits while paused; `false` once the shutdown began.
    async fn wait_active(&self) -> bool {
        let mut rx = self.paused.subscribe();
        tokio::select! {
            biased;
            _ = self.stop.cancelled() => false,
            r = rx.wait_for(|paused| !*paused) => r.is_ok() && !self.stop.is_cancelled(),
        }
    }

    /// Sleeps `JOB_POLL_INTERVAL` ±20 %; `false` once the shutdown began.
    async fn idle(&self) -> bool {
        let jitter: f64 = rand::random_range(0.8..1.2);
        let pause = self.config.poll_interval.mul_f64(jitter).max(Duration::from_millis(1));
        tokio::select! {
            _ = self.stop.cancelled() => false,
            _ = tokio::time::sleep(pause) => true,
        }
    }

    async fn run_local(&self, mut job: Job) {
        job.attempts = job.attempts.saturating_add(1);
        let started = Instant::now();
        let result = tokio::select! {
            r = self.execute(job.clone()) => r,
            _ = self.abort.cancelled() => {
                job.attempts -= 1;
                tracing::info!(job_id = %job.id, "local job interrupted by shutdown; put back");
                self.local.push_back(job);
                Counters::add(&self.interrupted, 1);
                return;
            }
        };
        let took = started.elapsed();
        let c = &self.counters;
        Counters::add(&c.local_nanos, u64::try_from(took.as_nanos()).unwrap_or(u64::MAX));
        match result {
            Ok(()) => {
                Counters::add(&c.processed, 1);
                Counters::add(&c.local_processed, 1);
                telemetry::processed(&job.kind, Queue::Local, took);
            }
            Err(error) => {
                Counters::add(&c.failed, 1);
                Counters::add(&c.local_errors, 1);
                telemetry::failed(&job.kind, Queue::Local, took);
                tracing::warn!(job_id = %job.id, kind = %job.kind, attempts = job.attempts, %error, "local job failed");
                job.last_error = Some(error);
                if job.attempts < job.max_tries {
                    job.process_at = now() + chrono_duration(self.config.retry_backoff) * job.attempts as i32;
                    Counters::add(&c.retried, 1);
                    telemetry::retried(&job.kind);
                    self.local.push_back(job);
                } else {
                    job.failed_at = Some(now());
                    Counters::add(&c.dead_lettered, 1);
                    telemetry::dead_lettered(&job.kind);
                    self.dead_letter_raw(job).await;
                }
            }
        }
    }

    /// Puts a job into the Redis DLQ when available, else into the local DLQ. No counting.
    async fn dead_letter_raw(&self, job: Job) {
        if let Some(q) = self.available_queue() {
            match q.push_dlq(std::slice::from_ref(&job), self.config.dlq_max, self.worker_call()).await {
                Ok(()) => return,
                Err(e) => {
                    tracing::warn!(job_id = %job.id, error = %e, "Redis DLQ unavailable; keeping the job locally")
                }
            }
        }
        self.local.push_dlq(job);
    }

    /// Promotes due delayed jobs at most about twice per poll interval per instance.
    async fn maybe_promote(&self, queue: &RedisQueue) {
        let now_ms = Utc::now().timestamp_millis();
        let gap = i64::try_from((self.config.poll_interval / 2).as_millis()).unwrap_or(50).max(5);
        let last = self.last_promote_ms.load(std::sync::atomic::Ordering::Relaxed);
        if now_ms - last < gap {
            return;
        }
        if self
            .last_promote_ms
            .compare_exchange(last, now_ms, std::sync::atomic::Ordering::AcqRel, std::sync::atomic::Ordering::Relaxed)
            .is_err()
        {
            return;
        }
        loop {
            match queue.promote(PROMOTE_BATCH).await {
                Ok(n) if n as usize == PROMOTE_BATCH => continue,
                Ok(_) => return,
                Err(e) => {
                    tracing::debug!(error = %e, "promote failed");
                    return;
                }
            }
        }
    }

    async fn run_claimed(&self, queue: &RedisQueue, claimed: Claimed) {
        let Claimed { mut document, job } = claimed;
        let started = Instant::now();
        let (kind, attempts, max_tries, result) = match job {
            Err(error) => {
                let (attempts, max_tries, kind) = loose_fields(&document);
                (kind, attempts, max_tries, Err(error))
            }
            Ok(job) => {
                let (kind, attempts, max_tries) = (job.kind.clone(), job.attempts, job.max_tries);
                let lease = self.config.lease;
                let period = (lease / 3).max(Duration::from_millis(10));
                let mut renew_at = tokio::time::Instant::now() + period;
                let mut renewing = true;
                let exec = self.execute(job);
                tokio::pin!(exec);
                let result = loop {
                    tokio::select! {
                        r = &mut exec => break Some(r),
                        _ = tokio::time::sleep_until(renew_at), if renewing => {
                            renew_at = tokio::time::Instant::now() + period;
                            match queue.renew(&document, lease).await {
                                Ok(Some(renewed)) => document = renewed,
                                Ok(None) => {
                                    renewing = false;
                                    tracing::warn!(%kind, "job lease lost while running; its ack will be a no-op");
                                }
                                Err(e) => tracing::warn!(%kind, error = %e, "lease renewal failed"),
                            }
                        }
                        _ = self.abort.cancelled() => break None,
                    }
                };
                match result {
                    Some(r) => (kind, attempts, max_tries, r),
                    None => {
                        Counters::add(&self.interrupted, 1);
                        match queue.release(&document).await {
                            Ok(_) => tracing::info!(%kind, "job interrupted by shutdown; lease released"),
                            Err(e) => {
                                tracing::warn!(%kind, error = %e, "lease release failed; the reaper will requeue the job")
                            }
                        }
                        return;
                    }
                }
            }
        };
        let took = started.elapsed();
        let c = &self.counters;
        match result {
            Ok(()) => match self.settle(|| queue.ack(&document)).await {
                Some(true) => {
                    Counters::add(&c.processed, 1);
                    telemetry::processed(&kind, Queue::Redis, took);
                }
                Some(false) => tracing::warn!(%kind, "job finished after its lease moved on; ack ignored"),
                None => tracing::warn!(%kind, "ack failed; the job runs again after its lease expires"),
            },
            Err(error) => {
                let decision = if attempts < max_tries {
                    RetryDecision::Delay {
                        process_at: now() + chrono_duration(self.config.retry_backoff) * attempts as i32,
                    }
                } else {
                    RetryDecision::DeadLetter
                };
                tracing::warn!(%kind, attempts, %error, "job failed");
                match self.settle(|| queue.retry(&document, decision, &error, self.config.dlq_max)).await {
                    Some(true) => {
                        Counters::add(&c.failed, 1);
                        telemetry::failed(&kind, Queue::Redis, took);
                        if decision == RetryDecision::DeadLetter {
                            Counters::add(&c.dead_lettered, 1);
                            telemetry::dead_lettered(&kind);
                        } else {
                            Counters::add(&c.retried, 1);
                            telemetry::retried(&kind);
                        }
                    }
                    Some(false) => tracing::warn!(%kind, "job failed after its lease moved on; retry ignored"),
                    None => tracing::warn!(%kind, "retry failed; the job runs again after its lease expires"),
                }
            }
        }
    }

    /// Runs a settling call (ack, retry) with one more attempt after a transport failure.
    async fn settle<F, Fut>(&self, call: F) -> Option<bool>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<bool, taskify_cache::RedisCallError>>,
    {
        for attempt in 0..2 {
            match call().await {
                Ok(done) => return Some(done),
                Err(e) if attempt == 0 && e.is_unavailable() => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "settling a job failed");
                    return None;
                }
            }
        }
        None
    }

    // ---------------------------------------------------------------- upkeep

    async fn reap(&self) {
        let Some(q) = self.available_queue() else { return };
        loop {
            match q.reap(self.config.dlq_max, self.config.max_tries, REAP_BATCH).await {
                Ok(r) => {
                    if r.expired() > 0 {
                        tracing::info!(
                            requeued = r.requeued,
                            dead_lettered = r.dead_lettered.len(),
                            "expired job leases reaped"
                        );
                        telemetry::lease_expired(r.expired());
                    }
                    if r.discarded > 0 {
                        tracing::warn!(
                            discarded = r.discarded,
                            "expired leases that were not job documents were discarded"
                        );
                    }
                    for kind in &r.dead_lettered {
                        Counters::add(&self.counters.dead_lettered, 1);
                        telemetry::dead_lettered(kind);
                    }
                    if (r.expired() + r.discarded) < REAP_BATCH as u64 {
                        return;
                    }
                }
                Err(e) => {
                    tracing::debug!(error = %e, "reap failed");
                    return;
                }
            }
        }
    }

    /// Moves the local dead letters to the Redis DLQ (SPEC §6.5).
    async fn flush_local_dlq(&self, q: &RedisQueue) {
        if self.local.dlq_len() == 0 {
            return;
        }
        let jobs = self.local.take_dlq();
        match q.push_dlq(&jobs, self.config.dlq_max, self.worker_call()).await {
            Ok(()) => tracing::info!(count = jobs.len(), "local dead letters moved to Redis"),
            Err(e) => {
                tracing::debug!(error = %e, "moving local dead letters to Redis failed");
                self.local.restore_dlq(jobs);
            }
        }
    }

    async fn queue_sizes(&self) -> QueueSizes {
        let sizes = match self.available_queue() {
            Some(q) => q.sizes(CallKind::Read).await.ok(),
            None => None,
        };
        self.sizes_body(sizes)
    }

    fn sizes_body(&self, redis: Option<crate::redis_queue::RedisSizes>) -> QueueSizes {
        QueueSizes {
            local: self.local.len() as u64,
            redis_immediate: redis.map(|s| s.ready),
            redis_delayed: redis.map(|s| s.delayed),
            redis_processing: redis.map(|s| s.processing),
            redis_dead_letter: redis.map(|s| s.dlq),
        }
    }

    async fn refresh_gauges(&self) {
        telemetry::queue_size("local", self.local.waiting() as u64);
        telemetry::queue_size("local_delayed", self.local.delayed() as u64);
        if let Some(q) = self.available_queue()
            && let Ok(s) = q.sizes(self.worker_call()).await
        {
            telemetry::queue_size("ready", s.ready);
            telemetry::queue_size("delayed", s.delayed);
            telemetry::queue_size("processing", s.processing);
            telemetry::queue_size("dlq", s.dlq);
        }
    }

    /// Takes the selected jobs out of the Redis DLQ (when available) and the local DLQ.
    async fn dlq_take(&self, selection: &DlqSelection) -> Vec<Job> {
        let mut taken = Vec::new();
        if let Some(q) = self.available_queue() {
            self.flush_local_dlq(&q).await;
            match q.dlq_take(selection).await {
                Ok(jobs) => taken = jobs,
                Err(e) => tracing::warn!(error = %e, "taking jobs from the Redis DLQ failed"),
            }
        }
        let rest = match selection {
            DlqSelection::All => DlqSelection::All,
            DlqSelection::Ids(ids) => {
                DlqSelection::Ids(ids.iter().filter(|id| !taken.iter().any(|j| j.id == **id)).copied().collect())
            }
        };
        taken.extend(self.local.dlq_take(&rest));
        taken
    }

    // ---------------------------------------------------------------- shutdown

    async fn drain(&self) -> ShutdownReport {
        self.tasks.close();
        if tokio::time::timeout(self.config.shutdown_grace, self.tasks.wait()).await.is_err() {
            self.abort.cancel();
            let bound = self.config.redis_timeout * 3 + Duration::from_secs(1);
            if tokio::time::timeout(bound, self.tasks.wait()).await.is_err() {
                tracing::warn!("job workers did not stop in time");
            }
        }
        let mut report = ShutdownReport { interrupted: Counters::get(&self.interrupted), ..ShutdownReport::default() };
        let jobs = self.local.drain();
        let dead = self.local.take_dlq();
        let count = (jobs.len() + dead.len()) as u64;
        if count == 0 {
            return report;
        }
        if let Some(q) = self.available_queue() {
            let moved = async {
                q.push_many(&jobs).await?;
                q.push_dlq(&dead, self.config.dlq_max, self.worker_call()).await
            }
            .await;
            match moved {
                Ok(()) => {
                    tracing::info!(count, "local jobs moved to Redis at shutdown");
                    report.moved_to_redis = count;
                    return report;
                }
                Err(e) => tracing::error!(error = %e, "moving local jobs to Redis at shutdown failed"),
            }
        }
        tracing::warn!(count, "Redis unavailable at shutdown: local jobs dropped");
        report.dropped = count;
        report
    }
}

async fn local_worker(shared: Arc<Shared>) {
    loop {
        if !shared.wait_active().await {
            return;
        }
        match shared.local.pop() {
            Some(job) => shared.run_local(job).await,
            None => {
                tokio::select! {
                    _ = shared.local.ready_signal.notified() => {}
                    _ = shared.stop.cancelled() => return,
                }
            }
        }
    }
}

async fn redis_worker(shared: Arc<Shared>, queue: RedisQueue, worker_id: String) {
    loop {
        if !shared.wait_active().await {
            return;
        }
        if !queue.is_available() {
            if !shared.idle().await {
                return;
            }
            continue;
        }
        shared.maybe_promote(&queue).await;
        match queue.claim(&worker_id, shared.config.lease).await {
            Ok(Claim::Claimed(claimed)) => shared.run_claimed(&queue, claimed).await,
            Ok(Claim::Discarded(member)) => {
                let preview: String = member.chars().take(200).collect();
                tracing::error!(member = %preview, "a ready member was not a job document; discarded");
            }
            Ok(Claim::Empty) => {
                if !shared.idle().await {
                    return;
                }
            }
            Err(e) => {
                tracing::debug!(error = %e, "claim failed");
                if !shared.idle().await {
                    return;
                }
            }
        }
    }
}

/// Moves due local delayed jobs to the local ready queue, sleeping until the next due time.
async fn local_pump(shared: Arc<Shared>) {
    loop {
        shared.local.promote_due(Utc::now());
        let wait = shared
            .local
            .next_due()
            .map_or(Duration::from_secs(3600), |at| (at - Utc::now()).to_std().unwrap_or(Duration::ZERO));
        tokio::select! {
            _ = shared.stop.cancelled() => return,
            _ = shared.local.delayed_signal.notified() => {}
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

/// The reaper, and housekeeping: local dead letters to Redis, queue gauges.
async fn upkeep(shared: Arc<Shared>) {
    let mut reap = tokio::time::interval(shared.config.reap_interval.max(Duration::from_millis(10)));
    reap.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut housekeeping = tokio::time::interval(HOUSEKEEPING_INTERVAL);
    housekeeping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shared.stop.cancelled() => {
                shared.refresh_gauges().await;
                return;
            }
            _ = reap.tick() => shared.reap().await,
            _ = housekeeping.tick() => {
                if let Some(q) = shared.available_queue() {
                    shared.flush_local_dlq(&q).await;
                }
                shared.refresh_gauges().await;
            }
        }
    }
}

async fn supervise(shared: Arc<Shared>) {
    shared.stop.cancelled().await;
    let report = shared.drain().await;
    shared.report.send_replace(Some(report));
}
