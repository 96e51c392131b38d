//! Audit log entries (docs/authorization.md).
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
use utoipa::openapi::schema::{ObjectBuilder, Schema, SchemaType, Type};
use uuid::Uuid;

/// One authorization decision or security event. Append-only.
#[derive(Serialize, ToSchema)]
pub struct AuditEntry {
    id: Uuid,
    /// Decision time.
    timestamp: DateTime<Utc>,
    /// `null` for failed logins with an unknown email.
    #[schema(required = true)]
    user_id: Option<Uuid>,
    #[schema(max_length = 64, examples("task:update", "auth:login"))]
    action: String,
    #[schema(schema_with = audit_entry_resource, required = true)]
    resource: serde_json::Value,
    /// The task or user id; `null` for collections and the system.
    #[schema(max_length = 64, required = true)]
    resource_id: Option<String>,
    #[schema(schema_with = audit_entry_decision, required = true)]
    decision: serde_json::Value,
    #[schema(
        examples("allowed by task-owner", "no permitting policy", "missing permission task:read"),
        required = true
    )]
    reason: Option<String>,
    /// Sorted ids of the deciding policies.
    policy_ids: Vec<String>,
    #[schema(max_length = 128, required = true)]
    request_id: Option<String>,
    #[schema(max_length = 45, required = true)]
    ip_address: Option<String>,
    #[schema(max_length = 512, required = true)]
    user_agent: Option<String>,
    #[schema(max_length = 10, required = true)]
    method: Option<String>,
    #[schema(max_length = 2048, required = true)]
    path: Option<String>,
    #[schema(schema_with = audit_entry_context, required = true)]
    context: serde_json::Value,
}

#[derive(Serialize, ToSchema)]
pub struct AuditLogPage {
    // The paging members repeat in every page: a shared struct, flattened, would make each page an allOf.
    audit_logs: Vec<AuditEntry>,
    /// Stops counting at 10 000.
    #[schema(minimum = 0, maximum = 10000)]
    total: i64,
    #[schema(minimum = 1)]
    page: i64,
    #[schema(minimum = 1, maximum = 100)]
    page_size: i64,
    /// `ceil(total / page_size)`; 0 when `total` is 0.
    #[schema(minimum = 0)]
    total_pages: i64,
    #[schema(schema_with = audit_log_page_total_capped)]
    total_capped: Option<serde_json::Value>,
}

// One small enum helper per property, like those in common.rs: the values differ and are the contract.
fn audit_entry_resource() -> impl Into<RefOr<Schema>> {
    ObjectBuilder::new().schema_type(Type::String).enum_values(Some([
        json!("task"),
        json!("profile"),
        json!("user"),
        json!("role"),
        json!("audit"),
        json!("system"),
        json!("auth"),
    ]))
}

fn audit_entry_decision() -> impl Into<RefOr<Schema>> {
    ObjectBuilder::new().schema_type(Type::String).enum_values(Some([json!("allowed"), json!("denied")]))
}

fn audit_entry_context() -> impl Into<RefOr<Schema>> {
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::Object, Type::Null]))
        .description(Some("The request query and, for lists, the effective scope."))
}

fn audit_log_page_total_capped() -> impl Into<RefOr<Schema>> {
    ObjectBuilder::new()
        .schema_type(Type::Boolean)
        .description(Some("Present (true) when `total` was capped at 10 000."))
        .extensions(Some(keywords(json!({"const": true}))))
}
