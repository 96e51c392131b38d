//! F2–F8: cache health and warm-up, and each job type (warmup, batch, scheduled, validation,
//! eviction) with its request rules.

use super::*;

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
