//! docs/testing.md#f-cache-and-jobs (F1, F9, F10) and docs/cache.md#administration-endpoints: the cache administration endpoints on one instance, with
//! and without Redis; `/health` with Redis up (docs/operations.md#health-endpoints); and the acceptance criterion "an
//! authenticated cached GET /api/v1/tasks/{id} performs no database query", observed through
//! `taskify_db_operations_total` (the store operations the process started).

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;
use crate::redis::{RedisClient, WithRedis};
use crate::{both_backends, with_redis_both_backends};

/// The default `CACHE_KEY_PREFIX`.
const PREFIX: &str = "taskify:cache:";

/// The periodic warm-up off, so that nothing but the scenario writes to the cache.
const NO_WARMUP: &[(&str, &str)] = &[("CACHE_WARM_INTERVAL", "0")];

// ---------------------------------------------------------------------------------------------
// Shared checks
// ---------------------------------------------------------------------------------------------

/// The member at `pointer`, failing with the document when absent.
fn member<'a>(body: &'a Value, pointer: &str) -> &'a Value {
    body.pointer(pointer).unwrap_or_else(|| panic!("no member {pointer} in {body}"))
}

fn assert_whole_number(body: &Value, pointer: &str) {
    assert!(member(body, pointer).is_u64(), "{pointer} is a whole number: {body}");
}

/// Asserts every key of the stats body of docs/cache.md#stats, with the types it shows. `redis` says
/// whether Redis is configured (and up): it decides the `l2` object and the `redis_*` queue sizes.
pub fn assert_stats_shape(body: &Value, redis: bool) {
    for pointer in ["/cache/l1/items", "/cache/l1/capacity"] {
        assert_whole_number(body, pointer);
    }
    assert_eq!(member(body, "/cache/l1/type"), "memory");
    assert_eq!(member(body, "/cache/l1/enabled"), true);
    assert_eq!(member(body, "/cache/l1/capacity"), 10_000, "CACHE_L1_MAX_ENTRIES defaults to 10 000");
    for counter in ["hits", "misses", "errors", "sets", "deletes", "start_time"] {
        assert_whole_number(body, &format!("/cache/metrics/{counter}"));
    }
    let start_time = member(body, "/cache/metrics/start_time").as_u64().unwrap_or_default();
    let now = u64::try_from(chrono::Utc::now().timestamp()).unwrap_or_default();
    assert!(start_time <= now && now - start_time < 3600, "start_time is the instance start in unix seconds: {body}");
    assert!(member(body, "/cache/hit_rate_percent").is_number(), "hit_rate_percent is a number: {body}");

    let breaker = member(body, "/cache/circuit_breaker");
    for key in ["state", "failure_count", "success_count", "last_failure"] {
        member(breaker, &format!("/{key}"));
    }
    assert!(breaker["failure_count"].is_u64() && breaker["success_count"].is_u64(), "breaker counts: {breaker}");
    assert!(breaker["last_failure"].is_null() || breaker["last_failure"].is_u64(), "last_failure: {breaker}");
    assert_eq!(breaker["max_failures"], 5, "CACHE_BREAKER_MAX_FAILURES defaults to 5: {breaker}");
    assert_eq!(breaker["timeout_seconds"], 30, "CACHE_BREAKER_TIMEOUT defaults to 30 s: {breaker}");
    assert_eq!(breaker["half_open_successes_required"], 3, "defaults to 3: {breaker}");

    let l2 = member(body, "/cache/l2");
    if redis {
        assert_eq!(l2["enabled"], true, "l2: {l2}");
        assert_eq!(l2["connected"], true, "l2: {l2}");
        for key in ["used_memory_bytes", "evicted_keys", "keyspace_hits", "keyspace_misses", "pending_invalidations"] {
            assert!(l2[key].is_u64(), "l2.{key} is a whole number: {l2}");
        }
    } else {
        assert_eq!(l2, &json!({"enabled": false, "connected": false}), "l2 without Redis (docs/cache.md#stats)");
    }

    let warming = member(body, "/cache_warming");
    for key in ["processed_jobs", "failed_jobs", "retry_jobs", "dead_lettered_jobs", "distributed_jobs", "local_jobs"] {
        assert!(warming[key].is_u64(), "cache_warming.{key} is a whole number: {warming}");
    }
    assert_eq!(warming["redis_available"], redis, "cache_warming.redis_available: {warming}");
    assert!(warming["distributed_workers"].is_u64(), "distributed_workers: {warming}");
    let system_type = if redis { "integrated_redis_local" } else { "local_only" };
    assert_eq!(warming["system_type"], system_type, "cache_warming.system_type: {warming}");
    if !redis {
        assert_eq!(warming["distributed_workers"], 0, "no distributed workers without Redis: {warming}");
    }
    let workers = member(warming, "/local_worker_stats");
    for key in ["workers", "jobs_processed", "total_errors", "queue_length", "queue_capacity"] {
        assert!(workers[key].is_u64(), "local_worker_stats.{key} is a whole number: {workers}");
    }
    assert!(workers["running"].is_boolean(), "local_worker_stats.running: {workers}");
    for key in ["avg_duration", "total_duration"] {
        assert!(workers[key].is_string(), "local_worker_stats.{key} is a duration text: {workers}");
    }

    let queues = member(body, "/queue_sizes");
    assert!(queues["local"].is_u64(), "queue_sizes.local: {queues}");
    for key in ["redis_immediate", "redis_delayed", "redis_processing", "redis_dead_letter"] {
        if redis {
            assert!(queues[key].is_u64(), "queue_sizes.{key} is a whole number with Redis: {queues}");
        } else {
            assert!(queues.get(key).is_some_and(Value::is_null), "queue_sizes.{key} is null without Redis: {queues}");
        }
    }
    assert!(!body.to_string().contains("redis_version"), "raw Redis INFO text is never exposed: {body}");
}

