//! docs/testing.md#f-cache-and-jobs (F2–F8, F11–F16), docs/jobs.md#endpoints and docs/jobs.md: the cache-warming jobs, their routing, their Redis
//! structures and the dead-letter queue, on one SQLite instance with its **own** Redis (the queue
//! keys `cache_jobs*` are fixed names, so no two scenarios may share a Redis); the same endpoints
//! without Redis; and the cache half of H6 (a forged admin token gets no cache administration).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, FixedOffset, Utc};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use uuid::Uuid;

use crate::helpers::*;
use crate::redis::{REDIS_TIMEOUTS, RedisClient, RedisServer};
use crate::server_process::env_pairs;
use crate::tokens::{sign_valid, valid_claims, with_changes};
use crate::{both_backends, sqlite_only};

/// The default `CACHE_KEY_PREFIX`.
const PREFIX: &str = "taskify:cache:";

/// The Redis structures of docs/jobs.md#redis-structures (fixed names).
const READY: &str = "cache_jobs";
const DELAYED: &str = "cache_jobs_delayed";
const PROCESSING: &str = "cache_jobs_processing";
const DLQ: &str = "cache_jobs_dlq";

/// The factor of the priority in a ready score: `priority × 10^13 + ready_at_ms` (docs/jobs.md#redis-structures).
const PRIORITY_FACTOR: i64 = 10_000_000_000_000;

/// F3, F5: a job's effect is in Redis within 2 s.
const EFFECT_DEADLINE: Duration = Duration::from_secs(2);
/// F15: a job with an expired lease is executed within 10 s.
const REAP_DEADLINE: Duration = Duration::from_secs(10);
/// Effects the design gives no bound for (a validation job and the warmup it enqueues, an eviction,
/// three attempts with their backoff, a breaker opening): generous, since they are polled.
const SLOW_DEADLINE: Duration = Duration::from_secs(30);

/// The message of every 403 `insufficient_role`.
const ADMIN_REQUIRED: &str = "Admin role required for this operation";

mod inspection;
mod kinds;
mod queues;
mod support;

use support::*;
