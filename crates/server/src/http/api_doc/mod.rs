//! The OpenAPI document, generated from the `#[utoipa::path]` annotations on the handlers and the
//! types in `crate::http::openapi`. It is built and serialised once, served at
//! `/api-docs/openapi.json`, and checked in as `crates/server/openapi/openapi.json`: the test below
//! fails when the two differ (docs/http-contract.md).

mod contract;

use contract::Contract;

use crate::http::openapi as api;
use crate::http::problem::Problem;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::sync::OnceLock;
use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    info(title = "Taskify API", description = "Taskify serves its JSON API under `/api/v1` and the operational endpoints `/health`, `/ready`, `/live` and `/metrics` at the root.\n\nAuthentication: send `Authorization: Bearer <access token>` (an HS256 JWT from `POST /api/v1/auth/login`). Access tokens live `ACCESS_TOKEN_TTL` (15 min by default); rotate them with `POST /api/v1/auth/refresh`.\n\nErrors: every error is `application/problem+json` (RFC 9457) with the extra members `error` (a stable code), `message` and `request_id`, plus `errors[]` on validation failures. Any authenticated endpoint can also answer 401 (token problems), 403 `account_disabled`, 413, 415, 429, 500 and 503.\n\nRequests: bodies are JSON objects, sent with `Content-Type: application/json` (or `application/*+json`, or none). Unknown members are ignored, except on the allow-list endpoints `PUT /api/v1/users/profile` and `PATCH /api/v1/users/{user_id}`. Lengths count Unicode code points after trimming. Timestamps are RFC 3339; output is UTC with 6 fractional digits.\n\nLists: `page` (1–1 000 000, default 1) and `pageSize` (1–100, default 10); `order` is `asc` or `desc` (default). Invalid values answer 400 `validation_failed`; nothing silently falls back to a default.\n\nConditional requests and idempotency: tasks carry a strong `ETag` (their version). Use `If-None-Match` on reads and `If-Match` on updates and deletes; `POST /api/v1/tasks` accepts an `Idempotency-Key`.\n\nEvery response carries `X-Request-Id`. Routes under `/api/v1` are rate limited per class (`auth`, `refresh`, `api`) and carry `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset` and `RateLimit-Policy`. HEAD is accepted wherever GET is.", license(name = "MIT", identifier = "MIT")),
    servers((url = "/")),
    security(("bearerAuth" = [])),
    tags(
        (name = "Infrastructure", description = "Health, readiness, liveness and metrics. Public and not rate limited."),
        (name = "Authentication", description = "Registration, login, token refresh and logout. Public; POST only."),
        (name = "Tasks", description = "Task CRUD and listing. Owners manage their own tasks; managers read their department's; admins do everything."),
        (name = "Task attributes", description = "Resource attributes of tasks (for example `required_clearance`). Admin only (`system:admin`)."),
        (name = "Profile", description = "The caller's own profile, and profile lookups by id."),
        (name = "Users", description = "User administration."),
        (name = "Roles", description = "Roles, permissions and role assignments."),
        (name = "User attributes", description = "Attributes of users (keys `^[a-z][a-z0-9_]{0,63}$`), used by the access policies."),
        (name = "Audit logs", description = "The append-only record of authorization decisions and security events."),
        (name = "Cache", description = "Cache administration: statistics, health, clear, warm-up and immediate eviction. Admin only (`system:admin`)."),
        (name = "Jobs", description = "Cache-warming jobs: enqueueing, queue inspection and the dead-letter queue. Admin only (`system:admin`)."),
        (name = "Live updates", description = "A Server-Sent Events stream of the task changes the caller may read (docs/live-updates.md).")
    ),
    paths(
        crate::http::health::health,
        crate::http::health::ready,
        crate::http::health::live,
        crate::http::static_files::metrics,
        crate::http::handlers::auth::register,
        crate::http::handlers::auth::login,
        crate::http::handlers::auth::refresh,
        crate::http::handlers::auth::logout,
        crate::http::handlers::tasks::list,
        crate::http::handlers::tasks::create,
        crate::http::handlers::tasks::get,
        crate::http::handlers::tasks::update,
        crate::http::handlers::tasks::delete,
        crate::http::handlers::tasks::of_user,
        crate::http::handlers::tasks::attributes,
        crate::http::handlers::tasks::put_attribute,
        crate::http::handlers::tasks::delete_attribute,
        crate::http::handlers::profile::own,
        crate::http::handlers::profile::update,
        crate::http::handlers::profile::of,
        crate::http::handlers::admin::list_users,
        crate::http::handlers::admin::patch_user,
        crate::http::handlers::admin::delete_user,
        crate::http::handlers::admin::roles,
        crate::http::handlers::admin::assign_role,
        crate::http::handlers::admin::revoke_role,
        crate::http::handlers::admin::attributes,
        crate::http::handlers::admin::attribute,
        crate::http::handlers::admin::put_attribute,
        crate::http::handlers::admin::delete_attribute,
        crate::http::handlers::admin::audit_logs,
        crate::http::handlers::cache::stats,
        crate::http::handlers::cache::health,
        crate::http::handlers::cache::clear,
        crate::http::handlers::cache::warm,
        crate::http::handlers::cache::evict,
        crate::http::handlers::jobs::inspect,
        crate::http::handlers::jobs::warmup,
        crate::http::handlers::jobs::batch,
        crate::http::handlers::jobs::scheduled,
        crate::http::handlers::jobs::validation,
        crate::http::handlers::jobs::eviction,
        crate::http::handlers::jobs::dlq,
        crate::http::handlers::jobs::dlq_purge,
        crate::http::handlers::jobs::dlq_retry,
        crate::http::handlers::events::stream
    ),
    components(
        schemas(
            api::TaskStatus,
            api::TaskEventData,
            api::TaskDeletedEventData,
            api::ResyncReason,
            api::ResyncEventData,
            api::TaskPriority,
            api::Task,
            api::TaskPage,
            api::RoleAssignment,
            api::User,
            api::PermissionList,
            api::UserWithPermissions,
            api::UserPage,
            api::AttributeDataType,
            api::AttributeValue,
            api::Attribute,
            api::UserAttributeList,
            api::TaskAttributeList,
            api::Permission,
            api::Role,
            api::RoleList,
            api::AuditEntry,
            api::AuditLogPage,
            api::FieldError,
            api::Problem,
            api::Message,
            api::HealthReport,
            api::Readiness,
            api::Liveness,
            api::RegisterRequest,
            api::RegisterResponse,
            api::LoginRequest,
            api::TokenPair,
            api::LoginResponse,
            api::RefreshRequest,
            api::LogoutRequest,
            api::TaskCreateRequest,
            api::TaskUpdateRequest,
            api::TaskUpdateResponse,
            api::ProfileUpdateRequest,
            api::ProfileUpdateResponse,
            api::UserPatchRequest,
            api::UserUpdateResponse,
            api::RoleAssignRequest,
            api::RoleAssignResponse,
            api::AttributePutRequest,
            api::CircuitBreakerState,
            api::QueueSizes,
            api::CacheWarmingStats,
            api::CacheStats,
            api::CacheHealth,
            api::CacheClearResponse,
            api::CacheWarmResponse,
            api::CacheEvictResponse,
            api::CacheKey,
            api::WritableCacheKey,
            api::CacheKeyPattern,
            api::JobTtlInput,
            api::JobTtl,
            api::JobPriorityInput,
            api::Job,
            api::WarmupJobRequest,
            api::BatchJobRequest,
            api::ScheduledJobRequest,
            api::ValidationJobRequest,
            api::EvictionJobRequest,
            api::JobAccepted,
            api::WarmupJobAccepted,
            api::BatchJobAccepted,
            api::ScheduledJobAccepted,
            api::ValidationJobAccepted,
            api::EvictionJobAccepted,
            api::JobQueues,
            api::DeadLetterPage,
            api::DeadLetterRetryRequest,
            api::DeadLetterRetryResponse,
            api::DeadLetterPurgeResponse
        ),
        responses(
            api::Unauthorized,
            api::PayloadTooLarge,
            api::UnsupportedMediaType,
            api::RateLimited,
            api::InternalError,
            api::ServiceUnavailable,
            api::JobQueueUnavailable
        ),
    ),
    modifiers(&Contract),
)]
pub struct ApiDoc;

