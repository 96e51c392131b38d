//! `/api/v1/cache/jobs*` (docs/jobs.md#endpoints): enqueue the five job types, inspect the queues, and work
//! the dead-letter queue. Request rules live in `taskify_core::job_requests`; this module maps them to HTTP.

use crate::http::extract::{Caller, JsonBody, Params, SystemAdmin};
use crate::http::openapi as api;
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

#[utoipa::path(
    post,
    path = "/api/v1/cache/jobs/warmup",
    operation_id = "enqueueWarmupJob",
    tag = "Jobs",
    summary = "Enqueue a warmup job",
    description = "Enqueues a `cache_warmup` job: it writes `data` under `key` through both levels, with `ttl` (default 15 min), plus an L1 invalidation broadcast. Admin only.",
    // Same request_body + responses shape as the other enqueue routes below (and auth.rs): each job kind states its own
    // body and statuses.
    request_body = api::WarmupJobRequest,
    responses(
        (status = 202, description = "Enqueued. `queue` says where the routing rules (docs/jobs.md#routing) put the job.", body = api::WarmupJobAccepted),
        (status = 400, description = "`invalid_request` (malformed body, or a member of the wrong JSON type) or `validation_failed`: `key` absent or not 1–512 characters, with whitespace or control characters, or with a reserved prefix (`key uses a reserved prefix`); `ttl` negative, unparsable or outside 1 s to 30 days; `priority` outside 0–10.", body = api::Problem, content_type = "application/problem+json"),
        (status = 403, description = "`account_disabled`: the caller is inactive. `insufficient_role`: the caller lacks `system:admin` (admin only).", body = api::Problem, content_type = "application/problem+json"),
        api::JobFailures,
    ),
    extensions(("x-permission" = json!("system:admin")), ("x-rate-limit-class" = json!("api"))),
)]
pub async fn warmup(State(state): State<AppState>, caller: Caller<SystemAdmin>, body: JsonBody) -> ApiResult<Response> {
    enqueue(state, caller, JobType::Warmup, body).await
}
#[utoipa::path(
    post,
    path = "/api/v1/cache/jobs/batch",
    operation_id = "enqueueBatchJob",
    tag = "Jobs",
    summary = "Enqueue a batch job",
    description = "Enqueues a `cache_batch` job: it writes `data` under every key of `keys`, with `ttl` (default 1 h). Best effort: the job fails if any key fails, and the retry rewrites them all (idempotent). Admin only.",
    request_body = api::BatchJobRequest,
    responses(
        (status = 202, description = "Enqueued. `queue` says where the routing rules (docs/jobs.md#routing) put the job.", body = api::BatchJobAccepted),
        (status = 400, description = "`invalid_request` (malformed body, or a member of the wrong JSON type) or `validation_failed`: `keys` `null`, absent or with more than 1 000 entries; an entry (`keys[i]`) not 1–512 characters, with whitespace or control characters, or with a reserved prefix (`key uses a reserved prefix`); `ttl` negative, unparsable or outside 1 s to 30 days; `priority` outside 0–10.", body = api::Problem, content_type = "application/problem+json"),
        (status = 403, description = "`account_disabled`: the caller is inactive. `insufficient_role`: the caller lacks `system:admin` (admin only).", body = api::Problem, content_type = "application/problem+json"),
        api::JobFailures,
    ),
    extensions(("x-permission" = json!("system:admin")), ("x-rate-limit-class" = json!("api"))),
)]
pub async fn batch(State(state): State<AppState>, caller: Caller<SystemAdmin>, body: JsonBody) -> ApiResult<Response> {
    enqueue(state, caller, JobType::Batch, body).await
}
#[utoipa::path(
    post,
    path = "/api/v1/cache/jobs/scheduled",
    operation_id = "enqueueScheduledJob",
    tag = "Jobs",
    summary = "Enqueue a scheduled job",
    description = "Enqueues a `cache_scheduled` job: like a warmup, but not before `process_at` (a past time means now). Admin only.",
    // Same enqueue-route shape as warmup/validation: each job kind has its own request and accepted-response schema.
    request_body = api::ScheduledJobRequest,
    responses(
        (status = 202, description = "Enqueued. `queue` says where the routing rules (docs/jobs.md#routing) put the job.", body = api::ScheduledJobAccepted),
        (status = 400, description = "`invalid_request` (malformed body, or a member of the wrong JSON type) or `validation_failed`: `key` absent or not 1–512 characters, with whitespace or control characters, or with a reserved prefix (`key uses a reserved prefix`); `process_at` absent or not an RFC 3339 date-time with an offset; `ttl` negative, unparsable or outside 1 s to 30 days; `priority` outside 0–10.", body = api::Problem, content_type = "application/problem+json"),
        (status = 403, description = "`account_disabled`: the caller is inactive. `insufficient_role`: the caller lacks `system:admin` (admin only).", body = api::Problem, content_type = "application/problem+json"),
        api::JobFailures,
    ),
    extensions(("x-permission" = json!("system:admin")), ("x-rate-limit-class" = json!("api"))),
)]
pub async fn scheduled(
    State(state): State<AppState>,
    caller: Caller<SystemAdmin>,
    body: JsonBody,
) -> ApiResult<Response> {
    enqueue(state, caller, JobType::Scheduled, body).await
}
#[utoipa::path(
    post,
    path = "/api/v1/cache/jobs/validation",
    operation_id = "enqueueValidationJob",
    tag = "Jobs",
    summary = "Enqueue a validation job",
    description = "Enqueues a `cache_validation` job: it reads `key` (from L2 when available, otherwise L1). If the key is missing, or its JSON value is not deeply equal to `expected_data` (numbers compared by value), it enqueues a `cache_warmup` of `expected_data` with the same priority and `ttl` (default 1 h). The job succeeds either way. Admin only.",
    // Same enqueue-route shape as warmup/scheduled: each job kind has its own request and accepted-response schema.
    request_body = api::ValidationJobRequest,
    responses(
        (status = 202, description = "Enqueued. `queue` says where the routing rules (docs/jobs.md#routing) put the job.", body = api::ValidationJobAccepted),
        (status = 400, description = "`invalid_request` (malformed body, or a member of the wrong JSON type) or `validation_failed`: `key` absent or not 1–512 characters, with whitespace or control characters, or with a reserved prefix (`key uses a reserved prefix`); `expected_data` absent; `ttl` negative, unparsable or outside 1 s to 30 days; `priority` outside 0–10.", body = api::Problem, content_type = "application/problem+json"),
        (status = 403, description = "`account_disabled`: the caller is inactive. `insufficient_role`: the caller lacks `system:admin` (admin only).", body = api::Problem, content_type = "application/problem+json"),
        api::JobFailures,
    ),
    extensions(("x-permission" = json!("system:admin")), ("x-rate-limit-class" = json!("api"))),
)]
pub async fn validation(
    State(state): State<AppState>,
    caller: Caller<SystemAdmin>,
    body: JsonBody,
) -> ApiResult<Response> {
    enqueue(state, caller, JobType::Validation, body).await
}
#[utoipa::path(
    post,
    path = "/api/v1/cache/jobs/eviction",
    operation_id = "enqueueEvictionJob",
    tag = "Jobs",
    summary = "Enqueue an eviction job",
    description = "Enqueues a `cache_eviction` job: it deletes `key`, or the keys matching the glob `pattern`, in L2 and in the L1 of every instance. Any key may be targeted, reserved prefixes included. `DELETE /api/v1/cache/jobs/evict/{key}` evicts at once, without a job. Admin only.",
    request_body = api::EvictionJobRequest,
    responses(
        (status = 202, description = "Enqueued. `queue` says where the routing rules (docs/jobs.md#routing) put the job.", body = api::EvictionJobAccepted),
        (status = 400, description = "`invalid_request` (malformed body, or a member of the wrong JSON type) or `validation_failed`: neither or both of `key` and `pattern`; a `key` or `pattern` that is not 1–512 characters or holds whitespace or control characters; an invalid glob; `priority` outside 0–10.", body = api::Problem, content_type = "application/problem+json"),
        (status = 403, description = "`account_disabled`: the caller is inactive. `insufficient_role`: the caller lacks `system:admin` (admin only).", body = api::Problem, content_type = "application/problem+json"),
        api::JobFailures,
    ),
    extensions(("x-permission" = json!("system:admin")), ("x-rate-limit-class" = json!("api"))),
)]
pub async fn eviction(
    State(state): State<AppState>,
    caller: Caller<SystemAdmin>,
    body: JsonBody,
) -> ApiResult<Response> {
    enqueue(state, caller, JobType::Eviction, body).await
}

