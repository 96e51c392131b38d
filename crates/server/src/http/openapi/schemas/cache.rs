//! Cache administration bodies (docs/cache.md).
//!
//! Wire shapes for the OpenAPI document only, never constructed: the handlers answer with `json!`
//! bodies or with domain types of the same shape (docs/http-contract.md#endpoints).
#![allow(dead_code)]

use crate::http::openapi::fragments::keywords;
use serde::Serialize;
use serde_json::json;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{AllOfBuilder, ObjectBuilder, OneOfBuilder, RefBuilder, Schema, SchemaType, Type};
use utoipa::{PartialSchema, ToSchema};

/// State of the circuit breaker named `redis` (docs/cache.md#circuit-breaker).
#[derive(Serialize, ToSchema)]
pub enum CircuitBreakerState {
    #[serde(rename = "closed")]
    Closed,
    #[serde(rename = "open")]
    Open,
    #[serde(rename = "half-open")]
    HalfOpen,
}

/// Job queue lengths. The `redis_*` sizes are `null` without Redis.
#[derive(Serialize, ToSchema)]
pub struct QueueSizes {
    /// This instance's local queue.
    #[schema(minimum = 0)]
    local: i64,
    /// `cache_jobs` (ready).
    #[schema(minimum = 0, required = true)]
    redis_immediate: Option<i64>,
    /// `cache_jobs_delayed`.
    #[schema(minimum = 0, required = true)]
    redis_delayed: Option<i64>,
    /// `cache_jobs_processing` (leased).
    #[schema(minimum = 0, required = true)]
    redis_processing: Option<i64>,
    /// `cache_jobs_dlq`.
    #[schema(minimum = 0, required = true)]
    redis_dead_letter: Option<i64>,
}

/// Job-system counters of this instance, since it started.
#[derive(Serialize, ToSchema)]
pub struct CacheWarmingStats {
    /// Successful executions.
    #[schema(minimum = 0)]
    processed_jobs: i64,
    /// Failed attempts.
    #[schema(minimum = 0)]
    failed_jobs: i64,
    /// Failed jobs queued for another attempt.
    #[schema(minimum = 0)]
    retry_jobs: i64,
    /// Jobs moved to a DLQ.
    #[schema(minimum = 0)]
    dead_lettered_jobs: i64,
    /// Jobs routed to the Redis queue.
    #[schema(minimum = 0)]
    distributed_jobs: i64,
    /// Jobs routed to the local queue.
    #[schema(minimum = 0)]
    local_jobs: i64,
    /// Redis is configured and the breaker is not open (docs/jobs.md#routing).
    redis_available: bool,
    /// `JOB_DISTRIBUTED_WORKERS`; 0 without Redis.
    #[schema(minimum = 0)]
    distributed_workers: i64,
    #[schema(schema_with = cache_warming_stats_system_type, required = true)]
    system_type: serde_json::Value,
    #[schema(schema_with = cache_warming_stats_local_worker_stats, required = true)]
    local_worker_stats: serde_json::Value,
}

/// The body of `GET /api/v1/cache/stats` (docs/cache.md#stats). Per instance, counted from the instance start. Without Redis, `l2` is `{"enabled":false,"connected":false}`, `system_type` is `local_only`, `distributed_workers` is 0 and the `redis_*` queue sizes are `null`.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"cache": {"l1": {"items": 812, "type": "memory", "capacity": 10000, "enabled": true}, "metrics": {"hits": 1200, "misses": 300, "errors": 0, "sets": 310, "deletes": 45, "start_time": 1763370000}, "hit_rate_percent": 80.0, "circuit_breaker": {"state": "closed", "failure_count": 0, "success_count": 0, "last_failure": null, "max_failures": 5, "timeout_seconds": 30, "half_open_successes_required": 3}, "l2": {"enabled": true, "connected": true, "used_memory_bytes": 1048576, "evicted_keys": 0, "keyspace_hits": 900, "keyspace_misses": 100, "pending_invalidations": 0}}, "cache_warming": {"processed_jobs": 10, "failed_jobs": 1, "retry_jobs": 1, "dead_lettered_jobs": 0, "distributed_jobs": 4, "local_jobs": 7, "redis_available": true, "distributed_workers": 5, "system_type": "integrated_redis_local", "local_worker_stats": {"workers": 5, "running": true, "jobs_processed": 7, "total_errors": 0, "avg_duration": "1.2ms", "total_duration": "8.4ms", "queue_length": 0, "queue_capacity": 1000}}, "queue_sizes": {"local": 0, "redis_immediate": 0, "redis_delayed": 1, "redis_processing": 0, "redis_dead_letter": 0}}))]
pub struct CacheStats {
    #[schema(schema_with = cache_stats_cache, required = true)]
    cache: serde_json::Value,
    cache_warming: CacheWarmingStats,
    queue_sizes: QueueSizes,
}

