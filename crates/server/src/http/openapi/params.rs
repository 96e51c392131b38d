//! The parameters of the OpenAPI document, grouped as the handlers read them.
#![allow(dead_code)]

use super::fragments::keywords;
use super::schemas::{TaskPriority, TaskStatus};
use chrono::{DateTime, Utc};
use serde_json::json;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::{IntoParams, PartialSchema, ToSchema};
use uuid::Uuid;

/// The filters and sort order of task lists (docs/http-contract.md#pagination).
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct TaskFilters {
    status: Option<TaskStatus>,
    priority: Option<TaskPriority>,
    /// Inclusive lower bound on `due_date`; tasks without a due date are left out.
    due_after: Option<DateTime<Utc>>,
    /// Exclusive upper bound on `due_date`; tasks without a due date are left out.
    due_before: Option<DateTime<Utc>>,
    /// Case-insensitive (ASCII) substring of the title or the description; `%`, `_` and `\` are literal.
    #[param(min_length = 1, max_length = 200, pattern = r#"^[^\u0000-\u001F\u007F]*$"#)]
    q: Option<String>,
    /// `title` ignores ASCII case; `due_date` puts tasks without one last in both orders; `priority` and `status` sort by rank.
    #[param(rename = "sortBy", inline)]
    sort_by: Option<TaskSortBySchema>,
    /// Sort direction. Ties are broken by `id` ascending.
    #[param(inline)]
    order: Option<OrderSchema>,
}

/// The owner filter of `GET /api/v1/tasks`.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct TaskOwnerQuery {
    /// Restrict to one owner; behaves exactly like `GET /api/v1/users/{user_id}/tasks`, including its 403 and 404.
    user_id: Option<Uuid>,
}

/// Page number and size of every list (docs/http-contract.md#pagination).
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct Paging {
    /// 1-based page number. Any other value (0, `abc`, empty) answers 400 `validation_failed`.
    #[param(inline)]
    page: Option<PageSchema>,
    /// Items per page.
    #[param(rename = "pageSize", inline)]
    page_size: Option<PageSizeSchema>,
}

/// The filters and sort order of `GET /api/v1/users`.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct UserFilters {
    /// Case-insensitive substring of username, email, first name or last name; 1–200 characters, single line.
    #[param(min_length = 1, max_length = 200, pattern = r#"^[^\u0000-\u001F\u007F]*$"#)]
    q: Option<String>,
    /// Department, compared ignoring ASCII case; at most 100 characters, single line.
    #[param(max_length = 100, pattern = r#"^[^\u0000-\u001F\u007F]*$"#)]
    department: Option<String>,
    is_active: Option<bool>,
    /// A role name; 1–50 characters, single line.
    #[param(min_length = 1, max_length = 50, pattern = r#"^[^\u0000-\u001F\u007F]*$"#)]
    role: Option<String>,
    #[param(rename = "sortBy", inline)]
    sort_by: Option<UserSortBySchema>,
    /// Sort direction. Ties are broken by `id` ascending.
    #[param(inline)]
    order: Option<OrderSchema>,
}

/// The filters, paging and order of `GET /api/v1/audit-logs`.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct AuditQuery {
    user_id: Option<Uuid>,
    /// 1–64 characters, single line.
    #[param(inline)]
    resource: Option<AuditResourceFilterSchema>,
    /// 1–64 characters, single line.
    #[param(inline)]
    action: Option<AuditActionFilterSchema>,
    #[param(inline)]
    decision: Option<AuditDecisionFilterSchema>,
    /// Inclusive. Default: 7 days before `to` (or before now).
    from: Option<DateTime<Utc>>,
    /// Exclusive.
    to: Option<DateTime<Utc>>,
    /// `page × pageSize` may not exceed 10 000 (400 `validation_failed` on `page`).
    #[param(inline)]
    page: Option<PageSchema>,
    /// Items per page.
    #[param(rename = "pageSize", inline)]
    page_size: Option<PageSizeSchema>,
    /// By timestamp, then id.
    #[param(inline)]
    order: Option<OrderSchema>,
}

