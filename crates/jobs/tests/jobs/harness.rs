//! Test support.
//!
//! # Isolation on the shared Redis
//! The queue names of docs/jobs.md#redis-structures are fixed, so a deployment uses exactly `cache_jobs`, … in its
//! database. Tests never do: every test gets a [`Namespace`] whose root is
//! `taskify-test:jobs:<uuid>:`, and puts both its cache prefix (`<root>cache:`) and its queue
//! keys (`QueueKeys::with_prefix(<root>)`, so `<root>cache_jobs`, …) under it. Tests therefore
//! run concurrently against one Redis and never touch the real `cache_jobs*` keys of other
//! developers' servers. Dropping the namespace deletes everything under its root, also when the
//! test panicked.

use std::future::Future;
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use taskify_cache::redis::{self, AsyncCommands, Commands};
use taskify_cache::{BreakerConfig, Cache, CacheConfig, RedisConfig};
use taskify_jobs::{ExecutionHook, Job, JobConfig, JobSystem, QueueKeys, format_timestamp};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// The shared Redis of the test machine (`TASKIFY_TEST_REDIS_URL` overrides it).
pub fn shared_redis_url() -> String {
    std::env::var("TASKIFY_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// A private key space on the shared Redis (see the module documentation).
pub struct Namespace {
    pub root: String,
    pub prefix: String,
    pub url: String,
}

impl Namespace {
    pub fn new() -> Self {
        let root = format!("taskify-test:jobs:{}:", Uuid::new_v4().simple());
        Self { prefix: format!("{root}cache:"), root, url: shared_redis_url() }
    }

    pub fn keys(&self) -> QueueKeys {
        QueueKeys::with_prefix(&self.root)
    }

    /// The physical L2 key of a logical cache key.
    pub fn physical(&self, key: &str) -> String {
        format!("{}{}", self.prefix, key)
    }

    pub fn cache_config(&self) -> CacheConfig {
        CacheConfig {
            key_prefix: self.prefix.clone(),
            instance_id: format!("test-{}", Uuid::new_v4().simple()),
            maintenance_interval: Duration::from_millis(100),
            overflow_counters: vec![format!("{}gen:tasks:all", self.root)],
            ..CacheConfig::default()
        }
    }

    /// A cache on this namespace whose invalidation subscription is up.
    pub async fn cache(&self) -> Cache {
        self.cache_with(self.cache_config()).await
    }

    pub async fn cache_with(&self, config: CacheConfig) -> Cache {
        let cache = Cache::with_redis(config, RedisConfig::new(self.url.clone())).await.expect("valid URL");
        assert!(cache.wait_for_subscription(Duration::from_secs(5)).await, "subscription established");
        cache
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

    pub async fn raw(&self) -> redis::aio::MultiplexedConnection {
        redis::Client::open(self.url.as_str())
            .expect("url")
            .get_multiplexed_async_connection()
            .await
            .expect("redis reachable")
    }

    /// The L2 value of a logical key, as text.
    pub async fn l2(&self, key: &str) -> Option<String> {
        self.raw().await.get(self.physical(key)).await.expect("GET")
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

impl Drop for Namespace {
    fn drop(&mut self) {
        // Synchronous on purpose: it must also run when the test panicked.
        let Ok(client) = redis::Client::open(self.url.as_str()) else { return };
        let Ok(mut conn) = client.get_connection_with_timeout(Duration::from_secs(1)) else { return };
        let pattern = format!("{}*", taskify_cache::escape_glob(&self.root));
        let keys: Vec<Vec<u8>> = match conn.scan_match::<_, Vec<u8>>(pattern) {
            Ok(iter) => iter.filter_map(Result::ok).collect(),
            Err(_) => return,
        };
        for chunk in keys.chunks(500) {
            let _: Result<u64, _> = redis::cmd("DEL").arg(chunk).query(&mut conn);
        }
    }
}

/// A cache pointed at a port where nothing listens; its breaker opens after `max_failures`
/// failed calls.
pub async fn dead_redis_cache(max_failures: u32) -> Cache {
    let port = TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let mut redis = RedisConfig::new(format!("redis://127.0.0.1:{port}"));
    redis.startup_wait = Duration::from_millis(200);
    redis.dial_timeout = Duration::from_millis(200);
    redis.max_retries = 0;
    let config = CacheConfig {
        key_prefix: format!("taskify-test:jobs:{}:cache:", Uuid::new_v4().simple()),
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

/// Polls `check` until it holds, failing the test after `timeout`. The short pause between
/// polls is not synchronisation: the condition decides.
pub async fn eventually<F, Fut>(what: &str, timeout: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if check().await {
            return;
        }
        assert!(Instant::now() < deadline, "timed out after {timeout:?} waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
