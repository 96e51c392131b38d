//! Hostile and malformed input (docs/http-contract.md): bad JSON, wrong types, unknown enum values,
//! malformed ids, oversize bodies, unsupported media types, SQL metacharacters, control characters
//! and very long strings. Every case states its exact answer, so none may be a 500.
//!
//! The cases are tables; each one prints its name before it runs, so a failure's captured output
//! ends with the case that broke.

use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::*;
use crate::raw_http::{Framing, RawResponse, post_raw};

/// The endpoints that take a JSON body.
#[derive(Clone, Copy, Debug)]
enum Endpoint {
    Register,
    Login,
    Refresh,
    Logout,
    CreateTask,
    UpdateTask,
    UpdateProfile,
}

const BODY_ENDPOINTS: [Endpoint; 7] = [
    Endpoint::Register,
    Endpoint::Login,
    Endpoint::Refresh,
    Endpoint::Logout,
    Endpoint::CreateTask,
    Endpoint::UpdateTask,
    Endpoint::UpdateProfile,
];

/// What a case expects.
#[derive(Clone, Copy, Debug)]
enum Expect {
    /// A problem with this status and code, naming `field` in `errors` when given.
    Problem(StatusCode, &'static str, Option<&'static str>),
    /// A success with this status whose body (for tasks under `task`, for users under `user`)
    /// echoes the sent value of the field, trimmed.
    Stored(StatusCode),
    /// A success with this status.
    Success(StatusCode),
}

const fn invalid(field: &'static str) -> Expect {
    Expect::Problem(StatusCode::BAD_REQUEST, "validation_failed", Some(field))
}

/// An instance with the fixtures and one task of alice, to aim the cases at.
struct Target {
    app: TestApp,
    fixtures: Fixtures,
    task_id: String,
}

impl Target {
    async fn new(app: TestApp) -> Target {
        let fixtures = app.fixtures().await;
        let task_id = app.new_task_id(fixtures.alice.token(), "Target task").await;
        Target { app, fixtures, task_id }
    }

    fn route(&self, endpoint: Endpoint) -> (Method, String, Option<&str>) {
        let alice = Some(self.fixtures.alice.token());
        match endpoint {
            Endpoint::Register => (Method::POST, "/api/v1/auth/register".into(), None),
            Endpoint::Login => (Method::POST, "/api/v1/auth/login".into(), None),
            Endpoint::Refresh => (Method::POST, "/api/v1/auth/refresh".into(), None),
            Endpoint::Logout => (Method::POST, "/api/v1/auth/logout".into(), None),
            Endpoint::CreateTask => (Method::POST, "/api/v1/tasks".into(), alice),
            Endpoint::UpdateTask => (Method::PUT, format!("/api/v1/tasks/{}", self.task_id), alice),
            Endpoint::UpdateProfile => (Method::PUT, "/api/v1/users/profile".into(), alice),
        }
    }

    /// A valid body for `endpoint`; `unique` keeps registrations apart.
    fn valid_body(&self, endpoint: Endpoint, unique: usize) -> Value {
        match endpoint {
            Endpoint::Register => registration(&format!("probe{unique}"), Some("Engineering")),
            Endpoint::Login => {
                json!({"email": format!("nobody{unique}@example.com"), "password": "Wrong@Pass1"})
            }
            Endpoint::Refresh | Endpoint::Logout => json!({"refresh_token": "unknown-token"}),
            Endpoint::CreateTask | Endpoint::UpdateTask => json!({"title": "Valid title"}),
            Endpoint::UpdateProfile => json!({"first_name": "Valid"}),
        }
    }

