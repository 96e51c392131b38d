//! Private Redis servers for the scenarios that need Redis (docs/cache.md, docs/http-contract.md#rate-limits, docs/testing.md#f-cache-and-jobs, docs/testing.md#i-scale-out-coherence-and-outages).
//!
//! Several Redis keys are fixed by design and live outside `CACHE_KEY_PREFIX` (`taskify:gen:*`,
//! `rate_limit:*`, `login_fail:*`, `cache_jobs*`), and other developers' servers may use the shared
//! Redis on 127.0.0.1:6379. So every scenario starts its **own** `redis-server` child on a free
//! port ([`RedisServer`], shared with the other crates' tests in `taskify-test-support`), points
//! `REDIS_URL` at it, and kills it when dropped. The same server can
//! be stopped and started again on the same port for the outage scenarios; a persistent one
//! (append-only file, fsync on every write) restores its data after a restart, as a production
//! Redis would (docs/cache.md#redis-outages, "the values Redis restores from its append-only file").
//!
//! This module also holds the clients the scenarios inspect Redis with ([`RedisClient`]), an
//! in-process instance wired to a private Redis ([`WithRedis`]), and a cluster of `taskify serve`
//! child processes sharing one database and one Redis ([`Cluster`]).

use std::time::Duration;

use taskify_cache::redis;
use taskify_cache::redis::aio::MultiplexedConnection;

pub use taskify_test_support::RedisServer;

use crate::helpers::{ApiClient, Backend, TestApp, TestDatabase, spawn_app};
use crate::server_process::{ServerProcess, Workspace, child_environment, env_pairs};

/// Per-call Redis timeouts for the test instances. The default 250 ms (docs/operations.md#configuration) is meant for a
/// production host; on the 2-core test machine, with many servers running in parallel, a starved
/// call would count as a breaker failure (docs/cache.md#circuit-breaker) and make scenarios that are not about
/// timeouts flaky. The outage scenarios stop Redis outright, so its calls fail at once anyway.
pub const REDIS_TIMEOUTS: [(&str, &str); 2] = [("REDIS_READ_TIMEOUT", "2s"), ("REDIS_WRITE_TIMEOUT", "2s")];

// ---------------------------------------------------------------------------------------------
// A client to inspect and prepare Redis
// ---------------------------------------------------------------------------------------------

/// A multiplexed connection to a test Redis, with panicking helpers for scenario code.
#[derive(Clone)]
pub struct RedisClient {
    connection: MultiplexedConnection,
}

impl RedisClient {
    /// Connects to `server` (which must be running).
    pub async fn connect_to(server: &RedisServer) -> RedisClient {
        RedisClient::connect(&server.url())
            .await
            .unwrap_or_else(|error| panic!("cannot connect to the test Redis on port {}: {error}", server.port()))
    }

    /// Connects to `url`.
    pub async fn connect(url: &str) -> redis::RedisResult<RedisClient> {
        let client = redis::Client::open(url)?;
        let connection = tokio::time::timeout(Duration::from_secs(2), client.get_multiplexed_async_connection())
            .await
            .map_err(|_| redis::RedisError::from(std::io::Error::from(std::io::ErrorKind::TimedOut)))??;
        Ok(RedisClient { connection })
    }

    /// Runs one command, e.g. `&["ZADD", "cache_jobs_delayed", "1", "job"]`.
    pub async fn try_cmd<T: redis::FromRedisValue>(&self, args: &[&str]) -> redis::RedisResult<T> {
        let (name, rest) = args.split_first().expect("a command name");
        let mut command = redis::cmd(name);
        for arg in rest {
            command.arg(*arg);
        }
        let mut connection = self.connection.clone();
        command.query_async(&mut connection).await
    }

    /// Runs one command, failing the test on an error.
    pub async fn cmd<T: redis::FromRedisValue>(&self, args: &[&str]) -> T {
        self.try_cmd(args).await.unwrap_or_else(|error| panic!("Redis command {args:?} failed: {error}"))
    }

    /// Every key matching the glob `pattern`, sorted (SCAN, never KEYS).
    pub async fn keys_matching(&self, pattern: &str) -> Vec<String> {
        let mut cursor = "0".to_owned();
        let mut keys = Vec::new();
        loop {
            let (next, batch): (String, Vec<String>) =
                self.cmd(&["SCAN", &cursor, "MATCH", pattern, "COUNT", "1000"]).await;
            keys.extend(batch);
            if next == "0" {
                break;
            }
            cursor = next;
        }
        keys.sort();
        keys.dedup();
        keys
    }

    /// Whether `key` exists.
    pub async fn exists(&self, key: &str) -> bool {
        self.cmd::<i64>(&["EXISTS", key]).await == 1
    }
}

// ---------------------------------------------------------------------------------------------
// One in-process instance with a private Redis
// ---------------------------------------------------------------------------------------------

/// An in-process instance ([`spawn_app`]) whose `REDIS_URL` points at its own Redis.
///
/// The Redis is shared (`Arc`): a scenario's `async move` block captures only the fields it uses
/// (precise capture), so a scenario that never names `redis` would otherwise drop, and kill, the
/// Redis as soon as it starts. The scenario macros keep a second handle until the scenario ends.
pub struct WithRedis {
    pub app: TestApp,
    pub redis: std::sync::Arc<RedisServer>,
}

