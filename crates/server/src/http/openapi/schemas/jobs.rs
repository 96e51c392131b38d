//! Cache-warming job bodies (docs/jobs.md).
//!
//! Wire shapes for the OpenAPI document only, never constructed: the handlers answer with `json!`
//! bodies or with domain types of the same shape (docs/http-contract.md#endpoints).
#![allow(dead_code)]

use super::cache::{QueueSizes, WritableCacheKey};
use crate::http::openapi::fragments::keywords;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{
    AllOfBuilder, AnyOfBuilder, ArrayBuilder, ObjectBuilder, OneOfBuilder, RefBuilder, Schema, SchemaType, Type,
};
use utoipa::{PartialSchema, ToSchema};
use uuid::Uuid;

/// A job TTL in a request: an integer number of nanoseconds, or a duration string. 0, `null` or absent means the endpoint's default. A result outside 1 s to 30 days, a negative number or an unparsable string answers 400 `validation_failed`. Kept to millisecond precision.
#[derive(Serialize)]
pub struct JobTtlInput;

impl PartialSchema for JobTtlInput {
    fn schema() -> RefOr<Schema> {
        OneOfBuilder::new()
            .item(ObjectBuilder::new().schema_type(Type::Null))
            .item(ObjectBuilder::new()
                .schema_type(Type::Integer)
                .description(Some("The endpoint's default."))
                .extensions(Some(keywords(json!({"const": 0})))))
            .item(ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(1000000000))
                .maximum(Some(2592000000999999_i64))
                .description(Some("Nanoseconds, 1 s to 30 days (after truncation to whole milliseconds)."))
                .examples([json!(900000000000_i64)]))
            .item(ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some(r#"^(0|([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+)$"#))
                .description(Some("Units `ns`, `us`, `ms`, `s`, `m` and `h`, combinable."))
                .examples([json!("15m"), json!("1h30m"), json!("90s"), json!("1500ms")]))
            // Ends like every hand-written schema in schemas/*.rs (description, then the named ToSchema impl): one
            // component per type.
            .description(Some("A job TTL in a request: an integer number of nanoseconds, or a duration string. 0, `null` or absent means the endpoint's default. A result outside 1 s to 30 days, a negative number or an unparsable string answers 400 `validation_failed`. Kept to millisecond precision.")).into()
    }
}

/// Named after the type: `#/components/schemas/JobTtlInput`.
impl ToSchema for JobTtlInput {}

/// A job TTL as responses render it (docs/jobs.md#job-document): hours, minutes and seconds, with trailing parts kept down to seconds and no leading zero part.
#[derive(Serialize)]
pub struct JobTtl;

impl PartialSchema for JobTtl {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some("A job TTL as responses render it (docs/jobs.md#job-document): hours, minutes and seconds, with trailing parts kept down to seconds and no leading zero part."))
            .examples([json!("15m0s"), json!("1h0m0s"), json!("1m30s"), json!("1.5s"), json!("720h0m0s")]).into()
    }
}

/// Named after the type: `#/components/schemas/JobTtl`.
impl ToSchema for JobTtl {}

/// 1 is the most urgent, 10 the least; 0, `null` or absent means 5. Any other value answers 400 `validation_failed`.
#[derive(Serialize)]
pub struct JobPriorityInput;

impl PartialSchema for JobPriorityInput {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(SchemaType::from_iter([Type::Integer, Type::Null]))
            .minimum(Some(0))
            .maximum(Some(10))
            .description(Some("1 is the most urgent, 10 the least; 0, `null` or absent means 5. Any other value answers 400 `validation_failed`."))
            .default(Some(json!(5))).into()
    }
}

/// Named after the type: `#/components/schemas/JobPriorityInput`.
impl ToSchema for JobPriorityInput {}

