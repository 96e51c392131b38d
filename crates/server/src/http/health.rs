//! `/health`, `/ready`, `/live` (docs/operations.md#health-endpoints). Dependency checks run at most once per second per
//! instance; calls in between get the last result.

use super::respond::json;
use super::state::AppState;
use crate::http::openapi as api;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;
use std::sync::atomic::Ordering;
use taskify_cache::BreakerState;
use taskify_domain::time::{format_secs, now};

fn round1(ms: f64) -> f64 {
    (ms * 10.0).round() / 10.0
}

// Same annotated-handler shape as /ready below (and the handlers folder): each probe states its own statuses.
#[utoipa::path(
    get,
    path = "/health",
    operation_id = "getHealth",
    tag = "Infrastructure",
    summary = "Health report",
    description = "Dependency checks (database `SELECT 1` within 2 s, Redis ping) run at most once per second per instance. Not rate limited. HEAD is accepted too.",
    responses(
        (status = 200, description = "Healthy or degraded.", body = api::HealthReport),
        (status = 503, description = "Unhealthy: the database is down (`status` `unhealthy`, `database` `down`). A health report, not a problem.", body = api::HealthReport),
    ),
    security(),
    extensions(("x-rate-limit-class" = json!("exempt"))),
)]
pub async fn health(State(state): State<AppState>) -> Response {
    let cache = state.services.caching.cache();
    let checked = state.health.get(&state.services.store, cache).await;
    let db = if checked.database_up { "up" } else { "down" };
    let breaker = cache.breaker().state();
    let redis = match checked.redis {
        None => "disabled",
        Some((true, _)) => "up",
        Some((false, _)) => "down",
    };
    let status = if !checked.database_up {
        "unhealthy"
    } else if redis == "down" || breaker != BreakerState::Closed {
        "degraded"
    } else {
        "healthy"
    };
    let code = if checked.database_up { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    let redis_check = match checked.redis {
        None => json!({"status": "disabled",
                       "message": "REDIS_URL not set: L2 cache and distributed job queue are disabled"}),
        Some((_, ms)) => json!({"status": redis, "latency_ms": round1(ms)}),
    };
    let l2 = match redis {
        "disabled" => "disabled",
        _ if cache.l2_reads_enabled() => "up",
        _ => "down",
    };
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
            "redis": redis,
            "checks": {
                "database": {"status": db, "backend": state.services.store.backend().as_str(),
                             "latency_ms": round1(checked.latency_ms)},
                "redis": redis_check,
                "cache": {"l1": "up", "l2": l2, "circuit_breaker": breaker.as_str(),
                          "pending_invalidations": cache.pending_invalidations()},
                "jobs": {"mode": state.jobs.mode(), "local_workers": state.jobs.config().local_workers,
                         "distributed_workers": if cache.redis_configured() {
                             state.jobs.config().distributed_workers } else { 0 }},
            },
        }),
    )
}

// Same annotated-handler shape as /health above: each probe states its own statuses.
#[utoipa::path(
    get,
    path = "/ready",
    operation_id = "getReady",
    tag = "Infrastructure",
    summary = "Readiness",
    description = "Redis does not affect readiness. Not rate limited.",
    responses(
        (status = 200, description = "Ready: `{\"ready\":true}`.", body = api::Readiness),
        (status = 503, description = "Not ready: database unreachable, migrations pending, or shutting down.", body = api::Readiness),
    ),
    security(),
    extensions(("x-rate-limit-class" = json!("exempt"))),
)]
pub async fn ready(State(state): State<AppState>) -> Response {
    let timestamp = format_secs(&now());
    let reason = if state.shutting_down.load(Ordering::Relaxed) {
        Some("shutting down")
    } else if state.services.store.is_unavailable() {
        // Known down (the store's probe is watching for its return): no need to wait for the
        // next check, and no stale "ready" from the last one.
        Some("database not ready")
    } else {
        let checked = state.health.get(&state.services.store, state.services.caching.cache()).await;
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

#[utoipa::path(
    get,
    path = "/live",
    operation_id = "getLive",
    tag = "Infrastructure",
    summary = "Liveness",
    description = "Always 200 while the process serves HTTP. Not rate limited.",
    responses(
        (status = 200, description = "Alive.", body = api::Liveness),
    ),
    security(),
    extensions(("x-rate-limit-class" = json!("exempt"))),
)]
pub async fn live(State(state): State<AppState>) -> Response {
    json(
        StatusCode::OK,
        &json!({ "status": "alive", "timestamp": format_secs(&now()), "uptime_seconds": state.started.elapsed().as_secs() }),
    )
}
