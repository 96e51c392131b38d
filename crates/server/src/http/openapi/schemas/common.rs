//! Problems, plain messages and the health endpoints (docs/http-contract.md#errors).
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
use utoipa::openapi::schema::{AdditionalProperties, ObjectBuilder, Schema, Type};

#[derive(Serialize, ToSchema)]
pub struct FieldError {
    /// Body member, query parameter or header name.
    field: String,
    #[schema(examples("must be between 1 and 255 characters", "is not allowed"))]
    message: String,
}

/// RFC 9457 problem details, sent as `application/problem+json` by every layer. `detail` equals `message`; `request_id` equals the `X-Request-Id` response header.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"type": "urn:taskify:problem:validation_failed", "title": "Bad Request", "status": 400, "detail": "Request validation failed", "instance": "/api/v1/tasks", "error": "validation_failed", "message": "Request validation failed", "request_id": "5b0f2c1e-8a4e-4d8e-9a31-2f0d7c1a9b10", "errors": [{"field": "title", "message": "must be between 1 and 255 characters"}]}))]
pub struct Problem {
    /// `urn:taskify:problem:` followed by the `error` code.
    #[schema(pattern = "^urn:taskify:problem:[a-z_]+$")]
    r#type: String,
    /// The HTTP reason phrase.
    #[schema(examples("Bad Request"))]
    title: String,
    #[schema(minimum = 400, maximum = 599)]
    status: i64,
    detail: String,
    /// The request path, without the query string.
    instance: String,
    #[schema(schema_with = problem_error, required = true)]
    error: serde_json::Value,
    message: String,
    request_id: String,
    /// Only on `validation_failed` and, where a member is identifiable, `invalid_request`. Order is not significant.
    #[schema(nullable = false)]
    errors: Option<Vec<FieldError>>,
    /// Only on 429: seconds until a retry can succeed.
    #[schema(minimum = 1, nullable = false)]
    retry_after: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct Message {
    message: String,
}

/// `status`: healthy (database up, Redis up or disabled), degraded (still 200: Redis configured but down, or breaker not closed), unhealthy (503: database down).
#[derive(Serialize, ToSchema)]
pub struct HealthReport {
    #[schema(schema_with = health_report_status, required = true)]
    status: serde_json::Value,
    /// Whole seconds, UTC.
    #[schema(examples("2025-11-17T10:00:00Z"))]
    timestamp: DateTime<Utc>,
    #[schema(schema_with = health_report_service, required = true)]
    service: serde_json::Value,
    #[schema(examples("1.0.0"))]
    version: String,
    instance_id: String,
    #[schema(minimum = 0)]
    uptime_seconds: i64,
    #[schema(schema_with = health_report_database, required = true)]
    database: serde_json::Value,
    #[schema(schema_with = health_report_redis, required = true)]
    redis: serde_json::Value,
    #[schema(schema_with = health_report_checks, required = true)]
    checks: serde_json::Value,
}

#[derive(Serialize, ToSchema)]
pub struct Readiness {
    ready: bool,
    #[schema(schema_with = readiness_reason)]
    reason: Option<serde_json::Value>,
    /// Whole seconds, UTC.
    timestamp: DateTime<Utc>,
}

#[derive(Serialize, ToSchema)]
pub struct Liveness {
    #[schema(schema_with = liveness_status, required = true)]
    status: serde_json::Value,
    /// Whole seconds, UTC.
    timestamp: DateTime<Utc>,
    #[schema(minimum = 0)]
    uptime_seconds: i64,
}

// One small enum helper per property, like those in audit.rs and attributes.rs: the values differ and are the contract.
fn problem_error() -> impl Into<RefOr<Schema>> {
    ObjectBuilder::new().schema_type(Type::String).enum_values(Some([
        json!("invalid_request"),
        json!("validation_failed"),
        json!("missing_token"),
        json!("invalid_token_format"),
        json!("invalid_token"),
        json!("expired_token"),
        json!("invalid_issuer"),
        json!("invalid_claims"),
        json!("invalid_credentials"),
        json!("account_disabled"),
        json!("insufficient_role"),
        json!("missing_permission"),
        json!("forbidden"),
        json!("not_found"),
        json!("method_not_allowed"),
        json!("conflict"),
        json!("precondition_failed"),
        json!("payload_too_large"),
        json!("unsupported_media_type"),
        json!("idempotency_key_reused"),
        json!("rate_limited"),
        json!("internal_error"),
        json!("service_unavailable"),
        json!("database_unavailable"),
        json!("request_timeout"),
    ]))
}

// One small enum helper per property (status, database, checks), same shape as attributes.rs and cache.rs: the values
// differ.
fn health_report_status() -> impl Into<RefOr<Schema>> {
    ObjectBuilder::new().schema_type(Type::String).enum_values(Some([
        json!("healthy"),
        json!("degraded"),
        json!("unhealthy"),
    ]))
}

fn health_report_service() -> impl Into<RefOr<Schema>> {
    ObjectBuilder::new().schema_type(Type::String).extensions(Some(keywords(json!({"const": "task-manager-backend"}))))
}

// Same enum-helper shape as health_report_status above, for the database member.
fn health_report_database() -> impl Into<RefOr<Schema>> {
    ObjectBuilder::new().schema_type(Type::String).enum_values(Some([json!("up"), json!("down")]))
}

fn health_report_redis() -> impl Into<RefOr<Schema>> {
    ObjectBuilder::new().schema_type(Type::String).enum_values(Some([json!("up"), json!("down"), json!("disabled")]))
}

fn health_report_checks() -> impl Into<RefOr<Schema>> {
    // Hand-built object schema, same builder shape as users.rs UserPatchRequest: derive cannot state these constraints.
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .property(
            "database",
            ObjectBuilder::new()
                .schema_type(Type::Object)
                .property(
                    "status",
                    ObjectBuilder::new().schema_type(Type::String).enum_values(Some([json!("up"), json!("down")])),
                )
                .property(
                    "backend",
                    ObjectBuilder::new()
                        .schema_type(Type::String)
                        .enum_values(Some([json!("postgres"), json!("sqlite")])),
                )
                .property("latency_ms", ObjectBuilder::new().schema_type(Type::Number)),
        )
        .property(
            "redis",
            ObjectBuilder::new()
                .schema_type(Type::Object)
                .property(
                    "status",
                    ObjectBuilder::new().schema_type(Type::String).enum_values(Some([
                        json!("up"),
                        json!("down"),
                        json!("disabled"),
                    ])),
                )
                .property("latency_ms", ObjectBuilder::new().schema_type(Type::Number))
                .property("message", ObjectBuilder::new().schema_type(Type::String)),
        )
        .property(
            "cache",
            ObjectBuilder::new()
                .schema_type(Type::Object)
                .additional_properties(Some(AdditionalProperties::<Schema>::FreeForm(true))),
        )
        .property(
            "jobs",
            ObjectBuilder::new()
                .schema_type(Type::Object)
                .additional_properties(Some(AdditionalProperties::<Schema>::FreeForm(true))),
        )
}

fn readiness_reason() -> impl Into<RefOr<Schema>> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some([json!("database not ready"), json!("migrations pending"), json!("shutting down")]))
        .description(Some("Only when `ready` is false."))
}

fn liveness_status() -> impl Into<RefOr<Schema>> {
    ObjectBuilder::new().schema_type(Type::String).extensions(Some(keywords(json!({"const": "alive"}))))
}
