//! `/api/v1/auth/*` (docs/authentication.md#endpoints).

use crate::http::extract::{Ctx, JsonBody, header_str};
use crate::http::problem::ApiResult;
use crate::http::respond::json;
use crate::http::state::AppState;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use serde_json::json;
use taskify_core::auth::{AuthService, Registration};

const WELCOME: &str = "Welcome to Taskify! Your account has been created successfully.";

pub async fn register(State(state): State<AppState>, JsonBody(body): JsonBody) -> ApiResult<Response> {
    let registration = Registration::from_json(body)?;
    let user = state.services.auth.register(registration).await?;
    Ok(json(StatusCode::CREATED, &json!({ "message": WELCOME, "user": user })))
}

pub async fn login(State(state): State<AppState>, Ctx(ctx): Ctx, JsonBody(body): JsonBody) -> ApiResult<Response> {
    let out = state.services.auth.login(body, &ctx).await?;
    let t = out.tokens;
    Ok(json(
        StatusCode::OK,
        &json!({
            "access_token": t.access_token, "refresh_token": t.refresh_token, "token_type": t.token_type,
            "expires_in": t.expires_in, "refresh_expires_in": t.refresh_expires_in,
            "user": out.user, "permissions": out.permissions,
        }),
    ))
}

pub async fn refresh(State(state): State<AppState>, Ctx(ctx): Ctx, JsonBody(body): JsonBody) -> ApiResult<Response> {
    let token = AuthService::refresh_token_member(body)?;
    let tokens = state.services.auth.refresh(&token, &ctx).await?;
    Ok(json(StatusCode::OK, &tokens))
}

pub async fn logout(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    let token = AuthService::logout_token_member(body)?;
    state.services.auth.logout(&token, header_str(&headers, header::AUTHORIZATION), &ctx).await?;
    Ok(json(StatusCode::OK, &json!({ "message": "Successfully logged out" })))
}
