//! Test support: the shared fixtures of `taskify-test-support` and what only the job tests need.
//!
//! # Isolation on the shared Redis
//! The queue names of docs/jobs.md#redis-structures are fixed, so a deployment uses exactly `cache_jobs`, … in its
//! database. Tests never do: every test gets a [`Namespace`] whose root is
//! `taskify-test:<uuid>:`, and puts both its cache prefix (`<root>cache:`) and its queue
//! keys (`QueueKeys::with_prefix(<root>)`, so `<root>cache_jobs`, …) under it. Tests therefore
//! run concurrently against one Redis and never touch the real `cache_jobs*` keys of other
//! developers' servers. Dropping the namespace deletes everything under its root, also when the
//! test panicked.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use taskify_cache::redis::AsyncCommands;
use taskify_cache::{BreakerConfig, Cache, CacheConfig, RedisConfig};
use taskify_jobs::{ExecutionHook, Job, JobConfig, JobSystem, QueueKeys, format_timestamp};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

pub use taskify_test_support::{eventually, free_port};

/// A private key space on the shared Redis (see the module documentation): the shared
/// [`taskify_test_support::Namespace`] (its cache prefix, its raw connection, its clean-up on
/// drop) plus the job queue keys under its root.
pub struct Namespace(taskify_test_support::Namespace);

impl std::ops::Deref for Namespace {
    type Target = taskify_test_support::Namespace;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl Namespace {
    pub fn new() -> Self {
        Self(taskify_test_support::Namespace::shared())
    }

    pub fn keys(&self) -> QueueKeys {
        QueueKeys::with_prefix(&self.root)
    }

    /// A job configuration on this namespace's queue keys, with every worker paused (0).
    pub fn job_config(&self) -> JobConfig {
        JobConfig {
            local_workers: 0,
            distributed_workers: 0,
            keys: self.keys(),
            worker_id_prefix: format!("test-{}", &Uuid::new_v4().simple().to_string()[..6]),
            ..JobConfig::default()
        }
    }

    /// The L2 value of a logical key, as text.
    pub async fn l2(&self, key: &str) -> Option<String> {
        self.raw_get(&self.physical(key)).await
    }

    /// Members of a sorted set with their scores, lowest score first.
    pub async fn zrange(&self, key: &str) -> Vec<(String, f64)> {
        self.raw().await.zrange_withscores(key, 0, -1).await.expect("ZRANGE")
    }

    /// Jobs of a sorted set, lowest score first.
    pub async fn zjobs(&self, key: &str) -> Vec<Job> {
        self.zrange(key).await.iter().map(|(m, _)| serde_json::from_str(m).expect("job document")).collect()
    }

    /// Jobs of the DLQ list, newest first.
    pub async fn dlq_jobs(&self) -> Vec<Job> {
        let members: Vec<String> = self.raw().await.lrange(self.keys().dlq, 0, -1).await.expect("LRANGE");
        members.iter().map(|m| serde_json::from_str(m).expect("job document")).collect()
    }

    pub async fn zadd(&self, key: &str, member: &str, score: i64) {
        let _: i64 = self.raw().await.zadd(key, member, score).await.expect("ZADD");
    }
}

/// A cache pointed at a port where nothing listens; its breaker opens after `max_failures`
/// failed calls.
pub async fn dead_redis_cache(max_failures: u32) -> Cache {
    let port = free_port();
    let mut redis = RedisConfig::new(format!("redis://127.0.0.1:{port}"));
    redis.startup_wait = Duration::from_millis(200);
    redis.dial_timeout = Duration::from_millis(200);
    redis.max_retries = 0;
    let config = CacheConfig {
        key_prefix: format!("taskify-test:{}:cache:", Uuid::new_v4().simple()),
        breaker: BreakerConfig { max_failures, ..BreakerConfig::default() },
        ..CacheConfig::default()
    };
    Cache::with_redis(config, redis).await.expect("valid URL")
}

/// Opens the cache's breaker by reporting failures (Redis itself stays up).
pub fn open_breaker(cache: &Cache) {
    for _ in 0..10 {
        if let Ok(permit) = cache.breaker().try_acquire() {
            permit.failure();
        }
    }
    assert!(!cache.redis_available(), "breaker open");
}

pub fn start(cache: &Cache, config: JobConfig) -> JobSystem {
    JobSystem::start(cache.clone(), config, CancellationToken::new())
}

/// One execution seen by the [`Recorder`] hook.
#[derive(Debug, Clone)]
pub struct Start {
    pub job: Job,
    pub at: DateTime<Utc>,
}

/// An [`ExecutionHook`] that records every execution, and holds executions of jobs whose
/// payload key starts with `hold:` forever (they end only when interrupted).
#[derive(Clone, Default)]
pub struct Recorder {
    starts: Arc<Mutex<Vec<Start>>>,
}

impl Recorder {
    pub fn hook(&self) -> ExecutionHook {
        let starts = self.starts.clone();
        Arc::new(move |job: Job| {
            let hold = job.payload.get("key").and_then(Value::as_str).is_some_and(|k| k.starts_with("hold:"));
            starts.lock().expect("lock").push(Start { job, at: Utc::now() });
            Box::pin(async move {
                if hold {
                    std::future::pending::<()>().await;
                }
            })
        })
    }

    pub fn starts(&self) -> Vec<Start> {
        self.starts.lock().expect("lock").clone()
    }

    pub fn started_ids(&self) -> Vec<Uuid> {
        self.starts().iter().map(|s| s.job.id).collect()
    }

    pub fn len(&self) -> usize {
        self.starts.lock().expect("lock").len()
    }
}

/// A job document as another tool would write it.
pub fn document(id: Uuid, kind: &str, payload: Value, priority: u8) -> String {
    let now = format_timestamp(Utc::now());
    json!({"id": id, "type": kind, "payload": payload, "attempts": 0, "max_tries": 3, "priority": priority,
           "created_at": now, "process_at": now, "last_error": null})
    .to_string()
}