    fn request(&self, endpoint: Endpoint) -> reqwest::RequestBuilder {
        let (method, path, token) = self.route(endpoint);
        let request = self.app.request(method, &path);
        match token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    async fn send_json(&self, endpoint: Endpoint, body: &Value) -> Response {
        send(self.request(endpoint).json(body)).await
    }

    async fn send_raw(&self, endpoint: Endpoint, headers: &[(&str, &str)], body: impl Into<reqwest::Body>) -> Response {
        let mut request = self.request(endpoint).body(body);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        send(request).await
    }
}

/// Checks one case's response, announcing the case first.
async fn check(case: &str, response: Response, expect: Expect, sent: Option<(&str, &Value)>) {
    eprintln!("case: {case}");
    match expect {
        Expect::Problem(status, code, field) => {
            let problem = assert_problem(response, status, code).await;
            if let Some(field) = field {
                assert_field_error(&problem, field);
            }
        }
        Expect::Success(status) => {
            json_body(response, status).await;
        }
        Expect::Stored(status) => {
            let body = json_body(response, status).await;
            let (field, value) = sent.expect("a stored case names its field");
            let stored = ["task", "user"]
                .iter()
                .find_map(|wrapper| body.get(wrapper).and_then(|object| object.get(field)))
                .or_else(|| body.get(field))
                .unwrap_or_else(|| panic!("{case}: {field} missing from {body}"));
            let expected = value.as_str().map(|text| json!(text.trim())).unwrap_or_else(|| value.clone());
            assert_eq!(stored, &expected, "{case}: the value is stored verbatim");
        }
    }
}

both_backends!(syntactically_bad_bodies_are_invalid_requests, |app| async move {
    let target = Target::new(app).await;
    let json = [("content-type", "application/json")];
    for endpoint in BODY_ENDPOINTS {
        for raw in [r#"{"title":"#, "{", "not json", r#"{"a":1,}"#, "[]", "\"a string\"", "42", "null"] {
            let response = target.send_raw(endpoint, &json, raw).await;
            let expect = Expect::Problem(StatusCode::BAD_REQUEST, "invalid_request", None);
            check(&format!("{endpoint:?} with body {raw:?}"), response, expect, None).await;
        }
    }
    // A member of the wrong JSON type; `errors` names it.
    let mistyped: [(Endpoint, &str, Value); 11] = [
        (Endpoint::Register, "username", json!(123)),
        (Endpoint::Register, "department", json!(["Engineering"])),
        (Endpoint::Login, "email", json!(1)),
        (Endpoint::Login, "password", json!(true)),
        (Endpoint::Refresh, "refresh_token", json!(5)),
        (Endpoint::Logout, "refresh_token", json!({"token": "x"})),
        (Endpoint::CreateTask, "priority", json!(3)),
        (Endpoint::CreateTask, "due_date", json!(20300101)),
        (Endpoint::UpdateTask, "status", json!(true)),
        (Endpoint::UpdateTask, "description", json!(12)),
        (Endpoint::UpdateProfile, "first_name", json!([])),
    ];
    for (n, (endpoint, field, value)) in mistyped.into_iter().enumerate() {
        let mut body = target.valid_body(endpoint, n);
        body[field] = value.clone();
        let response = target.send_json(endpoint, &body).await;
        let expect = Expect::Problem(StatusCode::BAD_REQUEST, "invalid_request", Some(field));
        check(&format!("{endpoint:?} with {field} = {value}"), response, expect, None).await;
    }
});

both_backends!(unknown_enum_values_fail_validation, |app| async move {
    let target = Target::new(app).await;
    let cases: [(Endpoint, &str, &str); 6] = [
        (Endpoint::CreateTask, "status", "done"),
        (Endpoint::CreateTask, "priority", "critical"),
        (Endpoint::CreateTask, "status", ""),
        (Endpoint::UpdateTask, "status", "archived"),
        (Endpoint::UpdateTask, "priority", "none"),
        (Endpoint::UpdateTask, "priority", ""),
    ];
    for (endpoint, field, value) in cases {
        let mut body = target.valid_body(endpoint, 0);
        body[field] = json!(value);
        let response = target.send_json(endpoint, &body).await;
        check(&format!("{endpoint:?} {field}={value:?}"), response, invalid(field), None).await;
    }
    let alice = target.fixtures.alice.token();
    for (name, value) in [("status", "done"), ("priority", "critical"), ("sortBy", "owner"), ("order", "sideways")] {
        let response = target.app.list_tasks(alice, &[(name, value)]).await;
        check(&format!("GET /tasks?{name}={value}"), response, invalid(name), None).await;
    }
    let response = target.app.audit_logs(target.fixtures.admin.token(), &[("decision", "maybe")]).await;
    check("GET /audit-logs?decision=maybe", response, invalid("decision"), None).await;
});

both_backends!(malformed_uuids_are_invalid_in_paths_and_fail_validation_elsewhere, |app| async move {
    let target = Target::new(app).await;
    let (alice, admin) = (target.fixtures.alice.token(), target.fixtures.admin.token());
    let path_cases: [(Method, &str, &str); 11] = [
        (Method::GET, "/api/v1/tasks/xyz", alice),
        (Method::PUT, "/api/v1/tasks/123", alice),
        (Method::DELETE, "/api/v1/tasks/00000000-0000-0000-0000-00000000000g", alice),
        (Method::GET, "/api/v1/users/xyz/tasks", alice),
        (Method::GET, "/api/v1/users/profile/xyz", alice),
        (Method::GET, "/api/v1/tasks/xyz/attributes", admin),
        (Method::PATCH, "/api/v1/users/xyz", admin),
        (Method::DELETE, "/api/v1/users/xyz", admin),
        (Method::POST, "/api/v1/users/xyz/roles", admin),
        (Method::DELETE, "/api/v1/users/xyz/roles/manager", admin),
        (Method::GET, "/api/v1/users/xyz/attributes", admin),
    ];
    for (method, path, token) in path_cases {
        let response =
            send(target.app.authed(method.clone(), path, token).json(&json!({"title": "x", "role": "manager"}))).await;
        let expect = Expect::Problem(StatusCode::BAD_REQUEST, "invalid_request", None);
        check(&format!("{method} {path}"), response, expect, None).await;
    }
    let response = target.app.list_tasks(alice, &[("user_id", "not-a-uuid")]).await;
    check("GET /tasks?user_id=not-a-uuid", response, invalid("user_id"), None).await;
    let response = target.app.audit_logs(admin, &[("user_id", "not-a-uuid")]).await;
    check("GET /audit-logs?user_id=not-a-uuid", response, invalid("user_id"), None).await;
});

/// A JSON task body of exactly `size` bytes.
fn task_body_of_size(size: usize) -> Vec<u8> {
    let frame = r#"{"title":"big","description":""}"#.len();
    format!(r#"{{"title":"big","description":"{}"}}"#, "a".repeat(size - frame)).into_bytes()
}

/// Asserts a raw response is the problem `code` with `status` (the checks of `assert_problem`
/// that apply to a hand-read response).
fn assert_raw_problem(case: &str, response: &RawResponse, status: u16, code: &str) -> Value {
    eprintln!("case: {case}");
    assert_eq!(response.status, status, "{case}: {response:?}");
    let content_type = response.headers.get("content-type").map(String::as_str).unwrap_or_default();
    assert!(content_type.starts_with("application/problem+json"), "{case}: {response:?}");
    let problem: Value = serde_json::from_str(&response.body).expect("a JSON problem");
    assert_eq!(problem["error"], code, "{case}: {problem}");
    assert_eq!(problem["status"], status, "{case}: {problem}");
    assert_eq!(problem["type"], format!("urn:taskify:problem:{code}"), "{case}: {problem}");
    assert_eq!(
        problem["request_id"].as_str(),
        response.headers.get("x-request-id").map(String::as_str),
        "{case}: request_id equals X-Request-Id"
    );
    problem
}

both_backends!(bodies_over_the_limit_are_rejected_with_or_without_content_length, |app| async move {
    // G4, H12: BODY_LIMIT_BYTES defaults to 1 MiB.
    let target = Target::new(app).await;
    let port = target.app.port;
    let oversize = task_body_of_size(1_048_577);
    let authorization = format!("Bearer {}", target.fixtures.alice.token());
    let signed_in = [("Authorization", authorization.as_str())];

    // A declared Content-Length is checked before authentication (docs/http-contract.md#order-of-checks step 2).
    for (case, path, headers) in [
        ("anonymous task with Content-Length", "/api/v1/tasks", &[][..]),
        ("task with Content-Length", "/api/v1/tasks", &signed_in[..]),
        ("registration with Content-Length", "/api/v1/auth/register", &[][..]),
    ] {
        let response = post_raw(port, path, headers, oversize.clone(), Framing::ContentLength).await;
        let problem = assert_raw_problem(case, &response, 413, "payload_too_large");
        assert_eq!(problem["message"], "Request body exceeds 1048576 bytes");
    }
    let response = post_raw(port, "/api/v1/tasks", &signed_in, oversize, Framing::ChunkedUnterminated).await;
    assert_raw_problem("chunked task", &response, 413, "payload_too_large");

    // Exactly at the limit passes the body limit (the description then breaks its own rule).
    let at_limit = task_body_of_size(1_048_576);
    for framing in [Framing::ContentLength, Framing::Chunked] {
        let response = post_raw(port, "/api/v1/tasks", &signed_in, at_limit.clone(), framing).await;
        let problem = assert_raw_problem(&format!("1 MiB, {framing:?}"), &response, 400, "validation_failed");
        assert_field_error(&problem, "description");
    }
});

both_backends!(only_json_media_types_and_identity_encoding_are_accepted, |app| async move {
    let target = Target::new(app).await;
    let body = serde_json::to_vec(&json!({"title": "Media type"})).expect("JSON serialises");
    let unsupported = Expect::Problem(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", None);
    let cases: [(&str, Headers, Expect); 7] = [
        ("text/plain", &[("content-type", "text/plain")], unsupported),
        ("form encoded", &[("content-type", "application/x-www-form-urlencoded")], unsupported),
        ("gzip encoding", &[("content-type", "application/json"), ("content-encoding", "gzip")], unsupported),
        ("br encoding", &[("content-type", "application/json"), ("content-encoding", "br")], unsupported),
        (
            "application/json with charset",
            &[("content-type", "application/json; charset=utf-8")],
            Expect::Success(StatusCode::CREATED),
        ),
        ("a +json type", &[("content-type", "application/vnd.taskify+json")], Expect::Success(StatusCode::CREATED)),
        (
            "identity encoding",
            &[("content-type", "application/json"), ("content-encoding", "identity")],
            Expect::Success(StatusCode::CREATED),
        ),
    ];
    for (case, headers, expect) in cases {
        let response = target.send_raw(Endpoint::CreateTask, headers, body.clone()).await;
        check(case, response, expect, None).await;
    }
    let response = target.send_raw(Endpoint::CreateTask, &[], body.clone()).await;
    check("no content type", response, Expect::Success(StatusCode::CREATED), None).await;
    let response = target.send_raw(Endpoint::Register, &[("content-type", "text/plain")], body).await;
    check("text/plain on register", response, unsupported, None).await;
});

/// Extra request headers of a case.
type Headers = &'static [(&'static str, &'static str)];

/// SQL and LIKE metacharacters (docs/testing.md H11 and the issue's acceptance list).
const SQL_PAYLOADS: [&str; 5] = ["' OR 1=1 --", "\"; DROP TABLE tasks; --", "%", "_", "\\"];

both_backends!(sql_metacharacters_in_body_fields_are_stored_verbatim_or_rejected, |app| async move {
    let target = Target::new(app).await;
    let ok = StatusCode::OK;
    let fields: [(Endpoint, &str, Expect); 17] = [
        (Endpoint::Register, "username", invalid("username")),
        (Endpoint::Register, "email", invalid("email")),
        (Endpoint::Register, "password", invalid("password")),
        (Endpoint::Register, "first_name", Expect::Stored(StatusCode::CREATED)),
        (Endpoint::Register, "last_name", Expect::Stored(StatusCode::CREATED)),
        (Endpoint::Register, "department", Expect::Stored(StatusCode::CREATED)),
        (Endpoint::Register, "position", Expect::Stored(StatusCode::CREATED)),
        (Endpoint::Login, "email", invalid("email")),
        (Endpoint::Login, "password", Expect::Problem(StatusCode::UNAUTHORIZED, "invalid_credentials", None)),
        (Endpoint::Refresh, "refresh_token", Expect::Problem(StatusCode::UNAUTHORIZED, "invalid_token", None)),
        (Endpoint::Logout, "refresh_token", Expect::Success(ok)),
        (Endpoint::CreateTask, "title", Expect::Stored(StatusCode::CREATED)),
        (Endpoint::CreateTask, "description", Expect::Stored(StatusCode::CREATED)),
        (Endpoint::UpdateTask, "title", Expect::Stored(ok)),
        (Endpoint::UpdateTask, "description", Expect::Stored(ok)),
        (Endpoint::UpdateProfile, "first_name", Expect::Stored(ok)),
        (Endpoint::UpdateProfile, "position", Expect::Stored(ok)),
    ];
    let mut unique = 0;
    for (endpoint, field, expect) in fields {
        for payload in SQL_PAYLOADS {
            unique += 1;
            let mut body = target.valid_body(endpoint, unique);
            body[field] = json!(payload);
            let response = target.send_json(endpoint, &body).await;
            check(&format!("{endpoint:?} {field} = {payload:?}"), response, expect, Some((field, &body[field]))).await;
        }
    }
    // Password fields of a password change (carol's, so alice's session stays untouched).
    let carol = target.fixtures.carol.token();
    for payload in SQL_PAYLOADS {
        let wrong_current = json!({"current_password": payload, "new_password": "New@123456"});
        let response = target.app.update_profile(carol, &wrong_current).await;
        check(&format!("current_password = {payload:?}"), response, invalid("current_password"), None).await;
        let bad_new = json!({"current_password": USER_PASSWORD, "new_password": payload});
        let response = target.app.update_profile(carol, &bad_new).await;
        check(&format!("new_password = {payload:?}"), response, invalid("new_password"), None).await;
    }
    // Nothing was dropped or widened.
    let everything =
        json_body(target.app.list_tasks(target.fixtures.admin.token(), &[("pageSize", "100")]).await, ok).await;
    assert_eq!(everything["total"], 1 + SQL_PAYLOADS.len() * 2, "the tasks table is intact: {everything}");
});

both_backends!(sql_metacharacters_in_query_parameters_are_validated_or_literal, |app| async move {
    let target = Target::new(app).await;
    let alice = target.fixtures.alice.token();
    for payload in SQL_PAYLOADS {
        let response = target.app.list_tasks(alice, &[("q", payload)]).await;
        eprintln!("case: q = {payload:?}");
        let list = json_body(response, StatusCode::OK).await;
        assert_eq!(list["total"], 0, "q = {payload:?} matches nothing: {list}");
        for name in ["sortBy", "order", "status", "priority", "due_after", "due_before", "user_id", "page", "pageSize"]
        {
            let response = target.app.list_tasks(alice, &[(name, payload)]).await;
            check(&format!("{name} = {payload:?}"), response, invalid(name), None).await;
        }
        let admin = target.fixtures.admin.token();
        for name in ["q", "department"] {
            let response = target.app.list_users(admin, &[(name, payload)]).await;
            check(&format!("GET /users?{name} = {payload:?}"), response, Expect::Success(StatusCode::OK), None).await;
        }
    }
});

both_backends!(like_wildcards_in_searches_match_literally, |app| async move {
    let fixtures = app.fixtures().await;
    let token = fixtures.alice.token();
    let percent = app.new_task_id(token, "50% done").await;
    let underscore = app.new_task_id(token, "snake_case").await;
    let backslash = app.new_task_id(token, r"back\slash").await;
    app.new_task_id(token, "plain words").await;
    assert_eq!(app.listed_task_ids(token, &[("q", "%")]).await, [percent]);
    assert_eq!(app.listed_task_ids(token, &[("q", "_")]).await, [underscore]);
    assert_eq!(app.listed_task_ids(token, &[("q", "\\")]).await, [backslash]);
    assert!(app.listed_task_ids(token, &[("q", "' OR 1=1 --")]).await.is_empty());
});

both_backends!(control_characters_in_single_line_fields_fail_validation, |app| async move {
    let target = Target::new(app).await;
    let fields: [(Endpoint, &str); 10] = [
        (Endpoint::Register, "username"),
        (Endpoint::Register, "email"),
        (Endpoint::Register, "first_name"),
        (Endpoint::Register, "last_name"),
        (Endpoint::Register, "department"),
        (Endpoint::Register, "position"),
        (Endpoint::CreateTask, "title"),
        (Endpoint::UpdateTask, "title"),
        (Endpoint::UpdateProfile, "first_name"),
        (Endpoint::UpdateProfile, "position"),
    ];
    let mut unique = 0;
    for (endpoint, field) in fields {
        for control in ['\u{0000}', '\u{001f}', '\u{007f}'] {
            unique += 1;
            let mut body = target.valid_body(endpoint, unique);
            let value = match body[field].as_str() {
                Some(valid) if field == "email" => format!("ab{control}{valid}"),
                Some(valid) => format!("{valid}{control}x"),
                None => format!("ab{control}cd"),
            };
            body[field] = json!(value);
            let response = target.send_json(endpoint, &body).await;
            check(&format!("{endpoint:?} {field} with {control:?}"), response, invalid(field), None).await;
        }
    }
    let response =
        target.app.update_profile(target.fixtures.alice.token(), &json!({"last_name": "Tes\u{0007}ter"})).await;
    check("profile last_name with BEL", response, invalid("last_name"), None).await;
});

both_backends!(ten_thousand_character_strings_respect_every_length_rule, |app| async move {
    let target = Target::new(app).await;
    let long = "a".repeat(10_000);
    // (Logout sets no length on its token, so it is not listed.)
    let fields: [(Endpoint, &str); 14] = [
        (Endpoint::Register, "username"),
        (Endpoint::Register, "email"),
        (Endpoint::Register, "password"),
        (Endpoint::Register, "first_name"),
        (Endpoint::Register, "last_name"),
        (Endpoint::Register, "department"),
        (Endpoint::Register, "position"),
        (Endpoint::Login, "email"),
        (Endpoint::Login, "password"),
        (Endpoint::Refresh, "refresh_token"),
        (Endpoint::CreateTask, "title"),
        (Endpoint::UpdateTask, "title"),
        (Endpoint::UpdateProfile, "first_name"),
        (Endpoint::UpdateProfile, "position"),
    ];
    for (n, (endpoint, field)) in fields.into_iter().enumerate() {
        let mut body = target.valid_body(endpoint, n);
        body[field] = json!(long);
        let response = target.send_json(endpoint, &body).await;
        check(&format!("{endpoint:?} {field} of 10 000 characters"), response, invalid(field), None).await;
    }
    let response = target.app.list_tasks(target.fixtures.alice.token(), &[("q", &long)]).await;
    check("q of 10 000 characters", response, invalid("q"), None).await;

    // Lengths count code points, not bytes.
    let token = target.fixtures.alice.token();
    let exactly = json!({"title": "é".repeat(255), "description": "é".repeat(10_000)});
    // One `check` call per boundary case, same shape each: the cases are the table.
    let response = target.app.create_task(token, &exactly).await;
    check(
        "a description of exactly 10 000 code points",
        response,
        Expect::Stored(StatusCode::CREATED),
        Some(("description", &exactly["description"])),
    )
    .await;
    let plain = json!({"title": "Long", "description": long});
    // Same `check` call as the code-point case above, for plain characters.
    let response = target.app.create_task(token, &plain).await;
    check(
        "a description of exactly 10 000 characters",
        response,
        Expect::Stored(StatusCode::CREATED),
        Some(("description", &plain["description"])),
    )
    .await;
    let over = json!({"title": "é".repeat(256)});
    let response = target.app.create_task(token, &over).await;
    check("a title of 256 code points", response, invalid("title"), None).await;
    let response = target.app.update_task(token, &target.task_id, &json!({"description": "a".repeat(10_001)})).await;
    check("an updated description of 10 001 characters", response, invalid("description"), None).await;
});
