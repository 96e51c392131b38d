//! docs/testing.md#e-administration (E10–E12) and docs/authorization.md#audit: the audit log records every authorization decision with its
//! deciding policies, can be sliced by time and filters, audits exactly the reads
//! `AUDIT_ALLOWED_READS` selects, and loses no row across a graceful shutdown.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use chrono::Utc;
use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::*;
use crate::server_process::{ServerProcess, Workspace, child_environment, env_pairs};

/// How long audit rows may take to become visible in the scenarios that wait for many of them
/// (docs/authorization.md#audit: within `AUDIT_FLUSH_INTERVAL`, 1 s, plus the write time).
const AUDIT_DEADLINE: Duration = Duration::from_secs(10);

/// How long a settled count must stay unchanged: longer than `AUDIT_FLUSH_INTERVAL`, so that a row
/// still in the buffer would have been written by then.
const QUIET_PERIOD: Duration = Duration::from_secs(2);

/// Polls the audit `total` for `query` until it reaches `expected` or [`AUDIT_DEADLINE`] passes,
/// then watches it for [`QUIET_PERIOD`] so that surplus rows are counted too, and returns it.
async fn settled_audit_total(app: &TestApp, admin_token: &str, query: Query<'_>, expected: u64) -> u64 {
    let give_up = tokio::time::Instant::now() + AUDIT_DEADLINE;
    let mut total = app.audit_total(admin_token, query).await;
    while total < expected && tokio::time::Instant::now() < give_up {
        tokio::time::sleep(Duration::from_millis(100)).await;
        total = app.audit_total(admin_token, query).await;
    }
    let quiet_until = tokio::time::Instant::now() + QUIET_PERIOD;
    while total <= expected && tokio::time::Instant::now() < quiet_until {
        tokio::time::sleep(Duration::from_millis(200)).await;
        total = app.audit_total(admin_token, query).await;
    }
    total
}

/// Asserts the members every audit entry has (docs/http-contract.md#shared-objects).
fn assert_audit_entry_shape(row: &Value) {
    uuid::Uuid::parse_str(&string_at(row, "/id")).expect("the audit id is a UUID");
    parse_timestamp(&row["timestamp"]);
    assert!(matches!(row["decision"].as_str(), Some("allowed" | "denied")), "{row}");
    assert!(row["policy_ids"].is_array(), "{row}");
    for member in ["user_id", "resource_id", "reason", "request_id", "ip_address", "user_agent", "method", "path"] {
        assert!(row.get(member).is_some(), "the entry carries {member}: {row}");
    }
}

both_backends!(denials_and_department_reads_are_audited_with_their_deciding_policies, |app| async move {
    // E10, after the requests of C17
    let fixtures = app.fixtures().await;
    let (admin, mike) = (fixtures.admin.token(), fixtures.mike.token());
    let alice_task = app.new_task_id(fixtures.alice.token(), "Alice's task").await;
    app.new_task_id(fixtures.bob.token(), "Bob's task").await;
    app.new_task_id(fixtures.carol.token(), "Carol's task").await;

    json_body(app.list_tasks(mike, &[]).await, StatusCode::OK).await;
    json_body(app.get_task(mike, &alice_task).await, StatusCode::OK).await;
    let denied = app.update_task(mike, &alice_task, &json!({"title": "Managed"})).await;
    let denied_request_id = header(denied.headers(), "x-request-id").expect("X-Request-Id");
    assert_problem(denied, StatusCode::FORBIDDEN, "forbidden").await;
    assert_problem(app.user_tasks(mike, &fixtures.carol.id, &[]).await, StatusCode::FORBIDDEN, "forbidden").await;
    json_body(app.list_tasks(mike, &[("user_id", fixtures.bob.id.as_str())]).await, StatusCode::OK).await;

    let denied_query = [("user_id", fixtures.mike.id.as_str()), ("decision", "denied")];
    let row = await_audit_row(&app, admin, &denied_query, |row| row["action"] == "task:update").await;
    assert_audit_entry_shape(&row);
    assert_eq!(row["user_id"], fixtures.mike.id.as_str());
    assert_eq!(row["resource"], "task");
    assert_eq!(row["resource_id"], alice_task.as_str());
    assert_eq!(row["decision"], "denied");
    assert_eq!(row["policy_ids"], json!([]));
    assert_eq!(row["reason"], "no permitting policy");
    assert_eq!(row["request_id"], denied_request_id.as_str());
    assert_eq!(row["ip_address"], "127.0.0.1");
    assert_eq!(row["user_agent"], "taskify-api-tests");
    assert_eq!(row["method"], "PUT");
    assert_eq!(row["path"], format!("/api/v1/tasks/{alice_task}"));

    let collection = await_audit_row(&app, admin, &denied_query, |row| row["action"] == "task:read").await;
    assert_eq!(collection["resource"], "task");
    assert!(collection["resource_id"].is_null(), "a collection has no resource_id: {collection}");
    assert_eq!(collection["path"], format!("/api/v1/users/{}/tasks", fixtures.carol.id));

    let allowed_query = [("user_id", fixtures.mike.id.as_str()), ("decision", "allowed"), ("action", "task:read")];
    let read = await_audit_row(&app, admin, &allowed_query, |row| row["resource_id"] == alice_task.as_str()).await;
    assert_audit_entry_shape(&read);
    assert_eq!(read["policy_ids"], json!(["task-department-read"]));
    assert_eq!(read["reason"], "allowed by task-department-read");
    assert_eq!(read["method"], "GET");
    // M's own view (`GET /tasks` without `user_id`) is decided by task-list alone.
    let list = await_audit_row(&app, admin, &allowed_query, |row| {
        row["path"] == "/api/v1/tasks" && row["policy_ids"] == json!(["task-list"])
    })
    .await;
    assert!(list["resource_id"].is_null(), "a collection has no resource_id: {list}");
    assert_eq!(list["reason"], "allowed by task-list");
});

