//! `/api/v1/cache/*` administration (docs/cache.md#administration-endpoints). Every route needs `system:admin`; the decision
//! is on `System::"taskify"` and is audited like every other administrative action.

use crate::http::extract::{Caller, SystemAdmin};
use crate::http::openapi as api;
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

// Same annotated-handler shape as the other handlers (admin.rs, profile.rs): one #[utoipa::path] per route with its own
// statuses.
#[utoipa::path(
    get,
    path = "/api/v1/cache/stats",
    operation_id = "getCacheStats",
    tag = "Cache",
    summary = "Cache statistics",
    description = "Per-instance figures, counted from the instance start (docs/cache.md#stats): L1, the operation counters, the hit rate, the `redis` circuit breaker, L2, the cache-warming counters and the queue sizes. Raw Redis `INFO` text is never exposed. Admin only.",
    responses(
        (status = 200, description = "The statistics.", body = api::CacheStats),
        (status = 403, description = "`account_disabled`: the caller is inactive. `insufficient_role`: the caller lacks `system:admin` (admin only).", body = api::Problem, content_type = "application/problem+json"),
        api::AuthenticatedFailures,
    ),
    extensions(("x-permission" = json!("system:admin")), ("x-rate-limit-class" = json!("api"))),
)]
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
#[utoipa::path(
    get,
    path = "/api/v1/cache/health",
    operation_id = "getCacheHealth",
    tag = "Cache",
    summary = "Cache and job-system health",
    description = "`status` is `degraded` when the job workers are not running, Redis is configured but down, or the circuit breaker is not closed. With Redis disabled, `redis` is `disabled` and `status` stays `healthy`. Admin only.",
    responses(
        (status = 200, description = "The health report (200 whether `healthy` or `degraded`).", body = api::CacheHealth),
        (status = 403, description = "`account_disabled`: the caller is inactive. `insufficient_role`: the caller lacks `system:admin` (admin only).", body = api::Problem, content_type = "application/problem+json"),
        api::AuthenticatedFailures,
    ),
    extensions(("x-permission" = json!("system:admin")), ("x-rate-limit-class" = json!("api"))),
)]
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

// Same annotated-handler shape as `stats` above: one #[utoipa::path] per route with its own statuses.
#[utoipa::path(
    delete,
    path = "/api/v1/cache/clear",
    operation_id = "clearCache",
    tag = "Cache",
    summary = "Clear the cache",
    description = "Clears the L1 of every instance and deletes every L2 key under `CACHE_KEY_PREFIX` (`SCAN` + `UNLINK`). It never touches the job queues, the generation counters, the rate-limit state or the login throttles. When Redis is disabled or unreachable, `l2_keys_deleted` is `null` and the L2 clear stays pending (docs/cache.md#redis-outages). Admin only.",
    responses(
        (status = 200, description = "Cleared.", body = api::CacheClearResponse),
        (status = 403, description = "`account_disabled`: the caller is inactive. `insufficient_role`: the caller lacks `system:admin` (admin only).", body = api::Problem, content_type = "application/problem+json"),
        api::AuthenticatedFailures,
    ),
    extensions(("x-permission" = json!("system:admin")), ("x-rate-limit-class" = json!("api"))),
)]
pub async fn clear(State(state): State<AppState>, caller: Caller<SystemAdmin>) -> ApiResult<Response> {
    allow(&state, &caller).await?;
    let deleted = state.services.caching.cache().clear().await;
    Ok(json(
        StatusCode::OK,
        &json!({"message": "cache cleared successfully", "l1_cleared": true, "l2_keys_deleted": deleted}),
    ))
}

#[utoipa::path(
    post,
    path = "/api/v1/cache/warm",
    operation_id = "warmCache",
    tag = "Cache",
    summary = "Trigger the built-in cache warm-up",
    description = "Takes no body. Starts the built-in warm-up asynchronously: the `task:{id}` entries of the 100 most recently updated tasks, written with the read-fill rules (`SET NX`; never over a newer value or a tombstone). Principals are not warmed. The same warm-up runs every `CACHE_WARM_INTERVAL`. Admin only.",
    responses(
        (status = 200, description = "`{\"status\":\"success\",\"message\":\"Cache warming triggered successfully\"}`.", body = api::CacheWarmResponse),
        (status = 403, description = "`account_disabled`: the caller is inactive. `insufficient_role`: the caller lacks `system:admin` (admin only).", body = api::Problem, content_type = "application/problem+json"),
        api::AuthenticatedFailures,
    ),
    extensions(("x-permission" = json!("system:admin")), ("x-rate-limit-class" = json!("api"))),
)]
pub async fn warm(State(state): State<AppState>, caller: Caller<SystemAdmin>) -> ApiResult<Response> {
    allow(&state, &caller).await?;
    crate::warmup::trigger(&state.services);
    Ok(json(StatusCode::OK, &json!({"status": "success", "message": "Cache warming triggered successfully"})))
}

/// `DELETE /cache/jobs/evict/{key}`: a key, or a glob when it holds `*`, `?` or `[`.
#[utoipa::path(
    delete,
    path = "/api/v1/cache/jobs/evict/{key}",
    operation_id = "evictCacheKey",
    tag = "Cache",
    summary = "Evict a cache key or glob now",
    description = "Acts at once; no job is created. A key that contains `*`, `?` or `[` is a glob pattern. Any key may be evicted, reserved prefixes included. The eviction applies to the L1 of every instance and to L2; while L2 is unreachable, the L2 part stays pending (docs/cache.md#redis-outages) and the answer is still 200. Admin only.",
    // The responses table repeats per route on purpose (jobs.rs): each operation names its own 400/403 wording; the
    // common rows are in api::AuthenticatedFailures.
    params(api::CacheKeyPath),
    responses(
        (status = 200, description = "Evicted: `key` for a plain key, `pattern` for a glob.", body = api::CacheEvictResponse),
        (status = 400, description = "`validation_failed` (`key`): empty, longer than 512 characters, with control characters, or an invalid glob.", body = api::Problem, content_type = "application/problem+json"),
        (status = 403, description = "`account_disabled`: the caller is inactive. `insufficient_role`: the caller lacks `system:admin` (admin only).", body = api::Problem, content_type = "application/problem+json"),
        api::AuthenticatedFailures,
    ),
    // Same x-permission/x-rate-limit-class extensions and handler signature as tasks.rs `attributes`: per-route facts,
    // stated at each route.
    extensions(("x-permission" = json!("system:admin")), ("x-rate-limit-class" = json!("api"))),
)]
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