/// How much of each job queue `GET /api/v1/cache/jobs` shows.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct JobsQuery {
    /// Entries shown per queue. Any other value answers 400 `validation_failed`.
    #[param(inline)]
    limit: Option<JobsLimitSchema>,
}

/// The page of `GET /api/v1/cache/jobs/dlq`.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct DeadLetterQuery {
    /// Page size. Any other value answers 400 `validation_failed`.
    #[param(inline)]
    limit: Option<DlqLimitSchema>,
    /// Entries to skip, newest first.
    #[param(inline)]
    offset: Option<DlqOffsetSchema>,
}

/// What `DELETE /api/v1/cache/jobs/dlq` deletes.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct DeadLetterPurgeQuery {
    /// The DLQ entry to delete. Exactly one of `job_id` and `all`.
    job_id: Option<Uuid>,
    /// `true`: delete every entry. Exactly one of `job_id` and `all`; any other value answers 400.
    #[param(inline)]
    all: Option<DlqAllSchema>,
}

/// A task.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub struct TaskPath {
    /// Task id. A malformed UUID answers 400 `invalid_request` (`Invalid task ID format`).
    id: Uuid,
}

/// A user.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub struct UserPath {
    /// User id. A malformed UUID answers 400 `invalid_request` (`Invalid user ID format`).
    user_id: Uuid,
}

/// An attribute of a task.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub struct TaskAttributePath {
    /// Task id. A malformed UUID answers 400 `invalid_request` (`Invalid task ID format`).
    id: Uuid,
    /// Attribute key.
    #[param(pattern = "^[a-z][a-z0-9_]{0,63}$")]
    key: String,
}

/// An attribute of a user.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub struct UserAttributePath {
    /// User id. A malformed UUID answers 400 `invalid_request` (`Invalid user ID format`).
    user_id: Uuid,
    /// Attribute key.
    #[param(pattern = "^[a-z][a-z0-9_]{0,63}$")]
    key: String,
}

/// A role of a user.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub struct UserRolePath {
    /// User id. A malformed UUID answers 400 `invalid_request` (`Invalid user ID format`).
    user_id: Uuid,
    /// A role name.
    #[param(inline)]
    role: RoleNameSchema,
}

/// A cache key or glob.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub struct CacheKeyPath {
    /// A logical cache key, percent-decoded (it may contain `/`); a glob when it contains `*`, `?` or `[`. 1–512 characters without control characters.
    #[param(inline)]
    key: CacheKeyPathSchema,
}

/// `If-Match` (docs/http-contract.md#conditional-requests).
#[derive(IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)]
pub struct IfMatchHeader {
    /// A comma-separated list of entity tags (`"3"`; weak tags `W/"3"` never match, as strong comparison requires; only numeric tags can match a version), or `*`. A mismatch answers 412 and changes nothing; a value that is not an entity-tag list answers 400 `invalid_request`. Without it, the last write wins.
    #[param(rename = "If-Match", example = "\"3\"", nullable = false)]
    if_match: Option<String>,
}

/// `If-None-Match` (docs/http-contract.md#conditional-requests).
#[derive(IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)]
pub struct IfNoneMatchHeader {
    /// Entity tags (weak comparison: `W/"3"` matches `"3"`) or `*`. On a match the answer is 304.
    #[param(rename = "If-None-Match", inline, nullable = false)]
    if_none_match: Option<IfNoneMatchSchema>,
}

/// `Last-Event-ID` of the live-update stream (docs/live-updates.md#resumption-window).
#[derive(IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)]
pub struct LastEventIdHeader {
    /// Resume after this event id (exclusive). An id the shared window no longer holds (older than
    /// 5 minutes or 10 000 events), or one that is not an event id, gets a `resync` event first.
    #[param(rename = "Last-Event-ID", nullable = false, max_length = 64, example = "1765119000123-0")]
    last_event_id: Option<String>,
}

