//! Pool creation for both backends from the `DATABASE_URL` scheme.

use crate::availability::Availability;
use crate::error::{connect_err, db_err};
pub(crate) use crate::pool::Pool;
use crate::{Store, StoreError, StoreResult};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

/// Which database serves this instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

impl Backend {
    /// `postgres` or `sqlite`, as metrics and `/health` name them.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Postgres => "postgres",
            Self::Sqlite => "sqlite",
        }
    }
}

/// Pool settings (docs/operations.md#configuration `DB_*`, `REQUEST_TIMEOUT`).
#[derive(Debug, Clone)]
pub struct PoolConfig {
    pub max_connections: u32,
    pub min_connections: u32,
    pub max_lifetime: Duration,
    pub idle_timeout: Duration,
    /// How long a request waits for a connection before the database counts as unavailable.
    pub acquire_timeout: Duration,
    /// PostgreSQL `statement_timeout` for every session (the request timeout).
    pub statement_timeout: Duration,
}

/// Pool occupancy for metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStats {
    pub size: u32,
    pub idle: u32,
    pub max: u32,
}

/// The pool of the current backend, with what the store knows about the database's availability.
#[derive(Clone)]
pub(crate) struct Db {
    pub(crate) pool: Pool,
    pub(crate) availability: Arc<Availability>,
}

/// SQLite waits this long for a competing writer before giving up with `SQLITE_BUSY`
/// (docs/data-model.md#portable-types asks for at least 5 s).
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

impl Store {
    /// Connects to `postgres://…` or `sqlite://…` (a SQLite file is created with its parent
    /// directory when missing; WAL, foreign keys, busy timeout ≥ 5 s).
    pub async fn connect(url: &str, config: &PoolConfig) -> StoreResult<Self> {
        let pool = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Pool::Postgres(connect_postgres(url, config).await?)
        } else if url.starts_with("sqlite:") {
            Pool::Sqlite(connect_sqlite(url, config).await?)
        } else {
            return Err(StoreError::Query(sqlx::Error::Configuration(
                "DATABASE_URL must start with postgres://, postgresql:// or sqlite:".into(),
            )));
        };
        Ok(Self { db: Db { pool, availability: Availability::new(config.acquire_timeout) } })
    }

    /// The backend chosen from the URL at [`Store::connect`].
    pub fn backend(&self) -> Backend {
        match self.db.pool {
            Pool::Postgres(_) => Backend::Postgres,
            Pool::Sqlite(_) => Backend::Sqlite,
        }
    }

    /// `SELECT 1`. Returns how long taking a connection from the pool took (the pool's acquire latency).
    pub async fn ping(&self) -> StoreResult<std::time::Duration> {
        on_db!(&self.db, |pool, _d| {
            let started = std::time::Instant::now();
            let mut conn = pool.acquire().await.map_err(db_err)?;
            let waited = started.elapsed();
            sqlx::query("SELECT 1").execute(&mut *conn).await.map_err(db_err)?;
            Ok(waited)
        })
    }

    /// Current pool occupancy (open and idle connections, configured maximum) for metrics.
    pub fn pool_stats(&self) -> PoolStats {
        // Not through `on_db!`: reading pool counters is not a database operation.
        let (size, idle, max) = match &self.db.pool {
            Pool::Postgres(pool) => (pool.size(), pool.num_idle(), pool.options().get_max_connections()),
            Pool::Sqlite(pool) => (pool.size(), pool.num_idle(), pool.options().get_max_connections()),
        };
        PoolStats { size, idle: u32::try_from(idle).unwrap_or(u32::MAX), max }
    }

    /// True while the database is known to be down: store operations are refused at once (503)
    /// and a background probe watches for its return.
    pub fn is_unavailable(&self) -> bool {
        self.db.availability.is_down()
    }

    /// Closes the pool, waiting for connections in use to be returned.
    pub async fn close(&self) {
        // Not through `on_db!`: closing must work while the database is down.
        match &self.db.pool {
            Pool::Postgres(pool) => pool.close().await,
            Pool::Sqlite(pool) => pool.close().await,
        }
    }
}

async fn connect_postgres(url: &str, config: &PoolConfig) -> StoreResult<sqlx::PgPool> {
    let timeout_ms = config.statement_timeout.as_millis().max(1);
    // Sent as startup parameters, so every session (including reconnects) carries them. The
    // statement timeout stops a timed-out request's query too (docs/operations.md#configuration
    // REQUEST_TIMEOUT). JIT is off: Taskify's statements are short, and compiling the plan of a
    // list query cost more than running it (15 to 50 ms per list page at 1.1 M tasks;
    // docs/performance.md, "Task lists").
    let options = PgConnectOptions::from_str(url)
        .map_err(db_err)?
        .options([("statement_timeout", format!("{timeout_ms}ms")), ("jit", "off".to_owned())]);
    PgPoolOptions::new()
        .max_connections(config.max_connections.max(1))
        .min_connections(config.min_connections.min(config.max_connections))
        .max_lifetime(non_zero(config.max_lifetime))
        .idle_timeout(non_zero(config.idle_timeout))
        .acquire_timeout(config.acquire_timeout)
        // sqlx pings each connection before handing it out: one more round trip per statement
        // (about 5 % of an uncached read's throughput), kept on purpose. Without it, a
        // connection the server closed (a restart, a failover, an idle-connection killer) fails
        // the next request that gets it, up to one 503 per pooled connection; with it, the pool
        // replaces the connection unseen (docs/performance.md, "Uncached read").
        .connect_with(options)
        .await
        .map_err(connect_err)
}

async fn connect_sqlite(url: &str, config: &PoolConfig) -> StoreResult<sqlx::SqlitePool> {
    let options = SqliteConnectOptions::from_str(url)
        .map_err(db_err)?
        .create_if_missing(true)
        .foreign_keys(true)
        .busy_timeout(SQLITE_BUSY_TIMEOUT)
        .synchronous(SqliteSynchronous::Normal);

    let in_memory = is_in_memory(url);
    let options = if in_memory {
        options
    } else {
        if let Some(dir) = options.get_filename().parent().filter(|d| !d.as_os_str().is_empty()) {
            tokio::fs::create_dir_all(dir).await.map_err(|e| StoreError::Unavailable(sqlx::Error::Io(e)))?;
        }
        options.journal_mode(SqliteJournalMode::Wal)
    };

    // No ping before handing a connection out: a local file cannot hang up, and each ping is a
    // round trip to the connection's worker thread.
    let mut pool = SqlitePoolOptions::new()
        .max_connections(config.max_connections.max(1))
        .acquire_timeout(config.acquire_timeout)
        .test_before_acquire(false);
    pool = if in_memory {
        // An in-memory database lives only as long as one of its connections: keep one open
        // for the life of the pool.
        pool.min_connections(1).max_lifetime(None).idle_timeout(None)
    } else {
        pool.min_connections(config.min_connections.min(config.max_connections))
            .max_lifetime(non_zero(config.max_lifetime))
            .idle_timeout(non_zero(config.idle_timeout))
    };
    pool.connect_with(options).await.map_err(connect_err)
}

fn is_in_memory(url: &str) -> bool {
    url.contains(":memory:") || url.contains("mode=memory")
}

/// A zero duration in the configuration means "no limit".
fn non_zero(d: Duration) -> Option<Duration> {
    (!d.is_zero()).then_some(d)
}
