//! docs/testing.md#f-cache-and-jobs (F2–F8, F11–F16), docs/jobs.md#endpoints and docs/jobs.md: the cache-warming jobs, their routing, their Redis
//! structures and the dead-letter queue, on one SQLite instance with its **own** Redis (the queue
//! keys `cache_jobs*` are fixed names, so no two scenarios may share a Redis); the same endpoints
//! without Redis; and the cache half of H6 (a forged admin token gets no cache administration).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, FixedOffset, Utc};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use uuid::Uuid;

use crate::helpers::*;
use crate::redis::{REDIS_TIMEOUTS, RedisClient, RedisServer};
use crate::server_process::env_pairs;
use crate::tokens::{sign_valid, valid_claims, with_changes};
use crate::{both_backends, sqlite_only};

/// The default `CACHE_KEY_PREFIX`.
const PREFIX: &str = "taskify:cache:";

/// The Redis structures of docs/jobs.md#redis-structures (fixed names).
const READY: &str = "cache_jobs";
const DELAYED: &str = "cache_jobs_delayed";
const PROCESSING: &str = "cache_jobs_processing";
const DLQ: &str = "cache_jobs_dlq";

/// The factor of the priority in a ready score: `priority × 10^13 + ready_at_ms` (docs/jobs.md#redis-structures).
const PRIORITY_FACTOR: i64 = 10_000_000_000_000;

/// F3, F5: a job's effect is in Redis within 2 s.
const EFFECT_DEADLINE: Duration = Duration::from_secs(2);
/// F15: a job with an expired lease is executed within 10 s.
const REAP_DEADLINE: Duration = Duration::from_secs(10);
/// Effects the design gives no bound for (a validation job and the warmup it enqueues, an eviction,
/// three attempts with their backoff, a breaker opening): generous, since they are polled.
const SLOW_DEADLINE: Duration = Duration::from_secs(30);

/// The message of every 403 `insufficient_role`.
const ADMIN_REQUIRED: &str = "Admin role required for this operation";

// ---------------------------------------------------------------------------------------------
// One instance with a private Redis
// ---------------------------------------------------------------------------------------------

/// A SQLite instance whose `REDIS_URL` points at its own `redis-server`, a client of that Redis
/// and the administrator's session. Fields drop in order: the server stops before Redis does.
struct JobEnv {
    app: TestApp,
    redis: RedisServer,
    store: RedisClient,
    admin: Account,
}

impl JobEnv {
    /// Starts a private Redis and an instance on it with [`settings`] plus `overrides`.
    async fn start(overrides: &[(&str, &str)]) -> JobEnv {
        let redis = RedisServer::start().await;
        let app = spawn_app(Backend::Sqlite, &env_pairs(&settings(&redis, overrides))).await;
        let store = redis.client().await;
        let admin = app.sign_in_admin().await;
        JobEnv { app, redis, store, admin }
    }

    fn token(&self) -> &str {
        self.admin.token()
    }

    /// Enqueues a job of `kind`, expecting 202.
    async fn enqueue(&self, kind: &str, body: Value) -> Value {
        self.app.enqueued_job(self.token(), kind, &body).await
    }

    /// The `GET /cache/jobs` body for `query`.
    async fn inspect(&self, query: Query<'_>) -> Value {
        self.app.cache_jobs_body(self.token(), query).await
    }
}

/// The overrides of an instance on `redis`: `REDIS_URL`, the test timeouts, the periodic warm-up
/// off (so nothing but the scenario enqueues work), then `overrides`.
fn settings(redis: &RedisServer, overrides: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut settings = vec![("REDIS_URL".to_owned(), redis.url()), ("CACHE_WARM_INTERVAL".to_owned(), "0".to_owned())];
    settings
        .extend(REDIS_TIMEOUTS.iter().chain(overrides).map(|(key, value)| ((*key).to_owned(), (*value).to_owned())));
    settings
}

// ---------------------------------------------------------------------------------------------
// Redis helpers
// ---------------------------------------------------------------------------------------------

/// The JSON value of the L2 entry of `key` (a logical key), if there is one that parses.
async fn l2_value(store: &RedisClient, key: &str) -> Option<Value> {
    let raw: Option<String> = store.cmd(&["GET", &format!("{PREFIX}{key}")]).await;
    raw.and_then(|text| serde_json::from_str(&text).ok())
}

/// Polls until the L2 entry of `key` holds `expected`, failing after `deadline`.
async fn await_l2_value(store: &RedisClient, key: &str, expected: &Value, deadline: Duration) {
    let what = format!("Redis {PREFIX}{key} = {expected}");
    eventually(&what, deadline, || async { (l2_value(store, key).await.as_ref() == Some(expected)).then_some(()) })
        .await;
}

/// The remaining TTL of the L2 entry of `key`, in milliseconds.
async fn l2_pttl(store: &RedisClient, key: &str) -> i64 {
    store.cmd(&["PTTL", &format!("{PREFIX}{key}")]).await
}

/// The members of the sorted set `set` with their scores, lowest score first.
async fn scored_members(store: &RedisClient, set: &str) -> Vec<(Value, i64)> {
    let flat: Vec<String> = store.cmd(&["ZRANGE", set, "0", "-1", "WITHSCORES"]).await;
    flat.chunks(2)
        .map(|pair| {
            let job =
                serde_json::from_str(&pair[0]).unwrap_or_else(|error| panic!("{set} holds JSON ({error}): {pair:?}"));
            let score: f64 = pair[1].parse().unwrap_or_else(|_| panic!("{set} has a numeric score: {pair:?}"));
            // Scores are whole numbers below 2^53, so the conversion is exact.
            (job, score as i64)
        })
        .collect()
}

/// The member of `set` whose id is `id`, with its score.
async fn scored_member(store: &RedisClient, set: &str, id: &str) -> Option<(Value, i64)> {
    scored_members(store, set).await.into_iter().find(|(job, _)| job["id"] == id)
}

/// The DLQ list, head (newest) first.
async fn dlq_entries(store: &RedisClient) -> Vec<Value> {
    let raw: Vec<String> = store.cmd(&["LRANGE", DLQ, "0", "-1"]).await;
    raw.iter()
        .map(|text| serde_json::from_str(text).unwrap_or_else(|error| panic!("{DLQ} holds JSON ({error}): {text}")))
        .collect()
}

/// `ZADD set score job`.
async fn zadd(store: &RedisClient, set: &str, score: i64, job: &Value) {
    let added: i64 = store.cmd(&["ZADD", set, &score.to_string(), &job.to_string()]).await;
    assert_eq!(added, 1, "the job was added to {set}");
}

/// A job document as docs/jobs.md#job-document shapes it, never attempted.
fn job_document(id: Uuid, kind: &str, payload: Value, priority: i64, process_at: DateTime<Utc>) -> Value {
    json!({"id": id, "type": kind, "payload": payload, "attempts": 0, "max_tries": 3, "priority": priority,
           "created_at": timestamp_text(Utc::now()), "process_at": timestamp_text(process_at), "last_error": null})
}

/// A `cache_warmup` document writing `data` under `key` for 15 minutes.
fn warmup_document(id: Uuid, key: &str, data: Value, priority: i64, process_at: DateTime<Utc>) -> Value {
    job_document(id, "cache_warmup", json!({"key": key, "data": data, "ttl": "15m0s"}), priority, process_at)
}

/// The score of a ready job (docs/jobs.md#redis-structures).
fn ready_score(priority: i64, ready_at: DateTime<Utc>) -> i64 {
    priority * PRIORITY_FACTOR + ready_at.timestamp_millis()
}