/// `Idempotency-Key` (docs/http-contract.md#idempotency).
#[derive(IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)]
pub struct IdempotencyKeyHeader {
    /// 1–255 visible ASCII characters, scoped to the caller, kept for `IDEMPOTENCY_TTL` (24 h). A replay with the same body returns the stored 201; a different body answers 422; a request still in progress answers 409.
    #[param(
        rename = "Idempotency-Key",
        min_length = 1,
        max_length = 255,
        pattern = r#"^[\x21-\x7E]{1,255}$"#,
        nullable = false
    )]
    idempotency_key: Option<String>,
}

/// `X-Request-Id`, accepted on every route (docs/http-contract.md#x-request-id).
#[derive(IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)]
pub struct RequestIdHeader {
    /// Any value is accepted: it is used as is when it matches `[A-Za-z0-9._:-]{1,128}`; any other value is ignored and a UUID is generated instead. The id in use is echoed in the `X-Request-Id` response header and the `request_id` of problems.
    #[param(rename = "X-Request-Id", inline, nullable = false)]
    request_id: Option<RequestIdSchema>,
}

/// The schema of a parameter (derive cannot state its examples, enum or `const`, and would give an
/// integer `format: int64`, a bound the handlers do not check).
pub struct TaskSortBySchema;

impl PartialSchema for TaskSortBySchema {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some([
                json!("created_at"),
                json!("updated_at"),
                json!("title"),
                json!("due_date"),
                json!("priority"),
                json!("status"),
            ]))
            .default(Some(json!("created_at")))
            .into()
    }
}

impl ToSchema for TaskSortBySchema {}

/// The schema of a parameter (derive cannot state its examples, enum or `const`, and would give an
/// integer `format: int64`, a bound the handlers do not check).
pub struct OrderSchema;

impl PartialSchema for OrderSchema {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some([json!("asc"), json!("desc")]))
            .default(Some(json!("desc")))
            .into()
    }
}

impl ToSchema for OrderSchema {}

/// The schema of a parameter (derive cannot state its examples, enum or `const`, and would give an
/// integer `format: int64`, a bound the handlers do not check).
pub struct PageSchema;

impl PartialSchema for PageSchema {
    // One hand-written schema per parameter, same builder shape as the others in this file (see the doc above: derive
    // cannot state these bounds).
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .minimum(Some(1))
            .maximum(Some(1000000))
            .default(Some(json!(1)))
            .into()
    }
}

impl ToSchema for PageSchema {}

/// The schema of a parameter (derive cannot state its examples, enum or `const`, and would give an
/// integer `format: int64`, a bound the handlers do not check).
pub struct PageSizeSchema;

impl PartialSchema for PageSizeSchema {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .minimum(Some(1))
            .maximum(Some(100))
            .default(Some(json!(10)))
            .into()
    }
}

impl ToSchema for PageSizeSchema {}

/// The schema of a parameter (derive cannot state its examples, enum or `const`, and would give an
/// integer `format: int64`, a bound the handlers do not check).
pub struct UserSortBySchema;

impl PartialSchema for UserSortBySchema {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some([json!("created_at"), json!("username"), json!("email"), json!("last_login_at")]))
            .default(Some(json!("created_at")))
            .into()
    }
}

impl ToSchema for UserSortBySchema {}

/// The schema of a parameter (derive cannot state its examples, enum or `const`, and would give an
/// integer `format: int64`, a bound the handlers do not check).
pub struct AuditResourceFilterSchema;