/// The document as a JSON value, with the specification extensions (`x-…`) of each object last
/// and sorted: utoipa keeps them in a `HashMap`, whose order changes from one run to the next.
fn document() -> Option<serde_json::Value> {
    let mut value = serde_json::to_value(ApiDoc::openapi()).ok()?;
    extensions_last(&mut value);
    Some(value)
}

fn extensions_last(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(members) => {
            let (mut extensions, rest): (Vec<_>, Vec<_>) =
                std::mem::take(members).into_iter().partition(|(key, _)| key.starts_with("x-"));
            extensions.sort_by(|a, b| a.0.cmp(&b.0));
            members.extend(rest.into_iter().chain(extensions));
            members.values_mut().for_each(extensions_last);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(extensions_last),
        _ => {}
    }
}

/// The served document: compact JSON, built and serialised on first use; `None` if it could not
/// be serialised.
fn served() -> Option<&'static str> {
    static DOCUMENT: OnceLock<Option<String>> = OnceLock::new();
    DOCUMENT.get_or_init(|| document().and_then(|value| serde_json::to_string(&value).ok())).as_deref()
}

/// The checked-in form of the document: pretty-printed, with a final newline.
pub fn pretty_document() -> Option<String> {
    let mut text = serde_json::to_string_pretty(&document()?).ok()?;
    text.push('\n');
    Some(text)
}

/// `GET /api-docs/openapi.json`.
pub async fn openapi() -> Response {
    match served() {
        Some(document) => {
            let mut response = Response::new(document.into());
            let headers = response.headers_mut();
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json; charset=utf-8"));
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            response
        }
        None => {
            Problem::new(StatusCode::INTERNAL_SERVER_ERROR, "internal_error", "internal server error").into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// The command that rewrites the checked-in copy (also in CONTRIBUTING.md).
    const UPDATE: &str = "UPDATE_OPENAPI=1 cargo nextest run -p taskify-server -E 'test(openapi_document)'";

    #[test]
    fn the_openapi_document_matches_the_checked_in_copy() {
        let generated = pretty_document().expect("the document serialises");
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("openapi/openapi.json");
        if std::env::var_os("UPDATE_OPENAPI").is_some_and(|value| value == "1") {
            std::fs::write(&path, &generated).expect("crates/server/openapi/openapi.json is writable");
            return;
        }
        let checked_in = std::fs::read_to_string(&path).expect("crates/server/openapi/openapi.json is readable");
        let same = checked_in == generated || serde_json::from_str::<serde_json::Value>(&checked_in).ok() == document();
        assert!(
            same,
            "crates/server/openapi/openapi.json differs from the document the code generates; run `{UPDATE}` and commit the file"
        );
    }
}
