//! The `taskify` binary as operators run it: the first administrator (B23, B24), `--version`, and
//! the JSON logs, which must never contain passwords or tokens (docs/operations.md#logging, G9).

use std::collections::{BTreeMap, HashMap};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;
use crate::server_process::{ServerProcess, Workspace, run_to_completion};

const PASSWORD_LINE: &str = "Initial admin password for admin@example.com: ";

/// The environment of a child server over the workspace's SQLite database: the default test
/// settings without `ADMIN_PASSWORD`, then `overrides`.
fn child_settings(workspace: &Workspace, overrides: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut settings: BTreeMap<String, String> = default_settings()
        .into_iter()
        .filter(|(key, _)| *key != "ADMIN_PASSWORD")
        .map(|(key, value)| (key.to_owned(), value.to_owned()))
        .collect();
    settings.insert("DATABASE_URL".to_owned(), workspace.sqlite_url());
    for (key, value) in overrides {
        settings.insert((*key).to_owned(), (*value).to_owned());
    }
    settings.into_iter().collect()
}

fn as_pairs(settings: &[(String, String)]) -> Vec<(&str, &str)> {
    settings.iter().map(|(key, value)| (key.as_str(), value.as_str())).collect()
}

fn password_lines(lines: &[String]) -> Vec<&String> {
    lines.iter().filter(|line| line.contains("Initial admin password")).collect()
}

#[tokio::test]
async fn the_version_flag_prints_the_version() {
    let workspace = Workspace::new();
    let output = run_to_completion(&workspace.dir, &["--version"], &[]).await;
    assert!(output.status.success(), "taskify --version exits 0: {output:?}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains(env!("CARGO_PKG_VERSION")), "the version is printed: {stdout}");
}

#[tokio::test]
async fn the_configured_administrator_is_bootstrapped_on_first_start() {
    // B23
    let workspace = Workspace::new();
    let settings = child_settings(&workspace, &[("ADMIN_PASSWORD", ADMIN_PASSWORD)]);
    let server = ServerProcess::start(&workspace.dir, &as_pairs(&settings)).await;

    let body = json_body(server.api.login(ADMIN_EMAIL, ADMIN_PASSWORD).await, StatusCode::OK).await;
    let roles = body["user"]["roles"].as_array().expect("a roles array");
    assert!(roles.contains(&json!("admin")), "roles contain admin: {roles:?}");
    assert_eq!(body["user"]["role"], "admin");
    assert_eq!(body["permissions"], json!(ADMIN_PERMISSIONS));
    assert_eq!(body["user"]["first_name"], "Taskify");
    assert_eq!(body["user"]["last_name"], "Administrator");

    let output = server.stop().await;
    assert!(password_lines(&output.stdout).is_empty(), "a configured password is never printed");
}

#[tokio::test]
async fn a_generated_admin_password_is_printed_once_and_only_on_first_start() {
    // B24
    let workspace = Workspace::new();
    let settings = child_settings(&workspace, &[]);

    let server = ServerProcess::start(&workspace.dir, &as_pairs(&settings)).await;
    let first_output = server.stop().await;
    let lines = password_lines(&first_output.stdout);
    assert_eq!(lines.len(), 1, "exactly one password line on stdout: {:?}", first_output.stdout);
    let password = lines[0]
        .strip_prefix(PASSWORD_LINE)
        .unwrap_or_else(|| panic!("the line has the exact form `{PASSWORD_LINE}<pw>`: {:?}", lines[0]))
        .to_owned();
    assert_eq!(password.chars().count(), 24, "a 24-character password");
    let logged =
        first_output.all_lines().filter(|line| !line.starts_with(PASSWORD_LINE)).any(|line| line.contains(&password));
    assert!(!logged, "the generated password is printed once and never logged");

    let restarted = ServerProcess::start(&workspace.dir, &as_pairs(&settings)).await;
    let admin = restarted.api.sign_in(ADMIN_EMAIL, &password).await;
    let admins = json_body(restarted.api.list_users(admin.token(), &[("role", "admin")]).await, StatusCode::OK).await;
    assert_eq!(admins["total"], 1, "still one admin: {admins}");
    let second_output = restarted.stop().await;
    assert!(password_lines(&second_output.stdout).is_empty(), "no new password line: {:?}", second_output.stdout);
}

/// The member `name` of a JSON log line, at the top level or among the event `fields`.
fn log_field<'a>(line: &'a Value, name: &str) -> Option<&'a Value> {
    line.get(name).or_else(|| line.get("fields").and_then(|fields| fields.get(name)))
}

