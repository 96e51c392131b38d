//! F15, F16: reaped leases and queue inspection; the endpoints without Redis; admin only (H6).

use super::*;

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
