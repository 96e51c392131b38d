//! F11–F14: routing, ready order, retries and the dead-letter queue with its endpoints.

use super::*;

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
