//! The operations of a running [`JobSystem`]: enqueue, inspection, DLQ administration, stats,
//! pause and shutdown.

use super::{EnqueueError, Enqueued, JobSystem, now};
use crate::config::JobConfig;
use crate::job::NewJob;
use crate::keys::DlqSelection;
use crate::redis_queue::RedisQueue;
use crate::stats::{
    Counters, DlqPage, DlqRetryOutcome, Inspection, LocalWorkerStats, QueueSizes, ShutdownReport, WarmingStats,
};

impl JobSystem {
    /// Creates a job from `job` and routes it (docs/jobs.md#routing), first matching rule wins:
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

    /// The `queue_sizes` object of docs/cache.md#stats (`redis_*` are `None` when Redis is disabled,
    /// unavailable or does not answer).
    pub async fn queue_sizes(&self) -> QueueSizes {
        self.shared.queue_sizes().await
    }

    /// The body of `GET /api/v1/cache/jobs?limit=` (docs/jobs.md#endpoints): the first `limit` entries of each
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

    /// The body of `GET /api/v1/cache/jobs/dlq` (docs/jobs.md#endpoints): a page of the DLQ, newest first,
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

    /// The `cache_warming` object of docs/cache.md#stats (no I/O).
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

    /// The graceful shutdown of docs/operations.md#graceful-shutdown the job stop: workers stop taking jobs; running jobs get
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