/// A cache-warming job (docs/jobs.md#job-document): the same document in the Redis queues, in responses and in the DLQ. Timestamps are UTC with 6 fractional digits.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"id": "0c4b2f5e-3d1a-4f6b-9a8e-7d6c5b4a3f21", "type": "cache_warmup", "payload": {"key": "test:key", "data": {"test": "data"}, "ttl": "15m0s"}, "attempts": 0, "max_tries": 3, "priority": 5, "created_at": "2025-11-17T10:11:12.345678Z", "process_at": "2025-11-17T10:11:12.345678Z", "last_error": null}))]
pub struct Job {
    id: Uuid,
    /// `cache_warmup`, `cache_scheduled`, `cache_batch`, `cache_validation` or `cache_eviction`. A job of any other type found in a queue fails with `unknown job type <type>` and ends in the DLQ.
    #[schema(examples("cache_warmup"))]
    r#type: String,
    #[schema(schema_with = job_payload, required = true)]
    payload: serde_json::Value,
    /// Incremented when a worker starts the job; reset to 0 by a DLQ retry.
    #[schema(minimum = 0)]
    attempts: i64,
    /// `JOB_MAX_TRIES` (3).
    #[schema(minimum = 1)]
    max_tries: i64,
    /// 1 is the most urgent, 10 the least.
    #[schema(minimum = 1, maximum = 10)]
    priority: i64,
    created_at: DateTime<Utc>,
    /// Not before this time: the creation time, except for scheduled jobs and retries.
    process_at: DateTime<Utc>,
    /// The error of the last failed attempt; `null` until one fails.
    #[schema(required = true)]
    last_error: Option<String>,
    /// Dead-lettered jobs only.
    #[schema(nullable = false)]
    failed_at: Option<DateTime<Utc>>,
    /// Jobs in processing only.
    #[schema(nullable = false)]
    worker_id: Option<String>,
    /// Jobs in processing only.
    #[schema(nullable = false)]
    lease_expires_at: Option<DateTime<Utc>>,
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"key": "test:key", "data": {"test": "data"}, "ttl": "15m", "priority": 5}))]
pub struct WarmupJobRequest {
    key: WritableCacheKey,
    /// Any JSON value. Default `null`.
    #[serde(default)]
    data: serde_json::Value,
    /// Default 15 min.
    #[schema(nullable = false)]
    ttl: Option<JobTtlInput>,
    #[schema(nullable = false)]
    priority: Option<JobPriorityInput>,
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"keys": ["batch:1", "batch:2"], "data": {"n": 1}, "ttl": 3600000000000_i64}))]
pub struct BatchJobRequest {
    /// 0–1 000 keys; `null` or absent answers 400.
    #[schema(max_items = 1000)]
    keys: Vec<WritableCacheKey>,
    /// Any JSON value, written under every key. Default `null`.
    #[serde(default)]
    data: serde_json::Value,
    /// Default 1 h.
    #[schema(nullable = false)]
    ttl: Option<JobTtlInput>,
    #[schema(nullable = false)]
    priority: Option<JobPriorityInput>,
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"key": "sched:later", "data": {"s": 1}, "process_at": "2025-11-17T12:00:00Z"}))]
pub struct ScheduledJobRequest {
    key: WritableCacheKey,
    /// Any JSON value. Default `null`.
    #[serde(default)]
    data: serde_json::Value,
    /// Default 15 min.
    #[schema(nullable = false)]
    ttl: Option<JobTtlInput>,
    /// RFC 3339 date-time with an offset; a past time means now.
    process_at: DateTime<Utc>,
    #[schema(nullable = false)]
    priority: Option<JobPriorityInput>,
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"key": "test:key", "expected_data": {"test": "data"}}))]
pub struct ValidationJobRequest {
    key: WritableCacheKey,
    /// Any JSON value, `null` included; the member must be present.
    expected_data: serde_json::Value,
    /// Used when re-warming. Default 1 h.
    #[schema(nullable = false)]
    ttl: Option<JobTtlInput>,
    #[schema(nullable = false)]
    priority: Option<JobPriorityInput>,
}

/// Exactly one of `key` and `pattern` (a `null` member counts as absent); neither or both answer 400 `validation_failed`. Any key, reserved prefixes included.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"pattern": "test:*", "priority": 3}))]
pub struct EvictionJobRequest {
    #[schema(schema_with = eviction_job_request_key)]
    key: Option<serde_json::Value>,
    #[schema(schema_with = eviction_job_request_pattern)]
    pattern: Option<serde_json::Value>,
    #[schema(nullable = false)]
    priority: Option<JobPriorityInput>,
}