/// `status` is `degraded` when the workers are not running, Redis is configured but down, or the breaker is not closed.
#[derive(Serialize, ToSchema)]
pub struct CacheHealth {
    #[schema(schema_with = cache_health_status, required = true)]
    status: serde_json::Value,
    /// The job workers are running.
    running: bool,
    #[schema(schema_with = cache_health_redis, required = true)]
    redis: serde_json::Value,
    circuit_breaker: CircuitBreakerState,
    metrics: CacheWarmingStats,
    queue_sizes: QueueSizes,
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"message": "cache cleared successfully", "l1_cleared": true, "l2_keys_deleted": 42}))]
pub struct CacheClearResponse {
    #[schema(schema_with = cache_clear_response_message, required = true)]
    message: serde_json::Value,
    #[schema(schema_with = cache_clear_response_l1_cleared, required = true)]
    l1_cleared: serde_json::Value,
    /// L2 keys deleted; `null` when Redis is disabled or unreachable (the clear then stays pending).
    #[schema(minimum = 0, required = true)]
    l2_keys_deleted: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct CacheWarmResponse {
    #[schema(schema_with = cache_warm_response_status, required = true)]
    status: serde_json::Value,
    #[schema(schema_with = cache_warm_response_message, required = true)]
    message: serde_json::Value,
}

/// A schema-only type: see `schema()`.
#[derive(Serialize)]
pub struct CacheEvictResponse;

impl PartialSchema for CacheEvictResponse {
    fn schema() -> RefOr<Schema> {
        #[allow(deprecated)] // `example`: the document has always carried it (OpenAPI 3.0 style)
        OneOfBuilder::new()
            .item(
                // The two oneOf branches (`key` below, `pattern` next) share a shape: they are the two bodies evict can
                // answer, each with its own const message.
                ObjectBuilder::new()
                    .schema_type(Type::Object)
                    .required("status")
                    .required("message")
                    .required("key")
                    .property(
                        "status",
                        ObjectBuilder::new()
                            .schema_type(Type::String)
                            .extensions(Some(keywords(json!({"const": "success"})))),
                    )
                    .property(
                        "message",
                        ObjectBuilder::new()
                            .schema_type(Type::String)
                            .extensions(Some(keywords(json!({"const": "Cache key evicted successfully"})))),
                    )
                    .property("key", ObjectBuilder::new().schema_type(Type::String)),
            )
            .item(
                // Same shape as the `key` branch above, for a glob: its own required member and const message.
                ObjectBuilder::new()
                    .schema_type(Type::Object)
                    .required("status")
                    .required("message")
                    .required("pattern")
                    .property(
                        "status",
                        ObjectBuilder::new()
                            .schema_type(Type::String)
                            .extensions(Some(keywords(json!({"const": "success"})))),
                    )
                    .property(
                        "message",
                        ObjectBuilder::new()
                            .schema_type(Type::String)
                            .extensions(Some(keywords(json!({"const": "Cache pattern evicted successfully"})))),
                    )
                    .property("pattern", ObjectBuilder::new().schema_type(Type::String)),
            )
            .example(Some(
                json!({"status": "success", "message": "Cache pattern evicted successfully", "pattern": "test:*"}),
            ))
            .into()
    }
}

/// Named after the type: `#/components/schemas/CacheEvictResponse`.
impl ToSchema for CacheEvictResponse {}

// A schema-only unit type with a hand-written PartialSchema, the same shape as the others in schemas/*.rs (users.rs
// ProfileUpdateRequest): derive cannot state these keywords.
/// A logical cache key: 1–512 characters, without whitespace or control characters.
#[derive(Serialize)]
pub struct CacheKey;

impl PartialSchema for CacheKey {
    // Same hand-written string schema shape as CacheKeyPattern below and the parameters in openapi/params.rs: derive
    // cannot state the pattern and examples.
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .min_length(Some(1))
            .max_length(Some(512))
            .pattern(Some(r#"^[^\s\u0000-\u001F\u007F-\u009F]+$"#))
            .description(Some("A logical cache key: 1–512 characters, without whitespace or control characters."))
            .examples([json!("test:key")])
            .into()
    }
}

/// Named after the type: `#/components/schemas/CacheKey`.
impl ToSchema for CacheKey {}

/// A cache key outside the reserved application prefixes `task:`, `tasks_paginated:`, `principal:`, `user:` and `revoked:` (400 `validation_failed`, `key uses a reserved prefix`).
#[derive(Serialize)]
pub struct WritableCacheKey;

impl PartialSchema for WritableCacheKey {
    fn schema() -> RefOr<Schema> {
        AllOfBuilder::new()
            .item(RefBuilder::new().ref_location_from_schema_name("CacheKey"))
            .item(ObjectBuilder::new()
                .schema_type(SchemaType::AnyValue)
                .extensions(Some(keywords(json!({"not": {"pattern": "^(task:|tasks_paginated:|principal:|user:|revoked:)"}})))))
            // Ends like every hand-written schema in schemas/*.rs (description, then the named ToSchema impl): one
            // component per type.
            .description(Some("A cache key outside the reserved application prefixes `task:`, `tasks_paginated:`, `principal:`, `user:` and `revoked:` (400 `validation_failed`, `key uses a reserved prefix`).")).into()
    }
}

/// Named after the type: `#/components/schemas/WritableCacheKey`.
impl ToSchema for WritableCacheKey {}

/// A glob over logical keys: `*`, `?` and `[…]`, with the same semantics in L1 and in Redis (docs/cache.md#cross-instance-invalidation).
#[derive(Serialize)]
pub struct CacheKeyPattern;

impl PartialSchema for CacheKeyPattern {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .min_length(Some(1))
            .max_length(Some(512))
            .pattern(Some(r#"^[^\s\u0000-\u001F\u007F-\u009F]+$"#))
            .description(Some("A glob over logical keys: `*`, `?` and `[…]`, with the same semantics in L1 and in Redis (docs/cache.md#cross-instance-invalidation)."))
            .examples([json!("test:*")]).into()
    }
}

/// Named after the type: `#/components/schemas/CacheKeyPattern`.
impl ToSchema for CacheKeyPattern {}

fn cache_warming_stats_system_type() -> impl Into<RefOr<Schema>> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some([json!("integrated_redis_local"), json!("local_only")]))
        .description(Some("`local_only` without Redis."))
}

fn cache_warming_stats_local_worker_stats() -> impl Into<RefOr<Schema>> {
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .required("workers")
        .required("running")
        .required("jobs_processed")
        .required("total_errors")
        .required("avg_duration")
        .required("total_duration")
        .required("queue_length")
        .required("queue_capacity")
        .property(
            "workers",
            ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(0)).description(Some("`JOB_LOCAL_WORKERS`.")),
        )
        .property("running", ObjectBuilder::new().schema_type(Type::Boolean))
        .property("jobs_processed", ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(0)))
        .property("total_errors", ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(0)))
        .property(
            "avg_duration",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .description(Some("A rendered duration."))
                .examples([json!("1.2ms")]),
        )
        .property(
            "total_duration",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .description(Some("A rendered duration."))
                .examples([json!("8.4ms")]),
        )
        .property(
            "queue_length",
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(0))
                .description(Some("Jobs waiting in the local queue.")),
        )
        .property(
            "queue_capacity",
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(0))
                .description(Some("`JOB_LOCAL_QUEUE_CAPACITY`.")),
        )
}

