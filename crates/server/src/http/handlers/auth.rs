//! `/api/v1/auth/*` (docs/authentication.md#endpoints).

use crate::http::extract::{Ctx, JsonBody, header_str};
use crate::http::openapi as api;
use crate::http::problem::ApiResult;
use crate::http::respond::json;
use crate::http::state::AppState;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use serde_json::json;
use taskify_core::auth::{AuthService, Registration};

const WELCOME: &str = "Welcome to Taskify! Your account has been created successfully.";

#[utoipa::path(
    post,
    path = "/api/v1/auth/register",
    operation_id = "register",
    tag = "Authentication",
    summary = "Register an account",
    description = "Creates an active user with the role `user` and the attributes `account_type=standard` and `clearance_level=1`, in one transaction. No tokens are issued. Emails and usernames of deleted users stay reserved.",
    // Same request_body + responses shape as the other auth routes below and jobs.rs: each operation states its own
    // statuses (docs/http-contract.md).
    request_body = api::RegisterRequest,
    responses(
        (status = 201, description = "Created.", body = api::RegisterResponse),
        (status = 400, description = "`invalid_request` (malformed body) or `validation_failed` with every failing field; the password message names the missing classes.", body = api::Problem, content_type = "application/problem+json"),
        (status = 409, description = "`conflict`: `An account with this email already exists` (checked first), then `This username is already taken`.", body = api::Problem, content_type = "application/problem+json"),
        api::PublicFailures,
    ),
    security(),
    extensions(("x-rate-limit-class" = json!("auth"))),
)]
pub async fn register(State(state): State<AppState>, JsonBody(body): JsonBody) -> ApiResult<Response> {
    let registration = Registration::from_json(body)?;
    let user = state.services.auth.register(registration).await?;
    // Every handler ends the same way (service call, then `json(status, body)`) and the next starts with its own
    // annotation; the bodies differ per route.
    Ok(json(StatusCode::CREATED, &json!({ "message": WELCOME, "user": user })))
}

#[utoipa::path(
    post,
    path = "/api/v1/auth/login",
    operation_id = "login",
    tag = "Authentication",
    summary = "Log in",
    description = "Starts a new refresh-token family. Failed attempts count towards the login throttles (docs/authentication.md#login-throttling).",
    // Same request_body + responses shape as register/refresh: each auth route states its own statuses.
    request_body = api::LoginRequest,
    responses(
        (status = 200, description = "Logged in. `user.last_login_at` is the time of this login.", body = api::LoginResponse),
        (status = 400, description = "`invalid_request` or `validation_failed`.", body = api::Problem, content_type = "application/problem+json"),
        (status = 401, description = "`invalid_credentials`: unknown email, wrong password or deleted user (identical bodies and timing).", body = api::Problem, content_type = "application/problem+json"),
        (status = 403, description = "`account_disabled`: the user is inactive and the password is correct.", body = api::Problem, content_type = "application/problem+json"),
        (status = 413, response = api::PayloadTooLarge),
        (status = 415, response = api::UnsupportedMediaType),
        (status = 429, description = "`rate_limited`: the `auth` rate limit, or a login lockout (even the correct password gets 429). Carries `retry_after`.", body = api::Problem, content_type = "application/problem+json", headers(("RateLimit-Limit" = String), ("RateLimit-Remaining" = String), ("RateLimit-Reset" = String), ("RateLimit-Policy" = String), ("Retry-After" = String))),
        (status = 500, response = api::InternalError),
        (status = 503, response = api::ServiceUnavailable),
    ),
    security(),
    extensions(("x-rate-limit-class" = json!("auth"))),
)]
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

#[utoipa::path(
    post,
    path = "/api/v1/auth/refresh",
    operation_id = "refreshTokens",
    tag = "Authentication",
    summary = "Rotate a refresh token",
    description = "Rotates the presented refresh token and issues a new access token. A token rotated less than `REFRESH_REUSE_GRACE` ago is accepted again; later reuse revokes the whole family.",
    // Same request_body + responses shape as login above: each auth route states its own statuses.
    request_body = api::RefreshRequest,
    responses(
        (status = 200, description = "A new token pair.", body = api::TokenPair),
        (status = 400, description = "`invalid_request` or `validation_failed`.", body = api::Problem, content_type = "application/problem+json"),
        (status = 401, description = "`invalid_token` (`Invalid or expired refresh token`): unknown, expired, revoked or reused token, or deleted user.", body = api::Problem, content_type = "application/problem+json"),
        (status = 403, description = "`account_disabled`: the user is inactive (the token is not rotated).", body = api::Problem, content_type = "application/problem+json"),
        api::PublicFailures,
    ),
    security(),
    extensions(("x-rate-limit-class" = json!("refresh"))),
)]
pub async fn refresh(State(state): State<AppState>, Ctx(ctx): Ctx, JsonBody(body): JsonBody) -> ApiResult<Response> {
    let token = AuthService::refresh_token_member(body)?;
    let tokens = state.services.auth.refresh(&token, &ctx).await?;
    // Same handler tail and next-annotation shape as profile.rs: the bodies differ per route.
    Ok(json(StatusCode::OK, &tokens))
}

#[utoipa::path(
    post,
    path = "/api/v1/auth/logout",
    operation_id = "logout",
    tag = "Authentication",
    summary = "Log out",
    description = "Revokes the family of the presented refresh token. If a valid access token is sent in `Authorization`, its `jti` is revoked on every instance too; an invalid `Authorization` header is ignored. Answers 200 whenever the body is valid, whether the token is known or not.",
    request_body = api::LogoutRequest,
    responses(
        (status = 200, description = "`{\"message\":\"Successfully logged out\"}`.", body = api::Message),
        (status = 400, description = "`invalid_request` or `validation_failed`.", body = api::Problem, content_type = "application/problem+json"),
        api::PublicFailures,
    ),
    security((), ("bearerAuth" = [])),
    extensions(("x-rate-limit-class" = json!("refresh"))),
)]
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