#[tokio::test]
async fn json_logs_record_every_request_and_never_secrets() {
    // G9 / docs/operations.md#logging: register, log in, refresh, change the password and log out through a child
    // process logging JSON at debug level.
    let workspace = Workspace::new();
    let settings = child_settings(
        &workspace,
        &[("ADMIN_PASSWORD", ADMIN_PASSWORD), ("LOG_FORMAT", "json"), ("LOG_LEVEL", "debug")],
    );
    let server = ServerProcess::start(&workspace.dir, &as_pairs(&settings)).await;
    let api = &server.api;

    let new_password = "Changed@98765";
    let mut secrets =
        vec![USER_PASSWORD.to_owned(), ADMIN_PASSWORD.to_owned(), new_password.to_owned(), JWT_SECRET.to_owned()];
    // X-Request-Id → path of every request the scenario makes.
    let mut requests: HashMap<String, &'static str> = HashMap::new();
    let mut track = |response: &reqwest::Response, path: &'static str| {
        let id = header(response.headers(), "x-request-id").expect("every response carries X-Request-Id");
        requests.insert(id, path);
    };

    let response = api.register(&registration("logan", Some("Engineering"))).await;
    track(&response, "/api/v1/auth/register");
    json_body(response, StatusCode::CREATED).await;

    let response = api.login(&email_of("logan"), USER_PASSWORD).await;
    track(&response, "/api/v1/auth/login");
    let login = json_body(response, StatusCode::OK).await;
    secrets.extend([string_at(&login, "/access_token"), string_at(&login, "/refresh_token")]);

    let response = api.refresh(&string_at(&login, "/refresh_token")).await;
    track(&response, "/api/v1/auth/refresh");
    let refreshed = json_body(response, StatusCode::OK).await;
    let access_token = string_at(&refreshed, "/access_token");
    secrets.extend([access_token.clone(), string_at(&refreshed, "/refresh_token")]);

    let change = json!({"current_password": USER_PASSWORD, "new_password": new_password});
    let response = api.update_profile(&access_token, &change).await;
    track(&response, "/api/v1/users/profile");
    let changed = json_body(response, StatusCode::OK).await;
    let (final_access, final_refresh) = (string_at(&changed, "/access_token"), string_at(&changed, "/refresh_token"));
    secrets.extend([final_access.clone(), final_refresh.clone()]);

    let response = api.logout(&final_refresh, Some(&final_access)).await;
    track(&response, "/api/v1/auth/logout");
    json_body(response, StatusCode::OK).await;

    let response = api.login(&email_of("logan"), "Wrong@Password1").await;
    track(&response, "/api/v1/auth/login");
    assert_problem(response, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    secrets.push("Wrong@Password1".to_owned());

    let output = server.stop().await;
    for line in output.all_lines() {
        for secret in &secrets {
            assert!(!line.contains(secret.as_str()), "a secret appears in the logs: {line}");
        }
    }

    let access_lines: Vec<Value> = output
        .all_lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|line| log_field(line, "message").and_then(Value::as_str) == Some("request completed"))
        .collect();
    for (request_id, path) in &requests {
        let matching: Vec<&Value> = access_lines
            .iter()
            .filter(|line| log_field(line, "request_id").and_then(Value::as_str) == Some(request_id.as_str()))
            .collect();
        assert_eq!(matching.len(), 1, "exactly one access line for request {request_id} ({path}): {matching:?}");
        let line = matching[0];
        for field in [
            "timestamp",
            "level",
            "instance_id",
            "method",
            "route",
            "path",
            "status",
            "latency_ms",
            "client_ip",
            "user_id",
            "user_agent",
            "bytes_out",
        ] {
            assert!(log_field(line, field).is_some(), "the access line has {field}: {line}");
        }
        assert_eq!(log_field(line, "path").and_then(Value::as_str), Some(*path), "{line}");
    }
}

