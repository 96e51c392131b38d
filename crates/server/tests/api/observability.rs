//! docs/operations.md#metrics (issue 6, acceptance 3): after a scripted burst of traffic that touches every area
//! (authentication successes, failures and a lockout; refresh, refresh reuse and logout; task
//! CRUD and lists; administration; the cache endpoints and the job endpoints; rate-limited
//! requests; a 404 and a 405), the `/metrics` text
//! (a) passes `promtool check metrics` with exit status 0, and
//! (b) names every metric of the docs/operations.md#metrics table, the `cache_jobs_*` family of the job system included.
//!
//! promtool exits 1 when the text does not parse and 3 when it parses but fails its lint (a
//! counter without `_total`, a metric without HELP text, a non-base unit, …). Every name the design
//! mandates passes promtool's naming lints, so any message is the exporter's doing: all of them
//! count as errors, and only exit status 0 passes.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;
use crate::redis::WithRedis;

/// Every metric name of the docs/operations.md#metrics table.
const SPEC_METRICS: [&str; 38] = [
    "http_requests_total",
    "http_request_duration_seconds",
    "http_requests_in_flight",
    "cache_operations_total",
    "cache_hits_total",
    "cache_misses_total",
    "cache_l1_entries",
    "cache_invalidations_published_total",
    "cache_invalidations_received_total",
    "cache_pending_invalidations",
    "circuit_breaker_state",
    "circuit_breaker_transitions_total",
    "redis_up",
    "cache_jobs_enqueued_total",
    "cache_jobs_processed_total",
    "cache_jobs_failed_total",
    "cache_jobs_retried_total",
    "cache_jobs_dead_lettered_total",
    "cache_jobs_lease_expired_total",
    "cache_jobs_queue_size",
    "cache_job_duration_seconds",
    "rate_limit_decisions_total",
    "rate_limit_fallback_active",
    "db_pool_connections",
    "db_pool_max_connections",
    "db_pool_acquire_duration_seconds",
    "db_errors_total",
    "authz_decisions_total",
    "authz_evaluation_duration_seconds",
    "audit_queue_depth",
    "audit_rows_written_total",
    "audit_write_errors_total",
    "auth_logins_total",
    "auth_token_refresh_total",
    "auth_logouts_total",
    "auth_lockouts_total",
    "taskify_build_info",
    "taskify_uptime_seconds",
];

/// Rate limits on (with room for the script), a 3-failure lockout, and no refresh grace so that a
/// reuse is detected.
const BURST_SETTINGS: &[(&str, &str)] = &[
    ("RATE_LIMIT_ENABLED", "true"),
    ("RATE_LIMIT_RPM", "120"),
    ("RATE_LIMIT_BURST", "60"),
    ("RATE_LIMIT_AUTH_RPM", "6000"),
    ("RATE_LIMIT_AUTH_BURST", "500"),
    ("LOGIN_MAX_FAILURES", "3"),
    ("REFRESH_REUSE_GRACE", "0"),
];

async fn authed_json(app: &ApiClient, method: Method, path: &str, token: &str, body: &Value) -> reqwest::Response {
    send(app.authed(method, path, token).json(body)).await
}

async fn authed(app: &ApiClient, method: Method, path: &str, token: &str) -> reqwest::Response {
    send(app.authed(method, path, token)).await
}

/// Asserts a status without reading the body.
fn expect(response: &reqwest::Response, status: StatusCode) {
    assert_eq!(response.status(), status, "{} {}", response.url(), response.status());
}

