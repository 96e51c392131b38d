//! A private key space on the shared Redis, for tests of the cache and of the jobs that run
//! concurrently against one server (docs/testing.md#shared-fixtures).

use std::time::Duration;

use taskify_cache::redis::{self, AsyncCommands, Commands};
use taskify_cache::{Cache, CacheConfig, RedisConfig};

/// The shared Redis of the test machine (`TASKIFY_TEST_REDIS_URL` overrides it).
pub fn shared_redis_url() -> String {
    std::env::var("TASKIFY_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// Everything a test writes lives under `root` (`taskify-test:<uuid>:`): the cache prefix is
/// `root + "cache:"`, so its epoch and channel are private too, and keys outside the cache (job
/// queues, counters) go under `root` with [`Namespace::outside`]. Dropping it deletes every key
/// under `root`, also when the test panicked.
pub struct Namespace {
    pub root: String,
    pub prefix: String,
    pub url: String,
}

impl Namespace {
    /// A namespace on the Redis at `url`.
    pub fn on(url: &str) -> Self {
        let root = format!("taskify-test:{}:", uuid::Uuid::new_v4().simple());
        Self { prefix: format!("{root}cache:"), root, url: url.to_owned() }
    }

    /// A namespace on the shared Redis.
    pub fn shared() -> Self {
        Self::on(&shared_redis_url())
    }

    /// A key outside the cache prefix (counters, job queues, rate-limit keys of this test).
    pub fn outside(&self, name: &str) -> String {
        format!("{}{}", self.root, name)
    }

    /// The physical L2 key of a logical cache key.
    pub fn physical(&self, key: &str) -> String {
        format!("{}{}", self.prefix, key)
    }

    /// A cache configuration on this namespace: its own prefix and instance id, quick
    /// maintenance, and the namespace's `gen:tasks:all` as the overflow counter.
    pub fn cache_config(&self) -> CacheConfig {
        CacheConfig {
            key_prefix: self.prefix.clone(),
            instance_id: format!("test-{}", uuid::Uuid::new_v4().simple()),
            maintenance_interval: Duration::from_millis(100),
            overflow_counters: vec![self.outside("gen:tasks:all")],
            ..CacheConfig::default()
        }
    }

    pub fn redis_config(&self) -> RedisConfig {
        RedisConfig::new(self.url.clone())
    }

    /// A cache on this namespace whose invalidation subscription is established.
    pub async fn cache(&self) -> Cache {
        self.cache_with(self.cache_config()).await
    }

    pub async fn cache_with(&self, config: CacheConfig) -> Cache {
        let cache = Cache::with_redis(config, self.redis_config()).await.expect("valid URL");
        assert!(cache.wait_for_subscription(Duration::from_secs(5)).await, "subscription established");
        cache
    }

    /// A plain connection for looking at Redis directly.
    pub async fn raw(&self) -> redis::aio::MultiplexedConnection {
        redis::Client::open(self.url.as_str())
            .expect("url")
            .get_multiplexed_async_connection()
            .await
            .expect("redis reachable")
    }

    /// The value of a physical key, as text.
    pub async fn raw_get(&self, key: &str) -> Option<String> {
        self.raw().await.get(key).await.expect("GET")
    }

    /// Every key under the namespace root, sorted and once each (SCAN, never KEYS).
    pub async fn stored_keys(&self) -> Vec<String> {
        let mut conn = self.raw().await;
        let mut iter: redis::AsyncIter<'_, String> = conn.scan_match(self.pattern()).await.expect("SCAN");
        let mut keys = Vec::new();
        while let Some(k) = iter.next_item().await {
            keys.push(k.expect("key"));
        }
        // SCAN may return a key more than once (while the keyspace is rehashed).
        keys.sort();
        keys.dedup();
        keys
    }

    fn pattern(&self) -> String {
        format!("{}*", taskify_cache::escape_glob(&self.root))
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        // Synchronous on purpose: it must also run when the test panicked.
        let Ok(client) = redis::Client::open(self.url.as_str()) else { return };
        let Ok(mut conn) = client.get_connection_with_timeout(Duration::from_secs(1)) else { return };
        let keys: Vec<Vec<u8>> = match conn.scan_match::<_, Vec<u8>>(self.pattern()) {
            Ok(iter) => iter.filter_map(Result::ok).collect(),
            Err(_) => return,
        };
        for chunk in keys.chunks(500) {
            let _: Result<u64, _> = redis::cmd("DEL").arg(chunk).query(&mut conn);
        }
    }
}
