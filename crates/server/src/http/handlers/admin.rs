//! `/api/v1/users*`, `/api/v1/roles` and `/api/v1/audit-logs` (docs/http-contract.md#administration).

use crate::http::extract::{
    AuditRead, Caller, INVALID_USER_ID, JsonBody, Params, RoleManage, UserAssignRole, UserDelete, UserRead,
    UserRevokeRole, UserUpdate, parse_id,
};
use crate::http::openapi as api;
use crate::http::problem::ApiResult;
use crate::http::respond::{json, no_content, page_json};
use crate::http::state::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;
use taskify_core::admin::{AttributeInput, audit_query, role_assignment, user_list_query, user_patch};
use taskify_domain::time::format_micros;
use taskify_store::AttributeOwner;

#[utoipa::path(
    get,
    path = "/api/v1/users",
    operation_id = "listUsers",
    tag = "Users",
    summary = "List users",
    description = "Administrators' user search. Deleted users are never listed; each user carries `role_assignments`.",
    params(api::UserFilters, api::Paging),
    responses(
        (status = 200, description = "A page of users.", body = api::UserPage),
        (status = 400, description = "`validation_failed`, with each bad parameter as a field.", body = api::Problem, content_type = "application/problem+json"),
        (status = 403, description = "`account_disabled`: the caller is inactive. `missing_permission`: no active role grants `user:read`.", body = api::Problem, content_type = "application/problem+json"),
        api::AuthenticatedFailures,
    ),
    extensions(("x-permission" = json!("user:read")), ("x-rate-limit-class" = json!("api"))),
)]
pub async fn list_users(
    State(state): State<AppState>,
    caller: Caller<UserRead>,
    Params(query): Params,
) -> ApiResult<Response> {
    let query = user_list_query(&query)?;
    let page = state.services.admin.list_users(&caller.principal, query, &caller.ctx).await?;
    Ok(page_json("users", &page))
}