/// `moment` truncated to whole milliseconds, the precision of the Redis scores.
fn whole_millis(moment: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(moment.timestamp_millis()).expect("a representable time")
}

/// Sets `member` of `job` (a JSON object).
fn with_member(mut job: Value, member: &str, value: Value) -> Value {
    job.as_object_mut().expect("a job is an object").insert(member.to_owned(), value);
    job
}

/// The id of a job document or 202 body member, as text.
fn id_of(job: &Value, member: &str) -> String {
    string_at(job, &format!("/{member}"))
}

/// The member names every job document carries (docs/jobs.md#job-document).
const JOB_MEMBERS: [&str; 9] =
    ["id", "type", "payload", "attempts", "max_tries", "priority", "created_at", "process_at", "last_error"];

fn assert_job_document(job: &Value) {
    for member in JOB_MEMBERS {
        assert!(job.get(member).is_some(), "a job document carries {member}: {job}");
    }
    Uuid::parse_str(&id_of(job, "id")).unwrap_or_else(|_| panic!("the job id is a UUID: {job}"));
    parse_timestamp(&job["created_at"]);
    parse_timestamp(&job["process_at"]);
}

/// Asserts the common members of a 202 (docs/jobs.md#endpoints) and returns `(job_id, queue)`.
fn assert_accepted(body: &Value, message: &str) -> (String, String) {
    assert_eq!(body["status"], "success", "{body}");
    assert_eq!(body["message"], message, "{body}");
    let job_id = id_of(body, "job_id");
    let parsed = Uuid::parse_str(&job_id).unwrap_or_else(|_| panic!("job_id is a UUID: {body}"));
    assert_eq!(
        job_id,
        parsed.hyphenated().to_string(),
        "job_id is lowercase hyphenated text (docs/http-contract.md#times-identifiers-and-durations)"
    );
    let queue = id_of(body, "queue");
    assert!(queue == "local" || queue == "redis", "queue is local or redis: {body}");
    (job_id, queue)
}

/// The ids of the jobs of the list `name` of a `GET /cache/jobs` body.
fn listed_ids(body: &Value, name: &str) -> Vec<String> {
    listed(body, name).iter().map(|job| id_of(job, "id")).collect()
}

fn listed<'a>(body: &'a Value, name: &str) -> &'a Vec<Value> {
    body[name].as_array().unwrap_or_else(|| panic!("{name} is a list: {body}"))
}

/// The priorities of the jobs of the list `name`.
fn listed_priorities(body: &Value, name: &str) -> Vec<i64> {
    listed(body, name).iter().map(|job| job["priority"].as_i64().unwrap_or_else(|| panic!("priority: {job}"))).collect()
}

/// Asserts a 400 problem (`invalid_request` or `validation_failed`, the design leaving the choice
/// open for these inputs) whose `errors` name `field`, and returns it.
async fn assert_bad_request(response: Response, field: &str) -> Value {
    let path = response.url().path().to_owned();
    let (headers, body) = body_text(response, StatusCode::BAD_REQUEST).await;
    let content_type = header(&headers, "content-type").unwrap_or_default();
    assert!(content_type.starts_with("application/problem+json"), "a problem, got {content_type:?}: {body}");
    let problem: Value = serde_json::from_str(&body).unwrap_or_else(|error| panic!("invalid JSON ({error}): {body}"));
    let code = problem["error"].as_str().unwrap_or_default();
    assert!(code == "invalid_request" || code == "validation_failed", "a 400 input error: {problem}");
    assert_eq!(problem["type"], format!("urn:taskify:problem:{code}"), "{problem}");
    assert_eq!(problem["instance"], path, "{problem}");
    assert_field_error(&problem, field);
    problem
}

/// Asserts a 400 `validation_failed` naming `field`, and returns it.
async fn assert_invalid(response: Response, field: &str) -> Value {
    let problem = assert_problem(response, StatusCode::BAD_REQUEST, "validation_failed").await;
    assert_field_error(&problem, field);
    problem
}

/// Asserts a 403 `insufficient_role`.
async fn assert_admin_only(response: Response) {
    let problem = assert_problem(response, StatusCode::FORBIDDEN, "insufficient_role").await;
    assert_eq!(problem["message"], ADMIN_REQUIRED);
}

// ---------------------------------------------------------------------------------------------
// Keyspace notifications: the order in which keys are written
// ---------------------------------------------------------------------------------------------

/// A raw `PSUBSCRIBE` connection to a test Redis that records every keyspace notification, so a
/// scenario can tell in which order jobs wrote their keys (they run too fast to poll).
struct KeyspaceEvents {
    received: Arc<Mutex<String>>,
    reader: tokio::task::JoinHandle<()>,
}

impl KeyspaceEvents {
    /// Turns keyspace notifications on and subscribes to the keyspace channels of the logical keys
    /// matching `pattern`.
    async fn subscribe(redis: &RedisServer, store: &RedisClient, pattern: &str) -> KeyspaceEvents {
        let _: String = store.cmd(&["CONFIG", "SET", "notify-keyspace-events", "KA"]).await;
        let address = redis.url().trim_start_matches("redis://").to_owned();
        let mut stream = tokio::net::TcpStream::connect(&address).await.expect("the test Redis accepts connections");
        let channel = format!("__keyspace@0__:{PREFIX}{pattern}");
        let command = format!("*2\r\n$10\r\nPSUBSCRIBE\r\n${}\r\n{channel}\r\n", channel.len());
        stream.write_all(command.as_bytes()).await.expect("PSUBSCRIBE can be sent");
        let received = Arc::new(Mutex::new(String::new()));
        let sink = Arc::clone(&received);
        let reader = tokio::spawn(async move {
            let mut buffer = vec![0_u8; 4096];
            while let Ok(read) = stream.read(&mut buffer).await {
                if read == 0 {
                    break;
                }
                sink.lock().expect("not poisoned").push_str(&String::from_utf8_lossy(&buffer[..read]));
            }
        });
        let events = KeyspaceEvents { received, reader };
        eventually("the PSUBSCRIBE confirmation", Duration::from_secs(5), || async {
            events.text().contains("psubscribe").then_some(())
        })
        .await;
        events
    }

    fn text(&self) -> String {
        self.received.lock().expect("not poisoned").clone()
    }

    /// `keys` (logical keys) sorted by their first notification; keys never notified are left out.
    fn first_written(&self, keys: &[&str]) -> Vec<String> {
        let text = self.text();
        let mut seen: Vec<(usize, String)> = keys
            .iter()
            .filter_map(|key| {
                text.find(&format!("__keyspace@0__:{PREFIX}{key}\r\n")).map(|position| (position, (*key).to_owned()))
            })
            .collect();
        seen.sort();
        seen.into_iter().map(|(_, key)| key).collect()
    }
}