/// Members common to every 202 of the enqueue endpoints.
#[derive(Serialize, ToSchema)]
pub struct JobAccepted {
    #[schema(schema_with = job_accepted_status, required = true)]
    status: serde_json::Value,
    message: String,
    job_id: Uuid,
    #[schema(schema_with = job_accepted_queue, required = true)]
    queue: serde_json::Value,
    /// The effective priority (0 or absent became 5).
    #[schema(minimum = 1, maximum = 10)]
    priority: i64,
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"status": "success", "message": "Warmup job enqueued successfully", "key": "test:key", "ttl": "15m0s", "priority": 5, "job_id": "0c4b2f5e-3d1a-4f6b-9a8e-7d6c5b4a3f21", "queue": "local"}))]
pub struct WarmupJobAccepted {
    #[serde(flatten)]
    base: JobAccepted,
    #[schema(schema_with = warmup_job_accepted_message, required = true)]
    message: serde_json::Value,
    key: String,
    ttl: JobTtl,
}

#[derive(Serialize, ToSchema)]
pub struct BatchJobAccepted {
    #[serde(flatten)]
    base: JobAccepted,
    #[schema(schema_with = batch_job_accepted_message, required = true)]
    message: serde_json::Value,
    /// Number of keys in the job.
    #[schema(minimum = 0)]
    key_count: i64,
}

#[derive(Serialize, ToSchema)]
pub struct ScheduledJobAccepted {
    #[serde(flatten)]
    base: JobAccepted,
    #[schema(schema_with = scheduled_job_accepted_message, required = true)]
    message: serde_json::Value,
    key: String,
    process_at: DateTime<Utc>,
    ttl: JobTtl,
}

#[derive(Serialize, ToSchema)]
pub struct ValidationJobAccepted {
    #[serde(flatten)]
    base: JobAccepted,
    #[schema(schema_with = validation_job_accepted_message, required = true)]
    message: serde_json::Value,
    key: String,
}

/// Carries `key` or `pattern`, as requested.
#[derive(Serialize)]
pub struct EvictionJobAccepted;

impl PartialSchema for EvictionJobAccepted {
    fn schema() -> RefOr<Schema> {
        AllOfBuilder::new()
            .item(RefBuilder::new().ref_location_from_schema_name("JobAccepted"))
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::Object)
                    .required("message")
                    .property(
                        "message",
                        ObjectBuilder::new()
                            .schema_type(Type::String)
                            .extensions(Some(keywords(json!({"const": "Eviction job enqueued successfully"})))),
                    )
                    .property("key", ObjectBuilder::new().schema_type(Type::String))
                    .property("pattern", ObjectBuilder::new().schema_type(Type::String))
                    .extensions(Some(keywords(json!({"oneOf": [{"required": ["key"]}, {"required": ["pattern"]}]})))),
            )
            .description(Some("Carries `key` or `pattern`, as requested."))
            .into()
    }
}

/// Named after the type: `#/components/schemas/EvictionJobAccepted`.
impl ToSchema for EvictionJobAccepted {}

/// The first `limit` entries of each queue, in execution order.
#[derive(Serialize, ToSchema)]
pub struct JobQueues {
    redis_available: bool,
    queue_sizes: QueueSizes,
    /// This instance's local queue.
    local: Vec<Job>,
    /// Redis `cache_jobs`; `[]` with Redis unavailable.
    ready: Vec<Job>,
    /// Redis `cache_jobs_delayed`; `[]` with Redis unavailable.
    delayed: Vec<Job>,
    /// Redis `cache_jobs_processing`, with `worker_id` and `lease_expires_at`; `[]` with Redis unavailable.
    processing: Vec<Job>,
}

#[derive(Serialize, ToSchema)]
pub struct DeadLetterPage {
    /// Newest first; each job carries `last_error` and `failed_at`.
    jobs: Vec<Job>,
    /// Entries in the DLQ.
    #[schema(minimum = 0)]
    total: i64,
}

/// Exactly one of `job_ids` and `all`; anything else answers 400.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"job_ids": ["0c4b2f5e-3d1a-4f6b-9a8e-7d6c5b4a3f21"]}))]
pub struct DeadLetterRetryRequest {
    #[schema(nullable = false)]
    job_ids: Option<Vec<Uuid>>,
    /// `true`; `null` counts as absent.
    all: Option<bool>,
}

