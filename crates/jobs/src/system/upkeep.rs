//! Upkeep: the reaper, local dead letters to Redis, queue sizes and gauges, and DLQ takes.

use std::sync::Arc;
use std::time::Duration;

use taskify_cache::CallKind;

use super::{HOUSEKEEPING_INTERVAL, REAP_BATCH, Shared};
use crate::job::Job;
use crate::keys::DlqSelection;
use crate::redis_queue::RedisQueue;
use crate::stats::{Counters, QueueSizes};
use crate::telemetry;

impl Shared {
    /// The reaper, and housekeeping: local dead letters to Redis, queue gauges.
    pub(super) async fn upkeep(self: Arc<Self>) {
        let mut reap = tokio::time::interval(self.config.reap_interval.max(Duration::from_millis(10)));
        reap.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut housekeeping = tokio::time::interval(HOUSEKEEPING_INTERVAL);
        housekeeping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = self.stop.cancelled() => {
                    self.refresh_gauges().await;
                    return;
                }
                _ = reap.tick() => self.reap().await,
                _ = housekeeping.tick() => {
                    if let Some(q) = self.available_queue() {
                        self.flush_local_dlq(&q).await;
                    }
                    self.refresh_gauges().await;
                }
            }
        }
    }

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

    /// Moves the local dead letters to the Redis DLQ (docs/jobs.md#local-queue-retries-and-dead-letters).
    pub(super) async fn flush_local_dlq(&self, q: &RedisQueue) {
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

    pub(super) async fn queue_sizes(&self) -> QueueSizes {
        let sizes = match self.available_queue() {
            Some(q) => q.sizes(CallKind::Read).await.ok(),
            None => None,
        };
        self.sizes_body(sizes)
    }

    pub(super) fn sizes_body(&self, redis: Option<crate::redis_queue::RedisSizes>) -> QueueSizes {
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
    pub(super) async fn dlq_take(&self, selection: &DlqSelection) -> Vec<Job> {
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
}