// Same shape as every handler in this folder: one annotated handler per route, its OpenAPI facts next to it
// (docs/http-contract.md).
#[utoipa::path(
    patch,
    path = "/api/v1/users/{user_id}",
    operation_id = "patchUser",
    tag = "Users",
    summary = "Update a user (admin)",
    description = "Allow-list update of `is_active`, `department` and `position`. Deactivation takes effect on the user's next request on every instance; the tokens are kept, so reactivation restores access.",
    params(api::UserPath),
    request_body = api::UserPatchRequest,
    responses(
        (status = 200, description = "Updated.", body = api::UserUpdateResponse),
        (status = 400, description = "`invalid_request` (`Invalid user ID format`, malformed body) or `validation_failed` (`is not allowed`, lengths).", body = api::Problem, content_type = "application/problem+json"),
        (status = 403, description = "`account_disabled`: the caller is inactive. `missing_permission`: no active role grants `user:update`.", body = api::Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found` (`User not found`).", body = api::Problem, content_type = "application/problem+json"),
        (status = 409, description = "`conflict`: `Cannot deactivate the last active admin`.", body = api::Problem, content_type = "application/problem+json"),
        api::AuthenticatedFailures,
    ),
    extensions(("x-permission" = json!("user:update")), ("x-rate-limit-class" = json!("api"))),
)]
pub async fn patch_user(
    State(state): State<AppState>,
    caller: Caller<UserUpdate>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    let id = parse_id(&id, INVALID_USER_ID)?;
    let patch = user_patch(body)?;
    let user = state.services.admin.patch_user(&caller.principal, id, patch, &caller.ctx).await?;
    Ok(json(StatusCode::OK, &json!({ "message": "User updated successfully", "user": user })))
}

#[utoipa::path(
    delete,
    path = "/api/v1/users/{user_id}",
    operation_id = "deleteUser",
    tag = "Users",
    summary = "Delete a user (soft)",
    description = "Sets `deleted_at`, deactivates the user and revokes every refresh token. The user's access tokens then answer 401 `invalid_token` and login answers 401 `invalid_credentials`. Tasks stay, visible to all-scope readers.",
    params(api::UserPath),
    responses(
        (status = 200, description = "`{\"message\":\"User deleted successfully\"}`.", body = api::Message),
        (status = 400, description = "`invalid_request` (`Invalid user ID format`).", body = api::Problem, content_type = "application/problem+json"),
        (status = 403, description = "`account_disabled`: the caller is inactive. `missing_permission`: no active role grants `user:delete`.", body = api::Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found` (`User not found`): absent or already deleted.", body = api::Problem, content_type = "application/problem+json"),
        (status = 409, description = "`conflict`: `Cannot delete the last active admin`.", body = api::Problem, content_type = "application/problem+json"),
        api::AuthenticatedFailures,
    ),
    extensions(("x-permission" = json!("user:delete")), ("x-rate-limit-class" = json!("api"))),
)]
pub async fn delete_user(
    State(state): State<AppState>,
    caller: Caller<UserDelete>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let id = parse_id(&id, INVALID_USER_ID)?;
    state.services.admin.delete_user(&caller.principal, id, &caller.ctx).await?;
    Ok(json(StatusCode::OK, &json!({ "message": "User deleted successfully" })))
}

// Same annotated-handler shape as the others here (cache.rs, profile.rs): each route states its own statuses and
// x-permission.
#[utoipa::path(
    get,
    path = "/api/v1/roles",
    operation_id = "listRoles",
    tag = "Roles",
    summary = "List roles with their permissions",
    description = "Ordered by rank: admin, manager, user, then others.",
    responses(
        (status = 200, description = "The roles.", body = api::RoleList),
        (status = 403, description = "`account_disabled`: the caller is inactive. `missing_permission`: no active role grants `role:manage`.", body = api::Problem, content_type = "application/problem+json"),
        api::AuthenticatedFailures,
    ),
    extensions(("x-permission" = json!("role:manage")), ("x-rate-limit-class" = json!("api"))),
)]
pub async fn roles(State(state): State<AppState>, caller: Caller<RoleManage>) -> ApiResult<Response> {
    let roles = state.services.admin.roles(&caller.principal, &caller.ctx).await?;
    Ok(json(StatusCode::OK, &json!({ "roles": roles })))
}

// Same annotated-handler shape as patch_user above: each route states its own statuses and x-permission.
#[utoipa::path(
    post,
    path = "/api/v1/users/{user_id}/roles",
    operation_id = "assignRole",
    tag = "Roles",
    summary = "Assign a role to a user",
    description = "An expired or revoked assignment does not block a new one.",
    params(api::UserPath),
    request_body = api::RoleAssignRequest,
    responses(
        (status = 201, description = "Assigned.", body = api::RoleAssignResponse),
        (status = 400, description = "`invalid_request` (`Invalid user ID format`, malformed body) or `validation_failed` (unknown role, `expires_at` in the past).", body = api::Problem, content_type = "application/problem+json"),
        (status = 403, description = "`account_disabled`: the caller is inactive. `missing_permission`: no active role grants `user:assign_role`.", body = api::Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found` (`User not found`).", body = api::Problem, content_type = "application/problem+json"),
        (status = 409, description = "`conflict`: `User already has this role` (an active, unexpired assignment exists).", body = api::Problem, content_type = "application/problem+json"),
        api::AuthenticatedFailures,
    ),
    extensions(("x-permission" = json!("user:assign_role")), ("x-rate-limit-class" = json!("api"))),
)]
pub async fn assign_role(
    State(state): State<AppState>,
    caller: Caller<UserAssignRole>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    let id = parse_id(&id, INVALID_USER_ID)?;
    let request = role_assignment(body)?;
    let assignment = state.services.admin.assign_role(&caller.principal, id, request, &caller.ctx).await?;
    Ok(json(
        StatusCode::CREATED,
        &json!({ "message": "Role assigned successfully", "user_id": id, "role": assignment.role,
                 "expires_at": assignment.expires_at.as_ref().map(format_micros) }),
    ))
}

