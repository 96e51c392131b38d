//! Taskify's cache-warming jobs (docs/jobs.md): the job document, the key rules, the router, the in-process queue and its workers, and the distributed Redis queue
//! with its atomic Lua operations.
//!
//! # Shape
//! - [`Job`], [`JobType`], [`NewJob`]: the document of docs/jobs.md#job-document and what a request asks for.
//! - The key rules ([`validate_key`]), DLQ selections ([`DlqSelection`]) and TTLs ([`parse_ttl`],
//!   [`format_ttl`]). The 400 rules of the job endpoints are parsed in `taskify_core::job_requests`,
//!   with every other request.
//! - [`JobSystem`]: one instance's router, workers, reaper, DLQ administration, stats and
//!   graceful shutdown. Built on a [`taskify_cache::Cache`]: job effects write through it (both
//!   levels plus the invalidation broadcast), and the Redis queue runs through its Redis handle,
//!   so the circuit breaker named `redis` guards every queue call.
//! - [`RedisQueue`]: the four Redis structures (`cache_jobs`, `cache_jobs_delayed`,
//!   `cache_jobs_processing`, `cache_jobs_dlq`; names in [`QueueKeys`]) and their operations,
//!   each one Lua script: promote, claim, ack, retry, renew, reap (and release, for shutdown).
//!
//! # Guarantees
//! - Priority 1 is the most urgent, 10 the least, in every queue: the local queue orders by
//!   (priority, enqueue order); the Redis ready set by `priority × 10^13 + ready_at_ms`.
//! - A Redis job is executed by at most one worker at a time while its lease is renewed in time
//!   (every third of `JOB_LEASE`). A worker whose lease moved on cannot ack or retry it: those
//!   scripts remove exactly the worker's claimed document, so they are no-ops then. Every effect
//!   is idempotent, so the overlap after a lost lease is harmless.
//! - A crashed worker's job runs again once its lease expired (the reaper, every 5 s).
//! - Lua scripts never re-encode a job's payload: they edit top-level members only and copy the
//!   rest byte for byte (see `scripts`).

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod config;
mod duration;
mod effects;
mod job;
mod keys;
mod local;
mod redis_queue;
pub mod scripts;
mod stats;
mod system;
pub mod telemetry;

pub use config::{ExecutionHook, JobConfig, QueueKeys};
pub use duration::{
    DEFAULT_LONG_TTL, DEFAULT_TTL, MAX_TTL, MIN_TTL, format_duration, format_ttl, parse_duration, parse_ttl,
};
pub use effects::json_equal;
pub use job::{
    DEFAULT_PRIORITY, Job, JobType, LEAST_URGENT, MOST_URGENT, NewJob, PRIORITY_FACTOR, Queue, format_timestamp,
    ready_score, type_label,
};
pub use keys::{DlqSelection, MAX_KEY_CHARS, RESERVED_PREFIX_MESSAGE, RESERVED_PREFIXES, validate_key};
pub use redis_queue::{Claim, Claimed, Peek, Placement, Reaped, RedisQueue, RedisSizes, RetryDecision};
pub use stats::{DlqPage, DlqRetryOutcome, Inspection, LocalWorkerStats, QueueSizes, ShutdownReport, WarmingStats};
pub use system::{EnqueueError, Enqueued, JobSystem};
