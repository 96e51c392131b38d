//! `/api/v1/tasks*` and `/api/v1/users/{user_id}/tasks` (docs/http-contract.md#tasks).

use crate::http::conditional::{if_match, if_none_match};
use crate::http::extract::{
    Caller, INVALID_TASK_ID, INVALID_USER_ID, JsonBody, Params, SystemAdmin, TaskCreate, TaskDelete, TaskRead,
    TaskUpdate, parse_id,
};
use crate::http::openapi as api;
use crate::http::problem::{ApiError, ApiResult};
use crate::http::respond::{canonical_json, json, no_content, page_json, raw_json};
use crate::http::state::AppState;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::Response;
use serde_json::json;
use sha2::{Digest, Sha256};
use taskify_core::CoreError;
use taskify_core::admin::AttributeInput;
use taskify_core::tasks::input::{NewTaskInput, task_changes, task_list_query};
use taskify_core::tasks::{Created, IdempotencyRequest, etag, task_location};
use taskify_store::AttributeOwner;

fn set_header(response: &mut Response, name: HeaderName, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        response.headers_mut().insert(name, v);
    }
}

/// A task answer with its `ETag`.
fn task_response(status: StatusCode, body: &impl serde::Serialize, version: i64) -> Response {
    let mut response = json(status, body);
    set_header(&mut response, header::ETAG, &etag(version));
    response
}

/// `Idempotency-Key`: 1–255 visible ASCII characters.
fn idempotency_key(headers: &HeaderMap) -> ApiResult<Option<String>> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let bytes = value.as_bytes();
    if (1..=255).contains(&bytes.len()) && bytes.iter().all(|b| (0x21..=0x7e).contains(b)) {
        Ok(Some(String::from_utf8_lossy(bytes).into_owned()))
    } else {
        Err(ApiError::Core(CoreError::invalid("Invalid Idempotency-Key header")))
    }
}

#[utoipa::path(
    post,
    path = "/api/v1/tasks",
    operation_id = "createTask",
    tag = "Tasks",
    summary = "Create a task",
    description = "The owner is always the caller. Optional `Idempotency-Key` (docs/http-contract.md#idempotency).",
    params(api::IdempotencyKeyHeader),
    request_body = api::TaskCreateRequest,
    responses(
        (status = 201, description = "Created (or replayed, with `Idempotency-Replayed: true`). `ETag` is `\"1\"`; `created_at` equals `updated_at`.", body = api::Task, headers(("Location" = String), ("ETag" = String), ("Idempotency-Replayed" = String))),
        (status = 400, description = "`invalid_request` (malformed body or `Idempotency-Key`) or `validation_failed`.", body = api::Problem, content_type = "application/problem+json"),
        (status = 403, description = "`account_disabled`: the caller is inactive. `missing_permission`: no active role grants `task:create`.", body = api::Problem, content_type = "application/problem+json"),
        (status = 409, description = "`conflict`: a request with this `Idempotency-Key` is still being processed.", body = api::Problem, content_type = "application/problem+json"),
        (status = 422, description = "`idempotency_key_reused`: the same `Idempotency-Key` with a different body.", body = api::Problem, content_type = "application/problem+json"),
        api::AuthenticatedFailures,
    ),
    extensions(("x-permission" = json!("task:create")), ("x-rate-limit-class" = json!("api"))),
)]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller<TaskCreate>,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    let idempotency = idempotency_key(&headers)?.map(|key| {
        let canonical = canonical_json(&serde_json::Value::Object(body.as_map().clone()));
        IdempotencyRequest { key, fingerprint: hex::encode(Sha256::digest(canonical.as_bytes())) }
    });
    let input = NewTaskInput::from_json(body)?;
    match state.services.tasks.create(&caller.principal, input, idempotency, &caller.ctx).await? {
        Created::New(task) => {
            let mut response = task_response(StatusCode::CREATED, &task, task.version);
            set_header(&mut response, header::LOCATION, &task_location(task.id));
            Ok(response)
        }
        Created::Replay(stored) => {
            let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::CREATED);
            let mut response = raw_json(status, stored.body.into_bytes());
            for (name, value) in &stored.headers {
                if let Ok(name) = HeaderName::from_bytes(name.as_bytes()) {
                    set_header(&mut response, name, value);
                }
            }
            set_header(&mut response, HeaderName::from_static("idempotency-replayed"), "true");
            Ok(response)
        }
    }
}