both_backends!(permission_pre_check_denials_are_audited_without_policies, |app| async move {
    // docs/authorization.md#decision-procedure step 1
    let fixtures = app.fixtures().await;
    assert_problem(app.list_users(fixtures.alice.token(), &[]).await, StatusCode::FORBIDDEN, "missing_permission")
        .await;
    let query = [("user_id", fixtures.alice.id.as_str()), ("decision", "denied")];
    let row = await_audit_row(&app, fixtures.admin.token(), &query, |row| row["action"] == "user:read").await;
    assert_audit_entry_shape(&row);
    assert_eq!(row["policy_ids"], json!([]));
    assert_eq!(row["reason"], "missing permission user:read");
    assert_eq!(row["path"], "/api/v1/users");
});

both_backends!(the_audit_log_is_sliced_by_time_and_filters_and_paginated, |app| async move {
    // E11
    let fixtures = app.fixtures().await;
    let (admin, alice) = (fixtures.admin.token(), fixtures.alice.token());
    let start = Utc::now();
    let mut created = Vec::new();
    for n in 1..=3 {
        created.push(app.new_task_id(alice, &format!("Early {n}")).await);
    }
    let middle = Utc::now();
    for n in 1..=4 {
        created.push(app.new_task_id(alice, &format!("Late {n}")).await);
    }
    let end = Utc::now();
    let (start, middle, end) = (timestamp_text(start), timestamp_text(middle), timestamp_text(end));

    let window = [("from", start.as_str()), ("to", end.as_str()), ("resource", "task")];
    assert_eq!(settled_audit_total(&app, admin, &window, 7).await, 7, "the 7 creates are in the window");

    let mut first_page_query = window.to_vec();
    first_page_query.push(("pageSize", "5"));
    let first_page = json_body(app.audit_logs(admin, &first_page_query).await, StatusCode::OK).await;
    assert_eq!(
        (first_page["total"].as_u64(), first_page["page"].as_u64(), first_page["page_size"].as_u64()),
        (Some(7), Some(1), Some(5))
    );
    assert_eq!(first_page["total_pages"], 2);
    let mut second_page_query = first_page_query.clone();
    second_page_query.push(("page", "2"));
    let second_page = json_body(app.audit_logs(admin, &second_page_query).await, StatusCode::OK).await;
    let rows: Vec<Value> = [&first_page, &second_page]
        .iter()
        .flat_map(|page| page["audit_logs"].as_array().cloned().unwrap_or_default())
        .collect();
    assert_eq!(first_page["audit_logs"].as_array().map(Vec::len), Some(5));
    assert_eq!(second_page["audit_logs"].as_array().map(Vec::len), Some(2));
    for row in &rows {
        assert_audit_entry_shape(row);
        assert_eq!(row["action"], "task:create", "{row}");
        assert_eq!(row["resource"], "task", "{row}");
        assert_eq!(row["decision"], "allowed", "{row}");
        assert_eq!(row["user_id"], fixtures.alice.id.as_str(), "{row}");
        assert_eq!(row["method"], "POST", "{row}");
        assert_eq!(row["path"], "/api/v1/tasks", "the path of the request: {row}");
        assert!(row["resource_id"].is_null(), "a create acts on the collection: {row}");
    }
    let timestamps: Vec<_> = rows.iter().map(|row| parse_timestamp(&row["timestamp"])).collect();
    assert!(timestamps.windows(2).all(|pair| pair[0] >= pair[1]), "newest first by default: {timestamps:?}");
    let request_ids: std::collections::HashSet<String> = rows.iter().map(|row| string_at(row, "/request_id")).collect();
    assert_eq!(request_ids.len(), created.len(), "one row per create request");

    let ascending_query = [("from", start.as_str()), ("to", end.as_str()), ("resource", "task"), ("order", "asc")];
    let ascending = json_body(app.audit_logs(admin, &ascending_query).await, StatusCode::OK).await;
    let ascending_ids: Vec<String> =
        ascending["audit_logs"].as_array().expect("audit_logs").iter().map(|row| string_at(row, "/id")).collect();
    let mut descending_ids: Vec<String> = rows.iter().map(|row| string_at(row, "/id")).collect();
    descending_ids.reverse();
    assert_eq!(ascending_ids, descending_ids, "order=asc is the reverse order");

    let early = [("from", start.as_str()), ("to", middle.as_str()), ("resource", "task")];
    let late = [("from", middle.as_str()), ("to", end.as_str()), ("resource", "task")];
    assert_eq!(app.audit_total(admin, &early).await, 3, "`to` is exclusive and `from` inclusive");
    assert_eq!(app.audit_total(admin, &late).await, 4);
    let other_resources = [("from", start.as_str()), ("to", end.as_str()), ("resource", "user")];
    assert_eq!(app.audit_total(admin, &other_resources).await, 0);
    let by_action =
        [("from", start.as_str()), ("to", end.as_str()), ("action", "task:create"), ("decision", "allowed")];
    assert_eq!(app.audit_total(admin, &by_action).await, 7);

    for (name, value) in [("decision", "maybe"), ("from", "yesterday"), ("pageSize", "101"), ("page", "0")] {
        let response = app.audit_logs(admin, &[(name, value)]).await;
        let problem = assert_problem(response, StatusCode::BAD_REQUEST, "validation_failed").await;
        assert_field_error(&problem, name);
    }
    let problem = assert_problem(
        app.audit_logs(admin, &[("page", "101"), ("pageSize", "100")]).await,
        StatusCode::BAD_REQUEST,
        "validation_failed",
    )
    .await;
    assert_field_error(&problem, "page");
    json_body(app.audit_logs(admin, &[("page", "100"), ("pageSize", "100")]).await, StatusCode::OK).await;

    let problem =
        assert_problem(app.audit_logs(alice, &window).await, StatusCode::FORBIDDEN, "missing_permission").await;
    assert_eq!(problem["message"], "User does not have required permission: audit:read");
});