/// A value of `taskify_db_operations_total`, once the process is quiet: the audit queue is empty
/// and the counter has not moved for [`QUIET_FOR`] (longer than the 1 s audit flush interval).
pub async fn quiet_database_operations(api: &ApiClient) -> f64 {
    const QUIET_FOR: Duration = Duration::from_millis(1500);
    const POLL: Duration = Duration::from_millis(100);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let mut stable: Option<(f64, tokio::time::Instant)> = None;
    loop {
        let text = metrics_text(api).await;
        let operations = metric_value(&text, "taskify_db_operations_total", &[])
            .unwrap_or_else(|| panic!("taskify_db_operations_total is missing from /metrics:\n{text}"));
        let depth = metric_value(&text, "audit_queue_depth", &[])
            .unwrap_or_else(|| panic!("audit_queue_depth is missing from /metrics:\n{text}"));
        let now = tokio::time::Instant::now();
        match stable {
            Some((value, since)) if value == operations && depth == 0.0 => {
                if now.duration_since(since) >= QUIET_FOR {
                    return operations;
                }
            }
            _ => stable = Some((operations, now)),
        }
        assert!(now < deadline, "the database operations never settled (last {operations}, audit queue depth {depth})");
        tokio::time::sleep(POLL).await;
    }
}

/// The issue's acceptance check: once a task is cached (two GETs), further GETs by its owner add
/// nothing to `taskify_db_operations_total`; the same for the caller's profile.
async fn assert_cached_reads_touch_no_database(app: &TestApp) {
    let alice = app.new_account("alice", Some("Engineering")).await;
    let id = app.new_task_id(alice.token(), "Served from the cache").await;
    for _ in 0..2 {
        json_body(app.get_task(alice.token(), &id).await, StatusCode::OK).await;
    }
    let before = quiet_database_operations(app).await;
    for _ in 0..20 {
        let task = json_body(app.get_task(alice.token(), &id).await, StatusCode::OK).await;
        assert_eq!(task["id"], id.as_str());
    }
    let after = metric_value(&metrics_text(app).await, "taskify_db_operations_total", &[])
        .expect("taskify_db_operations_total is exported");
    assert_eq!(after, before, "20 cached GET /tasks/{{id}} started {} database operations", after - before);

    // The caller's own profile is a cached read too (`user:{uid}`).
    for _ in 0..2 {
        json_body(app.profile(alice.token()).await, StatusCode::OK).await;
    }
    let before = quiet_database_operations(app).await;
    for _ in 0..20 {
        let me = json_body(app.profile(alice.token()).await, StatusCode::OK).await;
        assert_eq!(me["username"], "alice");
    }
    let after = metric_value(&metrics_text(app).await, "taskify_db_operations_total", &[])
        .expect("taskify_db_operations_total is exported");
    assert_eq!(after, before, "20 cached GET /users/profile started {} database operations", after - before);
}

