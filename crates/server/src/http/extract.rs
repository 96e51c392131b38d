//! Extractors that enforce the order of checks of docs/http-contract.md#order-of-checks: [`Caller`] authenticates and runs
//! the permission pre-check (steps 4–5) before any input is parsed; [`JsonBody`] then checks
//! the media type, the size and the JSON syntax (step 6).

use super::problem::ApiError;
use super::state::AppState;
use axum::body::Body;
use axum::extract::{FromRequest, FromRequestParts, OriginalUri, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use futures::StreamExt;
use std::marker::PhantomData;
use std::net::IpAddr;
use std::sync::{Arc, OnceLock};
use taskify_core::AuthFailure;
use taskify_core::auth::jwt::AccessClaims;
use taskify_core::input::{JsonInput, QueryInput};
use taskify_core::{CoreError, RequestContext};
use taskify_domain::Principal;
use uuid::Uuid;

/// The client IP of the request, resolved once by the access-log layer.
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub IpAddr);

/// The rate limiter's verification of this request's bearer token (signature and claims),
/// reused by [`authenticate`] so a request verifies its token once (docs/performance.md,
/// "Cached read"). Only our own middleware inserts it; clients cannot.
#[derive(Debug, Clone, Copy)]
pub struct VerifiedToken(pub Result<AccessClaims, AuthFailure>);

/// The whole access-token guard for this request: the limiter's verification when it ran,
/// otherwise a fresh one, then revocation, principal and activity.
pub async fn authenticate(parts: &Parts, state: &AppState) -> Result<(Arc<Principal>, AccessClaims), ApiError> {
    let auth = &state.services.auth;
    let verified = match parts.extensions.get::<VerifiedToken>() {
        Some(VerifiedToken(verified)) => *verified,
        None => auth.verify_access_token(header_str(&parts.headers, header::AUTHORIZATION)),
    };
    let (principal, claims) = auth.authenticate_verified(verified).await?;
    note_user(parts, principal.user_id);
    Ok((principal, claims))
}

/// What the routed part of a request notes for the access log and the HTTP metrics, which
/// run outside the router (docs/performance.md, "Cached read") and so cannot see the router's
/// own extensions: the matched route template and the authenticated user. One per request,
/// shared between the outer layer that reads it and the inner code that writes it.
#[derive(Debug, Clone, Default)]
pub struct RequestNotes(pub Arc<Notes>);

/// The fields of [`RequestNotes`], each written at most once.
#[derive(Debug, Default)]
pub struct Notes {
    /// The matched route template (interned); unset for a request no route matched.
    pub route: OnceLock<&'static str>,
    /// The user whose bearer token was accepted; unset for anonymous requests.
    pub user: OnceLock<Uuid>,
}

/// The permission a route requires (`resource:action`).
pub trait Permission: Send + Sync + 'static {
    const ACTION: &'static str;
}

macro_rules! permissions {
    ($($name:ident = $action:literal),+ $(,)?) => {
        $(
            #[doc = concat!("`", $action, "`")]
            pub struct $name;
            impl Permission for $name {
                const ACTION: &'static str = $action;
            }
        )+
    };
}

permissions!(
    TaskCreate = "task:create",
    TaskRead = "task:read",
    TaskUpdate = "task:update",
    TaskDelete = "task:delete",
    ProfileRead = "profile:read",
    ProfileUpdate = "profile:update",
    UserRead = "user:read",
    UserUpdate = "user:update",
    UserDelete = "user:delete",
    UserAssignRole = "user:assign_role",
    UserRevokeRole = "user:revoke_role",
    RoleManage = "role:manage",
    AuditRead = "audit:read",
    SystemAdmin = "system:admin",
);

/// Builds the request context of audit rows from the request parts.
pub fn request_context(parts: &Parts) -> RequestContext {
    let request_id =
        parts.extensions.get::<super::request_id::RequestId>().map(|r| r.0.to_string()).unwrap_or_default();
    RequestContext {
        request_id,
        client_ip: parts.extensions.get::<ClientIp>().map(|ip| ip.0.to_string()),
        user_agent: header_str(&parts.headers, header::USER_AGENT).map(str::to_owned),
        method: parts.method.to_string(),
        // Nested routers see the path without their prefix; audit rows want the request's own.
        path: parts.extensions.get::<OriginalUri>().map_or_else(|| parts.uri.path(), |u| u.0.path()).to_owned(),
        raw_query: parts.uri.query().map(str::to_owned),
    }
}

