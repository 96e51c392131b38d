//! The worker loops: local workers, Redis workers and the local delayed-set pump.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;

use super::Shared;
use crate::redis_queue::{Claim, RedisQueue};

impl Shared {
    pub(super) async fn local_worker(self: Arc<Self>) {
        loop {
            if !self.wait_active().await {
                return;
            }
            match self.local.pop() {
                Some(job) => self.run_local(job).await,
                None => {
                    tokio::select! {
                        _ = self.local.ready_signal.notified() => {}
                        _ = self.stop.cancelled() => return,
                    }
                }
            }
        }
    }

    pub(super) async fn redis_worker(self: Arc<Self>, queue: RedisQueue, worker_id: String) {
        loop {
            if !self.wait_active().await {
                return;
            }
            if !queue.is_available() {
                if !self.idle().await {
                    return;
                }
                continue;
            }
            self.maybe_promote(&queue).await;
            match queue.claim(&worker_id, self.config.lease).await {
                Ok(Claim::Claimed(claimed)) => self.run_claimed(&queue, claimed).await,
                Ok(Claim::Discarded(member)) => {
                    let preview: String = member.chars().take(200).collect();
                    tracing::error!(member = %preview, "a ready member was not a job document; discarded");
                }
                Ok(Claim::Empty) => {
                    if !self.idle().await {
                        return;
                    }
                }
                Err(e) => {
                    tracing::debug!(error = %e, "claim failed");
                    if !self.idle().await {
                        return;
                    }
                }
            }
        }
    }

    /// Moves due local delayed jobs to the local ready queue, sleeping until the next due time.
    pub(super) async fn local_pump(self: Arc<Self>) {
        loop {
            self.local.promote_due(Utc::now());
            let wait = self
                .local
                .next_due()
                .map_or(Duration::from_secs(3600), |at| (at - Utc::now()).to_std().unwrap_or(Duration::ZERO));
            tokio::select! {
                _ = self.stop.cancelled() => return,
                _ = self.local.delayed_signal.notified() => {}
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }
}