#[utoipa::path(
    get,
    path = "/api/v1/tasks/{id}",
    operation_id = "getTask",
    tag = "Tasks",
    summary = "Get a task",
    description = "Sends `Cache-Control: private, no-cache` and a strong `ETag`. HEAD is accepted too.",
    params(api::TaskPath, api::IfNoneMatchHeader),
    responses(
        (status = 200, description = "The task.", body = api::Task, headers(("ETag" = String))),
        (status = 304, description = "Not modified: `If-None-Match` matched. No body.", headers(("ETag" = String), ("RateLimit-Limit" = String), ("RateLimit-Remaining" = String), ("RateLimit-Reset" = String), ("RateLimit-Policy" = String))),
        (status = 400, description = "`invalid_request` (`Invalid task ID format`).", body = api::Problem, content_type = "application/problem+json"),
        (status = 403, description = "`account_disabled`: the caller is inactive. `missing_permission`: no active role grants `task:read`. `forbidden`: the policies deny reading this task.", body = api::Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found` (`Task not found`).", body = api::Problem, content_type = "application/problem+json"),
        api::AuthenticatedFailures,
    ),
    extensions(("x-permission" = json!("task:read")), ("x-rate-limit-class" = json!("api"))),
)]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller<TaskRead>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let id = parse_id(&id, INVALID_TASK_ID)?;
    let task = state.services.tasks.get(&caller.principal, id, &caller.ctx).await?;
    let mut response = if if_none_match(&headers, task.version) {
        let mut r = no_content();
        *r.status_mut() = StatusCode::NOT_MODIFIED;
        set_header(&mut r, header::ETAG, &etag(task.version));
        r
    } else {
        task_response(StatusCode::OK, &task, task.version)
    };
    set_header(&mut response, header::CACHE_CONTROL, "private, no-cache");
    Ok(response)
}

#[utoipa::path(
    put,
    path = "/api/v1/tasks/{id}",
    operation_id = "updateTask",
    tag = "Tasks",
    summary = "Update a task",
    description = "Only the members present change anything. With at least one member, `version` goes up by 1 and `updated_at` is set, even when the values are unchanged. Optional `If-Match` (compare-and-set on `version`).",
    params(api::TaskPath, api::IfMatchHeader),
    request_body = api::TaskUpdateRequest,
    responses(
        (status = 200, description = "Updated. `ETag` carries the new version.", body = api::TaskUpdateResponse, headers(("ETag" = String))),
        (status = 400, description = "`invalid_request` (`Invalid task ID format`, malformed body or `If-Match`) or `validation_failed`.", body = api::Problem, content_type = "application/problem+json"),
        (status = 403, description = "`account_disabled`: the caller is inactive. `missing_permission`: no active role grants `task:update`. `forbidden`: the policies deny updating this task.", body = api::Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found` (`Task not found`).", body = api::Problem, content_type = "application/problem+json"),
        (status = 412, description = "`precondition_failed`: `If-Match` does not match; nothing changed.", body = api::Problem, content_type = "application/problem+json"),
        api::AuthenticatedFailures,
    ),
    extensions(("x-permission" = json!("task:update")), ("x-rate-limit-class" = json!("api"))),
)]
pub async fn update(
    State(state): State<AppState>,
    caller: Caller<TaskUpdate>,
    Path(id): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    let id = parse_id(&id, INVALID_TASK_ID)?;
    let precondition = if_match(&headers)?;
    let changes = task_changes(body)?;
    let task = state.services.tasks.update(&caller.principal, id, changes, precondition, &caller.ctx).await?;
    Ok(task_response(StatusCode::OK, &json!({ "message": "task updated successfully", "task": task }), task.version))
}

