//! `/health`, `/ready`, `/live` (SPEC §8.2). Dependency checks run at most once per second per
//! instance; calls in between get the last result.

use super::respond::json;
use super::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use taskify_domain::time::{format_secs, now};
use taskify_store::Store;
use tokio::sync::Mutex;

const CHECK_EVERY: Duration = Duration::from_secs(1);
const PING_TIMEOUT: Duration = Duration::from_secs(2);

/// The last dependency check.
#[derive(Debug, Clone, Copy)]
pub struct Checked {
    at: Instant,
    database_up: bool,
    latency_ms: f64,
    migrations_pending: bool,
}

/// Caches the dependency checks for one second.
#[derive(Default)]
pub struct HealthCache {
    last: Mutex<Option<Checked>>,
}

impl HealthCache {
    async fn get(&self, store: &Store) -> Checked {
        let mut last = self.last.lock().await;
        if let Some(checked) = *last
            && checked.at.elapsed() < CHECK_EVERY
        {
            return checked;
        }
        let started = Instant::now();
        let database_up = matches!(tokio::time::timeout(PING_TIMEOUT, store.ping()).await, Ok(Ok(())));
        let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
        let migrations_pending = database_up
            && !matches!(tokio::time::timeout(PING_TIMEOUT, store.migrations_pending()).await, Ok(Ok(false)));
        let checked = Checked { at: Instant::now(), database_up, latency_ms, migrations_pending };
        *last = Some(checked);
        checked
    }
}

pub async fn health(State(state): State<AppState>) -> Response {
    let checked = state.health.get(&state.services.store).await;
    let db = if checked.database_up { "up" } else { "down" };
    let status = if checked.database_up { "healthy" } else { "unhealthy" };
    let code = if checked.database_up { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    json(
        code,
        &json!({
            "status": status,
            "timestamp": format_secs(&now()),
            "service": "task-manager-backend",
            "version": env!("CARGO_PKG_VERSION"),
            "instance_id": state.config.instance_id,
            "uptime_seconds": state.started.elapsed().as_secs(),
            "database": db,
            "redis": "disabled",
            "checks": {
                "database": {"status": db, "backend": state.services.store.backend().as_str(),
                             "latency_ms": (checked.latency_ms * 10.0).round() / 10.0},
                "redis": {"status": "disabled",
                          "message": "REDIS_URL not set: L2 cache and distributed job queue are disabled"},
                "cache": {"l1": "disabled", "l2": "disabled", "circuit_breaker": "closed", "pending_invalidations": 0},
                "jobs": {"mode": "local_only", "local_workers": 0, "distributed_workers": 0},
            },
        }),
    )
}

pub async fn ready(State(state): State<AppState>) -> Response {
    let timestamp = format_secs(&now());
    let reason = if state.shutting_down.load(Ordering::Relaxed) {
        Some("shutting down")
    } else {
        let checked = state.health.get(&state.services.store).await;
        if !checked.database_up {
            Some("database not ready")
        } else if checked.migrations_pending {
            Some("migrations pending")
        } else {
            None
        }
    };
    match reason {
        None => json(StatusCode::OK, &json!({ "ready": true, "timestamp": timestamp })),
        Some(reason) => {
            json(StatusCode::SERVICE_UNAVAILABLE, &json!({ "ready": false, "reason": reason, "timestamp": timestamp }))
        }
    }
}

pub async fn live(State(state): State<AppState>) -> Response {
    json(
        StatusCode::OK,
        &json!({ "status": "alive", "timestamp": format_secs(&now()), "uptime_seconds": state.started.elapsed().as_secs() }),
    )
}
