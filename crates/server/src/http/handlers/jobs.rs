//! `/api/v1/cache/jobs*` (docs/jobs.md#endpoints): enqueue the five job types, inspect the queues, and work
//! the dead-letter queue. Request rules live in `taskify_core::job_requests`; this module maps them to HTTP.

use crate::http::extract::{Caller, JsonBody, Params, SystemAdmin};
use crate::http::problem::{ApiError, ApiResult};
use crate::http::respond::json;
use crate::http::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;
use taskify_core::CoreError;
use taskify_core::access::Resource;
use taskify_core::job_requests::{self, RequestError, RequestErrorKind};
use taskify_jobs::{EnqueueError, JobType};

/// A job-request rejection as the API's 400.
fn rejected(e: RequestError) -> ApiError {
    let errors = e.errors;
    ApiError::Core(match e.kind {
        RequestErrorKind::InvalidRequest => {
            CoreError::InvalidRequest { message: "Invalid request format".into(), errors }
        }
        RequestErrorKind::ValidationFailed => CoreError::Validation(errors),
    })
}

async fn allow(state: &AppState, caller: &Caller<SystemAdmin>) -> ApiResult<()> {
    Ok(state.services.access.authorize(&caller.principal, "system:admin", Resource::System, &caller.ctx, None).await?)
}

/// Validates, authorizes, routes and enqueues one job: 202 with where it went.
async fn enqueue(state: AppState, caller: Caller<SystemAdmin>, kind: JobType, body: JsonBody) -> ApiResult<Response> {
    let job = job_requests::job_request(kind, body.0.as_map()).map_err(rejected)?;
    allow(&state, &caller).await?;
    match state.jobs.enqueue(job).await {
        Ok(enqueued) => Ok(json(StatusCode::ACCEPTED, &enqueued.accepted_body())),
        Err(EnqueueError::Full | EnqueueError::ShuttingDown) => Err(ApiError::Core(CoreError::Unavailable {
            reason: "the local job queue is full and Redis is unavailable".into(),
            retry_after_secs: Some(1),
        })),
    }
}

pub async fn warmup(State(state): State<AppState>, caller: Caller<SystemAdmin>, body: JsonBody) -> ApiResult<Response> {
    enqueue(state, caller, JobType::Warmup, body).await
}
pub async fn batch(State(state): State<AppState>, caller: Caller<SystemAdmin>, body: JsonBody) -> ApiResult<Response> {
    enqueue(state, caller, JobType::Batch, body).await
}
pub async fn scheduled(
    State(state): State<AppState>,
    caller: Caller<SystemAdmin>,
    body: JsonBody,
) -> ApiResult<Response> {
    enqueue(state, caller, JobType::Scheduled, body).await
}
pub async fn validation(
    State(state): State<AppState>,
    caller: Caller<SystemAdmin>,
    body: JsonBody,
) -> ApiResult<Response> {
    enqueue(state, caller, JobType::Validation, body).await
}
pub async fn eviction(
    State(state): State<AppState>,
    caller: Caller<SystemAdmin>,
    body: JsonBody,
) -> ApiResult<Response> {
    enqueue(state, caller, JobType::Eviction, body).await
}

/// `GET /cache/jobs?limit=`: the first entries of each queue, in execution order.
pub async fn inspect(
    State(state): State<AppState>,
    caller: Caller<SystemAdmin>,
    Params(q): Params,
) -> ApiResult<Response> {
    let limit = job_requests::parse_limit(q.get("limit"), 20, 200).map_err(rejected)?;
    allow(&state, &caller).await?;
    Ok(json(StatusCode::OK, &state.jobs.inspect(limit).await))
}

/// `GET /cache/jobs/dlq?limit=&offset=`: newest first.
pub async fn dlq(State(state): State<AppState>, caller: Caller<SystemAdmin>, Params(q): Params) -> ApiResult<Response> {
    let limit = job_requests::parse_limit(q.get("limit"), 50, 500).map_err(rejected)?;
    let offset = job_requests::parse_offset(q.get("offset")).map_err(rejected)?;
    allow(&state, &caller).await?;
    Ok(json(StatusCode::OK, &state.jobs.dlq(limit, offset).await))
}

/// `POST /cache/jobs/dlq/retry` with `{"job_ids":[…]}` or `{"all":true}`.
pub async fn dlq_retry(
    State(state): State<AppState>,
    caller: Caller<SystemAdmin>,
    body: JsonBody,
) -> ApiResult<Response> {
    let selection = job_requests::dlq_retry_request(body.0.as_map()).map_err(rejected)?;
    allow(&state, &caller).await?;
    let outcome = state.jobs.dlq_retry(selection).await;
    Ok(json(StatusCode::OK, &json!({"status": "success", "retried": outcome.retried, "not_found": outcome.not_found})))
}

/// `DELETE /cache/jobs/dlq?job_id=` or `?all=true`.
pub async fn dlq_purge(
    State(state): State<AppState>,
    caller: Caller<SystemAdmin>,
    Params(q): Params,
) -> ApiResult<Response> {
    let selection = job_requests::dlq_purge_request(q.get("job_id"), q.get("all")).map_err(rejected)?;
    allow(&state, &caller).await?;
    let purged = state.jobs.dlq_purge(selection).await;
    Ok(json(StatusCode::OK, &json!({"status": "success", "purged": purged})))
}
