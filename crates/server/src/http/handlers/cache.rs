//! `/api/v1/cache/*` administration (SPEC §1.6). Every route needs `system:admin`; the decision
//! is on `System::"taskify"` and is audited like every other administrative action.

use crate::http::extract::{Caller, SystemAdmin};
use crate::http::problem::ApiResult;
use crate::http::respond::json;
use crate::http::state::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};
use taskify_cache::{Cache, is_glob};
use taskify_core::CoreError;
use taskify_core::access::Resource;
use taskify_domain::text::{char_len, has_control_chars};

async fn allow(state: &AppState, caller: &Caller<SystemAdmin>) -> ApiResult<()> {
    Ok(state.services.access.authorize(&caller.principal, "system:admin", Resource::System, &caller.ctx, None).await?)
}

/// The job-system part of the stats (SPEC §5.8). The cache-warming job system is not built yet:
/// its counters are honest zeros and no worker runs.
fn cache_warming(cache: &Cache) -> Value {
    json!({
        "processed_jobs": 0, "failed_jobs": 0, "retry_jobs": 0, "dead_lettered_jobs": 0,
        "distributed_jobs": 0, "local_jobs": 0, "redis_available": cache.redis_available(),
        "distributed_workers": 0,
        "system_type": if cache.redis_configured() { "integrated_redis_local" } else { "local_only" },
        "local_worker_stats": {"workers": 0, "running": false, "jobs_processed": 0, "total_errors": 0,
            "avg_duration": "0s", "total_duration": "0s", "queue_length": 0, "queue_capacity": 0},
    })
}

fn queue_sizes(cache: &Cache) -> Value {
    let redis = cache.redis_configured().then_some(0);
    json!({"local": 0, "redis_immediate": redis, "redis_delayed": redis, "redis_processing": redis,
           "redis_dead_letter": redis})
}

pub async fn stats(State(state): State<AppState>, caller: Caller<SystemAdmin>) -> ApiResult<Response> {
    allow(&state, &caller).await?;
    let cache = state.services.caching.cache();
    let stats = cache.detailed_stats().await;
    Ok(json(
        StatusCode::OK,
        &json!({ "cache": stats, "cache_warming": cache_warming(cache), "queue_sizes": queue_sizes(cache) }),
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
