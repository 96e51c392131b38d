//! `/api/v1/users*`, `/api/v1/roles` and `/api/v1/audit-logs` (docs/http-contract.md#administration).

use crate::http::extract::{
    AuditRead, Caller, INVALID_USER_ID, JsonBody, Params, RoleManage, UserAssignRole, UserDelete, UserRead,
    UserRevokeRole, UserUpdate, parse_id,
};
use crate::http::problem::ApiResult;
use crate::http::respond::{json, no_content};
use crate::http::state::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;
use taskify_core::admin::{AttributeInput, audit_query, role_assignment, user_list_query, user_patch};
use taskify_domain::time::format_micros;
use taskify_store::AttributeOwner;

pub async fn list_users(
    State(state): State<AppState>,
    caller: Caller<UserRead>,
    Params(query): Params,
) -> ApiResult<Response> {
    let query = user_list_query(&query)?;
    let page = state.services.admin.list_users(&caller.principal, query, &caller.ctx).await?;
    Ok(json(
        StatusCode::OK,
        &json!({ "users": page.items, "total": page.total, "page": page.page, "page_size": page.page_size,
                 "total_pages": page.total_pages() }),
    ))
}

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

pub async fn delete_user(
    State(state): State<AppState>,
    caller: Caller<UserDelete>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let id = parse_id(&id, INVALID_USER_ID)?;
    state.services.admin.delete_user(&caller.principal, id, &caller.ctx).await?;
    Ok(json(StatusCode::OK, &json!({ "message": "User deleted successfully" })))
}

pub async fn roles(State(state): State<AppState>, caller: Caller<RoleManage>) -> ApiResult<Response> {
    let roles = state.services.admin.roles(&caller.principal, &caller.ctx).await?;
    Ok(json(StatusCode::OK, &json!({ "roles": roles })))
}

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

pub async fn revoke_role(
    State(state): State<AppState>,
    caller: Caller<UserRevokeRole>,
    Path((id, role)): Path<(String, String)>,
) -> ApiResult<Response> {
    let id = parse_id(&id, INVALID_USER_ID)?;
    state.services.admin.revoke_role(&caller.principal, id, &role, &caller.ctx).await?;
    Ok(json(StatusCode::OK, &json!({ "message": "Role revoked successfully" })))
}

pub async fn attributes(
    State(state): State<AppState>,
    caller: Caller<UserRead>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let id = parse_id(&id, INVALID_USER_ID)?;
    let list = state.services.admin.attributes(&caller.principal, AttributeOwner::User(id), &caller.ctx).await?;
    Ok(json(StatusCode::OK, &json!({ "user_id": id, "attributes": list })))
}

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

pub async fn put_attribute(
    State(state): State<AppState>,
    caller: Caller<UserUpdate>,
    Path((id, key)): Path<(String, String)>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    let id = parse_id(&id, INVALID_USER_ID)?;
    let input = AttributeInput::from_json(body, &key, &["clearance_level"], &["department"])?;
    let (attribute, created) = state
        .services
        .admin
        .put_attribute(&caller.principal, AttributeOwner::User(id), &key, input, &caller.ctx)
        .await?;
    Ok(json(if created { StatusCode::CREATED } else { StatusCode::OK }, &attribute))
}

pub async fn delete_attribute(
    State(state): State<AppState>,
    caller: Caller<UserUpdate>,
    Path((id, key)): Path<(String, String)>,
) -> ApiResult<Response> {
    let id = parse_id(&id, INVALID_USER_ID)?;
    state.services.admin.delete_attribute(&caller.principal, AttributeOwner::User(id), &key, &caller.ctx).await?;
    Ok(no_content())
}

pub async fn audit_logs(
    State(state): State<AppState>,
    caller: Caller<AuditRead>,
    Params(query): Params,
) -> ApiResult<Response> {
    let query = audit_query(&query)?;
    let (page, capped) = state.services.admin.audit_log(&caller.principal, query, &caller.ctx).await?;
    let mut body = json!({ "audit_logs": page.items, "total": page.total, "page": page.page,
                           "page_size": page.page_size, "total_pages": page.total_pages() });
    if capped {
        body["total_capped"] = json!(true);
    }
    Ok(json(StatusCode::OK, &body))
}