impl WithRedis {
    /// Starts a private Redis, then an instance on a fresh `backend` database with `REDIS_URL`
    /// pointing at it, plus `overrides`.
    pub async fn spawn(backend: Backend, overrides: &[(&str, &str)]) -> WithRedis {
        let redis = RedisServer::start().await;
        let url = redis.url();
        let mut settings = vec![("REDIS_URL", url.as_str())];
        settings.extend_from_slice(&REDIS_TIMEOUTS);
        settings.extend_from_slice(overrides);
        let app = spawn_app(backend, &settings).await;
        WithRedis { app, redis: std::sync::Arc::new(redis) }
    }

    /// A client of the private Redis.
    pub async fn redis_client(&self) -> RedisClient {
        RedisClient::connect_to(&self.redis).await
    }
}

/// Like `both_backends!`, for scenarios that need one instance with its own Redis: the scenario
/// gets a [`WithRedis`].
#[macro_export]
macro_rules! with_redis_both_backends {
    ($name:ident, overrides = $overrides:expr, $scenario:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let env = $crate::redis::WithRedis::spawn($crate::helpers::Backend::Sqlite, $overrides).await;
                let _redis = std::sync::Arc::clone(&env.redis);
                ($scenario)(env).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let env = $crate::redis::WithRedis::spawn($crate::helpers::Backend::Postgres, $overrides).await;
                let _redis = std::sync::Arc::clone(&env.redis);
                ($scenario)(env).await;
            }
        }
    };
    ($name:ident, $scenario:expr) => {
        $crate::with_redis_both_backends!($name, overrides = &[], $scenario);
    };
}

// ---------------------------------------------------------------------------------------------
// Several instances sharing one database and one Redis
// ---------------------------------------------------------------------------------------------

/// Several `taskify serve` child processes sharing one database (a fresh PostgreSQL database, or
/// one SQLite file in WAL mode), one private Redis and one `JWT_SECRET` (the default test
/// settings). Child processes rather than in-process servers, because the Prometheus registry is
/// per process: each node's `/metrics` then describes that node only.
///
/// Fields drop in declaration order: the nodes stop first, then Redis, then the database goes.
pub struct Cluster {
    pub nodes: Vec<ServerProcess>,
    pub redis: RedisServer,
    environment: Vec<(String, String)>,
    workspace: Workspace,
    /// Held so that the database outlives the nodes.
    _database: TestDatabase,
}

impl Cluster {
    /// Starts a memory-only Redis and `nodes` instances with `overrides` on a fresh `backend`
    /// database.
    pub async fn start(backend: Backend, nodes: usize, overrides: &[(&str, &str)]) -> Cluster {
        Cluster::start_with(RedisServer::start().await, backend, nodes, overrides).await
    }

    /// Starts `nodes` instances with `overrides` on a fresh `backend` database, using `redis`.
    /// The first node applies the migrations before the others start.
    pub async fn start_with(redis: RedisServer, backend: Backend, nodes: usize, overrides: &[(&str, &str)]) -> Cluster {
        let database = TestDatabase::create(backend);
        let url = redis.url();
        let mut settings = vec![("REDIS_URL", url.as_str())];
        settings.extend_from_slice(&REDIS_TIMEOUTS);
        settings.extend_from_slice(overrides);
        let environment = child_environment(database.url(), &settings);
        let workspace = Workspace::new();
        let mut started = Vec::with_capacity(nodes);
        for _ in 0..nodes {
            started.push(ServerProcess::start(&workspace.dir, &env_pairs(&environment)).await);
        }
        Cluster { nodes: started, redis, environment, workspace, _database: database }
    }

    /// The client of node `index`.
    pub fn node(&self, index: usize) -> &ApiClient {
        &self.nodes[index].api
    }

    /// The environment the nodes run with (`DATABASE_URL`, `REDIS_URL`, the test settings), for
    /// running `taskify` subcommands against the same database and Redis.
    pub fn environment(&self) -> Vec<(&str, &str)> {
        env_pairs(&self.environment)
    }

    /// The working directory of the nodes.
    pub fn workdir(&self) -> &std::path::Path {
        &self.workspace.dir
    }
}

/// Defines a module with one test per database backend, each starting a [`Cluster`] of `nodes`
/// instances with `overrides` and running the scenario on it. Scenarios reach the nodes through
/// [`Cluster::node`], which captures the whole cluster, so nothing is dropped early.
#[macro_export]
macro_rules! cluster_both_backends {
    ($name:ident, nodes = $nodes:expr, overrides = $overrides:expr, $scenario:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let cluster = $crate::redis::Cluster::start($crate::helpers::Backend::Sqlite, $nodes, $overrides).await;
                ($scenario)(cluster).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let cluster =
                    $crate::redis::Cluster::start($crate::helpers::Backend::Postgres, $nodes, $overrides).await;
                ($scenario)(cluster).await;
            }
        }
    };
    ($name:ident, nodes = $nodes:expr, $scenario:expr) => {
        $crate::cluster_both_backends!($name, nodes = $nodes, overrides = &[], $scenario);
    };
}