fn cache_stats_cache() -> impl Into<RefOr<Schema>> {
    ObjectBuilder::new()
            .schema_type(Type::Object)
            .required("l1")
            .required("metrics")
            .required("hit_rate_percent")
            .required("circuit_breaker")
            .required("l2")
            .property("l1", ObjectBuilder::new()
                .schema_type(Type::Object)
                .required("items")
                .required("type")
                .required("capacity")
                .required("enabled")
                .property("items", ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .minimum(Some(0))
                    .description(Some("Entries held.")))
                .property("type", ObjectBuilder::new()
                    .schema_type(Type::String)
                    .extensions(Some(keywords(json!({"const": "memory"})))))
                .property("capacity", ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .minimum(Some(0))
                    .description(Some("`CACHE_L1_MAX_ENTRIES`.")))
                .property("enabled", ObjectBuilder::new().schema_type(Type::Boolean)))
            .property("metrics", ObjectBuilder::new()
                .schema_type(Type::Object)
                .required("hits")
                .required("misses")
                .required("errors")
                .required("sets")
                .required("deletes")
                .required("start_time")
                .property("hits", ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(0)))
                .property("misses", ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(0)))
                .property("errors", ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(0)))
                .property("sets", ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(0)))
                .property("deletes", ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(0)))
                .property("start_time", ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .minimum(Some(0))
                    .description(Some("Instance start, unix seconds."))))
            .property("hit_rate_percent", ObjectBuilder::new()
                .schema_type(Type::Number)
                .minimum(Some(0))
                .maximum(Some(100))
                .description(Some("`hits / (hits + misses) × 100`; 0 when there is no data.")))
            .property("circuit_breaker", ObjectBuilder::new()
                .schema_type(Type::Object)
                .required("state")
                .required("failure_count")
                .required("success_count")
                .required("last_failure")
                .required("max_failures")
                .required("timeout_seconds")
                .required("half_open_successes_required")
                .property("state", RefBuilder::new().ref_location_from_schema_name("CircuitBreakerState"))
                .property("failure_count", ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(0)))
                .property("success_count", ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(0)))
                .property("last_failure", ObjectBuilder::new()
                    .schema_type(SchemaType::from_iter([Type::Integer, Type::Null]))
                    .minimum(Some(0))
                    .description(Some("Unix seconds; `null` if there has never been a failure.")))
                .property("max_failures", ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .minimum(Some(0))
                    .description(Some("`CACHE_BREAKER_MAX_FAILURES`.")))
                .property("timeout_seconds", ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .minimum(Some(0))
                    .description(Some("`CACHE_BREAKER_TIMEOUT`.")))
                .property("half_open_successes_required", ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .minimum(Some(0))
                    .description(Some("`CACHE_BREAKER_HALF_OPEN_SUCCESSES`."))))
            .property("l2", ObjectBuilder::new()
                .schema_type(Type::Object)
                .required("enabled")
                .required("connected")
                .property("enabled", ObjectBuilder::new().schema_type(Type::Boolean).description(Some("Redis is configured.")))
                .property("connected", ObjectBuilder::new()
                    .schema_type(Type::Boolean)
                    .description(Some("False while Redis is configured but down.")))
                .property("used_memory_bytes", ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(0)))
                .property("evicted_keys", ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .minimum(Some(0))
                    .description(Some("Should stay 0 (docs/jobs.md#redis-structures).")))
                .property("keyspace_hits", ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(0)))
                .property("keyspace_misses", ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(0)))
                .property("pending_invalidations", ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .minimum(Some(0))
                    .description(Some("L2 writes and invalidations waiting for replay (docs/cache.md#redis-outages).")))
                .description(Some("Redis. Without Redis, only `enabled` and `connected` (both false). The `INFO` figures are left out when Redis does not answer.")))
}

