//! No request can stop the audit writer: text a request supplies is stored escaped and capped,
//! a row the database refuses anyway is isolated and stored sanitised while the rows around it
//! are written, and control characters in admin inputs are bad requests, never server errors.

use std::time::Duration;

use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use taskify_core::audit::AuditSink;
use taskify_core::config::{AllowedReads, AuditConfig};
use taskify_domain::{AuditEntry, AuditQuery, Decision, Order, PageRequest};
use taskify_store::{PoolConfig, Store};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::helpers::*;
use crate::{both_backends, sqlite_only};

/// How long a row may take to be written: the flush interval plus the write, with room to spare.
const WRITE_DEADLINE: Duration = Duration::from_secs(10);

/// `POST /auth/logout?query` (audited, anonymous, 200 for any token) with `request_id`.
async fn logout_with_query(app: &TestApp, query: Query<'_>, request_id: &str, user_agent: &str) -> Response {
    let request = app
        .client
        .post(app.url("/api/v1/auth/logout", query))
        .header("x-request-id", request_id)
        .header("user-agent", user_agent)
        .json(&json!({"refresh_token": "not-a-token"}));
    send(request).await
}

/// The audit row of `action` whose request id is `request_id`, once written.
async fn audit_row_of(app: &TestApp, admin: &str, action: &str, request_id: &str) -> Value {
    eventually_every(
        &format!("the {action} row of {request_id}"),
        WRITE_DEADLINE,
        Duration::from_millis(100),
        || async {
            let body =
                json_body(app.audit_logs(admin, &[("action", action), ("pageSize", "100")]).await, StatusCode::OK)
                    .await;
            body["audit_logs"]
                .as_array()
                .and_then(|rows| rows.iter().find(|row| row["request_id"] == request_id).cloned())
        },
    )
    .await
}

fn altered(row: &Value) -> Vec<String> {
    row["context"]["altered"]
        .as_array()
        .map(|names| names.iter().filter_map(|n| n.as_str().map(str::to_owned)).collect())
        .unwrap_or_default()
}

