//! The job metrics of docs/operations.md#metrics, behind small helpers so that label values are
//! spelled in one place; the names come from the one table, `taskify_domain::metric_names`.
//! Labels are low-cardinality: `type` is a known wire name or `unknown`.

use std::time::Duration;

use crate::job::{Queue, type_label};
use taskify_domain::metric_names as names;

/// The `queue` labels of [`names::CACHE_JOBS_QUEUE_SIZE`].
pub const QUEUE_GAUGES: [&str; 6] = ["local", "local_delayed", "ready", "delayed", "processing", "dlq"];

/// Exports the job counters that may legitimately stay at zero (failures, retries, dead letters,
/// expired leases), so every metric of docs/operations.md#metrics is present from the start.
pub fn register() {
    for kind in crate::job::JobType::ALL.map(crate::job::JobType::as_str) {
        metrics::counter!(names::CACHE_JOBS_RETRIED_TOTAL, "type" => kind).absolute(0);
        metrics::counter!(names::CACHE_JOBS_DEAD_LETTERED_TOTAL, "type" => kind).absolute(0);
        for queue in [Queue::Local, Queue::Redis] {
            metrics::counter!(names::CACHE_JOBS_FAILED_TOTAL, "type" => kind, "queue" => queue.as_str()).absolute(0);
        }
    }
    metrics::counter!(names::CACHE_JOBS_LEASE_EXPIRED_TOTAL).absolute(0);
}

pub(crate) fn enqueued(kind: &str, queue: Queue) {
    metrics::counter!(names::CACHE_JOBS_ENQUEUED_TOTAL, "type" => type_label(kind), "queue" => queue.as_str())
        .increment(1);
}

pub(crate) fn processed(kind: &str, queue: Queue, took: Duration) {
    metrics::counter!(names::CACHE_JOBS_PROCESSED_TOTAL, "type" => type_label(kind), "queue" => queue.as_str())
        .increment(1);
    duration(kind, took);
}

pub(crate) fn failed(kind: &str, queue: Queue, took: Duration) {
    metrics::counter!(names::CACHE_JOBS_FAILED_TOTAL, "type" => type_label(kind), "queue" => queue.as_str())
        .increment(1);
    duration(kind, took);
}

fn duration(kind: &str, took: Duration) {
    metrics::histogram!(names::CACHE_JOB_DURATION_SECONDS, "type" => type_label(kind)).record(took.as_secs_f64());
}

pub(crate) fn retried(kind: &str) {
    metrics::counter!(names::CACHE_JOBS_RETRIED_TOTAL, "type" => type_label(kind)).increment(1);
}

pub(crate) fn dead_lettered(kind: &str) {
    metrics::counter!(names::CACHE_JOBS_DEAD_LETTERED_TOTAL, "type" => type_label(kind)).increment(1);
}

pub(crate) fn lease_expired(n: u64) {
    metrics::counter!(names::CACHE_JOBS_LEASE_EXPIRED_TOTAL).increment(n);
}

pub(crate) fn queue_size(queue: &'static str, size: u64) {
    metrics::gauge!(names::CACHE_JOBS_QUEUE_SIZE, "queue" => queue).set(size as f64);
}