#[utoipa::path(
    delete,
    path = "/api/v1/tasks/{id}",
    operation_id = "deleteTask",
    tag = "Tasks",
    summary = "Delete a task",
    description = "Deletes the task and its resource attributes for good. Optional `If-Match`.",
    params(api::TaskPath, api::IfMatchHeader),
    responses(
        (status = 204, description = "Deleted. No body."),
        (status = 400, description = "`invalid_request` (`Invalid task ID format` or malformed `If-Match`).", body = api::Problem, content_type = "application/problem+json"),
        (status = 403, description = "`account_disabled`: the caller is inactive. `missing_permission`: no active role grants `task:delete`. `forbidden`: the policies deny deleting this task.", body = api::Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found` (`Task not found`), also on a second delete.", body = api::Problem, content_type = "application/problem+json"),
        (status = 412, description = "`precondition_failed`: `If-Match` does not match; nothing changed.", body = api::Problem, content_type = "application/problem+json"),
        api::AuthenticatedFailures,
    ),
    extensions(("x-permission" = json!("task:delete")), ("x-rate-limit-class" = json!("api"))),
)]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller<TaskDelete>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let id = parse_id(&id, INVALID_TASK_ID)?;
    let precondition = if_match(&headers)?;
    state.services.tasks.delete(&caller.principal, id, precondition, &caller.ctx).await?;
    Ok(no_content())
}

// Same annotated-handler shape as list_user_tasks below and the other handlers: one #[utoipa::path] per route with its
// own statuses.
#[utoipa::path(
    get,
    path = "/api/v1/tasks",
    operation_id = "listTasks",
    tag = "Tasks",
    summary = "List visible tasks",
    description = "Lists the tasks the caller may see: their own; with `task:read` at scope `department`, also those of non-deleted owners in the same non-empty department (subject to `required_clearance`); with scope `all`, every task.",
    params(api::TaskFilters, api::TaskOwnerQuery, api::Paging),
    responses(
        (status = 200, description = "A page of tasks.", body = api::TaskPage),
        (status = 400, description = "`validation_failed`, with each bad parameter as a field.", body = api::Problem, content_type = "application/problem+json"),
        (status = 403, description = "`account_disabled`: the caller is inactive. `missing_permission`: no active role grants `task:read`. `forbidden`: only through `user_id`, when the caller may not read that user's tasks.", body = api::Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found` (`User not found`): only through `user_id`.", body = api::Problem, content_type = "application/problem+json"),
        // Per-route responses/extensions, same shape as jobs.rs and profile.rs: each operation states its own
        // x-permission.
        api::AuthenticatedFailures,
    ),
    extensions(("x-permission" = json!("task:read")), ("x-rate-limit-class" = json!("api"))),
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller<TaskRead>,
    Params(query): Params,
) -> ApiResult<Response> {
    let query = task_list_query(&query)?;
    let page = state.services.tasks.list(&caller.principal, query, &caller.ctx).await?;
    Ok(page_json("tasks", &page))
}

// Same annotated-handler shape as list_tasks above: one #[utoipa::path] per route with its own statuses.
#[utoipa::path(
    get,
    path = "/api/v1/users/{user_id}/tasks",
    operation_id = "listUserTasks",
    tag = "Tasks",
    summary = "List one user's tasks",
    description = "The same listing, query parameters and body as `GET /api/v1/tasks`, restricted to one owner. Allowed: the user themself, a department-scope reader of the same department, an all-scope reader. Checks run in the order 400, 404, 403.",
    params(api::UserPath, api::TaskFilters, api::Paging),
    responses(
        (status = 200, description = "A page of tasks.", body = api::TaskPage),
        (status = 400, description = "`invalid_request` (`Invalid user ID format`) or `validation_failed` (query).", body = api::Problem, content_type = "application/problem+json"),
        (status = 403, description = "`account_disabled`: the caller is inactive. `missing_permission`: no active role grants `task:read`. `forbidden`: the caller may not read this user's tasks.", body = api::Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found` (`User not found`): absent, or deleted and the caller does not read at scope `all`.", body = api::Problem, content_type = "application/problem+json"),
        api::AuthenticatedFailures,
    ),
    extensions(("x-permission" = json!("task:read")), ("x-rate-limit-class" = json!("api"))),
)]
pub async fn of_user(
    State(state): State<AppState>,
    caller: Caller<TaskRead>,
    Path(user_id): Path<String>,
    Params(query): Params,
) -> ApiResult<Response> {
    let user_id = parse_id(&user_id, INVALID_USER_ID)?;
    let mut query = task_list_query(&query)?;
    query.owner = Some(user_id);
    let page = state.services.tasks.list(&caller.principal, query, &caller.ctx).await?;
    Ok(page_json("tasks", &page))
}

#[utoipa::path(
    get,
    path = "/api/v1/tasks/{id}/attributes",
    operation_id = "listTaskAttributes",
    tag = "Task attributes",
    summary = "List a task's attributes",
    description = "Resource attributes of a task (for example `required_clearance`). Admin only.",
    // The responses table repeats per route on purpose (profile.rs, admin.rs): each operation names its own 400/403/404
    // wording.
    params(api::TaskPath),
    responses(
        (status = 200, description = "The attributes.", body = api::TaskAttributeList),
        (status = 400, description = "`invalid_request` (`Invalid task ID format`).", body = api::Problem, content_type = "application/problem+json"),
        (status = 403, description = "`account_disabled`: the caller is inactive. `insufficient_role`: the caller lacks `system:admin` (admin only).", body = api::Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found` (`Task not found`).", body = api::Problem, content_type = "application/problem+json"),
        api::AuthenticatedFailures,
    ),
    // Same extensions and signature shape as cache.rs `evict`: per-route facts, stated at each route.
    extensions(("x-permission" = json!("system:admin")), ("x-rate-limit-class" = json!("api"))),
)]
pub async fn attributes(
    State(state): State<AppState>,
    caller: Caller<SystemAdmin>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let id = parse_id(&id, INVALID_TASK_ID)?;
    let list = state.services.admin.attributes(&caller.principal, AttributeOwner::Task(id), &caller.ctx).await?;
    // Ends like the user twin in admin.rs `attributes` (owner Task here, User there); the service call is the shared
    // part, the routes and permissions differ.
    Ok(json(StatusCode::OK, &json!({ "task_id": id, "attributes": list })))
}