#[utoipa::path(
    delete,
    path = "/api/v1/users/{user_id}/roles/{role}",
    operation_id = "revokeRole",
    tag = "Roles",
    summary = "Revoke a role from a user",
    description = "Revokes the user's active assignment of the role.",
    params(api::UserRolePath),
    responses(
        (status = 200, description = "`{\"message\":\"Role revoked successfully\"}`.", body = api::Message),
        (status = 400, description = "`invalid_request` (`Invalid user ID format`).", body = api::Problem, content_type = "application/problem+json"),
        (status = 403, description = "`account_disabled`: the caller is inactive. `missing_permission`: no active role grants `user:revoke_role`.", body = api::Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`: `User not found`, `Role not found` (unknown role name) or `Role assignment not found`.", body = api::Problem, content_type = "application/problem+json"),
        (status = 409, description = "`conflict`: `Cannot remove the admin role from the last active admin`.", body = api::Problem, content_type = "application/problem+json"),
        api::AuthenticatedFailures,
    ),
    extensions(("x-permission" = json!("user:revoke_role")), ("x-rate-limit-class" = json!("api"))),
)]
pub async fn revoke_role(
    State(state): State<AppState>,
    caller: Caller<UserRevokeRole>,
    Path((id, role)): Path<(String, String)>,
) -> ApiResult<Response> {
    let id = parse_id(&id, INVALID_USER_ID)?;
    state.services.admin.revoke_role(&caller.principal, id, &role, &caller.ctx).await?;
    Ok(json(StatusCode::OK, &json!({ "message": "Role revoked successfully" })))
}

#[utoipa::path(
    get,
    path = "/api/v1/users/{user_id}/attributes",
    operation_id = "listUserAttributes",
    tag = "User attributes",
    summary = "List a user's attributes",
    description = "Expired attributes are included, with `active: false`.",
    // The responses table repeats per route on purpose (profile.rs, tasks.rs): each operation names its own 400/403/404
    // wording; the rows the layers add (401, 413, 415, 429, 500, 503) are already shared in api::AuthenticatedFailures.
    params(api::UserPath),
    responses(
        (status = 200, description = "The attributes.", body = api::UserAttributeList),
        (status = 400, description = "`invalid_request` (`Invalid user ID format`).", body = api::Problem, content_type = "application/problem+json"),
        (status = 403, description = "`account_disabled`: the caller is inactive. `missing_permission`: no active role grants `user:read`.", body = api::Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found` (`User not found`).", body = api::Problem, content_type = "application/problem+json"),
        api::AuthenticatedFailures,
    ),
    extensions(("x-permission" = json!("user:read")), ("x-rate-limit-class" = json!("api"))),
)]
pub async fn attributes(
    State(state): State<AppState>,
    caller: Caller<UserRead>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let id = parse_id(&id, INVALID_USER_ID)?;
    let list = state.services.admin.attributes(&caller.principal, AttributeOwner::User(id), &caller.ctx).await?;
    // Ends like the task twin in tasks.rs `attributes` (owner User here, Task there); the service call is the shared
    // part, the routes and permissions differ.
    Ok(json(StatusCode::OK, &json!({ "user_id": id, "attributes": list })))
}

#[utoipa::path(
    get,
    path = "/api/v1/users/{user_id}/attributes/{key}",
    operation_id = "getUserAttribute",
    tag = "User attributes",
    summary = "Get one user attribute",
    description = "Keys match `^[a-z][a-z0-9_]{0,63}$`.",
    params(api::UserAttributePath),
    responses(
        (status = 200, description = "The attribute.", body = api::Attribute),
        (status = 400, description = "`invalid_request` (`Invalid user ID format`) or `validation_failed` (key).", body = api::Problem, content_type = "application/problem+json"),
        (status = 403, description = "`account_disabled`: the caller is inactive. `missing_permission`: no active role grants `user:read`.", body = api::Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`: `User not found` or `Attribute not found`.", body = api::Problem, content_type = "application/problem+json"),
        api::AuthenticatedFailures,
    ),
    extensions(("x-permission" = json!("user:read")), ("x-rate-limit-class" = json!("api"))),
)]
pub async fn attribute(
    State(state): State<AppState>,
    caller: Caller<UserRead>,
    Path((id, key)): Path<(String, String)>,
) -> ApiResult<Response> {
    let id = parse_id(&id, INVALID_USER_ID)?;
    let attribute =
        state.services.admin.attribute(&caller.principal, AttributeOwner::User(id), &key, &caller.ctx).await?;
    Ok(json(StatusCode::OK, &attribute))
}

#[utoipa::path(
    put,
    path = "/api/v1/users/{user_id}/attributes/{key}",
    operation_id = "putUserAttribute",
    tag = "User attributes",
    summary = "Create or replace a user attribute",
    description = "Stored with source `manual`. The key `department` is reserved (400); `clearance_level` must be an integer from 0 to 10.",
    params(api::UserAttributePath),
    request_body = api::AttributePutRequest,
    responses(
        (status = 200, description = "Replaced.", body = api::Attribute),
        (status = 201, description = "Created.", body = api::Attribute),
        (status = 400, description = "`invalid_request` (id, malformed body) or `validation_failed` (key, value, `data_type`, `expires_at`).", body = api::Problem, content_type = "application/problem+json"),
        (status = 403, description = "`account_disabled`: the caller is inactive. `missing_permission`: no active role grants `user:update`.", body = api::Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found` (`User not found`).", body = api::Problem, content_type = "application/problem+json"),
        api::AuthenticatedFailures,
    ),
    extensions(("x-permission" = json!("user:update")), ("x-rate-limit-class" = json!("api"))),
)]
pub async fn put_attribute(
    State(state): State<AppState>,
    caller: Caller<UserUpdate>,
    Path((id, key)): Path<(String, String)>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    let id = parse_id(&id, INVALID_USER_ID)?;
    let input = AttributeInput::from_json(body, &key, &["clearance_level"], &["department"])?;
    // Same body as tasks.rs put_attribute/delete_attribute with AttributeOwner::User: separate routes with their own
    // permission and allowed keys; the shared logic lives in services.admin.
    let (attribute, created) = state
        .services
        .admin
        .put_attribute(&caller.principal, AttributeOwner::User(id), &key, input, &caller.ctx)
        .await?;
    Ok(json(if created { StatusCode::CREATED } else { StatusCode::OK }, &attribute))
}