// ---------------------------------------------------------------------------------------------
// F1: stats
// ---------------------------------------------------------------------------------------------

with_redis_both_backends!(stats_show_every_documented_key_with_a_closed_breaker, |env: WithRedis| async move {
    // F1
    let app = &env.app;
    let fixtures = app.fixtures().await;
    let id = app.new_task_id(fixtures.alice.token(), "Counted").await;
    json_body(app.get_task(fixtures.alice.token(), &id).await, StatusCode::OK).await;

    let stats = app.cache_stats_body(fixtures.admin.token()).await;
    assert_stats_shape(&stats, true);
    assert_eq!(stats["cache"]["circuit_breaker"]["state"], "closed", "{stats}");
    assert_eq!(stats["cache"]["circuit_breaker"]["last_failure"], Value::Null, "Redis never failed: {stats}");
    assert_eq!(stats["cache"]["l2"]["pending_invalidations"], 0, "{stats}");

    for user in [&fixtures.alice, &fixtures.mike] {
        let problem =
            assert_problem(app.cache_stats(user.token()).await, StatusCode::FORBIDDEN, "insufficient_role").await;
        assert_eq!(problem["message"], "Admin role required for this operation");
    }
});

both_backends!(stats_without_redis_describe_a_local_only_cache, |app| async move {
    // docs/cache.md#stats, "Without Redis"
    let admin = app.sign_in_admin().await;
    let stats = app.cache_stats_body(admin.token()).await;
    assert_stats_shape(&stats, false);
    assert_eq!(stats["cache"]["circuit_breaker"]["state"], "closed", "{stats}");
});

// ---------------------------------------------------------------------------------------------
// F9: eviction
// ---------------------------------------------------------------------------------------------

/// Sets a cache entry straight in Redis, under the default prefix, with a 10-minute TTL.
async fn put_l2(redis: &RedisClient, logical_key: &str, value: &str) {
    let key = format!("{PREFIX}{logical_key}");
    let _: String = redis.cmd(&["SET", &key, value, "PX", "600000"]).await;
}