#[utoipa::path(
    put,
    path = "/api/v1/tasks/{id}/attributes/{key}",
    operation_id = "putTaskAttribute",
    tag = "Task attributes",
    summary = "Create or replace a task attribute",
    description = "Same rules as user attributes. `required_clearance` must be an integer from 0 to 10. Admin only.",
    params(api::TaskAttributePath),
    request_body = api::AttributePutRequest,
    responses(
        (status = 200, description = "Replaced.", body = api::Attribute),
        (status = 201, description = "Created.", body = api::Attribute),
        (status = 400, description = "`invalid_request` (id, body) or `validation_failed` (key, value, `data_type`, `expires_at`).", body = api::Problem, content_type = "application/problem+json"),
        (status = 403, description = "`account_disabled`: the caller is inactive. `insufficient_role`: the caller lacks `system:admin` (admin only).", body = api::Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found` (`Task not found`).", body = api::Problem, content_type = "application/problem+json"),
        api::AuthenticatedFailures,
    ),
    extensions(("x-permission" = json!("system:admin")), ("x-rate-limit-class" = json!("api"))),
)]
pub async fn put_attribute(
    State(state): State<AppState>,
    caller: Caller<SystemAdmin>,
    Path((id, key)): Path<(String, String)>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    let id = parse_id(&id, INVALID_TASK_ID)?;
    let input = AttributeInput::from_json(body, &key, &["required_clearance"], &[])?;
    // Same body as admin.rs put_attribute/delete_attribute with AttributeOwner::Task: separate routes with their own
    // permission and allowed keys; the shared logic lives in services.admin.
    let (attribute, created) = state
        .services
        .admin
        .put_attribute(&caller.principal, AttributeOwner::Task(id), &key, input, &caller.ctx)
        .await?;
    Ok(json(if created { StatusCode::CREATED } else { StatusCode::OK }, &attribute))
}

#[utoipa::path(
    delete,
    path = "/api/v1/tasks/{id}/attributes/{key}",
    operation_id = "deleteTaskAttribute",
    tag = "Task attributes",
    summary = "Delete a task attribute",
    description = "Admin only.",
    params(api::TaskAttributePath),
    responses(
        (status = 204, description = "Deleted. No body."),
        (status = 400, description = "`invalid_request` (`Invalid task ID format`) or `validation_failed` (key).", body = api::Problem, content_type = "application/problem+json"),
        (status = 403, description = "`account_disabled`: the caller is inactive. `insufficient_role`: the caller lacks `system:admin` (admin only).", body = api::Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`: `Task not found` or `Attribute not found`.", body = api::Problem, content_type = "application/problem+json"),
        api::AuthenticatedFailures,
    ),
    extensions(("x-permission" = json!("system:admin")), ("x-rate-limit-class" = json!("api"))),
)]
pub async fn delete_attribute(
    State(state): State<AppState>,
    caller: Caller<SystemAdmin>,
    Path((id, key)): Path<(String, String)>,
) -> ApiResult<Response> {
    let id = parse_id(&id, INVALID_TASK_ID)?;
    state.services.admin.delete_attribute(&caller.principal, AttributeOwner::Task(id), &key, &caller.ctx).await?;
    Ok(no_content())
}
