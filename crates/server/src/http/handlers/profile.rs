//! `/api/v1/users/profile*` (docs/http-contract.md#profile).

use crate::http::extract::{Caller, INVALID_USER_ID, JsonBody, ProfileRead, ProfileUpdate, parse_id};
use crate::http::problem::ApiResult;
use crate::http::respond::json;
use crate::http::state::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};
use taskify_core::profile::ProfileUpdate as Update;

pub async fn own(State(state): State<AppState>, caller: Caller<ProfileRead>) -> ApiResult<Response> {
    let (user, permissions) = state.services.profiles.own(&caller.principal, &caller.ctx).await?;
    let mut body = serde_json::to_value(&user).unwrap_or(Value::Null);
    if let Value::Object(map) = &mut body {
        map.insert("permissions".into(), json!(permissions));
    }
    Ok(json(StatusCode::OK, &body))
}

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
    Ok(json(StatusCode::OK, &body))
}

pub async fn of(
    State(state): State<AppState>,
    caller: Caller<ProfileRead>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let id = parse_id(&id, INVALID_USER_ID)?;
    let user = state.services.profiles.of(&caller.principal, id, &caller.ctx).await?;
    Ok(json(StatusCode::OK, &user))
}
