//! The job metrics of docs/operations.md#metrics, behind small helpers so that names and label values are spelled
//! in one place. Labels are low-cardinality: `type` is a known wire name or `unknown`.

use std::time::Duration;

use crate::job::{Queue, type_label};

/// `cache_jobs_enqueued_total{type,queue}`.
pub const JOBS_ENQUEUED: &str = "cache_jobs_enqueued_total";
/// `cache_jobs_processed_total{type,queue}`: successful executions.
pub const JOBS_PROCESSED: &str = "cache_jobs_processed_total";
/// `cache_jobs_failed_total{type,queue}`: failed executions (each attempt).
pub const JOBS_FAILED: &str = "cache_jobs_failed_total";
/// `cache_jobs_retried_total{type}`: failed jobs re-queued for another attempt.
pub const JOBS_RETRIED: &str = "cache_jobs_retried_total";
/// `cache_jobs_dead_lettered_total{type}`: jobs moved to a DLQ (failures and expired leases).
pub const JOBS_DEAD_LETTERED: &str = "cache_jobs_dead_lettered_total";
/// `cache_jobs_lease_expired_total`: leases found expired by this instance's reaper.
pub const JOBS_LEASE_EXPIRED: &str = "cache_jobs_lease_expired_total";
/// `cache_jobs_queue_size{queue}` gauge, `queue` one of [`QUEUE_GAUGES`].
pub const JOBS_QUEUE_SIZE: &str = "cache_jobs_queue_size";
/// `cache_job_duration_seconds{type}` histogram.
pub const JOB_DURATION: &str = "cache_job_duration_seconds";
/// The `queue` labels of [`JOBS_QUEUE_SIZE`].
pub const QUEUE_GAUGES: [&str; 6] = ["local", "local_delayed", "ready", "delayed", "processing", "dlq"];

/// Exports the job counters that may legitimately stay at zero (failures, retries, dead letters,
/// expired leases), so every metric of docs/operations.md#metrics is present from the start.
pub fn register() {
    for kind in crate::job::JobType::ALL.map(crate::job::JobType::as_str) {
        metrics::counter!(JOBS_RETRIED, "type" => kind).absolute(0);
        metrics::counter!(JOBS_DEAD_LETTERED, "type" => kind).absolute(0);
        for queue in [Queue::Local, Queue::Redis] {
            metrics::counter!(JOBS_FAILED, "type" => kind, "queue" => queue.as_str()).absolute(0);
        }
    }
    metrics::counter!(JOBS_LEASE_EXPIRED).absolute(0);
}

pub(crate) fn enqueued(kind: &str, queue: Queue) {
    metrics::counter!(JOBS_ENQUEUED, "type" => type_label(kind), "queue" => queue.as_str()).increment(1);
}

pub(crate) fn processed(kind: &str, queue: Queue, took: Duration) {
    metrics::counter!(JOBS_PROCESSED, "type" => type_label(kind), "queue" => queue.as_str()).increment(1);
    duration(kind, took);
}

pub(crate) fn failed(kind: &str, queue: Queue, took: Duration) {
    metrics::counter!(JOBS_FAILED, "type" => type_label(kind), "queue" => queue.as_str()).increment(1);
    duration(kind, took);
}

fn duration(kind: &str, took: Duration) {
    metrics::histogram!(JOB_DURATION, "type" => type_label(kind)).record(took.as_secs_f64());
}

pub(crate) fn retried(kind: &str) {
    metrics::counter!(JOBS_RETRIED, "type" => type_label(kind)).increment(1);
}

pub(crate) fn dead_lettered(kind: &str) {
    metrics::counter!(JOBS_DEAD_LETTERED, "type" => type_label(kind)).increment(1);
}

pub(crate) fn lease_expired(n: u64) {
    metrics::counter!(JOBS_LEASE_EXPIRED).increment(n);
}

pub(crate) fn queue_size(queue: &'static str, size: u64) {
    metrics::gauge!(JOBS_QUEUE_SIZE, "queue" => queue).set(size as f64);
}