/// `GET /cache/jobs?limit=`: the first entries of each queue, in execution order.
#[utoipa::path(
    get,
    path = "/api/v1/cache/jobs",
    operation_id = "listJobs",
    tag = "Jobs",
    summary = "Inspect the job queues",
    description = "The first `limit` entries of each queue, in execution order: this instance's local queue, and the Redis ready (`cache_jobs`), delayed (`cache_jobs_delayed`) and processing (`cache_jobs_processing`) sets. Delayed jobs carry `process_at`; jobs in processing also carry `lease_expires_at` and `worker_id`. With Redis unavailable, the Redis lists are `[]`. Admin only.",
    // The responses table repeats per route on purpose (admin.rs, cache.rs, profile.rs, tasks.rs): each operation names
    // its own wording; the common rows are in api::AuthenticatedFailures.
    params(api::JobsQuery),
    responses(
        (status = 200, description = "The queues.", body = api::JobQueues),
        (status = 400, description = "`validation_failed` (`limit`).", body = api::Problem, content_type = "application/problem+json"),
        (status = 403, description = "`account_disabled`: the caller is inactive. `insufficient_role`: the caller lacks `system:admin` (admin only).", body = api::Problem, content_type = "application/problem+json"),
        // The shared failure rows and extensions end every responses table the same way (profile.rs, tasks.rs).
        api::AuthenticatedFailures,
    ),
    extensions(("x-permission" = json!("system:admin")), ("x-rate-limit-class" = json!("api"))),
)]
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
#[utoipa::path(
    get,
    path = "/api/v1/cache/jobs/dlq",
    operation_id = "listDeadLetterJobs",
    tag = "Jobs",
    summary = "List dead-lettered jobs",
    description = "Newest first. Each job carries `last_error` and `failed_at`. While Redis is unavailable, this is the answering instance's local dead-letter list (docs/jobs.md#local-queue-retries-and-dead-letters). Admin only.",
    params(api::DeadLetterQuery),
    responses(
        (status = 200, description = "A page of the DLQ.", body = api::DeadLetterPage),
        (status = 400, description = "`validation_failed` (`limit`, `offset`).", body = api::Problem, content_type = "application/problem+json"),
        (status = 403, description = "`account_disabled`: the caller is inactive. `insufficient_role`: the caller lacks `system:admin` (admin only).", body = api::Problem, content_type = "application/problem+json"),
        api::AuthenticatedFailures,
    ),
    extensions(("x-permission" = json!("system:admin")), ("x-rate-limit-class" = json!("api"))),
)]
pub async fn dlq(State(state): State<AppState>, caller: Caller<SystemAdmin>, Params(q): Params) -> ApiResult<Response> {
    let limit = job_requests::parse_limit(q.get("limit"), 50, 500).map_err(rejected)?;
    let offset = job_requests::parse_offset(q.get("offset")).map_err(rejected)?;
    allow(&state, &caller).await?;
    Ok(json(StatusCode::OK, &state.jobs.dlq(limit, offset).await))
}

