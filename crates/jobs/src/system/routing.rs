//! Routing: a new job goes to the local queue or to Redis.

use chrono::SubsecRound;
use taskify_cache::CallKind;
use uuid::Uuid;

use super::{EnqueueError, Enqueued, Shared, now};
use crate::job::{DEFAULT_PRIORITY, Job, JobType, LEAST_URGENT, MOST_URGENT, NewJob, Queue};
use crate::stats::Counters;
use crate::telemetry;

impl Shared {
    pub(super) async fn enqueue(&self, new: NewJob) -> Result<Enqueued, EnqueueError> {
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

    pub(super) async fn route(&self, job: Job) -> Result<Enqueued, EnqueueError> {
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
}
