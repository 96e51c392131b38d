//! Execution: running a job from either queue, retries, dead letters and lease renewal.

use std::panic::AssertUnwindSafe;
use std::time::{Duration, Instant};

use chrono::Utc;
use futures::FutureExt;

use super::{PROMOTE_BATCH, Shared, chrono_duration, loose_fields, now};
use crate::effects;
use crate::job::{Job, Queue};
use crate::redis_queue::{Claimed, RedisQueue, RetryDecision};
use crate::stats::Counters;
use crate::telemetry;

impl Shared {
    /// The hook, then the effect. A panic fails the job instead of killing the worker.
    async fn execute(&self, job: Job) -> Result<(), String> {
        let run = async {
            if let Some(hook) = &self.config.before_execute {
                hook(job.clone()).await;
            }
            // The correcting warmup of a validation job is routed like any other new job.
            let enqueue = |new| async move { self.enqueue(new).await.map(|_| ()).map_err(|e| e.to_string()) };
            effects::perform(&self.cache, &job, enqueue).await
        };
        match AssertUnwindSafe(run).catch_unwind().await {
            Ok(result) => result,
            Err(_) => Err("the job panicked".to_owned()),
        }
    }

    /// Waits while paused; `false` once the shutdown began.
    pub(super) async fn wait_active(&self) -> bool {
        let mut rx = self.paused.subscribe();
        tokio::select! {
            biased;
            _ = self.stop.cancelled() => false,
            r = rx.wait_for(|paused| !*paused) => r.is_ok() && !self.stop.is_cancelled(),
        }
    }

    /// Sleeps `JOB_POLL_INTERVAL` ±20 %; `false` once the shutdown began.
    pub(super) async fn idle(&self) -> bool {
        let jitter: f64 = rand::random_range(0.8..1.2);
        let pause = self.config.poll_interval.mul_f64(jitter).max(Duration::from_millis(1));
        tokio::select! {
            _ = self.stop.cancelled() => false,
            _ = tokio::time::sleep(pause) => true,
        }
    }

    pub(super) async fn run_local(&self, mut job: Job) {
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
    pub(super) async fn dead_letter_raw(&self, job: Job) {
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
    pub(super) async fn maybe_promote(&self, queue: &RedisQueue) {
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

    pub(super) async fn run_claimed(&self, queue: &RedisQueue, claimed: Claimed) {
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
}
