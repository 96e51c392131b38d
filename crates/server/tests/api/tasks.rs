//! docs/testing.md#c-tasks: task CRUD, conditional requests, listing, idempotency, department reads, clearance
//! and task attributes (C1–C21).

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::both_backends;
use crate::helpers::*;

const TEST_TASK: &str =
    r#"{"title":"Test Task","description":"Testing API via nginx","status":"pending","priority":"medium"}"#;

fn test_task() -> Value {
    serde_json::from_str(TEST_TASK).expect("the test task is JSON")
}

/// A request on `/api/v1/tasks/{id}` with one extra header.
async fn with_header(
    app: &TestApp,
    method: Method,
    token: &str,
    id: &str,
    name: &str,
    value: &str,
    body: Option<&Value>,
) -> reqwest::Response {
    let mut request = app.authed(method, &format!("/api/v1/tasks/{id}"), token).header(name, value);
    if let Some(body) = body {
        request = request.json(body);
    }
    send(request).await
}

fn etag(headers: &reqwest::header::HeaderMap) -> String {
    header(headers, "etag").expect("an ETag header")
}

both_backends!(creating_a_task_returns_it_with_location_and_etag, |app| async move {
    // C1
    let fixtures = app.fixtures().await;
    let (headers, task) =
        json_with_headers(app.create_task(fixtures.alice.token(), &test_task()).await, StatusCode::CREATED).await;
    let id = string_at(&task, "/id");
    Uuid::parse_str(&id).expect("the id is a UUID");
    assert_eq!(header(&headers, "location"), Some(format!("/api/v1/tasks/{id}")));
    assert_eq!(etag(&headers), r#""1""#);
    assert_eq!(header(&headers, "cache-control").as_deref(), Some("no-store"));
    assert_eq!(task["version"], 1);
    assert_eq!(task["title"], "Test Task");
    assert_eq!(task["description"], "Testing API via nginx");
    assert_eq!(task["status"], "pending");
    assert_eq!(task["priority"], "medium");
    assert!(task.get("due_date").is_some_and(Value::is_null), "due_date is null: {task}");
    assert_eq!(task["user_id"], fixtures.alice.id.as_str());
    assert_eq!(task["owner_username"], "alice");
    assert_eq!(task["created_at"], task["updated_at"]);
    assert_recent(&task["created_at"]);
});

both_backends!(optional_task_members_take_their_defaults, |app| async move {
    // C2
    let fixtures = app.fixtures().await;
    let task = app.new_task(fixtures.alice.token(), &json!({"title": "x"})).await;
    assert_eq!(task["status"], "pending");
    assert_eq!(task["priority"], "medium");
    assert_eq!(task["description"], "");
});

both_backends!(invalid_task_fields_are_all_reported, |app| async move {
    // C3
    let fixtures = app.fixtures().await;
    let body = json!({
        "title": "t".repeat(256),
        "status": "done",
        "priority": "critical",
        "due_date": "2025-13-01T00:00:00Z",
        "description": "d".repeat(10_001),
    });
    let problem = assert_problem(
        app.create_task(fixtures.alice.token(), &body).await,
        StatusCode::BAD_REQUEST,
        "validation_failed",
    )
    .await;
    assert_eq!(sorted(error_fields(&problem)), ["description", "due_date", "priority", "status", "title"]);

    let problem = assert_problem(
        app.create_task(fixtures.alice.token(), &json!({"title": "   "})).await,
        StatusCode::BAD_REQUEST,
        "validation_failed",
    )
    .await;
    assert_eq!(error_fields(&problem), ["title"]);
});

both_backends!(task_bodies_that_are_missing_or_mistyped_are_invalid_requests, |app| async move {
    // C4
    let fixtures = app.fixtures().await;
    let response = send(app.authed(Method::POST, "/api/v1/tasks", fixtures.alice.token())).await;
    assert_problem(response, StatusCode::BAD_REQUEST, "invalid_request").await;
    let problem = assert_problem(
        app.create_task(fixtures.alice.token(), &json!({"title": 5})).await,
        StatusCode::BAD_REQUEST,
        "invalid_request",
    )
    .await;
    assert_field_error(&problem, "title");
});

both_backends!(conditional_gets_answer_not_modified, |app| async move {
    // C5
    let fixtures = app.fixtures().await;
    let token = fixtures.alice.token();
    let id = app.new_task_id(token, "Test Task").await;

    let (headers, task) = json_with_headers(app.get_task(token, &id).await, StatusCode::OK).await;
    assert_eq!(etag(&headers), r#""1""#);
    assert_eq!(header(&headers, "cache-control").as_deref(), Some("private, no-cache"));
    assert_eq!(task["id"], id.as_str());

    for matching in [r#""1""#, r#"W/"1""#, r#""0", "1""#, "*"] {
        let response = with_header(&app, Method::GET, token, &id, "if-none-match", matching, None).await;
        let headers = assert_no_body(response, StatusCode::NOT_MODIFIED).await;
        assert_eq!(etag(&headers), r#""1""#, "If-None-Match: {matching}");
        assert!(header(&headers, "x-request-id").is_some(), "a 304 carries X-Request-Id");
    }
    let response = with_header(&app, Method::GET, token, &id, "if-none-match", r#""0""#, None).await;
    json_body(response, StatusCode::OK).await;
});

both_backends!(updates_bump_the_version_and_honour_if_match, |app| async move {
    let fixtures = app.fixtures().await;
    let token = fixtures.alice.token();
    let id = app.new_task_id(token, "Test Task").await;

    // C6
    let update = json!({"title": "Updated Test Task", "status": "in_progress"});
    let (headers, body) = json_with_headers(app.update_task(token, &id, &update).await, StatusCode::OK).await;
    assert_eq!(body["message"], "task updated successfully");
    let task = &body["task"];
    assert_eq!(task["version"], 2);
    assert_eq!(task["title"], "Updated Test Task");
    assert_eq!(task["status"], "in_progress");
    assert_eq!(etag(&headers), r#""2""#);
    assert!(parse_timestamp(&task["updated_at"]) > parse_timestamp(&task["created_at"]), "updated_at moves: {task}");

    // C7
    let stale = json!({"title": "Stale write"});
    let response = with_header(&app, Method::PUT, token, &id, "if-match", r#""1""#, Some(&stale)).await;
    let problem = assert_problem(response, StatusCode::PRECONDITION_FAILED, "precondition_failed").await;
    assert_eq!(problem["message"], "Resource version does not match If-Match");
    let unchanged = json_body(app.get_task(token, &id).await, StatusCode::OK).await;
    assert_eq!(&unchanged, task, "a failed precondition changes nothing");

    let response =
        with_header(&app, Method::PUT, token, &id, "if-match", r#""2""#, Some(&json!({"priority": "high"}))).await;
    let (headers, body) = json_with_headers(response, StatusCode::OK).await;
    assert_eq!(body["task"]["version"], 3);
    assert_eq!(etag(&headers), r#""3""#);

    let response =
        with_header(&app, Method::PUT, token, &id, "if-match", "not-an-etag", Some(&json!({"priority": "low"}))).await;
    assert_problem(response, StatusCode::BAD_REQUEST, "invalid_request").await;
});

both_backends!(null_clears_only_clearable_members_and_empty_updates_change_nothing, |app| async move {
    // C8
    let fixtures = app.fixtures().await;
    let token = fixtures.alice.token();
    let created = app
        .new_task(
            token,
            &json!({"title": "Clear me", "description": "some text", "due_date": "2030-01-01T10:00:00+02:00"}),
        )
        .await;
    assert_eq!(created["due_date"], "2030-01-01T08:00:00.000000Z", "input offsets are normalised to UTC");
    let id = string_at(&created, "/id");

    let body =
        json_body(app.update_task(token, &id, &json!({"description": null, "due_date": null})).await, StatusCode::OK)
            .await;
    assert_eq!(body["task"]["description"], "");
    assert!(body["task"]["due_date"].is_null(), "due_date cleared: {body}");
    assert_eq!(body["task"]["version"], 2);

    let problem = assert_problem(
        app.update_task(token, &id, &json!({"title": null})).await,
        StatusCode::BAD_REQUEST,
        "validation_failed",
    )
    .await;
    assert_field_error(&problem, "title");

    let before = json_body(app.get_task(token, &id).await, StatusCode::OK).await;
    let body = json_body(app.update_task(token, &id, &json!({})).await, StatusCode::OK).await;
    assert_eq!(body["task"]["version"], before["version"], "{{}} does not bump the version");
    assert_eq!(body["task"]["updated_at"], before["updated_at"], "{{}} does not touch updated_at");
});

both_backends!(deleted_tasks_are_gone_for_good, |app| async move {
    // C9
    let fixtures = app.fixtures().await;
    let token = fixtures.alice.token();
    let id = app.new_task_id(token, "Delete me").await;
    json_body(app.update_task(token, &id, &json!({"status": "completed"})).await, StatusCode::OK).await;

    let response = with_header(&app, Method::DELETE, token, &id, "if-match", r#""1""#, None).await;
    assert_problem(response, StatusCode::PRECONDITION_FAILED, "precondition_failed").await;
    assert_no_body(app.delete_task(token, &id).await, StatusCode::NO_CONTENT).await;
    let problem = assert_problem(app.get_task(token, &id).await, StatusCode::NOT_FOUND, "not_found").await;
    assert_eq!(problem["message"], "Task not found");
    assert_problem(app.delete_task(token, &id).await, StatusCode::NOT_FOUND, "not_found").await;
    assert_problem(app.update_task(token, &id, &json!({"title": "again"})).await, StatusCode::NOT_FOUND, "not_found")
        .await;
});

both_backends!(malformed_task_ids_are_invalid_requests, |app| async move {
    // C10
    let fixtures = app.fixtures().await;
    let token = fixtures.alice.token();
    for response in [
        app.get_task(token, "not-a-uuid").await,
        app.update_task(token, "not-a-uuid", &json!({"title": "x"})).await,
        app.delete_task(token, "not-a-uuid").await,
    ] {
        let problem = assert_problem(response, StatusCode::BAD_REQUEST, "invalid_request").await;
        assert_eq!(problem["message"], "Invalid task ID format");
    }
});

/// Creates `count` tasks titled `<prefix> <n>` for the holder of `token` and returns their ids.
async fn create_tasks(app: &TestApp, token: &str, prefix: &str, count: usize) -> Vec<String> {
    let mut ids = Vec::with_capacity(count);
    for n in 1..=count {
        ids.push(app.new_task_id(token, &format!("{prefix} {n}")).await);
    }
    ids
}

both_backends!(users_list_only_their_own_tasks_with_pagination, |app| async move {
    let fixtures = app.fixtures().await;
    let token = fixtures.alice.token();
    let alice_tasks = create_tasks(&app, token, "Alice task", 3).await;
    create_tasks(&app, fixtures.bob.token(), "Bob task", 2).await;

    // C11
    let list = json_body(app.list_tasks(token, &[]).await, StatusCode::OK).await;
    assert_eq!((list["total"].as_u64(), list["page"].as_u64()), (Some(3), Some(1)));
    assert_eq!((list["page_size"].as_u64(), list["total_pages"].as_u64()), (Some(10), Some(1)));
    assert_eq!(sorted(task_ids(&list)), sorted(alice_tasks.clone()));
    assert_eq!(
        task_ids(&list),
        alice_tasks.iter().rev().cloned().collect::<Vec<_>>(),
        "the default order is created_at descending"
    );

    // C12
    let page = json_body(app.list_tasks(token, &[("pageSize", "2"), ("page", "2")]).await, StatusCode::OK).await;
    assert_eq!(task_ids(&page).len(), 1);
    assert_eq!(
        (page["total"].as_u64(), page["total_pages"].as_u64(), page["page_size"].as_u64()),
        (Some(3), Some(2), Some(2))
    );
    let past_the_end = json_body(app.list_tasks(token, &[("page", "5")]).await, StatusCode::OK).await;
    assert_eq!(past_the_end["tasks"], json!([]));
    assert_eq!((past_the_end["total"].as_u64(), past_the_end["page"].as_u64()), (Some(3), Some(5)));

    // C16
    let by_owner = json_body(app.user_tasks(token, &fixtures.alice.id, &[]).await, StatusCode::OK).await;
    assert_eq!(by_owner, list, "GET /users/{{me}}/tasks equals GET /tasks");
});

both_backends!(invalid_list_parameters_name_the_parameter, |app| async move {
    // C13
    // Set-up, then a `for (input, expected) in [...]` case table: the same shape as middleware.rs
    // forwarded_for_headers_from_trusted_proxies_name_the_client; the cases differ.
    let fixtures = app.fixtures().await;
    for (name, value) in [
        ("page", "0"),
        ("page", ""),
        ("pageSize", "101"),
        ("pageSize", "abc"),
        ("sortBy", "foo"),
        ("order", "up"),
        ("status", "done"),
        ("priority", "critical"),
        ("due_before", "tomorrow"),
        ("due_after", "2025-12-01"),
        ("user_id", "xyz"),
    ] {
        let response = app.list_tasks(fixtures.alice.token(), &[(name, value)]).await;
        let problem = assert_problem(response, StatusCode::BAD_REQUEST, "validation_failed").await;
        assert_eq!(problem["errors"][0]["field"], name, "{name}={value}: {problem}");
    }
});

both_backends!(list_filters_and_sorting_return_exact_sets, |app| async move {
    // C14
    let fixtures = app.fixtures().await;
    let token = fixtures.alice.token();
    let app_ref = &app;
    let create = |body: Value| async move { app_ref.new_task(token, &body).await };
    let alpha = string_at(
        &create(json!({"title": "Alpha testing", "priority": "low", "due_date": "2030-01-10T00:00:00Z"})).await,
        "/id",
    );
    let beta = string_at(
        &create(json!({"title": "Beta", "description": "Testing the API", "status": "in_progress", "priority": "urgent", "due_date": "2030-01-20T00:00:00Z"}))
            .await,
        "/id",
    );
    let gamma = string_at(&create(json!({"title": "Gamma", "status": "completed", "priority": "high"})).await, "/id");
    let delta = string_at(
        &create(json!({"title": "delta", "priority": "medium", "due_date": "2030-02-01T00:00:00Z"})).await,
        "/id",
    );
    // Another user's matching task never shows up.
    app.new_task(fixtures.bob.token(), &json!({"title": "Bob testing", "priority": "urgent"})).await;

    let ids = |query: Query<'static>| app.listed_task_ids(token, query);
    assert_eq!(sorted(ids(&[("status", "pending")]).await), sorted(vec![alpha.clone(), delta.clone()]));
    assert_eq!(ids(&[("priority", "urgent")]).await, std::slice::from_ref(&beta));
    assert_eq!(sorted(ids(&[("q", "TESTING")]).await), sorted(vec![alpha.clone(), beta.clone()]));
    // One assert_eq!(ids(filter), expected, why) per filter or sort: the cases are the table.
    assert_eq!(
        ids(&[("due_after", "2030-01-10T00:00:00Z"), ("due_before", "2030-02-01T00:00:00Z")]).await,
        [beta.clone(), alpha.clone()],
        "due_after is inclusive, due_before exclusive, tasks without a due date are left out"
    );
    assert_eq!(
        ids(&[("sortBy", "priority"), ("order", "desc")]).await,
        [beta.clone(), gamma.clone(), delta.clone(), alpha.clone()],
        "priority ranks urgent > high > medium > low"
    );
    // The filter and sort cases continue in the same shape: one assertion per case.
    assert_eq!(
        ids(&[("sortBy", "due_date"), ("order", "asc")]).await,
        [alpha.clone(), beta.clone(), delta.clone(), gamma.clone()],
        "null due dates come last"
    );
    assert_eq!(
        ids(&[("sortBy", "due_date"), ("order", "desc")]).await,
        [delta.clone(), beta.clone(), alpha.clone(), gamma.clone()],
        "null due dates come last in both orders"
    );
    assert_eq!(
        ids(&[("sortBy", "title"), ("order", "asc")]).await,
        [alpha.clone(), beta.clone(), delta.clone(), gamma.clone()],
        "title sorting ignores ASCII case"
    );
    assert_eq!(
        ids(&[("sortBy", "status"), ("order", "asc")]).await[..2].to_vec(),
        sorted(vec![alpha.clone(), delta.clone()]),
        "status ranks pending first; ties are broken by id ascending"
    );
});

both_backends!(idempotency_keys_replay_the_first_creation, |app| async move {
    // C15
    let fixtures = app.fixtures().await;
    let post = |token: &str, key: &str, body: &Value| {
        send(app.authed(Method::POST, "/api/v1/tasks", token).header("idempotency-key", key).json(body))
    };
    let body = json!({"title": "Once only"});
    let (first_headers, first) =
        json_with_headers(post(fixtures.alice.token(), "k1", &body).await, StatusCode::CREATED).await;
    let (replay_headers, replay) =
        json_with_headers(post(fixtures.alice.token(), "k1", &body).await, StatusCode::CREATED).await;
    assert_eq!(replay, first, "the replay has the identical body");
    assert_eq!(header(&replay_headers, "idempotency-replayed").as_deref(), Some("true"));
    assert_eq!(header(&first_headers, "idempotency-replayed"), None);
    assert_eq!(header(&replay_headers, "location"), header(&first_headers, "location"));
    assert_eq!(header(&replay_headers, "etag"), header(&first_headers, "etag"));
    let list = json_body(app.list_tasks(fixtures.alice.token(), &[]).await, StatusCode::OK).await;
    assert_eq!(list["total"], 1, "the replay creates nothing");

    let response = post(fixtures.alice.token(), "k1", &json!({"title": "Something else"})).await;
    assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY, "idempotency_key_reused").await;

    let bobs = json_body(post(fixtures.bob.token(), "k1", &body).await, StatusCode::CREATED).await;
    assert_eq!(bobs["user_id"], fixtures.bob.id.as_str(), "keys are scoped to the caller");
    assert_ne!(bobs["id"], first["id"]);

    let response = post(fixtures.alice.token(), "bad key with spaces", &body).await;
    assert_problem(response, StatusCode::BAD_REQUEST, "invalid_request").await;
});

/// One task for each of alice, bob, carol and mike, in that order.
async fn one_task_each(app: &TestApp, fixtures: &Fixtures) -> [String; 4] {
    [
        app.new_task_id(fixtures.alice.token(), "Alice's task").await,
        app.new_task_id(fixtures.bob.token(), "Bob's task").await,
        app.new_task_id(fixtures.carol.token(), "Carol's task").await,
        app.new_task_id(fixtures.mike.token(), "Mike's task").await,
    ]
}

both_backends!(managers_read_but_cannot_change_their_department_s_tasks, |app| async move {
    // C17
    let fixtures = app.fixtures().await;
    let [alice_task, bob_task, _carol_task, mike_task] = one_task_each(&app, &fixtures).await;
    let token = fixtures.mike.token();

    assert_eq!(
        sorted(app.listed_task_ids(token, &[]).await),
        sorted(vec![alice_task.clone(), bob_task.clone(), mike_task.clone()])
    );
    json_body(app.get_task(token, &alice_task).await, StatusCode::OK).await;
    let problem = assert_problem(
        app.update_task(token, &alice_task, &json!({"title": "Hijacked"})).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    assert_eq!(problem["message"], "Access denied");
    assert_problem(app.user_tasks(token, &fixtures.carol.id, &[]).await, StatusCode::FORBIDDEN, "forbidden").await;
    assert_eq!(app.listed_task_ids(token, &[("user_id", &fixtures.bob.id)]).await, [bob_task]);
    let task = json_body(app.get_task(fixtures.alice.token(), &alice_task).await, StatusCode::OK).await;
    assert_eq!(task["title"], "Alice's task");
});

both_backends!(admins_see_and_change_every_task, |app| async move {
    // C18
    let fixtures = app.fixtures().await;
    let all = one_task_each(&app, &fixtures).await;
    let token = fixtures.admin.token();
    assert_eq!(sorted(app.listed_task_ids(token, &[]).await), sorted(all.to_vec()));
    assert_eq!(app.listed_task_ids(token, &[("user_id", &fixtures.carol.id)]).await, [all[2].clone()]);
    let body =
        json_body(app.update_task(token, &all[2], &json!({"title": "Edited by the admin"})).await, StatusCode::OK)
            .await;
    assert_eq!(body["task"]["title"], "Edited by the admin");
    assert_eq!(body["task"]["user_id"], fixtures.carol.id.as_str());
});

both_backends!(task_lists_of_unknown_users_are_not_found, |app| async move {
    // C19: existence is checked before the policy on this endpoint.
    let fixtures = app.fixtures().await;
    let stranger = Uuid::new_v4().to_string();
    for token in [fixtures.admin.token(), fixtures.alice.token()] {
        let problem =
            assert_problem(app.user_tasks(token, &stranger, &[]).await, StatusCode::NOT_FOUND, "not_found").await;
        assert_eq!(problem["message"], "User not found");
    }
    // Same assert_problem call shape as the bad-id cases in profile.rs and administration.rs: each is its own request
    // and expected problem.
    let problem = assert_problem(
        app.user_tasks(fixtures.alice.token(), "xyz", &[]).await,
        StatusCode::BAD_REQUEST,
        "invalid_request",
    )
    .await;
    assert_eq!(problem["message"], "Invalid user ID format");
});

both_backends!(required_clearance_hides_tasks_from_department_readers_below_it, |app| async move {
    // C20
    let fixtures = app.fixtures().await;
    let bob_task = app.new_task_id(fixtures.bob.token(), "Classified").await;
    let admin = fixtures.admin.token();
    let mike = fixtures.mike.token();

    let attribute = json_body(
        app.put_task_attribute(admin, &bob_task, "required_clearance", &json!({"value": 3})).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(attribute["key"], "required_clearance");
    assert_eq!(attribute["value"], 3);
    assert_eq!(attribute["data_type"], "number");

    assert_problem(app.get_task(mike, &bob_task).await, StatusCode::FORBIDDEN, "forbidden").await;
    assert!(!app.listed_task_ids(mike, &[]).await.contains(&bob_task), "the task is missing from M's list");
    json_body(app.get_task(fixtures.bob.token(), &bob_task).await, StatusCode::OK).await;

    // Mike registered with clearance_level 1, so this replaces it.
    let clearance = json_body(
        app.put_user_attribute(admin, &fixtures.mike.id, "clearance_level", &json!({"value": 3})).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(clearance["value"], 3);

    json_body(app.get_task(mike, &bob_task).await, StatusCode::OK).await;
    assert!(app.listed_task_ids(mike, &[]).await.contains(&bob_task), "the task is back in M's list");
    json_body(app.get_task(fixtures.bob.token(), &bob_task).await, StatusCode::OK).await;

    // Without the attribute, the clearance is 0 (docs/authorization.md#entities): the task is hidden again.
    let stored =
        json_body(app.get_user_attribute(admin, &fixtures.mike.id, "clearance_level").await, StatusCode::OK).await;
    assert_eq!(stored["value"], 3);
    let listed = json_body(app.list_user_attributes(admin, &fixtures.mike.id).await, StatusCode::OK).await;
    let keys: Vec<&str> =
        listed["attributes"].as_array().expect("attributes").iter().filter_map(|a| a["key"].as_str()).collect();
    assert!(keys.contains(&"account_type") && keys.contains(&"clearance_level"), "registration attributes: {listed}");
    assert_no_body(
        app.delete_user_attribute(admin, &fixtures.mike.id, "clearance_level").await,
        StatusCode::NO_CONTENT,
    )
    .await;
    assert_problem(app.get_task(mike, &bob_task).await, StatusCode::FORBIDDEN, "forbidden").await;
});

both_backends!(revoking_the_manager_role_ends_department_reads_at_once, |app| async move {
    // docs/authentication.md#principal-freshness: role changes take effect on the next request, without a new token.
    let fixtures = app.fixtures().await;
    let alice_task = app.new_task_id(fixtures.alice.token(), "Alice's task").await;
    json_body(app.get_task(fixtures.mike.token(), &alice_task).await, StatusCode::OK).await;
    let body =
        json_body(app.revoke_role(fixtures.admin.token(), &fixtures.mike.id, "manager").await, StatusCode::OK).await;
    assert_eq!(body["message"], "Role revoked successfully");
    assert_problem(app.get_task(fixtures.mike.token(), &alice_task).await, StatusCode::FORBIDDEN, "forbidden").await;
    assert!(!app.listed_task_ids(fixtures.mike.token(), &[]).await.contains(&alice_task));
});

both_backends!(task_attributes_are_admin_only, |app| async move {
    // C21
    let fixtures = app.fixtures().await;
    let task = app.new_task_id(fixtures.alice.token(), "Attributed").await;
    let admin = fixtures.admin.token();
    json_body(
        app.put_task_attribute(admin, &task, "required_clearance", &json!({"value": 2})).await,
        StatusCode::CREATED,
    )
    .await;
    let replaced = json_body(
        app.put_task_attribute(admin, &task, "required_clearance", &json!({"value": 4})).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(replaced["value"], 4);
    let problem = assert_problem(
        app.put_task_attribute(admin, &task, "required_clearance", &json!({"value": 11})).await,
        StatusCode::BAD_REQUEST,
        "validation_failed",
    )
    .await;
    assert!(!error_fields(&problem).is_empty(), "the failing field is named: {problem}");

    let list = json_body(app.list_task_attributes(admin, &task).await, StatusCode::OK).await;
    assert_eq!(list["task_id"], task.as_str());
    let attributes = list["attributes"].as_array().expect("an attributes array");
    assert_eq!(attributes.len(), 1);
    assert_eq!(attributes[0]["key"], "required_clearance");
    assert_eq!(attributes[0]["active"], true);

    let problem = assert_problem(
        app.list_task_attributes(fixtures.alice.token(), &task).await,
        StatusCode::FORBIDDEN,
        "insufficient_role",
    )
    .await;
    assert_eq!(problem["message"], "Admin role required for this operation");

    assert_no_body(app.delete_task_attribute(admin, &task, "required_clearance").await, StatusCode::NO_CONTENT).await;
    let problem = assert_problem(
        app.delete_task_attribute(admin, &task, "required_clearance").await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_eq!(problem["message"], "Attribute not found");
});
