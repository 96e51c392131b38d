//! The dependency checks behind `/health` and `/ready`: run at most once per second per
//! instance, calls in between get the last result (docs/operations.md#health-endpoints).

use std::sync::Arc;
use std::time::{Duration, Instant};
use taskify_cache::{Cache, CallKind, redis};
use taskify_domain::metric_names as names;
use taskify_store::Store;
use tokio::sync::Mutex;

const CHECK_EVERY: Duration = Duration::from_secs(1);
const PING_TIMEOUT: Duration = Duration::from_secs(2);

/// The last dependency check.
#[derive(Debug, Clone, Copy)]
pub struct Checked {
    pub(super) at: Instant,
    pub(super) database_up: bool,
    pub(super) latency_ms: f64,
    pub(super) migrations_pending: bool,
    /// `None` when Redis is not configured; else whether it answered PING, and how fast.
    pub(super) redis: Option<(bool, f64)>,
}

/// Caches the dependency checks for one second.
#[derive(Default)]
pub struct HealthCache {
    last: Arc<Mutex<Option<Checked>>>,
}

impl HealthCache {
    /// The last check when it is fresh, else a new one. The check runs in its own task: a caller
    /// cut off by `REQUEST_TIMEOUT` (a few milliseconds are enough against PostgreSQL) must not
    /// cancel it half-way, or no check would ever complete and `/ready` would never recover; it
    /// finishes, and its result answers the next call.
    pub(super) async fn get(&self, store: &Store, cache: &Cache) -> Checked {
        let last = Arc::clone(&self.last);
        let (store, cache) = (store.clone(), cache.clone());
        let check = tokio::spawn(async move {
            let mut last = last.lock_owned().await;
            if let Some(checked) = *last
                && checked.at.elapsed() < CHECK_EVERY
            {
                return checked;
            }
            let checked = check_dependencies(&store, &cache).await;
            *last = Some(checked);
            checked
        });
        check.await.unwrap_or(Checked {
            at: Instant::now(),
            database_up: false,
            latency_ms: 0.0,
            migrations_pending: false,
            redis: None,
        })
    }
}

/// One check of the database (ping, pending migrations) and of Redis when configured.
async fn check_dependencies(store: &Store, cache: &Cache) -> Checked {
    let started = Instant::now();
    let database_up = match tokio::time::timeout(PING_TIMEOUT, store.ping()).await {
        Ok(Ok(acquire)) => {
            // The pool's acquire latency, sampled at most once per second by this check.
            metrics::histogram!(names::DB_POOL_ACQUIRE_DURATION_SECONDS).record(acquire.as_secs_f64());
            true
        }
        _ => false,
    };
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    let migrations_pending =
        database_up && !matches!(tokio::time::timeout(PING_TIMEOUT, store.migrations_pending()).await, Ok(Ok(false)));
    let redis = match cache.redis() {
        None => None,
        Some(handle) => {
            let started = Instant::now();
            let ping = handle
                .call(CallKind::Custom(PING_TIMEOUT), |mut conn| async move {
                    redis::cmd("PING").query_async::<String>(&mut conn).await
                })
                .await;
            Some((ping.is_ok(), started.elapsed().as_secs_f64() * 1000.0))
        }
    };
    Checked { at: Instant::now(), database_up, latency_ms, migrations_pending, redis }
}
