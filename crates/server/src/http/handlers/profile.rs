//! `/api/v1/users/profile*` (docs/http-contract.md#profile).

use crate::http::extract::{Caller, INVALID_USER_ID, JsonBody, ProfileRead, ProfileUpdate, parse_id};
use crate::http::openapi as api;
use crate::http::problem::ApiResult;
use crate::http::respond::json;
use crate::http::state::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};
use taskify_core::profile::ProfileUpdate as Update;

// Same annotated-handler shape as the other handlers (cache.rs, admin.rs): one #[utoipa::path] per route with its own
// statuses.
#[utoipa::path(
    get,
    path = "/api/v1/users/profile",
    operation_id = "getProfile",
    tag = "Profile",
    summary = "Get the caller's profile",
    description = "The caller's User plus their permissions (as at login).",
    responses(
        (status = 200, description = "The caller's profile.", body = api::UserWithPermissions),
        (status = 403, description = "`account_disabled`: the caller is inactive. `missing_permission`: no active role grants `profile:read`.", body = api::Problem, content_type = "application/problem+json"),
        api::AuthenticatedFailures,
    ),
    extensions(("x-permission" = json!("profile:read")), ("x-rate-limit-class" = json!("api"))),
)]
pub async fn own(State(state): State<AppState>, caller: Caller<ProfileRead>) -> ApiResult<Response> {
    let (user, permissions) = state.services.profiles.own(&caller.principal, &caller.ctx).await?;
    let mut body = serde_json::to_value(&user).unwrap_or(Value::Null);
    if let Value::Object(map) = &mut body {
        map.insert("permissions".into(), json!(permissions));
    }
    // Same handler tail as update_profile below and auth.rs: reply, then the next route's own annotation.
    Ok(json(StatusCode::OK, &body))
}

#[utoipa::path(
    put,
    path = "/api/v1/users/profile",
    operation_id = "updateProfile",
    tag = "Profile",
    summary = "Update the caller's profile",
    description = "Allow-list update of `first_name`, `last_name`, `position`, and a password change (`current_password` + `new_password`). A password change revokes every refresh token and every access token issued before it, and returns a new token pair so the session continues. `department` is changed by administrators only.",
    request_body = api::ProfileUpdateRequest,
    responses(
        (status = 200, description = "Updated.", body = api::ProfileUpdateResponse),
        (status = 400, description = "`invalid_request` or `validation_failed` (`is not allowed` per foreign member; `current_password`: `is incorrect`; password rules).", body = api::Problem, content_type = "application/problem+json"),
        (status = 403, description = "`account_disabled`: the caller is inactive. `missing_permission`: no active role grants `profile:update`.", body = api::Problem, content_type = "application/problem+json"),
        // Per-route responses/extensions, same shape as jobs.rs and tasks.rs: each operation states its own
        // x-permission.
        api::AuthenticatedFailures,
    ),
    extensions(("x-permission" = json!("profile:update")), ("x-rate-limit-class" = json!("api"))),
)]
pub async fn update(
    State(state): State<AppState>,
    caller: Caller<ProfileUpdate>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    let update = Update::from_json(body)?;
    let (user, tokens) = state.services.profiles.update(&caller.principal, update, &caller.ctx).await?;
    let mut body = json!({ "message": "User updated successfully", "user": user });
    if let (Some(tokens), Value::Object(map)) = (tokens, &mut body)
        && let Ok(Value::Object(extra)) = serde_json::to_value(tokens)
    {
        map.extend(extra);
    }
    // Same handler tail as get_profile above: reply, then the next route's own annotation.
    Ok(json(StatusCode::OK, &body))
}

#[utoipa::path(
    get,
    path = "/api/v1/users/profile/{user_id}",
    operation_id = "getUserProfile",
    tag = "Profile",
    summary = "Get a user's profile",
    description = "Allowed for the user themself, or a caller holding `profile:read` at scope `all`. Decided before the lookup, so a non-privileged caller gets 403 even for an id that does not exist.",
    // The responses table repeats per route on purpose (admin.rs, tasks.rs): each operation names its own 400/403/404
    // wording.
    params(api::UserPath),
    responses(
        (status = 200, description = "The user.", body = api::User),
        (status = 400, description = "`invalid_request` (`Invalid user ID format`).", body = api::Problem, content_type = "application/problem+json"),
        (status = 403, description = "`account_disabled`: the caller is inactive. `missing_permission`: no active role grants `profile:read`. `forbidden`: not the caller's own profile and no `profile:read` at scope `all`.", body = api::Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found` (`User not found`), for privileged callers only.", body = api::Problem, content_type = "application/problem+json"),
        api::AuthenticatedFailures,
    ),
    extensions(("x-permission" = json!("profile:read")), ("x-rate-limit-class" = json!("api"))),
)]
pub async fn of(
    State(state): State<AppState>,
    caller: Caller<ProfileRead>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let id = parse_id(&id, INVALID_USER_ID)?;
    let user = state.services.profiles.of(&caller.principal, id, &caller.ctx).await?;
    Ok(json(StatusCode::OK, &user))
}
