//! Fail fast while PostgreSQL is down.
//!
//! Without this, every request made while the database is unreachable waits the whole pool
//! acquire timeout (the pool keeps retrying the connect) before its 503, so requests pile up
//! exactly when the service can do least for them. Instead, once the database is *known* to be
//! down, every store operation is refused at once and a single background probe checks, on a
//! connection of its own, until the database answers again.
//!
//! How the store comes to know: every operation is watched by an [`OperationWatch`]. An
//! operation that ran for [`SLOW_OPERATION`] or more (it may have been waiting for a connection
//! the pool cannot open), or that ended with the pool holding no connection at all (the database
//! dropped them), makes the store *suspect* an outage. A suspicion only starts a probe; the
//! probe's answer decides. A healthy database therefore costs nothing but one extra connection
//! now and then when operations are slow, and never refuses a request.
//!
//! SQLite has no outage separate from its disk, so only PostgreSQL is probed.

use crate::StoreError;
use crate::pool::Pool;
use sqlx::{ConnectOptions, Connection};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// An operation at least this slow may have been waiting for a connection: probe.
pub(crate) const SLOW_OPERATION: Duration = Duration::from_secs(1);
/// Pause between probes while the database is down.
const PROBE_INTERVAL: Duration = Duration::from_millis(500);
/// At most one probe per this interval is started by suspicion while the database is up, so a
/// burst of slow operations opens at most one extra connection per second.
const SUSPICION_INTERVAL: Duration = Duration::from_secs(1);
/// Bounds for one probe's connect and `SELECT 1` (derived from the pool acquire timeout).
const PROBE_TIMEOUT_MIN: Duration = Duration::from_millis(250);
const PROBE_TIMEOUT_MAX: Duration = Duration::from_secs(2);
/// The `Retry-After` a refused request is answered with: about two probe intervals.
pub const RETRY_AFTER_SECS: u64 = 1;
/// PostgreSQL's "too many connections": the server is up, only full.
const TOO_MANY_CONNECTIONS: &str = "53300";

/// Whether the database is known to be down, and the probe that finds out when it is back.
#[derive(Debug)]
pub(crate) struct Availability {
    down: AtomicBool,
    /// True while a probe task runs (at most one at a time).
    probing: AtomicBool,
    /// When the last probe was started, in milliseconds since `epoch`.
    last_probe_ms: AtomicU64,
    epoch: Instant,
    probe_timeout: Duration,
    /// Why the last probe failed, for the message of refused operations' logs.
    last_failure: Mutex<String>,
}

impl Availability {
    pub(crate) fn new(acquire_timeout: Duration) -> Arc<Self> {
        Arc::new(Self {
            down: AtomicBool::new(false),
            probing: AtomicBool::new(false),
            last_probe_ms: AtomicU64::new(0),
            epoch: Instant::now(),
            probe_timeout: acquire_timeout.clamp(PROBE_TIMEOUT_MIN, PROBE_TIMEOUT_MAX),
            last_failure: Mutex::new(String::new()),
        })
    }

    /// True while the database is known to be down.
    pub(crate) fn is_down(&self) -> bool {
        self.down.load(Ordering::Acquire)
    }

    /// `Err(Unavailable)` at once while the database is known to be down.
    pub(crate) fn admit(&self) -> Result<(), StoreError> {
        if !self.is_down() {
            return Ok(());
        }
        let cause = self.last_failure.lock().map(|s| s.clone()).unwrap_or_default();
        Err(StoreError::Unavailable(sqlx::Error::Io(std::io::Error::new(
            std::io::ErrorKind::NotConnected,
            format!("the database is down (probe: {cause}); refusing at once until it answers again"),
        ))))
    }

    /// Starts a probe unless one runs or one was started less than [`SUSPICION_INTERVAL`] ago.
    pub(crate) fn suspect(self: &Arc<Self>, pool: &Pool) {
        let Pool::Postgres(pool) = pool else { return };
        let now_ms = u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX);
        let last = self.last_probe_ms.load(Ordering::Relaxed);
        if last != 0 && now_ms.saturating_sub(last) < millis(SUSPICION_INTERVAL) {
            return;
        }
        // Dropped futures may run this outside a runtime (at runtime shutdown): nothing to do then.
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
        if self.probing.compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire).is_err() {
            return;
        }
        self.last_probe_ms.store(now_ms.max(1), Ordering::Relaxed);
        runtime.spawn(Arc::clone(self).probe_until_up(pool.clone()));
    }

    /// Probes once; if the database does not answer, marks it down and probes every
    /// [`PROBE_INTERVAL`] until it answers (or the pool is closed at shutdown).
    async fn probe_until_up(self: Arc<Self>, pool: sqlx::PgPool) {
        let mut down_since: Option<Instant> = None;
        loop {
            match self.probe(&pool).await {
                Ok(()) => {
                    if let Some(since) = down_since {
                        self.down.store(false, Ordering::Release);
                        tracing::warn!(
                            down_for_ms = since.elapsed().as_millis() as u64,
                            "the database answers again: serving requests normally"
                        );
                    }
                    break;
                }
                Err(cause) => {
                    if let Ok(mut last) = self.last_failure.lock() {
                        last.clone_from(&cause);
                    }
                    if down_since.is_none() {
                        down_since = Some(Instant::now());
                        self.down.store(true, Ordering::Release);
                        tracing::error!(
                            error = %cause,
                            "the database does not answer: answering 503 at once and probing it every {PROBE_INTERVAL:?}"
                        );
                    }
                }
            }
            if pool.is_closed() {
                break;
            }
            tokio::time::sleep(PROBE_INTERVAL).await;
        }
        self.probing.store(false, Ordering::Release);
    }

    /// Opens a connection of its own (not from the pool, which may be saturated by healthy but
    /// slow work) and runs `SELECT 1`, within the probe timeout. `Err` describes the failure.
    async fn probe(&self, pool: &sqlx::PgPool) -> Result<(), String> {
        let options = pool.connect_options();
        let attempt = async {
            let mut conn = options.connect().await?;
            sqlx::query("SELECT 1").execute(&mut conn).await?;
            conn.close().await
        };
        match tokio::time::timeout(self.probe_timeout, attempt).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(sqlx::Error::Database(db))) if db.code().as_deref() == Some(TOO_MANY_CONNECTIONS) => Ok(()),
            Ok(Err(error)) => Err(error.to_string()),
            Err(_) => Err(format!("no answer within {:?}", self.probe_timeout)),
        }
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Watches one store operation (see the module docs); created by `on_db!` once the operation
/// has been admitted.
pub(crate) struct OperationWatch<'a> {
    availability: &'a Arc<Availability>,
    pool: &'a Pool,
    started: Instant,
}

impl<'a> OperationWatch<'a> {
    pub(crate) fn new(availability: &'a Arc<Availability>, pool: &'a Pool) -> Self {
        Self { availability, pool, started: Instant::now() }
    }
}

impl Drop for OperationWatch<'_> {
    fn drop(&mut self) {
        // Runs on every exit of the operation, `?` included: the connection the operation held
        // has been handed back (or closed) by now, because it was declared after this watch.
        let lost_all = match self.pool {
            Pool::Postgres(pool) => pool.size() == 0 && !pool.is_closed(),
            Pool::Sqlite(_) => false,
        };
        if lost_all || self.started.elapsed() >= SLOW_OPERATION {
            self.availability.suspect(self.pool);
        }
    }
}
