//! `/api/v1/cache/*` administration (docs/cache.md#administration-endpoints). Every route needs `system:admin`; the decision
//! is on `System::"taskify"` and is audited like every other administrative action.

use crate::http::extract::{Caller, SystemAdmin};
use crate::http::problem::ApiResult;
use crate::http::respond::json;
use crate::http::state::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;
use taskify_cache::{BreakerState, is_glob};
use taskify_core::CoreError;
use taskify_core::access::Resource;
use taskify_domain::text::{char_len, has_control_chars};

async fn allow(state: &AppState, caller: &Caller<SystemAdmin>) -> ApiResult<()> {
    Ok(state.services.access.authorize(&caller.principal, "system:admin", Resource::System, &caller.ctx, None).await?)
}

pub async fn stats(State(state): State<AppState>, caller: Caller<SystemAdmin>) -> ApiResult<Response> {
    allow(&state, &caller).await?;
    let stats = state.services.caching.cache().detailed_stats().await;
    let queue_sizes = state.jobs.queue_sizes().await;
    Ok(json(
        StatusCode::OK,
        &json!({ "cache": stats, "cache_warming": state.jobs.stats(), "queue_sizes": queue_sizes }),
    ))
}

/// `GET /cache/health`: `degraded` when the workers are not running, Redis is configured but
/// down, or the breaker is not closed.
pub async fn health(State(state): State<AppState>, caller: Caller<SystemAdmin>) -> ApiResult<Response> {
    allow(&state, &caller).await?;
    let cache = state.services.caching.cache();
    let breaker = cache.breaker().state();
    let redis = match (cache.redis_configured(), cache.redis_available() && cache.redis_connected()) {
        (false, _) => "disabled",
        (true, true) => "up",
        (true, false) => "down",
    };
    let running = state.jobs.running();
    let healthy = running && redis != "down" && breaker == BreakerState::Closed;
    Ok(json(
        StatusCode::OK,
        &json!({
            "status": if healthy { "healthy" } else { "degraded" },
            "running": running,
            "redis": redis,
            "circuit_breaker": breaker.as_str(),
            "metrics": state.jobs.stats(),
            "queue_sizes": state.jobs.queue_sizes().await,
        }),
    ))
}

pub async fn clear(State(state): State<AppState>, caller: Caller<SystemAdmin>) -> ApiResult<Response> {
    allow(&state, &caller).await?;
    let deleted = state.services.caching.cache().clear().await;
    Ok(json(
        StatusCode::OK,
        &json!({"message": "cache cleared successfully", "l1_cleared": true, "l2_keys_deleted": deleted}),
    ))
}

pub async fn warm(State(state): State<AppState>, caller: Caller<SystemAdmin>) -> ApiResult<Response> {
    allow(&state, &caller).await?;
    crate::warmup::trigger(&state.services);
    Ok(json(StatusCode::OK, &json!({"status": "success", "message": "Cache warming triggered successfully"})))
}

/// `DELETE /cache/jobs/evict/{key}`: a key, or a glob when it holds `*`, `?` or `[`.
pub async fn evict(
    State(state): State<AppState>,
    caller: Caller<SystemAdmin>,
    Path(key): Path<String>,
) -> ApiResult<Response> {
    if key.is_empty() || char_len(&key) > 512 || has_control_chars(&key) {
        return Err(CoreError::field("key", "must be 1 to 512 characters without control characters").into());
    }
    allow(&state, &caller).await?;
    let cache = state.services.caching.cache();
    if is_glob(&key) {
        cache.delete_pattern(&key).await.map_err(|e| CoreError::field("key", format!("is not a valid glob: {e}")))?;
        Ok(json(
            StatusCode::OK,
            &json!({"status": "success", "message": "Cache pattern evicted successfully", "pattern": key}),
        ))
    } else {
        cache.invalidate(&[&key]).await;
        Ok(json(StatusCode::OK, &json!({"status": "success", "message": "Cache key evicted successfully", "key": key})))
    }
}