both_backends!(
    with_all_allowed_reads_audited_every_concurrent_read_writes_exactly_one_row,
    overrides = &[("AUDIT_ALLOWED_READS", "all")],
    |app| async move {
        // E12, first half
        let fixtures = app.fixtures().await;
        let alice = fixtures.alice.token();
        let task = app.new_task_id(alice, "Read me").await;
        let start = timestamp_text(Utc::now());

        let reads = join_all((0..200).map(|_| app.get_task(alice, &task))).await;
        for response in reads {
            assert_eq!(response.status(), StatusCode::OK, "every concurrent read succeeds");
        }

        let query = [("user_id", fixtures.alice.id.as_str()), ("action", "task:read"), ("from", start.as_str())];
        let total = settled_audit_total(&app, fixtures.admin.token(), &query, 200).await;
        assert_eq!(total, 200, "exactly one task:read row per read");
    }
);

both_backends!(by_default_only_reads_of_other_users_data_are_audited, |app| async move {
    // E12, second half (AUDIT_ALLOWED_READS=others)
    let fixtures = app.fixtures().await;
    let (admin, alice, mike) = (fixtures.admin.token(), fixtures.alice.token(), fixtures.mike.token());
    let alice_task = app.new_task_id(alice, "Alice's own").await;
    let bob_task = app.new_task_id(fixtures.bob.token(), "Bob's").await;
    let start = timestamp_text(Utc::now());

    for _ in 0..50 {
        json_body(app.get_task(alice, &alice_task).await, StatusCode::OK).await;
    }
    for _ in 0..20 {
        json_body(app.get_task(mike, &bob_task).await, StatusCode::OK).await;
    }

    let mike_reads = [("user_id", fixtures.mike.id.as_str()), ("action", "task:read"), ("from", start.as_str())];
    assert_eq!(settled_audit_total(&app, admin, &mike_reads, 20).await, 20, "one row per read of bob's task");
    let alice_reads = [("user_id", fixtures.alice.id.as_str()), ("action", "task:read"), ("from", start.as_str())];
    assert_eq!(app.audit_total(admin, &alice_reads).await, 0, "reads of one's own task are not audited");
});