// One small enum/const helper per property, like those in common.rs and users.rs: the values differ and are the
// contract.
fn cache_health_status() -> impl Into<RefOr<Schema>> {
    ObjectBuilder::new().schema_type(Type::String).enum_values(Some([json!("healthy"), json!("degraded")]))
}

fn cache_health_redis() -> impl Into<RefOr<Schema>> {
    ObjectBuilder::new().schema_type(Type::String).enum_values(Some([json!("up"), json!("down"), json!("disabled")]))
}

fn cache_clear_response_message() -> impl Into<RefOr<Schema>> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .extensions(Some(keywords(json!({"const": "cache cleared successfully"}))))
}

fn cache_clear_response_l1_cleared() -> impl Into<RefOr<Schema>> {
    ObjectBuilder::new().schema_type(Type::Boolean).extensions(Some(keywords(json!({"const": true}))))
}

// One small const helper per property, like those in users.rs and jobs.rs: the values differ and are the contract.
fn cache_warm_response_status() -> impl Into<RefOr<Schema>> {
    ObjectBuilder::new().schema_type(Type::String).extensions(Some(keywords(json!({"const": "success"}))))
}

fn cache_warm_response_message() -> impl Into<RefOr<Schema>> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .extensions(Some(keywords(json!({"const": "Cache warming triggered successfully"}))))
}
