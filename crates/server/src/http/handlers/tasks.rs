//! `/api/v1/tasks*` and `/api/v1/users/{user_id}/tasks` (docs/http-contract.md#tasks).

use crate::http::conditional::{if_match, if_none_match};
use crate::http::extract::{
    Caller, INVALID_TASK_ID, INVALID_USER_ID, JsonBody, Params, SystemAdmin, TaskCreate, TaskDelete, TaskRead,
    TaskUpdate, parse_id,
};
use crate::http::problem::{ApiError, ApiResult};
use crate::http::respond::{canonical_json, json, no_content, raw_json};
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
use taskify_domain::{Paged, Task};
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

/// The list body of docs/http-contract.md#pagination.
pub fn task_page(page: &Paged<Task>) -> Response {
    json(
        StatusCode::OK,
        &json!({ "tasks": page.items, "total": page.total, "page": page.page, "page_size": page.page_size,
                 "total_pages": page.total_pages() }),
    )
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

pub async fn list(
    State(state): State<AppState>,
    caller: Caller<TaskRead>,
    Params(query): Params,
) -> ApiResult<Response> {
    let query = task_list_query(&query)?;
    let page = state.services.tasks.list(&caller.principal, query, &caller.ctx).await?;
    Ok(task_page(&page))
}

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
    Ok(task_page(&page))
}

pub async fn attributes(
    State(state): State<AppState>,
    caller: Caller<SystemAdmin>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let id = parse_id(&id, INVALID_TASK_ID)?;
    let list = state.services.admin.attributes(&caller.principal, AttributeOwner::Task(id), &caller.ctx).await?;
    Ok(json(StatusCode::OK, &json!({ "task_id": id, "attributes": list })))
}

pub async fn put_attribute(
    State(state): State<AppState>,
    caller: Caller<SystemAdmin>,
    Path((id, key)): Path<(String, String)>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    let id = parse_id(&id, INVALID_TASK_ID)?;
    let input = AttributeInput::from_json(body, &key, &["required_clearance"], &[])?;
    let (attribute, created) = state
        .services
        .admin
        .put_attribute(&caller.principal, AttributeOwner::Task(id), &key, input, &caller.ctx)
        .await?;
    Ok(json(if created { StatusCode::CREATED } else { StatusCode::OK }, &attribute))
}

pub async fn delete_attribute(
    State(state): State<AppState>,
    caller: Caller<SystemAdmin>,
    Path((id, key)): Path<(String, String)>,
) -> ApiResult<Response> {
    let id = parse_id(&id, INVALID_TASK_ID)?;
    state.services.admin.delete_attribute(&caller.principal, AttributeOwner::Task(id), &key, &caller.ctx).await?;
    Ok(no_content())
}