#[derive(Serialize, ToSchema)]
pub struct DeadLetterRetryResponse {
    #[schema(schema_with = dead_letter_retry_response_status, required = true)]
    status: serde_json::Value,
    /// Jobs taken from the DLQ and enqueued again.
    #[schema(minimum = 0)]
    retried: i64,
    /// Requested ids that are not in the DLQ.
    not_found: Vec<Uuid>,
}

#[derive(Serialize, ToSchema)]
pub struct DeadLetterPurgeResponse {
    #[schema(schema_with = dead_letter_purge_response_status, required = true)]
    status: serde_json::Value,
    /// Entries deleted.
    #[schema(minimum = 0)]
    purged: i64,
}

fn job_payload() -> impl Into<RefOr<Schema>> {
    ObjectBuilder::new()
            .schema_type(Type::Object)
            .property("key", ObjectBuilder::new().schema_type(Type::String))
            .property("keys", ArrayBuilder::new().items(ObjectBuilder::new().schema_type(Type::String)))
            .property("pattern", ObjectBuilder::new().schema_type(Type::String).description(Some("A glob (eviction only).")))
            .property("data", ObjectBuilder::new().schema_type(SchemaType::AnyValue).description(Some("Any JSON value.")))
            .property("expected_data", ObjectBuilder::new().schema_type(SchemaType::AnyValue).description(Some("Any JSON value.")))
            .property("ttl", RefBuilder::new().ref_location_from_schema_name("JobTtl"))
            .description(Some("Per type: `cache_warmup` and `cache_scheduled`: `key`, `data`, `ttl`; `cache_batch`: `keys`, `data`, `ttl`; `cache_validation`: `key`, `expected_data`, `ttl`; `cache_eviction`: `key` or `pattern`."))
}

fn eviction_job_request_key() -> impl Into<RefOr<Schema>> {
    AnyOfBuilder::new()
        .item(RefBuilder::new().ref_location_from_schema_name("CacheKey"))
        .item(ObjectBuilder::new().schema_type(Type::Null))
}

fn eviction_job_request_pattern() -> impl Into<RefOr<Schema>> {
    AnyOfBuilder::new()
        .item(RefBuilder::new().ref_location_from_schema_name("CacheKeyPattern"))
        .item(ObjectBuilder::new().schema_type(Type::Null))
}

fn job_accepted_status() -> impl Into<RefOr<Schema>> {
    ObjectBuilder::new().schema_type(Type::String).extensions(Some(keywords(json!({"const": "success"}))))
}

fn job_accepted_queue() -> impl Into<RefOr<Schema>> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some([json!("local"), json!("redis")]))
        .description(Some("Where the routing rules put the job."))
}

// One const-message helper per job kind (warmup, scheduled, validation): each accepted response has its own message.
fn warmup_job_accepted_message() -> impl Into<RefOr<Schema>> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .extensions(Some(keywords(json!({"const": "Warmup job enqueued successfully"}))))
}

fn batch_job_accepted_message() -> impl Into<RefOr<Schema>> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .extensions(Some(keywords(json!({"const": "Batch job enqueued successfully"}))))
}

// Same const-message helper as warmup's above, for the scheduled job.
fn scheduled_job_accepted_message() -> impl Into<RefOr<Schema>> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .extensions(Some(keywords(json!({"const": "Scheduled job enqueued successfully"}))))
}

// Same const-message helper as warmup's above, for the validation job (also like auth.rs and users.rs message helpers).
fn validation_job_accepted_message() -> impl Into<RefOr<Schema>> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .extensions(Some(keywords(json!({"const": "Validation job enqueued successfully"}))))
}

fn dead_letter_retry_response_status() -> impl Into<RefOr<Schema>> {
    ObjectBuilder::new().schema_type(Type::String).extensions(Some(keywords(json!({"const": "success"}))))
}

fn dead_letter_purge_response_status() -> impl Into<RefOr<Schema>> {
    ObjectBuilder::new().schema_type(Type::String).extensions(Some(keywords(json!({"const": "success"}))))
}
