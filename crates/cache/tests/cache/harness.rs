//! Test support: a private namespace per test on the shared Redis (cleaned up on drop, panics
//! included), a private `redis-server` for outage tests, and polling with a deadline.

use std::future::Future;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use taskify_cache::redis::{self, AsyncCommands, Commands};
use taskify_cache::{Cache, CacheConfig, RedisConfig};

/// The shared Redis of the test machine (`TASKIFY_TEST_REDIS_URL` overrides it).
pub fn shared_redis_url() -> String {
    std::env::var("TASKIFY_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// A private key space: everything a test writes lives under `root` (the cache prefix is
/// `root + "cache:"`, so the channel and epoch are private too). Dropping it deletes every key
/// under `root`.
pub struct Namespace {
    pub root: String,
    pub prefix: String,
    pub url: String,
}

impl Namespace {
    pub fn on(url: &str) -> Self {
        let root = format!("taskify-test:{}:", uuid::Uuid::new_v4().simple());
        Self { prefix: format!("{root}cache:"), root, url: url.to_owned() }
    }

    pub fn shared() -> Self {
        Self::on(&shared_redis_url())
    }

    /// A key outside the cache prefix (counters, job queues, rate-limit keys of this test).
    pub fn outside(&self, name: &str) -> String {
        format!("{}{}", self.root, name)
    }

    /// The physical value key of a logical key.
    pub fn physical(&self, key: &str) -> String {
        format!("{}{}", self.prefix, key)
    }

    pub fn config(&self) -> CacheConfig {
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

    /// A cache on this namespace whose subscription is established.
    pub async fn cache(&self) -> Cache {
        self.cache_with(self.config()).await
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

    pub async fn raw_get(&self, key: &str) -> Option<String> {
        self.raw().await.get(key).await.expect("GET")
    }

    /// Every key under the namespace root (SCAN, as the tests of `clear` need it).
    pub async fn keys(&self) -> Vec<String> {
        let mut conn = self.raw().await;
        let pattern = format!("{}*", taskify_cache::escape_glob(&self.root));
        let mut iter: redis::AsyncIter<'_, String> = conn.scan_match(pattern).await.expect("SCAN");
        let mut keys = Vec::new();
        while let Some(k) = iter.next_item().await {
            keys.push(k.expect("key"));
        }
        keys.sort();
        keys
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

/// A `redis-server` child process on its own port, without persistence.
pub struct RedisServer {
    child: Option<Child>,
    pub port: u16,
}

impl RedisServer {
    pub fn free_port() -> u16 {
        TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
    }

    pub fn start() -> Self {
        Self::start_on(Self::free_port())
    }

    pub fn start_on(port: u16) -> Self {
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server is installed");
        let server = Self { child: Some(child), port };
        let client = redis::Client::open(server.url()).expect("url");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(mut c) = client.get_connection_with_timeout(Duration::from_millis(200))
                && redis::cmd("PING").query::<String>(&mut c).is_ok()
            {
                return server;
            }
            assert!(Instant::now() < deadline, "redis-server on port {port} did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
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

/// The value as text.
pub fn text(v: Option<bytes::Bytes>) -> Option<String> {
    v.map(|b| String::from_utf8(b.to_vec()).expect("utf-8"))
}