impl Drop for KeyspaceEvents {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

// ---------------------------------------------------------------------------------------------
// F2: cache health and the built-in warm-up
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cache_health_and_warm_answer_admins_only() {
    // F2, docs/cache.md#administration-endpoints
    let env = JobEnv::start(&[]).await;
    let app = &env.app;
    let health = json_body(app.cache_health(env.token()).await, StatusCode::OK).await;
    assert_eq!(health["status"], "healthy", "{health}");
    assert_eq!(health["running"], true, "{health}");
    assert_eq!(health["redis"], "up", "{health}");
    assert_eq!(health["circuit_breaker"], "closed", "{health}");
    assert!(health["metrics"].is_object(), "metrics: {health}");
    assert!(health["queue_sizes"].is_object(), "queue_sizes: {health}");

    // The warm-up writes `task:{id}` entries of recently updated tasks (SET NX, docs/cache.md#administration-endpoints).
    let alice = app.new_account("alice", Some("Engineering")).await;
    let id = app.new_task_id(alice.token(), "Warm me").await;
    let key = format!("task:{id}");
    let _: i64 = env.store.cmd(&["DEL", &format!("{PREFIX}{key}")]).await;
    let warm = json_body(app.cache_warm(env.token()).await, StatusCode::OK).await;
    assert_eq!(warm, json!({"status": "success", "message": "Cache warming triggered successfully"}));
    eventually("the warm-up to write the task entry", SLOW_DEADLINE, || async {
        env.store.exists(&format!("{PREFIX}{key}")).await.then_some(())
    })
    .await;

    assert_admin_only(app.cache_health(alice.token()).await).await;
    assert_admin_only(app.cache_warm(alice.token()).await).await;
}

// ---------------------------------------------------------------------------------------------
// F3, F4: warmup
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_warmup_job_writes_the_value_with_its_ttl() {
    // F3
    let env = JobEnv::start(&[]).await;
    let body = env
        .enqueue(
            "warmup",
            json!({"key": "test:key", "data": {"test": "data"}, "ttl": 900_000_000_000_u64, "priority": 5}),
        )
        .await;
    assert_accepted(&body, "Warmup job enqueued successfully");
    assert_eq!(body["key"], "test:key", "{body}");
    assert_eq!(body["ttl"], "15m0s", "{body}");
    assert_eq!(body["priority"], 5, "{body}");

    await_l2_value(&env.store, "test:key", &json!({"test": "data"}), EFFECT_DEADLINE).await;
    let pttl = l2_pttl(&env.store, "test:key").await;
    assert!(pttl > 0 && pttl <= 900_000, "PTTL of {PREFIX}test:key is within the 15 minutes: {pttl}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warmup_ttls_and_priorities_are_read_and_rendered_as_documented() {
    // F4 (accepted half), docs/jobs.md#job-document TTL input and output, docs/jobs.md#priority (0 or absent means 5)
    let env = JobEnv::start(&[]).await;
    let cases = [
        (json!("15m"), "15m0s"),
        (json!("1500ms"), "1.5s"),
        (json!("90s"), "1m30s"),
        (json!("1h"), "1h0m0s"),
        (json!("1h30m"), "1h30m0s"),
        (json!("720h"), "720h0m0s"),
        (json!(1_000_000_000_u64), "1s"),
        (json!(0), "15m0s"),
        (Value::Null, "15m0s"),
    ];
    for (index, (ttl, rendered)) in cases.into_iter().enumerate() {
        let mut request = json!({"key": format!("ttl:{index}"), "data": index});
        if !ttl.is_null() {
            request["ttl"] = ttl.clone();
        }
        let body = env.enqueue("warmup", request).await;
        assert_accepted(&body, "Warmup job enqueued successfully");
        assert_eq!(body["ttl"], rendered, "ttl {ttl}: {body}");
        assert_eq!(body["priority"], 5, "no priority means 5: {body}");
    }
    for (priority, expected) in [(0, 5), (1, 1), (10, 10)] {
        let body = env.enqueue("warmup", json!({"key": "prio:key", "data": 1, "priority": priority})).await;
        assert_eq!(body["priority"], expected, "priority {priority}: {body}");
    }
    let longest = "k".repeat(512);
    let body = env.enqueue("warmup", json!({"key": longest, "data": 1})).await;
    assert_eq!(body["key"], longest.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_job_requests_answer_400() {
    // F4 (rejected half), docs/jobs.md#endpoints key rules, docs/jobs.md#job-document TTL bounds, docs/jobs.md#priority
    let env = JobEnv::start(&[]).await;
    let (app, token) = (&env.app, env.token());
    let warmup = |changes: Value| {
        let mut body = json!({"key": "test:key", "data": {"test": "data"}});
        for (member, value) in changes.as_object().expect("an object") {
            if value.is_null() {
                body.as_object_mut().expect("an object").remove(member);
            } else {
                body[member] = value.clone();
            }
        }
        body
    };

    for ttl in [json!("abc"), json!(-1), json!("999ms"), json!("721h"), json!(500_000_000_u64), json!("-5m")] {
        assert_invalid(app.enqueue_job(token, "warmup", &warmup(json!({"ttl": ttl}))).await, "ttl").await;
    }
    for priority in [11, 100] {
        assert_invalid(app.enqueue_job(token, "warmup", &warmup(json!({"priority": priority}))).await, "priority")
            .await;
    }
    assert_bad_request(app.enqueue_job(token, "warmup", &warmup(json!({"priority": -1}))).await, "priority").await;
    // A member of the wrong JSON type (docs/http-contract.md#request-bodies-and-field-rules).
    let problem = assert_problem(
        app.enqueue_job(token, "warmup", &warmup(json!({"priority": "5"}))).await,
        StatusCode::BAD_REQUEST,
        "invalid_request",
    )
    .await;
    assert_field_error(&problem, "priority");

    for reserved in ["task:123", "tasks_paginated:all:g1:abc", "principal:1", "user:1", "revoked:jti"] {
        let problem =
            assert_invalid(app.enqueue_job(token, "warmup", &warmup(json!({"key": reserved}))).await, "key").await;
        let message = error_message(&problem, "key");
        assert_eq!(message.trim_start_matches("key "), "uses a reserved prefix", "{reserved}: {problem}");
    }
    assert_bad_request(app.enqueue_job(token, "warmup", &warmup(json!({"key": null}))).await, "key").await;
    for key in [json!(""), json!("has space"), json!("tab\there"), json!("k".repeat(513))] {
        assert_invalid(app.enqueue_job(token, "warmup", &warmup(json!({"key": key}))).await, "key").await;
    }

    // The reserved prefixes hold for batch, scheduled and validation too; eviction may target them.
    let in_an_hour = timestamp_text(seconds_from_now(3600));
    for (kind, body) in [
        ("batch", json!({"keys": ["ok:1", "task:1"], "data": 1})),
        ("scheduled", json!({"key": "task:1", "data": 1, "process_at": in_an_hour})),
        ("validation", json!({"key": "task:1", "expected_data": 1})),
    ] {
        let response = app.enqueue_job(token, kind, &body).await;
        let problem = assert_problem(response, StatusCode::BAD_REQUEST, "validation_failed").await;
        assert!(problem.to_string().contains("reserved prefix"), "{kind}: {problem}");
    }
    let body = env.enqueue("eviction", json!({"key": "task:123"})).await;
    assert_accepted(&body, "Eviction job enqueued successfully");
    assert_eq!(body["key"], "task:123", "{body}");
}

// ---------------------------------------------------------------------------------------------
// F5: batch
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_job_writes_every_key() {
    // F5, docs/jobs.md#endpoints (batch ttl defaults to 1 h)
    let env = JobEnv::start(&[]).await;
    let keys = ["batch:1", "batch:2", "batch:3"];
    let body = env.enqueue("batch", json!({"keys": keys, "data": {}, "priority": 5})).await;
    assert_accepted(&body, "Batch job enqueued successfully");
    assert_eq!(body["key_count"], 3, "{body}");
    assert_eq!(body["priority"], 5, "{body}");
    for key in keys {
        await_l2_value(&env.store, key, &json!({}), EFFECT_DEADLINE).await;
    }
    let pttl = l2_pttl(&env.store, "batch:1").await;
    assert!(pttl > 900_000 && pttl <= 3_600_000, "a batch defaults to a 1 h TTL: PTTL {pttl}");

    let (app, token) = (&env.app, env.token());
    assert_bad_request(app.enqueue_job(token, "batch", &json!({"keys": null, "data": {}})).await, "keys").await;
    assert_bad_request(app.enqueue_job(token, "batch", &json!({"data": {}})).await, "keys").await;
    let too_many: Vec<String> = (0..1001).map(|i| format!("bulk:{i}")).collect();
    assert_invalid(app.enqueue_job(token, "batch", &json!({"keys": too_many, "data": 1})).await, "keys").await;

    let most: Vec<String> = (0..1000).map(|i| format!("bulk:{i}")).collect();
    let body = env.enqueue("batch", json!({"keys": most, "data": {"bulk": true}})).await;
    assert_eq!(body["key_count"], 1000, "{body}");
    let body = env.enqueue("batch", json!({"keys": [], "data": 1})).await;
    assert_eq!(body["key_count"], 0, "an empty batch is allowed: {body}");
    await_l2_value(&env.store, "bulk:999", &json!({"bulk": true}), SLOW_DEADLINE).await;
}

// ---------------------------------------------------------------------------------------------
// F6: scheduled
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduled_jobs_wait_in_the_delayed_set_until_due() {
    // F6, docs/jobs.md#routing rule 2, docs/jobs.md#redis-structures (delayed score = process_at in unix ms), docs/http-contract.md#times-identifiers-and-durations (offsets normalised)
    let env = JobEnv::start(&[]).await;
    let due = whole_millis(Utc::now() + chrono::Duration::minutes(10));
    let offset = FixedOffset::east_opt(2 * 3600).expect("a valid offset");
    let due_text = due.with_timezone(&offset).to_rfc3339_opts(chrono::SecondsFormat::Micros, false);
    let body = env
        .enqueue("scheduled", json!({"key": "sched:later", "data": {"s": 1}, "process_at": due_text, "priority": 3}))
        .await;
    let (id, queue) = assert_accepted(&body, "Scheduled job enqueued successfully");
    assert_eq!(queue, "redis", "a scheduled job goes to Redis (docs/jobs.md#routing rule 2): {body}");
    assert_eq!(body["key"], "sched:later", "{body}");
    assert_eq!(body["process_at"], timestamp_text(due), "process_at in UTC with 6 digits: {body}");
    assert_eq!(body["ttl"], "15m0s", "{body}");
    assert_eq!(body["priority"], 3, "{body}");

    let delayed_set = scored_members(&env.store, DELAYED).await;
    let (job, score) = delayed_set
        .iter()
        .find(|(job, _)| job["id"] == id.as_str())
        .cloned()
        .unwrap_or_else(|| panic!("job {id} is in {DELAYED}: {delayed_set:?}"));
    assert_eq!(score, due.timestamp_millis(), "the delayed score is the due time in unix ms: {job}");
    assert_job_document(&job);
    assert_eq!(job["type"], "cache_scheduled", "{job}");
    assert_eq!(job["payload"], json!({"key": "sched:later", "data": {"s": 1}, "ttl": "15m0s"}), "{job}");
    assert_eq!(
        (job["attempts"].clone(), job["max_tries"].clone(), job["priority"].clone()),
        (json!(0), json!(3), json!(3))
    );
    assert_eq!(parse_timestamp(&job["process_at"]), due, "{job}");
    assert!(scored_member(&env.store, READY, &id).await.is_none(), "a future job is not ready yet");

    let inspection = env.inspect(&[]).await;
    assert!(inspection["queue_sizes"]["redis_delayed"].as_u64().is_some_and(|n| n >= 1), "{inspection}");
    let delayed = listed(&inspection, "delayed").iter().find(|job| job["id"] == id.as_str()).cloned();
    let delayed = delayed.unwrap_or_else(|| panic!("the delayed list shows job {id}: {inspection}"));
    assert_eq!(parse_timestamp(&delayed["process_at"]), due, "{delayed}");
    let stats = env.app.cache_stats_body(env.token()).await;
    assert!(stats["queue_sizes"]["redis_delayed"].as_u64().is_some_and(|n| n >= 1), "{stats}");

    // Due in 2 s: absent at +1 s, present by +3 s.
    let soon = whole_millis(Utc::now() + chrono::Duration::seconds(2));
    let body = env
        .enqueue("scheduled", json!({"key": "sched:soon", "data": {"s": 2}, "process_at": timestamp_text(soon)}))
        .await;
    assert_accepted(&body, "Scheduled job enqueued successfully");
    let_time_pass_until(soon - chrono::Duration::seconds(1)).await;
    assert_eq!(l2_value(&env.store, "sched:soon").await, None, "the scheduled job has not run before its time");
    let by = (soon + chrono::Duration::seconds(1) - Utc::now()).to_std().unwrap_or_default();
    await_l2_value(&env.store, "sched:soon", &json!({"s": 2}), by.max(Duration::from_millis(200))).await;

    let (app, token) = (&env.app, env.token());
    assert_bad_request(app.enqueue_job(token, "scheduled", &json!({"key": "sched:x", "data": 1})).await, "process_at")
        .await;
    for bad in ["2025-12-01", "tomorrow", ""] {
        let body = json!({"key": "sched:x", "data": 1, "process_at": bad});
        assert_bad_request(app.enqueue_job(token, "scheduled", &body).await, "process_at").await;
    }
}

// ---------------------------------------------------------------------------------------------
// F7: validation
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validation_jobs_repair_missing_and_wrong_values() {
    // F7, docs/jobs.md#job-document (`cache_validation`; ttl defaults to 1 h when re-warming)
    let env = JobEnv::start(&[]).await;
    let body = env.enqueue("validation", json!({"key": "test:val", "expected_data": {"v": 1}})).await;
    assert_accepted(&body, "Validation job enqueued successfully");
    assert_eq!(body["key"], "test:val", "{body}");
    assert_eq!(body["priority"], 5, "{body}");
    await_l2_value(&env.store, "test:val", &json!({"v": 1}), SLOW_DEADLINE).await;
    let pttl = l2_pttl(&env.store, "test:val").await;
    assert!(pttl > 900_000 && pttl <= 3_600_000, "the re-warm uses the 1 h default TTL: PTTL {pttl}");

    env.enqueue("warmup", json!({"key": "test:val", "data": {"v": 2}})).await;
    await_l2_value(&env.store, "test:val", &json!({"v": 2}), SLOW_DEADLINE).await;
    env.enqueue("validation", json!({"key": "test:val", "expected_data": {"v": 1}, "priority": 2})).await;
    await_l2_value(&env.store, "test:val", &json!({"v": 1}), SLOW_DEADLINE).await;

    let (app, token) = (&env.app, env.token());
    assert_bad_request(app.enqueue_job(token, "validation", &json!({"key": "test:val"})).await, "expected_data").await;
    // `null` is a value: only an absent `expected_data` is refused.
    let body = env.enqueue("validation", json!({"key": "test:null", "expected_data": null})).await;
    assert_accepted(&body, "Validation job enqueued successfully");
}

// ---------------------------------------------------------------------------------------------
// F8: eviction
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eviction_jobs_delete_a_pattern_or_a_key() {
    // F8, docs/jobs.md#job-document (`cache_eviction`)
    let env = JobEnv::start(&[]).await;
    env.enqueue("batch", json!({"keys": ["batch:1", "batch:2", "batch:3"], "data": {"b": 1}})).await;
    env.enqueue("warmup", json!({"key": "other:1", "data": {"o": 1}})).await;
    for key in ["batch:1", "batch:2", "batch:3"] {
        await_l2_value(&env.store, key, &json!({"b": 1}), SLOW_DEADLINE).await;
    }
    await_l2_value(&env.store, "other:1", &json!({"o": 1}), SLOW_DEADLINE).await;

    let body = env.enqueue("eviction", json!({"pattern": "batch:*"})).await;
    assert_accepted(&body, "Eviction job enqueued successfully");
    assert_eq!(body["pattern"], "batch:*", "{body}");
    assert_eq!(body["priority"], 5, "{body}");
    eventually("every batch:* key to be evicted", SLOW_DEADLINE, || async {
        env.store.keys_matching(&format!("{PREFIX}batch:*")).await.is_empty().then_some(())
    })
    .await;
    assert_eq!(l2_value(&env.store, "other:1").await, Some(json!({"o": 1})), "keys outside the pattern stay");

    let body = env.enqueue("eviction", json!({"key": "other:1"})).await;
    assert_eq!(body["key"], "other:1", "{body}");
    eventually("other:1 to be evicted", SLOW_DEADLINE, || async {
        (l2_value(&env.store, "other:1").await != Some(json!({"o": 1}))).then_some(())
    })
    .await;

    let (app, token) = (&env.app, env.token());
    for body in [json!({"key": "batch:1", "pattern": "batch:*"}), json!({}), json!({"priority": 3})] {
        let response = app.enqueue_job(token, "eviction", &body).await;
        let problem = assert_problem(response, StatusCode::BAD_REQUEST, "validation_failed").await;
        assert!(
            error_fields(&problem).iter().any(|field| field == "key" || field == "pattern"),
            "the error names key or pattern: {problem}"
        );
    }
    assert_invalid(app.enqueue_job(token, "eviction", &json!({"pattern": "batch:["})).await, "pattern").await;
}

// ---------------------------------------------------------------------------------------------
// F11: routing
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_are_routed_by_priority_local_load_type_and_redis_availability() {
    // F11, docs/jobs.md#routing and docs/jobs.md#priority (local order: priority, then enqueue time)
    let mut env = JobEnv::start(&[("JOB_LOCAL_WORKERS", "0")]).await;

    let mut local = Vec::new();
    for i in 0..6 {
        let body = env.enqueue("warmup", json!({"key": format!("route:{i}"), "data": i, "priority": 5})).await;
        let (id, queue) = assert_accepted(&body, "Warmup job enqueued successfully");
        assert_eq!(queue, "local", "job {i}: the local queue holds {i} ≤ 5 waiting jobs (rule 5): {body}");
        local.push(id);
    }
    let inspection = env.inspect(&[]).await;
    assert_eq!(inspection["queue_sizes"]["local"], 6, "{inspection}");
    assert_eq!(listed_ids(&inspection, "local"), local, "the local list in enqueue order: {inspection}");

    let body = env.enqueue("warmup", json!({"key": "route:redis", "data": "r", "priority": 5})).await;
    let (_, queue) = assert_accepted(&body, "Warmup job enqueued successfully");
    assert_eq!(queue, "redis", "more than JOB_LOCAL_THRESHOLD jobs wait locally (rule 4): {body}");
    await_l2_value(&env.store, "route:redis", &json!("r"), EFFECT_DEADLINE).await;

    let body = env.enqueue("warmup", json!({"key": "route:urgent", "data": "u", "priority": 1})).await;
    let (urgent, queue) = assert_accepted(&body, "Warmup job enqueued successfully");
    assert_eq!(queue, "local", "priority 1 stays local (rule 3): {body}");
    let inspection = env.inspect(&[]).await;
    let ids = listed_ids(&inspection, "local");
    assert_eq!(ids.first(), Some(&urgent), "the priority-1 job runs first locally: {inspection}");
    assert_eq!(ids[1..], local[..], "then the others in enqueue order: {inspection}");

    let in_ten_minutes = timestamp_text(seconds_from_now(600));
    let body = env.enqueue("scheduled", json!({"key": "route:sched", "data": 1, "process_at": in_ten_minutes})).await;
    assert_eq!(assert_accepted(&body, "Scheduled job enqueued successfully").1, "redis", "{body}");

    // Redis stopped: everything stays local (rule 1, or the local retry of a failed Redis enqueue).
    env.redis.stop();
    let body = env.enqueue("warmup", json!({"key": "route:down", "data": 1, "priority": 5})).await;
    let (down, queue) = assert_accepted(&body, "Warmup job enqueued successfully");
    assert_eq!(queue, "local", "{body}");
    let body = env.enqueue("scheduled", json!({"key": "route:down2", "data": 1, "process_at": in_ten_minutes})).await;
    assert_eq!(assert_accepted(&body, "Scheduled job enqueued successfully").1, "local", "{body}");

    let inspection = eventually("Redis to be seen as unavailable", SLOW_DEADLINE, || async {
        let inspection = env.inspect(&[("limit", "200")]).await;
        (inspection["redis_available"] == false).then_some(inspection)
    })
    .await;
    for list in ["ready", "delayed", "processing"] {
        assert_eq!(listed(&inspection, list), &Vec::<Value>::new(), "{list} is [] without Redis: {inspection}");
    }
    assert!(listed_ids(&inspection, "local").contains(&down), "{inspection}");
    let health = json_body(env.app.cache_health(env.token()).await, StatusCode::OK).await;
    assert_eq!(health["status"], "degraded", "Redis is configured but down: {health}");
}

// ---------------------------------------------------------------------------------------------
// F12: ready order and execution order
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ready_jobs_run_most_urgent_first() {
    // F12, docs/jobs.md#priority, docs/jobs.md#redis-structures (ready score)
    let env = JobEnv::start(&[("JOB_DISTRIBUTED_WORKERS", "0")]).await;
    let past = timestamp_text(seconds_from_now(-60));
    let keys = [(5, "order:p05"), (1, "order:p01"), (10, "order:p10"), (3, "order:p03")];
    let mut ids = Vec::new();
    for (priority, key) in keys {
        let body = env
            .enqueue(
                "scheduled",
                json!({"key": key, "data": {"priority": priority}, "process_at": past, "priority": priority}),
            )
            .await;
        let (id, queue) = assert_accepted(&body, "Scheduled job enqueued successfully");
        assert_eq!(queue, "redis", "{body}");
        ids.push(id);
    }
    let ready = scored_members(&env.store, READY).await;
    let priorities: Vec<i64> = ready.iter().map(|(job, _)| job["priority"].as_i64().unwrap_or_default()).collect();
    assert_eq!(priorities, [1, 3, 5, 10], "cache_jobs by score: {ready:?}");
    let now_ms = Utc::now().timestamp_millis();
    for (job, score) in &ready {
        assert!(ids.contains(&id_of(job, "id")), "only the scenario's jobs are ready: {job}");
        let priority = job["priority"].as_i64().unwrap_or_default();
        assert_eq!(score / PRIORITY_FACTOR, priority, "score = priority × 10^13 + ready_at_ms: {score}");
        let ready_at = score % PRIORITY_FACTOR;
        assert!((now_ms - ready_at).abs() < 3_600_000, "ready_at_ms is a unix time in ms: {score}");
    }
    for id in &ids {
        assert!(scored_member(&env.store, DELAYED, id).await.is_none(), "a past process_at is not delayed");
    }
    let inspection = env.inspect(&[]).await;
    assert_eq!(listed_priorities(&inspection, "ready"), [1, 3, 5, 10], "{inspection}");
    assert_eq!(inspection["queue_sizes"]["redis_immediate"], 4, "{inspection}");

    // One distributed worker, nothing local: the writes happen in the order of the claims.
    let events = KeyspaceEvents::subscribe(&env.redis, &env.store, "order:*").await;
    let JobEnv { app, redis, store, admin } = env;
    let restarted = settings(&redis, &[("JOB_DISTRIBUTED_WORKERS", "1"), ("JOB_LOCAL_WORKERS", "0")]);
    let app = app.restart(&env_pairs(&restarted)).await;
    for (priority, key) in keys {
        await_l2_value(&store, key, &json!({"priority": priority}), SLOW_DEADLINE).await;
    }
    let written = events.first_written(&keys.map(|(_, key)| key));
    assert_eq!(written, ["order:p01", "order:p03", "order:p05", "order:p10"], "execution order");
    assert!(scored_members(&store, READY).await.is_empty(), "cache_jobs is drained");
    let inspection = app.cache_jobs_body(admin.token(), &[]).await;
    assert_eq!(inspection["queue_sizes"]["redis_immediate"], 0, "{inspection}");
}

// ---------------------------------------------------------------------------------------------
// F13: retries and the DLQ
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_of_unknown_type_is_retried_with_backoff_then_dead_lettered() {
    // F13, docs/jobs.md#local-queue-retries-and-dead-letters (linear backoff, unknown job type), docs/jobs.md#redis-structures (delayed score, DLQ list)
    let env = JobEnv::start(&[]).await;
    let id = Uuid::new_v4().to_string();
    let pushed = Utc::now();
    let job = job_document(Uuid::parse_str(&id).expect("a uuid"), "bogus", json!({"key": "bogus:key"}), 5, pushed);
    zadd(&env.store, READY, ready_score(5, pushed), &job).await;

    // Record the retries as they pass through the delayed set, until the job is dead-lettered.
    let mut retries: Vec<(Value, i64)> = Vec::new();
    let give_up = tokio::time::Instant::now() + SLOW_DEADLINE;
    let dead = loop {
        if let Some((job, score)) = scored_member(&env.store, DELAYED, &id).await
            && !retries.iter().any(|(seen, _)| seen["attempts"] == job["attempts"])
        {
            retries.push((job, score));
        }
        if let Some(dead) = dlq_entries(&env.store).await.into_iter().find(|job| job["id"] == id.as_str()) {
            break dead;
        }
        assert!(tokio::time::Instant::now() < give_up, "job {id} did not reach {DLQ}; retries seen: {retries:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };

    assert_eq!(dead["type"], "bogus", "{dead}");
    assert_eq!(dead["attempts"], 3, "{dead}");
    assert_eq!(dead["max_tries"], 3, "{dead}");
    assert_eq!(dead["last_error"], "unknown job type bogus", "{dead}");
    assert_recent(&dead["failed_at"]);
    assert!(scored_member(&env.store, READY, &id).await.is_none(), "the dead job left cache_jobs");
    assert!(scored_member(&env.store, DELAYED, &id).await.is_none(), "the dead job left cache_jobs_delayed");
    assert!(scored_member(&env.store, PROCESSING, &id).await.is_none(), "the dead job left cache_jobs_processing");

    let attempts: Vec<Value> = retries.iter().map(|(job, _)| job["attempts"].clone()).collect();
    assert_eq!(attempts, [json!(1), json!(2)], "two retries pass through the delayed set: {retries:?}");
    let mut due = Vec::new();
    for (job, score) in &retries {
        assert_eq!(job["last_error"], "unknown job type bogus", "{job}");
        let process_at = parse_timestamp(&job["process_at"]);
        assert_eq!(*score, process_at.timestamp_millis(), "a delayed score is process_at in ms: {job}");
        due.push(process_at);
    }
    // Lower bounds only: retry n is due `n × JOB_RETRY_BACKOFF` after the failure, which happens
    // after the job was pushed (retry 1) and after retry 1 was due (retry 2).
    let slack = chrono::Duration::milliseconds(1);
    assert!(due[0] >= pushed + chrono::Duration::seconds(1) - slack, "retry 1 is due ≥ 1 s after the push: {due:?}");
    assert!(due[1] >= due[0] + chrono::Duration::seconds(2) - slack, "retry 2 is due ≥ 2 s after retry 1: {due:?}");

    let inspection = env.inspect(&[]).await;
    assert!(inspection["queue_sizes"]["redis_dead_letter"].as_u64().is_some_and(|n| n >= 1), "{inspection}");
}

// ---------------------------------------------------------------------------------------------
// F14: the DLQ endpoints
// ---------------------------------------------------------------------------------------------

/// A dead-lettered job of the unknown type `bogus`, failed `failed_ago` ago.
fn dead_job(id: Uuid, failed_ago: chrono::Duration) -> Value {
    let failed_at = Utc::now() - failed_ago;
    let job = job_document(id, "bogus", json!({"key": "bogus:key"}), 5, failed_at);
    let job = with_member(job, "attempts", json!(3));
    let job = with_member(job, "last_error", json!("unknown job type bogus"));
    with_member(job, "failed_at", json!(timestamp_text(failed_at)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dead_letter_queue_can_be_listed_retried_and_purged() {
    // F14, docs/jobs.md#endpoints (DLQ endpoints), docs/jobs.md#local-queue-retries-and-dead-letters
    let env = JobEnv::start(&[("JOB_RETRY_BACKOFF", "100ms")]).await;
    let (app, token) = (&env.app, env.token());
    let (first, second) = (Uuid::new_v4(), Uuid::new_v4());
    let old = chrono::Duration::hours(1);
    for job in [dead_job(first, old), dead_job(second, old)] {
        let _: i64 = env.store.cmd(&["LPUSH", DLQ, &job.to_string()]).await;
    }

    // Newest first, paginated by limit and offset.
    let listed = app.dlq_body(token, &[]).await;
    assert_eq!(listed["total"], 2, "{listed}");
    let ids: Vec<String> = listed["jobs"].as_array().expect("jobs").iter().map(|job| id_of(job, "id")).collect();
    assert_eq!(ids, [second.to_string(), first.to_string()], "newest first: {listed}");
    for job in listed["jobs"].as_array().expect("jobs") {
        assert_job_document(job);
        assert_eq!(job["last_error"], "unknown job type bogus", "{job}");
        parse_timestamp(&job["failed_at"]);
    }
    let page = app.dlq_body(token, &[("limit", "1")]).await;
    assert_eq!((page["total"].clone(), page["jobs"].as_array().map(Vec::len)), (json!(2), Some(1)), "{page}");
    let page = app.dlq_body(token, &[("limit", "1"), ("offset", "1")]).await;
    assert_eq!(page["jobs"][0]["id"], first.to_string(), "{page}");
    let page = app.dlq_body(token, &[("offset", "2")]).await;
    assert_eq!((page["total"].clone(), page["jobs"].clone()), (json!(2), json!([])), "{page}");

    // Purge one by id; an unknown id purges nothing.
    let purged = json_body(app.dlq_purge(token, &[("job_id", &second.to_string())]).await, StatusCode::OK).await;
    assert_eq!(purged, json!({"status": "success", "purged": 1}));
    let unknown = Uuid::new_v4().to_string();
    let purged = json_body(app.dlq_purge(token, &[("job_id", &unknown)]).await, StatusCode::OK).await;
    assert_eq!(purged, json!({"status": "success", "purged": 0}));
    assert_eq!(app.dlq_body(token, &[]).await["total"], 1);

    // Retry: the known job is re-enqueued with attempts reset, fails three more times and ends in
    // the DLQ again.
    let retried = json_body(
        app.dlq_retry(token, &json!({"job_ids": [first.to_string(), unknown.clone()]})).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(retried, json!({"status": "success", "retried": 1, "not_found": [unknown]}));
    let again = eventually("the retried job back in the DLQ", SLOW_DEADLINE, || async {
        let listed = app.dlq_body(token, &[]).await;
        let job = listed["jobs"].as_array().and_then(|jobs| jobs.first()).cloned()?;
        let failed_again = job["id"] == first.to_string()
            && job["failed_at"].is_string()
            && parse_timestamp(&job["failed_at"]) > Utc::now() - chrono::Duration::minutes(5);
        (listed["total"] == 1 && failed_again).then_some(job)
    })
    .await;
    assert_eq!(again["attempts"], 3, "attempts restarted from 0: {again}");
    assert_eq!(again["last_error"], "unknown job type bogus", "{again}");

    // Purge everything.
    let purged = json_body(app.dlq_purge(token, &[("all", "true")]).await, StatusCode::OK).await;
    assert_eq!(purged["status"], "success", "{purged}");
    assert!(purged["purged"].as_u64().is_some_and(|n| n >= 1), "{purged}");
    let listed = app.dlq_body(token, &[]).await;
    assert_eq!((listed["total"].clone(), listed["jobs"].clone()), (json!(0), json!([])), "{listed}");
    assert!(dlq_entries(&env.store).await.is_empty(), "{DLQ} is empty");

    // `{"all":true}` retries every dead job.
    for id in [Uuid::new_v4(), Uuid::new_v4()] {
        let _: i64 = env.store.cmd(&["LPUSH", DLQ, &dead_job(id, old).to_string()]).await;
    }
    let retried = json_body(app.dlq_retry(token, &json!({"all": true})).await, StatusCode::OK).await;
    assert_eq!(retried, json!({"status": "success", "retried": 2, "not_found": []}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dlq_requests_with_bad_input_answer_400() {
    // F14 (bad input), docs/jobs.md#endpoints, docs/http-contract.md#times-identifiers-and-durations (a malformed UUID in a query or body is validation_failed)
    let env = JobEnv::start(&[]).await;
    let (app, token) = (&env.app, env.token());
    let id = Uuid::new_v4().to_string();

    // The field may be named `job_ids` or point at the element (`job_ids[0]`).
    let problem = assert_problem(
        app.dlq_retry(token, &json!({"job_ids": [id, "not-a-uuid"]})).await,
        StatusCode::BAD_REQUEST,
        "validation_failed",
    )
    .await;
    assert!(error_fields(&problem).iter().any(|field| field.starts_with("job_ids")), "{problem}");
    for body in [json!({}), json!({"job_ids": [id], "all": true})] {
        let response = app.dlq_retry(token, &body).await;
        let problem = assert_problem(response, StatusCode::BAD_REQUEST, "validation_failed").await;
        assert!(!error_fields(&problem).is_empty(), "errors name the members: {problem}");
    }
    assert_bad_request(app.dlq_retry(token, &json!({"job_ids": id})).await, "job_ids").await;

    assert_invalid(app.dlq_purge(token, &[("job_id", "not-a-uuid")]).await, "job_id").await;
    for query in [&[][..], &[("job_id", id.as_str()), ("all", "true")][..]] {
        assert_problem(app.dlq_purge(token, query).await, StatusCode::BAD_REQUEST, "validation_failed").await;
    }

    for (name, value) in [("limit", "0"), ("limit", "501"), ("limit", "abc"), ("offset", "-1"), ("offset", "x")] {
        assert_invalid(app.dlq(token, &[(name, value)]).await, name).await;
    }
    json_body(app.dlq(token, &[("limit", "500"), ("offset", "0")]).await, StatusCode::OK).await;
}

// ---------------------------------------------------------------------------------------------
// F15: expired leases are reaped
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_whose_lease_expired_is_reaped_and_executed() {
    // F15, docs/jobs.md#redis-structures (reap)
    let env = JobEnv::start(&[]).await;
    let id = Uuid::new_v4();
    let expired = whole_millis(Utc::now() - chrono::Duration::seconds(5));
    let job = warmup_document(id, "reaped:key", json!({"reaped": true}), 5, Utc::now() - chrono::Duration::minutes(1));
    let job = with_member(job, "attempts", json!(1));
    let job = with_member(job, "worker_id", json!("a-worker-that-died"));
    let job = with_member(job, "lease_expires_at", json!(timestamp_text(expired)));
    zadd(&env.store, PROCESSING, expired.timestamp_millis(), &job).await;

    let id = id.to_string();
    eventually("the reaped job to run and leave processing", REAP_DEADLINE, || async {
        let written = l2_value(&env.store, "reaped:key").await == Some(json!({"reaped": true}));
        let gone = scored_member(&env.store, PROCESSING, &id).await.is_none();
        (written && gone).then_some(())
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// F16: queue inspection
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_queue_inspection_lists_each_queue_in_execution_order() {
    // F16, docs/jobs.md#endpoints (GET /cache/jobs)
    let env = JobEnv::start(&[("JOB_DISTRIBUTED_WORKERS", "0"), ("JOB_LOCAL_WORKERS", "0")]).await;
    let now = Utc::now();

    let low = env.enqueue("warmup", json!({"key": "inspect:low", "data": 1, "priority": 5})).await;
    let urgent = env.enqueue("warmup", json!({"key": "inspect:urgent", "data": 1, "priority": 1})).await;
    for body in [&low, &urgent] {
        assert_eq!(assert_accepted(body, "Warmup job enqueued successfully").1, "local", "{body}");
    }
    for priority in [7, 2, 9] {
        let job = warmup_document(Uuid::new_v4(), &format!("inspect:ready{priority}"), json!(1), priority, now);
        zadd(&env.store, READY, ready_score(priority, now), &job).await;
    }
    let mut delayed_due = Vec::new();
    for minutes in [70, 62, 66, 61, 68, 64, 63] {
        let due = whole_millis(now + chrono::Duration::minutes(minutes));
        let job = warmup_document(Uuid::new_v4(), &format!("inspect:later{minutes}"), json!(1), 5, due);
        zadd(&env.store, DELAYED, due.timestamp_millis(), &job).await;
        delayed_due.push(due);
    }
    delayed_due.sort();
    let lease = whole_millis(now + chrono::Duration::hours(1));
    let claimed = warmup_document(Uuid::new_v4(), "inspect:claimed", json!(1), 5, now);
    let claimed = with_member(claimed, "attempts", json!(1));
    let claimed = with_member(claimed, "worker_id", json!("worker-under-test"));
    let claimed = with_member(claimed, "lease_expires_at", json!(timestamp_text(lease)));
    zadd(&env.store, PROCESSING, lease.timestamp_millis(), &claimed).await;

    let body = env.inspect(&[("limit", "5")]).await;
    assert_eq!(body["redis_available"], true, "{body}");
    assert_eq!(
        body["queue_sizes"],
        json!({"local": 2, "redis_immediate": 3, "redis_delayed": 7, "redis_processing": 1, "redis_dead_letter": 0}),
        "{body}"
    );
    assert_eq!(listed_ids(&body, "local"), [id_of(&urgent, "job_id"), id_of(&low, "job_id")], "{body}");
    assert_eq!(listed_priorities(&body, "ready"), [2, 7, 9], "{body}");
    let delayed: Vec<DateTime<Utc>> =
        listed(&body, "delayed").iter().map(|job| parse_timestamp(&job["process_at"])).collect();
    assert_eq!(delayed, delayed_due[..5], "the first 5 delayed jobs, soonest first: {body}");
    let processing = listed(&body, "processing");
    assert_eq!(processing.len(), 1, "{body}");
    assert_eq!(processing[0]["worker_id"], "worker-under-test", "{body}");
    assert_eq!(parse_timestamp(&processing[0]["lease_expires_at"]), lease, "{body}");
    for list in ["local", "ready", "delayed", "processing"] {
        listed(&body, list).iter().for_each(assert_job_document);
    }

    let body = env.inspect(&[]).await;
    assert_eq!(listed(&body, "delayed").len(), 7, "the default limit is 20: {body}");
    let body = env.inspect(&[("limit", "1")]).await;
    assert_eq!(listed(&body, "delayed").len(), 1, "{body}");
    env.inspect(&[("limit", "200")]).await;
    for limit in ["0", "201", "abc", "-1", ""] {
        assert_invalid(env.app.cache_jobs(env.token(), &[("limit", limit)]).await, "limit").await;
    }
}

// ---------------------------------------------------------------------------------------------
// Without Redis
// ---------------------------------------------------------------------------------------------

sqlite_only!(without_redis_every_job_runs_locally, overrides = &[("CACHE_WARM_INTERVAL", "0")], |app| async move {
    // docs/cache.md#administration-endpoints (redis `disabled`, status stays healthy), docs/jobs.md#routing rule 1, docs/jobs.md#endpoints (Redis lists []),
    // docs/cache.md#stats (the redis_* queue sizes are null), docs/jobs.md#local-queue-retries-and-dead-letters (the local DLQ)
    let admin = app.sign_in_admin().await;
    let token = admin.token();
    let health = json_body(app.cache_health(token).await, StatusCode::OK).await;
    assert_eq!((health["status"].clone(), health["redis"].clone()), (json!("healthy"), json!("disabled")), "{health}");

    let in_ten_minutes = timestamp_text(seconds_from_now(600));
    let past = timestamp_text(seconds_from_now(-600));
    for (kind, body, message) in [
        ("warmup", json!({"key": "local:1", "data": 1, "priority": 5}), "Warmup job enqueued successfully"),
        (
            "scheduled",
            json!({"key": "local:2", "data": 1, "process_at": in_ten_minutes}),
            "Scheduled job enqueued successfully",
        ),
        ("scheduled", json!({"key": "local:3", "data": 1, "process_at": past}), "Scheduled job enqueued successfully"),
    ] {
        let accepted = app.enqueued_job(token, kind, &body).await;
        assert_eq!(assert_accepted(&accepted, message).1, "local", "{accepted}");
    }
    let inspection = app.cache_jobs_body(token, &[]).await;
    assert_eq!(inspection["redis_available"], false, "{inspection}");
    for list in ["ready", "delayed", "processing"] {
        assert_eq!(inspection[list], json!([]), "{list}: {inspection}");
    }
    assert!(inspection["local"].is_array(), "{inspection}");
    for size in ["redis_immediate", "redis_delayed", "redis_processing", "redis_dead_letter"] {
        assert!(inspection["queue_sizes"].get(size).is_some_and(Value::is_null), "{size} is null: {inspection}");
    }
    eventually("the local workers to run the jobs", SLOW_DEADLINE, || async {
        let stats = app.cache_stats_body(token).await;
        stats["cache_warming"]["local_worker_stats"]["jobs_processed"].as_u64().is_some_and(|n| n >= 2).then_some(())
    })
    .await;
    let dlq = app.dlq_body(token, &[]).await;
    assert_eq!((dlq["total"].clone(), dlq["jobs"].clone()), (json!(0), json!([])), "{dlq}");
});

// ---------------------------------------------------------------------------------------------
// Admin only, and H6
// ---------------------------------------------------------------------------------------------

/// Every job endpoint, called with `token` and a body that would be valid for an admin.
async fn job_endpoint_answers(app: &TestApp, token: &str) -> Vec<(String, Response)> {
    let mut answers = Vec::new();
    let in_an_hour = timestamp_text(seconds_from_now(3600));
    for (kind, body) in [
        ("warmup", json!({"key": "k:1", "data": 1})),
        ("batch", json!({"keys": ["k:1"], "data": 1})),
        ("scheduled", json!({"key": "k:1", "data": 1, "process_at": in_an_hour})),
        ("validation", json!({"key": "k:1", "expected_data": 1})),
        ("eviction", json!({"key": "k:1"})),
    ] {
        answers.push((format!("POST {kind}"), app.enqueue_job(token, kind, &body).await));
    }
    answers.push(("GET /cache/jobs".to_owned(), app.cache_jobs(token, &[]).await));
    answers.push(("GET /dlq".to_owned(), app.dlq(token, &[]).await));
    answers.push(("POST /dlq/retry".to_owned(), app.dlq_retry(token, &json!({"all": true})).await));
    answers.push(("DELETE /dlq".to_owned(), app.dlq_purge(token, &[("all", "true")]).await));
    answers
}

both_backends!(job_endpoints_are_for_administrators_only, |app| async move {
    // docs/jobs.md#endpoints (perm system:admin → 403 insufficient_role), docs/http-contract.md#order-of-checks (the permission pre-check comes
    // before input validation)
    let alice = app.new_account("alice", Some("Engineering")).await;
    for (endpoint, response) in job_endpoint_answers(&app, alice.token()).await {
        let problem = assert_problem(response, StatusCode::FORBIDDEN, "insufficient_role").await;
        assert_eq!(problem["message"], ADMIN_REQUIRED, "{endpoint}");
    }
    let invalid = json!({"key": "task:1", "ttl": "abc", "priority": 99});
    assert_admin_only(app.enqueue_job(alice.token(), "warmup", &invalid).await).await;
    assert_admin_only(app.dlq(alice.token(), &[("limit", "0")]).await).await;
    let problem = assert_problem(
        app.post_json("/api/v1/cache/jobs/warmup", &json!({"key": "k:1"})).await,
        StatusCode::UNAUTHORIZED,
        "missing_token",
    )
    .await;
    assert_eq!(problem["message"], "Authorization header is required");
});

both_backends!(a_forged_admin_token_gets_no_cache_administration, |app| async move {
    // H6 (the GET /cache/stats half; security.rs covers GET /users): the principal comes from the
    // database, not from the token's claims.
    let alice = app.new_account("alice", Some("Engineering")).await;
    let claims = with_changes(
        &valid_claims(&alice.id),
        &json!({"role": "admin", "roles": ["admin"], "permissions": ADMIN_PERMISSIONS}),
    );
    let token = sign_valid(&claims);
    // The baseline: the forged token itself is accepted, so the 403s below come from the roles.
    json_body(app.profile(&token).await, StatusCode::OK).await;

    assert_admin_only(app.cache_stats(&token).await).await;
    assert_admin_only(app.cache_health(&token).await).await;
    for (endpoint, response) in job_endpoint_answers(&app, &token).await {
        let problem = assert_problem(response, StatusCode::FORBIDDEN, "insufficient_role").await;
        assert_eq!(problem["message"], ADMIN_REQUIRED, "{endpoint}");
    }
});