impl PartialSchema for AuditResourceFilterSchema {
    // Same hand-written string schema shape as the other parameters here and schemas/cache.rs CacheKey: each states its
    // own bounds.
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .min_length(Some(1))
            .max_length(Some(64))
            .pattern(Some(r#"^[^\u0000-\u001F\u007F]*$"#))
            .examples([json!("task")])
            .into()
    }
}

impl ToSchema for AuditResourceFilterSchema {}

/// The schema of a parameter (derive cannot state its examples, enum or `const`, and would give an
/// integer `format: int64`, a bound the handlers do not check).
pub struct AuditActionFilterSchema;

impl PartialSchema for AuditActionFilterSchema {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .min_length(Some(1))
            .max_length(Some(64))
            .pattern(Some(r#"^[^\u0000-\u001F\u007F]*$"#))
            .examples([json!("task:update")])
            .into()
    }
}

impl ToSchema for AuditActionFilterSchema {}

/// The schema of a parameter (derive cannot state its examples, enum or `const`, and would give an
/// integer `format: int64`, a bound the handlers do not check).
pub struct AuditDecisionFilterSchema;

impl PartialSchema for AuditDecisionFilterSchema {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new().schema_type(Type::String).enum_values(Some([json!("allowed"), json!("denied")])).into()
    }
}

impl ToSchema for AuditDecisionFilterSchema {}

/// The schema of a parameter (derive cannot state its examples, enum or `const`, and would give an
/// integer `format: int64`, a bound the handlers do not check).
pub struct JobsLimitSchema;

impl PartialSchema for JobsLimitSchema {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .minimum(Some(1))
            .maximum(Some(200))
            .default(Some(json!(20)))
            .into()
    }
}

impl ToSchema for JobsLimitSchema {}

/// The schema of a parameter (derive cannot state its examples, enum or `const`, and would give an
/// integer `format: int64`, a bound the handlers do not check).
pub struct DlqLimitSchema;

impl PartialSchema for DlqLimitSchema {
    // Same hand-written integer schema shape as PageSchema/JobsLimitSchema: each parameter has its own bounds and
    // default.
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .minimum(Some(1))
            .maximum(Some(500))
            .default(Some(json!(50)))
            .into()
    }
}

impl ToSchema for DlqLimitSchema {}

/// The schema of a parameter (derive cannot state its examples, enum or `const`, and would give an
/// integer `format: int64`, a bound the handlers do not check).
pub struct DlqOffsetSchema;

impl PartialSchema for DlqOffsetSchema {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(0)).default(Some(json!(0))).into()
    }
}

impl ToSchema for DlqOffsetSchema {}

/// The schema of a parameter (derive cannot state its examples, enum or `const`, and would give an
/// integer `format: int64`, a bound the handlers do not check).
pub struct DlqAllSchema;

impl PartialSchema for DlqAllSchema {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new().schema_type(Type::Boolean).extensions(Some(keywords(json!({"const": true})))).into()
    }
}

impl ToSchema for DlqAllSchema {}

/// The schema of a parameter (derive cannot state its examples, enum or `const`, and would give an
/// integer `format: int64`, a bound the handlers do not check).
pub struct RoleNameSchema;

impl PartialSchema for RoleNameSchema {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new().schema_type(Type::String).examples([json!("manager")]).into()
    }
}

impl ToSchema for RoleNameSchema {}

/// The schema of a parameter (derive cannot state its examples, enum or `const`, and would give an
/// integer `format: int64`, a bound the handlers do not check).
pub struct CacheKeyPathSchema;

impl PartialSchema for CacheKeyPathSchema {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .min_length(Some(1))
            .max_length(Some(512))
            .examples([json!("test:key"), json!("test:*")])
            .into()
    }
}

impl ToSchema for CacheKeyPathSchema {}

/// The schema of a parameter (derive cannot state its examples, enum or `const`, and would give an
/// integer `format: int64`, a bound the handlers do not check).
pub struct IfNoneMatchSchema;

impl PartialSchema for IfNoneMatchSchema {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new().schema_type(Type::String).examples([json!("\"3\"")]).into()
    }
}

impl ToSchema for IfNoneMatchSchema {}

/// The schema of a parameter (derive cannot state its examples, enum or `const`, and would give an
/// integer `format: int64`, a bound the handlers do not check).
pub struct RequestIdSchema;

impl PartialSchema for RequestIdSchema {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new().schema_type(Type::String).examples([json!("checkout-42")]).into()
    }
}

impl ToSchema for RequestIdSchema {}