/// The number of reads the burst sends, and after how many 200s SIGTERM is sent.
const BURST_READS: usize = 2_000;
const TERMINATE_AFTER: usize = 700;
/// The concurrent clients of the burst.
const BURST_CLIENTS: usize = 8;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_graceful_shutdown_in_the_middle_of_a_burst_loses_no_audit_row() {
    // docs/authorization.md#audit ("rows are never dropped", "graceful shutdown flushes the buffer") and docs/operations.md#graceful-shutdown.
    let workspace = Workspace::new();
    let settings = child_environment(&workspace.sqlite_url(), &[("AUDIT_ALLOWED_READS", "all")]);
    let server = Arc::new(ServerProcess::start(&workspace.dir, &env_pairs(&settings)).await);
    let reader = server.api.new_account("reader", Some("Engineering")).await;
    let task = server.api.new_task_id(reader.token(), "Read in a burst").await;

    let sent = Arc::new(AtomicUsize::new(0));
    let succeeded = Arc::new(AtomicUsize::new(0));
    let clients = (0..BURST_CLIENTS).map(|_| {
        let (server, sent, succeeded) = (Arc::clone(&server), Arc::clone(&sent), Arc::clone(&succeeded));
        let (api, token, task) =
            (ApiClient::new(server.api.address.clone()), reader.access_token.clone(), task.clone());
        tokio::spawn(async move {
            while sent.fetch_add(1, Ordering::SeqCst) < BURST_READS {
                let request = api.authed(reqwest::Method::GET, &format!("/api/v1/tasks/{task}"), &token);
                // A refused connection or a closed one ends this client: the server is going away.
                let Ok(response) = request.send().await else { return };
                let answered = response.status() == StatusCode::OK && response.bytes().await.is_ok();
                if answered && succeeded.fetch_add(1, Ordering::SeqCst) + 1 == TERMINATE_AFTER {
                    server.terminate().await;
                }
            }
        })
    });
    for client in join_all(clients).await {
        client.expect("a burst client does not panic");
    }
    let succeeded = succeeded.load(Ordering::SeqCst);
    assert!(succeeded >= TERMINATE_AFTER, "SIGTERM was sent in the middle of the burst ({succeeded} reads)");

    let server = Arc::try_unwrap(server).unwrap_or_else(|_| panic!("the burst clients are done with the server"));
    let (status, output) = server.wait_for_exit().await;
    assert_eq!(status.code(), Some(0), "a graceful shutdown exits 0; stderr: {:?}", output.stderr);

    let restarted = ServerProcess::start(&workspace.dir, &env_pairs(&settings)).await;
    let admin = restarted.api.sign_in_admin().await;
    let query = [("user_id", reader.id.as_str()), ("action", "task:read"), ("from", "2000-01-01T00:00:00Z")];
    let audited = restarted.api.audit_total(admin.token(), &query).await;
    assert_eq!(audited, succeeded as u64, "one audit row per read answered 200, none lost and none extra");
    restarted.stop().await;
}