/// `POST /cache/jobs/dlq/retry` with `{"job_ids":[…]}` or `{"all":true}`.
#[utoipa::path(
    post,
    path = "/api/v1/cache/jobs/dlq/retry",
    operation_id = "retryDeadLetterJobs",
    tag = "Jobs",
    summary = "Retry dead-lettered jobs",
    description = "Body `{\"job_ids\":[…]}` or `{\"all\":true}`, exactly one of them. Each selected job leaves the DLQ, gets `attempts` reset to 0 and is enqueued again through the routing rules (docs/jobs.md#routing); a job that cannot be enqueued stays in the DLQ and is not counted. Requested ids that are not in the DLQ are listed in `not_found`. While Redis is unavailable, this works on the answering instance's local dead-letter list. Admin only.",
    request_body = api::DeadLetterRetryRequest,
    responses(
        (status = 200, description = "Retried.", body = api::DeadLetterRetryResponse),
        (status = 400, description = "`invalid_request` (malformed body, or a member of the wrong JSON type) or `validation_failed`: neither or both of `job_ids` and `all`, `all` not `true`, or a malformed id (`job_ids[i]`).", body = api::Problem, content_type = "application/problem+json"),
        (status = 403, description = "`account_disabled`: the caller is inactive. `insufficient_role`: the caller lacks `system:admin` (admin only).", body = api::Problem, content_type = "application/problem+json"),
        api::AuthenticatedFailures,
    ),
    extensions(("x-permission" = json!("system:admin")), ("x-rate-limit-class" = json!("api"))),
)]
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
#[utoipa::path(
    delete,
    path = "/api/v1/cache/jobs/dlq",
    operation_id = "purgeDeadLetterJobs",
    tag = "Jobs",
    summary = "Purge dead-lettered jobs",
    description = "Exactly one of `job_id` and `all=true`. Deletes the selected entries for good. While Redis is unavailable, this works on the answering instance's local dead-letter list. Admin only.",
    params(api::DeadLetterPurgeQuery),
    responses(
        (status = 200, description = "`{\"status\":\"success\",\"purged\":N}`.", body = api::DeadLetterPurgeResponse),
        (status = 400, description = "`validation_failed`: neither or both of `job_id` and `all`, `all` other than `true`, or a malformed `job_id`.", body = api::Problem, content_type = "application/problem+json"),
        (status = 403, description = "`account_disabled`: the caller is inactive. `insufficient_role`: the caller lacks `system:admin` (admin only).", body = api::Problem, content_type = "application/problem+json"),
        api::AuthenticatedFailures,
    ),
    extensions(("x-permission" = json!("system:admin")), ("x-rate-limit-class" = json!("api"))),
)]
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
