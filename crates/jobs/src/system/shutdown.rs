//! The graceful shutdown: drain the workers, then move or drop what is left locally.

use std::sync::Arc;
use std::time::Duration;

use super::Shared;
use crate::stats::{Counters, ShutdownReport};

impl Shared {
    pub(super) async fn supervise(self: Arc<Self>) {
        self.stop.cancelled().await;
        let report = self.drain().await;
        self.report.send_replace(Some(report));
    }

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