/// A header as text, when it is valid visible ASCII.
pub fn header_str(headers: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The request context, for public endpoints.
pub struct Ctx(pub RequestContext);

impl FromRequestParts<AppState> for Ctx {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, ApiError> {
        Ok(Self(request_context(parts)))
    }
}

/// The query parameters.
pub struct Params(pub QueryInput);

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        Ok(Self(QueryInput::parse(parts.uri.query())))
    }
}

/// An authenticated, active caller who holds `P` at some scope.
pub struct Caller<P> {
    /// Shared with the cache's decoded entry (docs/cache.md#decoded-values).
    pub principal: Arc<Principal>,
    pub ctx: RequestContext,
    _permission: PhantomData<P>,
}

impl<P: Permission> FromRequestParts<AppState> for Caller<P> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let (principal, _) = authenticate(parts, state).await?;
        let ctx = request_context(parts);
        state.services.access.precheck(&principal, P::ACTION, &ctx).await?;
        Ok(Self { principal, ctx, _permission: PhantomData })
    }
}

/// Notes the authenticated user for the access log and the request span.
pub fn note_user(parts: &Parts, user_id: Uuid) {
    if let Some(notes) = parts.extensions.get::<RequestNotes>() {
        let _ = notes.0.user.set(user_id);
        tracing::Span::current().record("user_id", tracing::field::display(user_id));
    }
}

/// A path id that must be a UUID; `message` is the documented `invalid_request` text.
pub fn parse_id(raw: &str, message: &'static str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw).map_err(|_| ApiError::Core(CoreError::invalid(message)))
}

pub const INVALID_TASK_ID: &str = "Invalid task ID format";
pub const INVALID_USER_ID: &str = "Invalid user ID format";

/// A JSON object request body (docs/http-contract.md#request-bodies-and-field-rules): media type, encoding, size and syntax checked.
pub struct JsonBody(pub JsonInput);

/// `application/json`, any `application/*+json`, or no content type at all.
fn acceptable_content_type(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return true;
    };
    let Ok(value) = value.to_str() else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// After a body has passed the limit, up to this much more is read and discarded (for at most
/// [`DRAIN_TIME`], and while data keeps coming within [`DRAIN_IDLE`]) before answering 413:
/// closing a connection with unread request data makes the kernel reset it, and the client
/// would lose the 413.
const DRAIN_BYTES: usize = 8 << 20;
const DRAIN_TIME: std::time::Duration = std::time::Duration::from_secs(5);
const DRAIN_IDLE: std::time::Duration = std::time::Duration::from_millis(200);

/// Reads the body, counting bytes as they arrive so a chunked body cannot exceed the limit.
pub async fn read_limited(body: Body, limit: usize) -> Result<Vec<u8>, ApiError> {
    let mut stream = body.into_data_stream();
    let mut bytes = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| ApiError::Core(CoreError::invalid("Request body could not be read")))?;
        if bytes.len() + chunk.len() > limit {
            let mut drained = 0usize;
            let _ = tokio::time::timeout(DRAIN_TIME, async {
                while let Ok(Some(Ok(chunk))) = tokio::time::timeout(DRAIN_IDLE, stream.next()).await {
                    drained += chunk.len();
                    if drained > DRAIN_BYTES {
                        break;
                    }
                }
            })
            .await;
            return Err(ApiError::PayloadTooLarge(limit));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

/// Parses bytes as a JSON object.
pub fn parse_object(bytes: &[u8]) -> Result<serde_json::Map<String, serde_json::Value>, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::Core(CoreError::invalid("Request body is required")));
    }
    match serde_json::from_slice::<serde_json::Value>(bytes) {
        Ok(serde_json::Value::Object(map)) => Ok(map),
        Ok(_) => Err(ApiError::Core(CoreError::invalid("Request body must be a JSON object"))),
        Err(_) => Err(ApiError::Core(CoreError::invalid("Invalid request format"))),
    }
}

impl FromRequest<AppState> for JsonBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, ApiError> {
        let map = read_json_object(request, state.config.body_limit_bytes).await?;
        Ok(Self(JsonInput::new(map)))
    }
}

/// Checks the media type and encoding, then reads and parses the body.
pub async fn read_json_object(
    request: Request,
    limit: usize,
) -> Result<serde_json::Map<String, serde_json::Value>, ApiError> {
    let headers = request.headers();
    if !acceptable_content_type(headers) {
        return Err(ApiError::UnsupportedMediaType);
    }
    let encoding = header_str(headers, header::CONTENT_ENCODING).map(|e| e.trim().to_ascii_lowercase());
    if encoding.is_some_and(|e| e != "identity") {
        return Err(ApiError::UnsupportedMediaType);
    }
    let bytes = read_limited(request.into_body(), limit).await?;
    parse_object(&bytes)
}