/// The scripted burst. Every step asserts its own status, so a broken step is caught here rather
/// than showing up as a missing metric.
async fn burst(env: &WithRedis) {
    let app = &env.app;
    let redis = env.redis_client().await;
    let fixtures = app.fixtures().await;
    let admin = fixtures.admin.clone();

    // Authentication: failures, a lockout, refresh (success, reuse, invalid, disabled), logout.
    assert_problem(
        app.login(&fixtures.alice.email, "Wrong@Password1").await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;
    assert_problem(
        app.login("nobody@example.com", "Wrong@Password1").await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;
    app.register_user("eve", Some("Sales")).await;
    for _ in 0..3 {
        expect(&app.login(&email_of("eve"), "Wrong@Password1").await, StatusCode::UNAUTHORIZED);
    }
    assert_problem(app.login(&email_of("eve"), USER_PASSWORD).await, StatusCode::TOO_MANY_REQUESTS, "rate_limited")
        .await;

    let rotated = json_body(app.refresh(&fixtures.alice.refresh_token).await, StatusCode::OK).await;
    assert!(rotated["refresh_token"].is_string(), "{rotated}");
    assert_problem(app.refresh(&fixtures.alice.refresh_token).await, StatusCode::UNAUTHORIZED, "invalid_token").await;
    assert_problem(app.refresh("not-a-refresh-token").await, StatusCode::UNAUTHORIZED, "invalid_token").await;
    json_body(app.patch_user(admin.token(), &fixtures.carol.id, &json!({"is_active": false})).await, StatusCode::OK)
        .await;
    assert_problem(app.login(&fixtures.carol.email, USER_PASSWORD).await, StatusCode::FORBIDDEN, "account_disabled")
        .await;
    assert_problem(app.refresh(&fixtures.carol.refresh_token).await, StatusCode::FORBIDDEN, "account_disabled").await;
    assert_problem(app.list_tasks(fixtures.carol.token(), &[]).await, StatusCode::FORBIDDEN, "account_disabled").await;
    json_body(app.patch_user(admin.token(), &fixtures.carol.id, &json!({"is_active": true})).await, StatusCode::OK)
        .await;
    json_body(app.logout(&fixtures.bob.refresh_token, Some(fixtures.bob.token())).await, StatusCode::OK).await;
    assert_problem(app.list_tasks(fixtures.bob.token(), &[]).await, StatusCode::UNAUTHORIZED, "invalid_token").await;
    assert_problem(app.list_tasks("garbage", &[]).await, StatusCode::UNAUTHORIZED, "invalid_token").await;

    // The reuse revoked alice's session: she logs in again.
    let alice = app.sign_in(&fixtures.alice.email, USER_PASSWORD).await;
    let mike = fixtures.mike.clone();

    // Tasks: CRUD, conditional requests, idempotency, lists.
    let created = send(
        app.authed(Method::POST, "/api/v1/tasks", alice.token())
            .header("idempotency-key", "burst-1")
            .json(&json!({"title": "Burst", "priority": "high"})),
    )
    .await;
    let task = json_body(created, StatusCode::CREATED).await;
    let id = string_at(&task, "/id");
    let replayed = send(
        app.authed(Method::POST, "/api/v1/tasks", alice.token())
            .header("idempotency-key", "burst-1")
            .json(&json!({"title": "Burst", "priority": "high"})),
    )
    .await;
    expect(&replayed, StatusCode::CREATED);
    json_body(app.get_task(alice.token(), &id).await, StatusCode::OK).await;
    let not_modified =
        send(app.authed(Method::GET, &format!("/api/v1/tasks/{id}"), alice.token()).header("if-none-match", "\"1\""))
            .await;
    expect(&not_modified, StatusCode::NOT_MODIFIED);
    json_body(app.update_task(alice.token(), &id, &json!({"status": "in_progress"})).await, StatusCode::OK).await;
    let stale = send(
        app.authed(Method::PUT, &format!("/api/v1/tasks/{id}"), alice.token())
            .header("if-match", "\"1\"")
            .json(&json!({"title": "stale"})),
    )
    .await;
    assert_problem(stale, StatusCode::PRECONDITION_FAILED, "precondition_failed").await;
    json_body(
        app.list_tasks(alice.token(), &[("status", "in_progress"), ("sortBy", "priority")]).await,
        StatusCode::OK,
    )
    .await;
    json_body(app.user_tasks(alice.token(), &alice.id, &[]).await, StatusCode::OK).await;
    assert_problem(
        app.list_tasks(alice.token(), &[("pageSize", "0")]).await,
        StatusCode::BAD_REQUEST,
        "validation_failed",
    )
    .await;
    json_body(app.get_task(mike.token(), &id).await, StatusCode::OK).await;
    json_body(app.list_tasks(mike.token(), &[]).await, StatusCode::OK).await;
    assert_problem(
        app.update_task(mike.token(), &id, &json!({"title": "no"})).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    let doomed = app.new_task_id(alice.token(), "Doomed").await;
    assert_no_body(app.delete_task(alice.token(), &doomed).await, StatusCode::NO_CONTENT).await;
    assert_problem(app.get_task(alice.token(), &doomed).await, StatusCode::NOT_FOUND, "not_found").await;

    // Administration.
    json_body(app.list_users(admin.token(), &[]).await, StatusCode::OK).await;
    json_body(app.roles(admin.token()).await, StatusCode::OK).await;
    json_body(app.audit_logs(admin.token(), &[]).await, StatusCode::OK).await;
    assert_problem(app.list_users(alice.token(), &[]).await, StatusCode::FORBIDDEN, "missing_permission").await;
    let dave = app.register_user("dave", Some("Engineering")).await;
    json_body(app.assign_role(admin.token(), &dave, &json!({"role": "manager"})).await, StatusCode::CREATED).await;
    json_body(app.revoke_role(admin.token(), &dave, "manager").await, StatusCode::OK).await;
    json_body(
        app.put_user_attribute(admin.token(), &dave, "location", &json!({"value": "EU"})).await,
        StatusCode::CREATED,
    )
    .await;
    json_body(app.get_user_attribute(admin.token(), &dave, "location").await, StatusCode::OK).await;
    assert_no_body(app.delete_user_attribute(admin.token(), &dave, "location").await, StatusCode::NO_CONTENT).await;
    json_body(
        app.put_task_attribute(admin.token(), &id, "required_clearance", &json!({"value": 2})).await,
        StatusCode::CREATED,
    )
    .await;
    json_body(app.list_task_attributes(admin.token(), &id).await, StatusCode::OK).await;
    assert_no_body(app.delete_task_attribute(admin.token(), &id, "required_clearance").await, StatusCode::NO_CONTENT)
        .await;
    json_body(app.delete_user(admin.token(), &dave).await, StatusCode::OK).await;

    // Cache administration, and an invalidation from another (simulated) instance.
    app.cache_stats_body(admin.token()).await;
    json_body(app.cache_warm(admin.token()).await, StatusCode::OK).await;
    json_body(app.cache_evict(admin.token(), &format!("task:{id}")).await, StatusCode::OK).await;
    json_body(app.cache_evict(admin.token(), "tasks_paginated:*").await, StatusCode::OK).await;
    json_body(app.cache_clear(admin.token()).await, StatusCode::OK).await;
    let message = json!({"origin": "another-instance", "keys": [format!("task:{id}")], "patterns": [], "all": false});
    let _: i64 = redis.cmd(&["PUBLISH", "taskify:cache:invalidate", &message.to_string()]).await;

    // The job system (docs/jobs.md#endpoints, docs/jobs.md): every job type, the inspection endpoints, a job of an
    // unknown type (it fails, is retried and dead-lettered) and an expired lease (reaped). Their
    // answers are not checked here: the job suite does that.
    let jobs = [
        ("/api/v1/cache/jobs/warmup", json!({"key": "burst:warm", "data": {"v": 1}, "priority": 1})),
        ("/api/v1/cache/jobs/warmup", json!({"key": "burst:warm5", "data": {"v": 5}})),
        ("/api/v1/cache/jobs/batch", json!({"keys": ["burst:b1", "burst:b2"], "data": {}})),
        (
            "/api/v1/cache/jobs/scheduled",
            json!({"key": "burst:later", "data": 1, "process_at": timestamp_text(seconds_from_now(1))}),
        ),
        ("/api/v1/cache/jobs/validation", json!({"key": "burst:val", "expected_data": {"v": 1}})),
        ("/api/v1/cache/jobs/eviction", json!({"pattern": "burst:b*"})),
    ];
    for (path, body) in &jobs {
        authed_json(app, Method::POST, path, admin.token(), body).await;
    }
    for path in ["/api/v1/cache/jobs", "/api/v1/cache/jobs/dlq"] {
        authed(app, Method::GET, path, admin.token()).await;
    }
    app.cache_health(admin.token()).await;
    let now_ms = chrono::Utc::now().timestamp_millis();
    let job = |kind: &str, key: &str| {
        json!({"id": uuid::Uuid::new_v4(), "type": kind, "payload": {"key": key, "data": {"x": 1}, "ttl": "15m0s"},
               "attempts": 0, "max_tries": 3, "priority": 5, "created_at": timestamp_text(chrono::Utc::now()),
               "process_at": timestamp_text(chrono::Utc::now()), "last_error": null})
    };
    let bogus = job("bogus", "burst:bogus").to_string();
    let _: i64 = redis.cmd(&["ZADD", "cache_jobs", &(5 * 10_i64.pow(13) + now_ms).to_string(), &bogus]).await;
    let mut leased = job("cache_warmup", "burst:leased");
    leased["attempts"] = json!(1);
    leased["worker_id"] = json!("a-worker-that-died");
    leased["lease_expires_at"] = json!(timestamp_text(chrono::Utc::now() - chrono::Duration::seconds(60)));
    let _: i64 =
        redis.cmd(&["ZADD", "cache_jobs_processing", &(now_ms - 60_000).to_string(), &leased.to_string()]).await;

    // Rate limits: one user until 429 (bounded).
    let frank = app.new_account("frank", None).await;
    let mut limited = false;
    for _ in 0..500 {
        let response = app.list_tasks(frank.token(), &[]).await;
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            assert_problem(response, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
            limited = true;
            break;
        }
        expect(&response, StatusCode::OK);
    }
    assert!(limited, "frank was rate limited within 500 requests");

    // A duplicate-registration race (H15): the losers may meet the unique constraint.
    let racer = registration("racer", None);
    let racers = (0..10).map(|_| app.register(&racer));
    let answers = futures::future::join_all(racers).await;
    assert_eq!(answers.iter().filter(|response| response.status() == StatusCode::CREATED).count(), 1);

    // Routing errors and the operational endpoints.
    assert_problem(app.get("/api/v1/nope").await, StatusCode::NOT_FOUND, "not_found").await;
    assert_problem(
        send(app.request(Method::PATCH, "/api/v1/tasks")).await,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    )
    .await;
    for path in ["/health", "/ready", "/live"] {
        expect(&app.get(path).await, StatusCode::OK);
    }
}

/// The metric names (with the histogram and summary suffixes removed) that have a sample.
fn exported_names(text: &str) -> std::collections::BTreeSet<String> {
    metric_samples(text)
        .into_iter()
        .flat_map(|sample| {
            let base = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|suffix| sample.name.strip_suffix(suffix))
                .map(str::to_owned);
            std::iter::once(sample.name).chain(base)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_after_a_burst_of_traffic_pass_promtool_and_cover_the_dashboard() {
    let promtool = find_promtool();
    let env = WithRedis::spawn(Backend::Sqlite, BURST_SETTINGS).await;
    burst(&env).await;
    let text = metrics_text(&env.app).await;

    let mut child = Command::new(&promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|error| panic!("cannot run {}: {error}", promtool.display()));
    child.stdin.take().expect("stdin is piped").write_all(text.as_bytes()).expect("promtool reads the metrics");
    let output = child.wait_with_output().expect("promtool finishes");
    assert!(
        output.status.success(),
        "`promtool check metrics` exited with {} (1: the text does not parse; 3: lint problems, which count as \
         errors):\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );

    // Issue acceptance: the shipped Grafana dashboard references only metrics that exist, i.e.
    // that this very exposition contains.
    let scrape = std::env::temp_dir().join(format!("taskify-metrics-{}.txt", uuid::Uuid::new_v4()));
    std::fs::write(&scrape, &text).expect("the scrape is written");
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let check = Command::new("python3")
        .arg(repo.join("scripts/check-dashboard.py"))
        .arg(repo.join("deploy/grafana/dashboards/taskify.json"))
        .arg("--metrics")
        .arg(&scrape)
        .output()
        .expect("python3 runs scripts/check-dashboard.py");
    let _ = std::fs::remove_file(&scrape);
    assert!(
        check.status.success(),
        "the dashboard names metrics that /metrics does not export:\n{}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );

    // docs/operations.md#metrics: the route label is the matched template or `unmatched`, never a raw path.
    for sample in metric_samples(&text).iter().filter(|sample| sample.name.starts_with("http_request")) {
        if let Some(route) = sample.labels.get("route") {
            let raw = route.split('/').any(|segment| uuid::Uuid::parse_str(segment).is_ok()) || route.contains("nope");
            assert!(!raw, "a raw path used as a route label: {sample:?}");
        }
    }
}

/// `promtool` on `PATH`; the test fails when it is missing (CI installs it).
fn find_promtool() -> std::path::PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path).map(|dir| dir.join("promtool")).find(|candidate| candidate.is_file()).unwrap_or_else(
        || {
            panic!(
                "promtool was not found on PATH: install it (Debian/Ubuntu: `apt-get install prometheus`, which ships \
             /usr/bin/promtool). CI installs it; this test needs it to lint the /metrics text."
            )
        },
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_after_a_burst_of_traffic_name_every_spec_metric_including_cache_jobs() {
    let env = WithRedis::spawn(Backend::Sqlite, BURST_SETTINGS).await;
    burst(&env).await;

    // The job metrics follow the jobs: a retry comes after 1 s and 2 s, a reap every 5 s (
    // docs/jobs.md#redis-structures, docs/jobs.md#local-queue-retries-and-dead-letters). Poll for them, and report what is still missing at the deadline.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let text = metrics_text(&env.app).await;
        let names = exported_names(&text);
        let missing: Vec<&str> = SPEC_METRICS.iter().copied().filter(|name| !names.contains(*name)).collect();
        if missing.is_empty() {
            let info = metric_value(&text, "taskify_build_info", &[("db_backend", "sqlite"), ("redis", "enabled")]);
            assert_eq!(info, Some(1.0), "taskify_build_info names the backend and Redis");
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} metrics of docs/operations.md#metrics are missing from /metrics after the burst: {missing:?}",
            missing.len()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