/// Every JSON log line that carries the request span of `request_id`.
fn lines_of_request<'a>(lines: &'a [Value], request_id: &str) -> Vec<&'a Value> {
    lines.iter().filter(|line| line.pointer("/span/request_id").and_then(Value::as_str) == Some(request_id)).collect()
}

#[tokio::test]
async fn every_log_line_of_a_request_carries_its_request_span() {
    // A policy denial and a failure inside a handler (a table the query needs has gone), through
    // a child process logging JSON at debug level on PostgreSQL.
    let database = TestDatabase::create(Backend::Postgres);
    let workspace = Workspace::new();
    let settings = child_settings(
        &workspace,
        &[
            ("ADMIN_PASSWORD", ADMIN_PASSWORD),
            ("LOG_FORMAT", "json"),
            ("LOG_LEVEL", "debug"),
            ("DATABASE_URL", database.url()),
        ],
    );
    let server = ServerProcess::start(&workspace.dir, &as_pairs(&settings)).await;
    let api = &server.api;
    let owner = api.new_account("spanowner", None).await;
    let other = api.new_account("spanother", None).await;
    let task_id = api.new_task_id(owner.token(), "Private").await;

    let denied = api
        .authed(reqwest::Method::GET, &format!("/api/v1/tasks/{task_id}"), other.token())
        .header("x-request-id", "span-denied-1")
        .send()
        .await
        .expect("the request reaches the server");
    assert_eq!(denied.status(), StatusCode::FORBIDDEN);

    database.execute("ALTER TABLE tasks RENAME TO tasks_gone").expect("the table is renamed");
    let failed = api
        .authed(reqwest::Method::GET, "/api/v1/tasks", owner.token())
        .header("x-request-id", "span-failed-1")
        .send()
        .await
        .expect("the request reaches the server");
    assert_eq!(failed.status(), StatusCode::INTERNAL_SERVER_ERROR);

    let output = server.stop().await;
    let lines: Vec<Value> = output.all_lines().filter_map(|line| serde_json::from_str::<Value>(line).ok()).collect();
    for (request_id, user, message) in
        [("span-denied-1", &other.id, "authorization denied"), ("span-failed-1", &owner.id, "request failed")]
    {
        let of_request = lines_of_request(&lines, request_id);
        let messages: Vec<&str> =
            of_request.iter().filter_map(|line| log_field(line, "message").and_then(Value::as_str)).collect();
        assert!(messages.contains(&message), "{request_id}: a {message:?} line in the span: {messages:?}");
        assert!(messages.contains(&"request completed"), "{request_id}: the access line in the span: {messages:?}");
        for line in &of_request {
            // The user is known once the token is accepted; lines before that have no user_id.
            let logged_user = line.pointer("/span/user_id").and_then(Value::as_str);
            let is_outcome = log_field(line, "message").and_then(Value::as_str) == Some(message);
            assert!(logged_user == Some(user.as_str()) || (logged_user.is_none() && !is_outcome), "{line}");
            assert!(
                line.pointer("/span/route").and_then(Value::as_str).is_some_and(|r| r.starts_with("/api/v1/tasks"))
            );
            assert_eq!(line.pointer("/span/method").and_then(Value::as_str), Some("GET"), "{line}");
        }
        // No line mentioning the request's message is outside its span.
        let stray = lines
            .iter()
            .filter(|line| log_field(line, "message").and_then(Value::as_str) == Some(message))
            .filter(|line| line.pointer("/span/request_id").is_none())
            .count();
        assert_eq!(stray, 0, "{message:?} is always logged inside a request span");
    }
}