both_backends!(a_nul_in_an_audited_request_does_not_stop_the_audit_log, |app| async move {
    let admin = app.sign_in_admin().await;
    let cases: [(&str, Query<'_>); 3] =
        [("nul-value", &[("x", "\0")]), ("nul-name", &[("\0", "\u{1}")]), ("controls", &[("x", "a\u{7f}\u{85}\tb")])];
    for (request_id, query) in cases {
        json_body(logout_with_query(&app, query, request_id, "taskify-api-tests").await, StatusCode::OK).await;
    }
    // A query of thousands of parameters and an over-long user agent are capped, not refused.
    let many: Vec<(String, String)> = (0..1000).map(|i| (format!("p{i}"), "v".repeat(40))).collect();
    let many: Vec<(&str, &str)> = many.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let long_agent = format!("agent/{}", "u".repeat(3000));
    json_body(logout_with_query(&app, &many, "oversized", &long_agent).await, StatusCode::OK).await;

    // A failed login afterwards is still recorded: the writer was not stopped by the rows above.
    let login = app
        .client
        .post(app.url("/api/v1/auth/login", &[]))
        .header("x-request-id", "login-after-nul")
        .json(&json!({"email": ADMIN_EMAIL, "password": "Wrong@Pass1"}));
    assert_problem(send(login).await, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    let failed = audit_row_of(&app, admin.token(), "auth:login", "login-after-nul").await;
    assert_eq!(failed["decision"], "denied", "{failed}");

    // The NUL rows were written, with the controls escaped and the change recorded.
    let row = audit_row_of(&app, admin.token(), "auth:logout", "nul-value").await;
    assert_eq!(row["context"]["query"], json!({"x": "\\u0000"}), "{row}");
    assert_eq!(altered(&row), ["context"], "{row}");
    let row = audit_row_of(&app, admin.token(), "auth:logout", "nul-name").await;
    assert_eq!(row["context"]["query"], json!({"\\u0000": "\\u0001"}), "{row}");
    let row = audit_row_of(&app, admin.token(), "auth:logout", "controls").await;
    assert_eq!(row["context"]["query"], json!({"x": "a\\u007F\\u0085\\u0009b"}), "{row}");
    let row = audit_row_of(&app, admin.token(), "auth:logout", "oversized").await;
    let agent = row["user_agent"].as_str().expect("a user agent");
    assert_eq!(agent.chars().count(), 512, "the user agent is capped at its column width");
    assert!(agent.starts_with("agent/uuu") && agent.ends_with('…'), "{agent}");
    let query = row["context"]["query"].as_object().expect("the query as an object");
    assert!((1..=32).contains(&query.len()), "the query is capped at 32 parameters: {}", query.len());
    assert_eq!(query["p0"], "v".repeat(40));
    assert_eq!(altered(&row), ["user_agent", "context"], "{row}");
});

/// Asserts a 400 whose code is one of the two 400 codes, naming `field` when given.
async fn assert_bad_request(case: &str, response: Response, field: Option<&str>) {
    eprintln!("case: {case}");
    let status = response.status();
    let body = response.text().await.expect("the body can be read");
    assert_eq!(status, StatusCode::BAD_REQUEST, "{case}: {body}");
    let problem: Value = serde_json::from_str(&body).unwrap_or_else(|error| panic!("{case}: {error}: {body}"));
    assert!(matches!(problem["error"].as_str(), Some("validation_failed" | "invalid_request")), "{case}: {problem}");
    if let Some(field) = field {
        assert_field_error(&problem, field);
    }
}

both_backends!(control_characters_in_admin_inputs_are_bad_requests, |app| async move {
    let fixtures = app.fixtures().await;
    let admin = fixtures.admin.token();
    let alice = fixtures.alice.id.as_str();
    let task = app.new_task_id(fixtures.alice.token(), "Attributed").await;
    json_body(app.put_user_attribute(admin, alice, "location", &json!({"value": "US"})).await, StatusCode::CREATED)
        .await;

    for control in ["%00", "%01", "%7F", "a%00b"] {
        let case = format!("revoke role {control}");
        assert_bad_request(&case, app.revoke_role(admin, alice, control).await, Some("role")).await;
        let case = format!("get attribute {control}");
        assert_bad_request(&case, app.get_user_attribute(admin, alice, control).await, Some("key")).await;
        let case = format!("delete attribute {control}");
        assert_bad_request(&case, app.delete_user_attribute(admin, alice, control).await, Some("key")).await;
        let case = format!("put attribute {control}");
        let response = app.put_user_attribute(admin, alice, control, &json!({"value": "x"})).await;
        assert_bad_request(&case, response, Some("key")).await;
        let case = format!("delete task attribute {control}");
        assert_bad_request(&case, app.delete_task_attribute(admin, &task, control).await, Some("key")).await;
    }
    for control in ["\0", "\u{1}", "\u{7f}", "\n"] {
        let value = format!("a{control}b");
        let body = json!({"value": value});
        let response = app.put_user_attribute(admin, alice, "location", &body).await;
        assert_bad_request(&format!("user attribute value {control:?}"), response, Some("value")).await;
        let response = app.put_task_attribute(admin, &task, "location", &body).await;
        assert_bad_request(&format!("task attribute value {control:?}"), response, Some("value")).await;
        let typed = json!({"value": value, "data_type": "datetime"});
        let response = app.put_user_attribute(admin, alice, "location", &typed).await;
        assert_bad_request(&format!("datetime value {control:?}"), response, Some("value")).await;
        let body = json!({"value": "x", "data_type": value});
        let response = app.put_user_attribute(admin, alice, "location", &body).await;
        assert_bad_request(&format!("data_type {control:?}"), response, Some("data_type")).await;
        let body = json!({"value": "x", "expires_at": value});
        let response = app.put_user_attribute(admin, alice, "location", &body).await;
        assert_bad_request(&format!("expires_at {control:?}"), response, Some("expires_at")).await;
        for field in ["department", "position"] {
            let response = app.patch_user(admin, alice, &json!({ field: value })).await;
            assert_bad_request(&format!("patch {field} {control:?}"), response, Some(field)).await;
        }
        let response = app.assign_role(admin, alice, &json!({"role": value})).await;
        assert_bad_request(&format!("assign role {control:?}"), response, Some("role")).await;
        for name in ["q", "department", "role"] {
            let response = app.list_users(admin, &[(name, value.as_str())]).await;
            assert_bad_request(&format!("list users {name} {control:?}"), response, Some(name)).await;
        }
        for name in ["action", "resource"] {
            let response = app.audit_logs(admin, &[(name, value.as_str())]).await;
            assert_bad_request(&format!("audit logs {name} {control:?}"), response, Some(name)).await;
        }
    }
    // The stored attribute is untouched, and a plain role name still answers as before.
    let stored = json_body(app.get_user_attribute(admin, alice, "location").await, StatusCode::OK).await;
    assert_eq!(stored["value"], "US");
    assert_problem(app.revoke_role(admin, alice, "ghost").await, StatusCode::NOT_FOUND, "not_found").await;
});

sqlite_only!(the_sanitised_row_counter_is_exported_from_the_first_scrape, |app| async move {
    let text = metrics_text(&app.api).await;
    assert_eq!(metric_value(&text, "audit_rows_sanitized_total", &[]), Some(0.0), "{text}");
    assert!(text.contains("# HELP audit_rows_sanitized_total "), "the counter has help text");
});

// ---------------------------------------------------------------------------------------------
// The writer against the real databases
// ---------------------------------------------------------------------------------------------

fn audit_config() -> AuditConfig {
    AuditConfig {
        batch_size: 100,
        flush_interval: Duration::from_millis(50),
        buffer_size: 1000,
        enqueue_timeout: Duration::from_secs(1),
        allowed_reads: AllowedReads::All,
    }
}

fn pool_config() -> PoolConfig {
    PoolConfig {
        max_connections: 4,
        min_connections: 0,
        max_lifetime: Duration::from_secs(600),
        idle_timeout: Duration::from_secs(60),
        acquire_timeout: Duration::from_secs(10),
        statement_timeout: Duration::from_secs(30),
    }
}

fn entry(i: usize) -> AuditEntry {
    // Same AuditEntry literal as core/src/audit.rs tests' row(): integration tests cannot reach that #[cfg(test)]
    // helper.
    AuditEntry {
        id: Uuid::now_v7(),
        timestamp: taskify_domain::time::now(),
        user_id: None,
        action: "auth:login".into(),
        resource: "auth".into(),
        resource_id: None,
        decision: Decision::Denied,
        reason: Some("invalid credentials".into()),
        policy_ids: Vec::new(),
        request_id: Some(format!("row-{i}")),
        ip_address: Some("127.0.0.1".into()),
        user_agent: Some("tests".into()),
        method: Some("POST".into()),
        path: Some("/api/v1/auth/login".into()),
        context: Some(json!({"query": {"i": i.to_string()}})),
    }
}

/// Rows a database refuses: a NUL in text and JSON (even `i`: PostgreSQL only), or a method wider
/// than its column (odd `i`: both).
fn refused(i: usize) -> AuditEntry {
    match i % 2 {
        0 => AuditEntry {
            path: Some("/api/v1/auth/logout\0".into()),
            context: Some(json!({"query": {"x": "\0"}})),
            ..entry(i)
        },
        _ => AuditEntry { method: Some("PROPFIND-EXTENDED".into()), ..entry(i) },
    }
}

async fn writer_isolates_refused_rows(backend: Backend) {
    let database = TestDatabase::create(backend);
    let store = Store::connect(database.url(), &pool_config()).await.expect("connect");
    store.migrate().await.expect("migrate");
    let shutdown = CancellationToken::new();
    let (sink, writer) = AuditSink::start(store.clone(), &audit_config(), shutdown.clone());

    let bad = [3, 4, 11];
    let rows: Vec<AuditEntry> = (0..20).map(|i| if bad.contains(&i) { refused(i) } else { entry(i) }).collect();
    for row in &rows {
        sink.record(row.clone()).await.expect("buffered");
    }
    let query = AuditQuery {
        user_id: None,
        resource: None,
        action: None,
        decision: None,
        from: taskify_domain::time::now() - chrono::Duration::hours(1),
        to: None,
        order: Order::Asc,
        page: PageRequest { page: 1, page_size: 100 },
    };
    let stored = eventually("all 20 rows", WRITE_DEADLINE, || async {
        let page = store.list_audit(&query).await.expect("list");
        (page.items.len() == rows.len()).then_some(page.items)
    })
    .await;
    for (i, original) in rows.iter().enumerate() {
        let written = stored.iter().find(|r| r.id == original.id).expect("every row is stored");
        let context = written.context.clone().unwrap_or_default();
        // Both schemas check the widths; only PostgreSQL refuses a NUL.
        let refused_here = bad.contains(&i) && (i % 2 == 1 || backend == Backend::Postgres);
        if refused_here {
            assert_eq!(context["sanitized"], true, "{written:?}");
            let because = context["refused_because"].as_str().expect("the reason");
            assert!(because.contains("SQLSTATE"), "the reason names the SQLSTATE: {because}");
            assert_eq!(written.request_id, original.request_id);
            assert_eq!((written.action.as_str(), written.decision), ("auth:login", Decision::Denied));
        } else {
            assert_eq!(written, original, "row {i} is stored as it was");
        }
    }
    shutdown.cancel();
    writer.await.expect("the writer ends");
}

// One #[tokio::test] per backend calling the shared scenario, same shape as outage.rs: the scenario itself is written
// once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_writer_isolates_refused_rows_on_postgres() {
    writer_isolates_refused_rows(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_writer_isolates_refused_rows_on_sqlite() {
    writer_isolates_refused_rows(Backend::Sqlite).await;
}
