//! Tasks and their list pages (docs/http-contract.md#tasks).
//!
//! Wire shapes for the OpenAPI document only, never constructed: the handlers answer with `json!`
//! bodies or with domain types of the same shape (docs/http-contract.md#endpoints).
#![allow(dead_code)]

use crate::http::openapi::fragments::keywords;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{AllOfBuilder, ObjectBuilder, RefBuilder, Schema, Type};
use uuid::Uuid;

/// Any transition is allowed. Sort rank: pending < in_progress < completed < cancelled.
#[derive(Serialize, ToSchema)]
pub enum TaskStatus {
    #[serde(rename = "pending")]
    Pending,
    #[serde(rename = "in_progress")]
    InProgress,
    #[serde(rename = "completed")]
    Completed,
    #[serde(rename = "cancelled")]
    Cancelled,
}

/// Sort rank: low < medium < high < urgent.
#[derive(Serialize, ToSchema)]
pub enum TaskPriority {
    #[serde(rename = "low")]
    Low,
    #[serde(rename = "medium")]
    Medium,
    #[serde(rename = "high")]
    High,
    #[serde(rename = "urgent")]
    Urgent,
}

/// A task. Optional values are sent as `null`, never left out.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"id": "01936f3e-7a4b-7c3d-9e2f-1a2b3c4d5e6f", "user_id": "01936f3e-0000-7000-8000-000000000001", "title": "Write spec", "description": "", "status": "pending", "priority": "medium", "due_date": null, "created_at": "2025-11-17T10:11:12.345678Z", "updated_at": "2025-11-17T10:11:12.345678Z", "version": 1, "owner_username": "john_doe"}))]
pub struct Task {
    id: Uuid,
    /// The owner (always the user who created the task).
    user_id: Uuid,
    #[schema(min_length = 1, max_length = 255)]
    title: String,
    /// Always a string; `""` when empty.
    #[schema(max_length = 10000)]
    description: String,
    status: TaskStatus,
    priority: TaskPriority,
    #[schema(required = true)]
    due_date: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    /// Starts at 1; +1 on every PUT that carries at least one member. Also sent as the `ETag`.
    #[schema(minimum = 1)]
    version: i64,
    /// The owner's username.
    owner_username: String,
}

/// A page of tasks. A page past the end has an empty `tasks` list and the same totals.
#[derive(Serialize, ToSchema)]
pub struct TaskPage {
    // The paging members repeat in every page: a shared struct, flattened, would make each page an allOf.
    tasks: Vec<Task>,
    /// Number of matching items, counted up to 10 000 past the first item of the page (`(page - 1) × page_size + 10 000`); `total_capped` says when it stopped there.
    #[schema(minimum = 0)]
    total: i64,
    #[schema(minimum = 1)]
    page: i64,
    #[schema(minimum = 1, maximum = 100)]
    page_size: i64,
    /// `ceil(total / page_size)`; 0 when `total` is 0.
    #[schema(minimum = 0)]
    total_pages: i64,
    #[schema(schema_with = task_page_total_capped)]
    total_capped: Option<serde_json::Value>,
}

// The same optional true-only flag as the audit log page's (audit.rs).
fn task_page_total_capped() -> impl Into<RefOr<Schema>> {
    ObjectBuilder::new()
        .schema_type(Type::Boolean)
        .description(Some(
            "Present (true) when `total` stopped counting at `(page - 1) × page_size + 10 000`: there are at least that many matches, maybe more, and pages past `total_pages` may still hold tasks.",
        ))
        .extensions(Some(keywords(json!({"const": true}))))
}

/// Server-owned members (`id`, `user_id`, `version`, `created_at`, `updated_at`) are ignored.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"title": "Test Task", "description": "Testing the API", "status": "pending", "priority": "medium"}))]
pub struct TaskCreateRequest {
    // The single-line, not-blank text pattern, stated per field as in auth.rs: a #[schema] attribute takes the literal,
    // so each field carries it.
    /// Trimmed; single line (no U+0000–U+001F or U+007F); not blank.
    #[schema(
        min_length = 1,
        max_length = 255,
        pattern = r#"^[^\u0000-\u001F\u007F]*[^\s\u0000-\u001F\u007F][^\u0000-\u001F\u007F]*$"#
    )]
    title: String,
    /// Multi-line; no U+0000. `null` is the same as `""`.
    #[schema(max_length = 10000, pattern = r#"^[^\u0000]*$"#)]
    description: Option<String>,
    #[schema(schema_with = task_create_request_status)]
    status: Option<serde_json::Value>,
    #[schema(schema_with = task_create_request_priority)]
    priority: Option<serde_json::Value>,
    /// RFC 3339 date-time with an offset (normalised to UTC); a bare date is rejected.
    due_date: Option<DateTime<Utc>>,
}

/// Any subset of the members; only those present change anything. `{}` changes nothing (not even `version`). `null` for `title`, `status` or `priority` answers 400.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"title": "Updated Test Task", "status": "in_progress"}))]
pub struct TaskUpdateRequest {
    /// Trimmed; single line; not blank; not clearable.
    #[schema(
        min_length = 1,
        max_length = 255,
        pattern = r#"^[^\u0000-\u001F\u007F]*[^\s\u0000-\u001F\u007F][^\u0000-\u001F\u007F]*$"#,
        nullable = false
    )]
    title: Option<String>,
    /// Multi-line; no U+0000. `null` or `""` clears it.
    #[schema(max_length = 10000, pattern = r#"^[^\u0000]*$"#)]
    description: Option<String>,
    #[schema(nullable = false)]
    status: Option<TaskStatus>,
    #[schema(nullable = false)]
    priority: Option<TaskPriority>,
    /// `null` clears it.
    due_date: Option<DateTime<Utc>>,
}

#[derive(Serialize, ToSchema)]
pub struct TaskUpdateResponse {
    #[schema(schema_with = task_update_response_message, required = true)]
    message: serde_json::Value,
    task: Task,
}

fn task_create_request_status() -> impl Into<RefOr<Schema>> {
    AllOfBuilder::new()
        .item(RefBuilder::new().ref_location_from_schema_name("TaskStatus"))
        .default(Some(json!("pending")))
}

fn task_create_request_priority() -> impl Into<RefOr<Schema>> {
    AllOfBuilder::new()
        .item(RefBuilder::new().ref_location_from_schema_name("TaskPriority"))
        .default(Some(json!("medium")))
}

fn task_update_response_message() -> impl Into<RefOr<Schema>> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .extensions(Some(keywords(json!({"const": "task updated successfully"}))))
}