#[utoipa::path(
    delete,
    path = "/api/v1/users/{user_id}/attributes/{key}",
    operation_id = "deleteUserAttribute",
    tag = "User attributes",
    summary = "Delete a user attribute",
    description = "Removes the row.",
    params(api::UserAttributePath),
    responses(
        (status = 204, description = "Deleted. No body."),
        (status = 400, description = "`invalid_request` (`Invalid user ID format`) or `validation_failed` (key).", body = api::Problem, content_type = "application/problem+json"),
        (status = 403, description = "`account_disabled`: the caller is inactive. `missing_permission`: no active role grants `user:update`.", body = api::Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`: `User not found` or `Attribute not found`.", body = api::Problem, content_type = "application/problem+json"),
        api::AuthenticatedFailures,
    ),
    extensions(("x-permission" = json!("user:update")), ("x-rate-limit-class" = json!("api"))),
)]
pub async fn delete_attribute(
    State(state): State<AppState>,
    caller: Caller<UserUpdate>,
    Path((id, key)): Path<(String, String)>,
) -> ApiResult<Response> {
    let id = parse_id(&id, INVALID_USER_ID)?;
    state.services.admin.delete_attribute(&caller.principal, AttributeOwner::User(id), &key, &caller.ctx).await?;
    Ok(no_content())
}

#[utoipa::path(
    get,
    path = "/api/v1/audit-logs",
    operation_id = "listAuditLogs",
    tag = "Audit logs",
    summary = "Search the audit log",
    description = "Authorization decisions and security events (docs/authorization.md#audit), newest first by default. A row becomes visible within `AUDIT_FLUSH_INTERVAL` plus the write time.",
    // The responses table repeats per route on purpose (jobs.rs inspect): each operation names its own 400/403 wording;
    // the common rows are in api::AuthenticatedFailures.
    params(api::AuditQuery),
    responses(
        (status = 200, description = "A page of audit entries.", body = api::AuditLogPage),
        (status = 400, description = "`validation_failed`, with each bad parameter as a field (including `page` beyond `page × pageSize` = 10 000).", body = api::Problem, content_type = "application/problem+json"),
        (status = 403, description = "`account_disabled`: the caller is inactive. `missing_permission`: no active role grants `audit:read`.", body = api::Problem, content_type = "application/problem+json"),
        api::AuthenticatedFailures,
    ),
    extensions(("x-permission" = json!("audit:read")), ("x-rate-limit-class" = json!("api"))),
)]
pub async fn audit_logs(
    State(state): State<AppState>,
    caller: Caller<AuditRead>,
    Params(query): Params,
) -> ApiResult<Response> {
    let query = audit_query(&query)?;
    let page = state.services.admin.audit_log(&caller.principal, query, &caller.ctx).await?;
    Ok(page_json("audit_logs", &page))
}