// One test per endpoint through with_redis_both_backends!, same header each: the scenarios differ.
with_redis_both_backends!(
    evicting_a_key_or_a_pattern_answers_200_and_drops_the_l2_entries,
    overrides = NO_WARMUP,
    |env: WithRedis| async move {
        // F9, with the effects of docs/cache.md#administration-endpoints and docs/cache.md#cross-instance-invalidation observed in Redis.
        let app = &env.app;
        let redis = env.redis_client().await;
        let admin = app.sign_in_admin().await;

        put_l2(&redis, "user:123", r#"{"evict":"me"}"#).await;
        let body = json_body(app.cache_evict(admin.token(), "user:123").await, StatusCode::OK).await;
        assert_eq!(body, json!({"status": "success", "message": "Cache key evicted successfully", "key": "user:123"}));
        let left: Option<String> = redis.cmd(&["GET", &format!("{PREFIX}user:123")]).await;
        assert_ne!(left.as_deref(), Some(r#"{"evict":"me"}"#), "the evicted value is gone from L2");

        for key in ["user:1", "user:2", "other:1", "other:22"] {
            put_l2(&redis, key, r#"{"v":1}"#).await;
        }
        let _: String = redis.cmd(&["SET", "user:3", "outside the prefix"]).await;
        let body = json_body(app.cache_evict(admin.token(), "user:*").await, StatusCode::OK).await;
        assert_eq!(
            body,
            json!({"status": "success", "message": "Cache pattern evicted successfully", "pattern": "user:*"})
        );
        assert_eq!(redis.keys_matching(&format!("{PREFIX}user:*")).await, Vec::<String>::new());
        assert!(redis.exists(&format!("{PREFIX}other:1")).await, "keys outside the pattern stay");
        assert!(redis.exists("user:3").await, "patterns match logical keys under the prefix only");

        // `[…]` and `?` make a pattern too.
        let body = json_body(app.cache_evict(admin.token(), "other:[0-9]").await, StatusCode::OK).await;
        assert_eq!(body["pattern"], "other:[0-9]", "{body}");
        assert!(!redis.exists(&format!("{PREFIX}other:1")).await, "other:1 matches other:[0-9]");
        assert!(redis.exists(&format!("{PREFIX}other:22")).await, "other:22 does not match other:[0-9]");
        let body = json_body(app.cache_evict(admin.token(), "other:2?").await, StatusCode::OK).await;
        assert_eq!(body["message"], "Cache pattern evicted successfully", "{body}");
        assert!(!redis.exists(&format!("{PREFIX}other:22")).await, "other:22 matches other:2?");
    }
);

with_redis_both_backends!(
    evicting_a_task_key_makes_the_next_read_load_from_the_database,
    overrides = NO_WARMUP,
    |env: WithRedis| async move {
        // docs/cache.md#administration-endpoints: the eviction applies to L1 and L2, so the next read is a miss at both levels.
        let app = &env.app;
        let admin = app.sign_in_admin().await;
        let alice = app.new_account("alice", Some("Engineering")).await;
        let id = app.new_task_id(alice.token(), "Evict me").await;
        for _ in 0..2 {
            json_body(app.get_task(alice.token(), &id).await, StatusCode::OK).await;
        }
        json_body(app.cache_evict(admin.token(), &format!("task:{id}")).await, StatusCode::OK).await;
        let before = quiet_database_operations(app).await;
        let task = json_body(app.get_task(alice.token(), &id).await, StatusCode::OK).await;
        assert_eq!(task["title"], "Evict me");
        let after = quiet_database_operations(app).await;
        assert!(after > before, "the read after evicting task:{id} loads from the database ({before} → {after})");

        // Cached again: the read after that one is served from the cache.
        let before = quiet_database_operations(app).await;
        json_body(app.get_task(alice.token(), &id).await, StatusCode::OK).await;
        let after = metric_value(&metrics_text(app).await, "taskify_db_operations_total", &[]).unwrap_or_default();
        assert_eq!(after, before, "the reloaded task is cached again");
    }
);

with_redis_both_backends!(eviction_rejects_bad_keys_and_non_admins, |env: WithRedis| async move {
    // docs/cache.md#administration-endpoints: 400 validation_failed for a key above 512 characters or an invalid glob; 403
    // insufficient_role for a non-admin.
    let app = &env.app;
    let admin = app.sign_in_admin().await;
    let alice = app.new_account("alice", Some("Engineering")).await;

    let longest = "k".repeat(512);
    json_body(app.cache_evict(admin.token(), &longest).await, StatusCode::OK).await;
    let too_long = "k".repeat(513);
    assert_problem(app.cache_evict(admin.token(), &too_long).await, StatusCode::BAD_REQUEST, "validation_failed").await;
    assert_problem(app.cache_evict(admin.token(), "user:[").await, StatusCode::BAD_REQUEST, "validation_failed").await;
    let problem =
        assert_problem(app.cache_evict(alice.token(), "user:123").await, StatusCode::FORBIDDEN, "insufficient_role")
            .await;
    assert_eq!(problem["message"], "Admin role required for this operation");
});

// ---------------------------------------------------------------------------------------------
// F10: clear
// ---------------------------------------------------------------------------------------------

/// A delayed job due in a day (so no worker takes it during the scenario), as docs/jobs.md#job-document shapes it.
fn delayed_job(due_ms: i64) -> String {
    let due = timestamp_text(chrono::DateTime::from_timestamp_millis(due_ms).expect("a valid time"));
    json!({"id": uuid::Uuid::new_v4(), "type": "cache_warmup",
           "payload": {"key": "f10:key", "data": {"f10": true}, "ttl": "15m0s"},
           "attempts": 0, "max_tries": 3, "priority": 5, "created_at": timestamp_text(chrono::Utc::now()),
           "process_at": due, "last_error": null})
    .to_string()
}

/// Keys that `/cache/clear` must never touch (docs/cache.md#administration-endpoints, docs/authentication.md#login-throttling, docs/cache.md#keys-and-ttls, docs/jobs.md#redis-structures, docs/http-contract.md#rate-limits), with their
/// contents before the clear.
struct ForeignKeys {
    delayed: Vec<(String, String)>,
    bucket: Vec<String>,
    generation: Option<String>,
    throttle: Option<String>,
}

impl ForeignKeys {
    /// Writes a delayed job, a rate-limit bucket and a login-throttle counter, bumps the
    /// generation counter, and reads everything back.
    async fn plant(redis: &RedisClient) -> ForeignKeys {
        let due_ms = chrono::Utc::now().timestamp_millis() + 86_400_000;
        let _: i64 = redis.cmd(&["ZADD", "cache_jobs_delayed", &due_ms.to_string(), &delayed_job(due_ms)]).await;
        let _: i64 = redis.cmd(&["HSET", "rate_limit:api:user:x", "tokens", "7", "ts", "1700000000000"]).await;
        let _: i64 = redis.cmd(&["PEXPIRE", "rate_limit:api:user:x", "600000"]).await;
        let _: i64 = redis.cmd(&["INCRBY", "taskify:gen:tasks:all", "1000"]).await;
        let _: String = redis.cmd(&["SET", "login_fail:ip:203.0.113.9", "3", "PX", "600000"]).await;
        ForeignKeys::read(redis).await
    }

    async fn read(redis: &RedisClient) -> ForeignKeys {
        ForeignKeys {
            delayed: redis.cmd(&["ZRANGE", "cache_jobs_delayed", "0", "-1", "WITHSCORES"]).await,
            bucket: redis.cmd(&["HGETALL", "rate_limit:api:user:x"]).await,
            generation: redis.cmd(&["GET", "taskify:gen:tasks:all"]).await,
            throttle: redis.cmd(&["GET", "login_fail:ip:203.0.113.9"]).await,
        }
    }

    fn assert_unchanged(&self, now: &ForeignKeys) {
        assert_eq!(now.delayed, self.delayed, "cache_jobs_delayed is untouched");
        assert_eq!(now.bucket, self.bucket, "rate_limit:* is untouched");
        assert_eq!(now.generation, self.generation, "taskify:gen:* is untouched");
        assert_eq!(now.throttle, self.throttle, "login_fail:* is untouched");
    }
}

/// Creates three tasks and reads them, so that the cache holds entries under the prefix.
async fn cache_some_tasks(app: &ApiClient, token: &str) -> Vec<Value> {
    let mut tasks = Vec::new();
    for title in ["one", "two", "three"] {
        let id = app.new_task_id(token, title).await;
        tasks.push(json_body(app.get_task(token, &id).await, StatusCode::OK).await);
    }
    json_body(app.list_tasks(token, &[]).await, StatusCode::OK).await;
    tasks
}

// Same test header as the evict test above: the scenarios differ.
with_redis_both_backends!(
    clearing_the_cache_deletes_every_prefixed_key_and_nothing_else,
    overrides = NO_WARMUP,
    |env: WithRedis| async move {
        // F10
        let app = &env.app;
        let redis = env.redis_client().await;
        let admin = app.sign_in_admin().await;
        let alice = app.new_account("alice", Some("Engineering")).await;
        let tasks = cache_some_tasks(app, alice.token()).await;
        let cached = redis.keys_matching(&format!("{PREFIX}*")).await;
        assert!(!cached.is_empty(), "reads filled L2 under {PREFIX}");
        let foreign = ForeignKeys::plant(&redis).await;

        let body = json_body(app.cache_clear(admin.token()).await, StatusCode::OK).await;
        assert_eq!(body["message"], "cache cleared successfully", "{body}");
        assert_eq!(body["l1_cleared"], true, "{body}");
        let deleted = body["l2_keys_deleted"].as_u64().unwrap_or_else(|| panic!("l2_keys_deleted is a number: {body}"));
        assert!(deleted >= 1, "the L2 keys were deleted: {body}");

        assert_eq!(redis.keys_matching(&format!("{PREFIX}*")).await, Vec::<String>::new(), "no {PREFIX}* key is left");
        foreign.assert_unchanged(&ForeignKeys::read(&redis).await);

        // The data is still served, from the database.
        for task in &tasks {
            let id = string_at(task, "/id");
            let read = json_body(app.get_task(alice.token(), &id).await, StatusCode::OK).await;
            assert_eq!(&read, task);
        }
    }
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clearing_the_cache_deletes_only_keys_under_the_configured_prefix() {
    // docs/cache.md#administration-endpoints: "every L2 key under CACHE_KEY_PREFIX", so another deployment's default-prefix
    // keys in the same Redis survive.
    let env =
        WithRedis::spawn(Backend::Sqlite, &[("CACHE_KEY_PREFIX", "custom:ns:"), ("CACHE_WARM_INTERVAL", "0")]).await;
    let app = &env.app;
    let redis = env.redis_client().await;
    let admin = app.sign_in_admin().await;
    let alice = app.new_account("alice", Some("Engineering")).await;
    cache_some_tasks(app, alice.token()).await;
    assert!(!redis.keys_matching("custom:ns:*").await.is_empty(), "reads filled L2 under custom:ns:");
    put_l2(&redis, "task:foreign", r#"{"other":"deployment"}"#).await;

    let body = json_body(app.cache_clear(admin.token()).await, StatusCode::OK).await;
    assert!(body["l2_keys_deleted"].as_u64().is_some_and(|n| n >= 1), "{body}");
    assert_eq!(redis.keys_matching("custom:ns:*").await, Vec::<String>::new(), "no custom:ns:* key is left");
    let foreign: Option<String> = redis.cmd(&["GET", &format!("{PREFIX}task:foreign")]).await;
    assert_eq!(foreign.as_deref(), Some(r#"{"other":"deployment"}"#), "keys under another prefix stay");
}

both_backends!(clearing_without_redis_reports_no_l2_count, |app| async move {
    // docs/cache.md#administration-endpoints: `l2_keys_deleted` is null when Redis is disabled.
    let admin = app.sign_in_admin().await;
    let body = json_body(app.cache_clear(admin.token()).await, StatusCode::OK).await;
    assert_eq!(
        body,
        json!({"message": "cache cleared successfully", "l1_cleared": true, "l2_keys_deleted": null}),
        "{body}"
    );
    let alice = app.new_account("alice", None).await;
    assert_problem(app.cache_clear(alice.token()).await, StatusCode::FORBIDDEN, "insufficient_role").await;
});

// ---------------------------------------------------------------------------------------------
// /health with Redis up
// ---------------------------------------------------------------------------------------------

with_redis_both_backends!(health_reports_redis_up_and_the_l2_cache_in_use, |env: WithRedis| async move {
    // docs/operations.md#health-endpoints
    let health = env.app.health_body().await;
    assert_eq!(health["status"], "healthy", "{health}");
    assert_eq!(health["database"], "up", "{health}");
    assert_eq!(health["redis"], "up", "{health}");
    assert_eq!(health["checks"]["redis"]["status"], "up", "{health}");
    assert!(health["checks"]["redis"]["latency_ms"].is_number(), "{health}");
    assert_eq!(health["checks"]["cache"]["l1"], "up", "{health}");
    assert_eq!(health["checks"]["cache"]["l2"], "up", "{health}");
    assert_eq!(health["checks"]["cache"]["circuit_breaker"], "closed", "{health}");
    assert_eq!(health["checks"]["cache"]["pending_invalidations"], 0, "{health}");

    let metrics = metrics_text(&env.app).await;
    assert_eq!(metric_value(&metrics, "redis_up", &[]), Some(1.0), "redis_up is 1 while Redis answers");
    assert_eq!(metric_value(&metrics, "circuit_breaker_state", &[("name", "redis")]), Some(0.0));
});

// ---------------------------------------------------------------------------------------------
// A cached read performs no database query
// ---------------------------------------------------------------------------------------------

with_redis_both_backends!(a_cached_task_read_with_redis_performs_no_database_operation, |env: WithRedis| async move {
    assert_cached_reads_touch_no_database(&env.app).await;
});

both_backends!(a_cached_task_read_without_redis_performs_no_database_operation, |app| async move {
    assert_cached_reads_touch_no_database(&app).await;
});
