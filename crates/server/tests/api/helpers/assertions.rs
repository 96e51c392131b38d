//! Assertions and helpers every scenario shares: bodies, problems, polling, time.

pub use taskify_test_support::{eventually_every, free_port};

use super::*;

/// The value of a response header, if present and textual.
pub fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get(name).and_then(|value| value.to_str().ok()).map(str::to_owned)
}

/// Asserts the status, then reads the body as text.
pub async fn body_text(response: Response, expected: StatusCode) -> (HeaderMap, String) {
    let status = response.status();
    let url = response.url().clone();
    let headers = response.headers().clone();
    let body = response.text().await.expect("the body can be read");
    assert_eq!(status, expected, "unexpected status for {url}; body: {body}");
    (headers, body)
}

/// Asserts the status and a JSON success body (`application/json`), and returns the body.
pub async fn json_body(response: Response, expected: StatusCode) -> Value {
    json_with_headers(response, expected).await.1
}

/// Like [`json_body`], also returning the headers.
pub async fn json_with_headers(response: Response, expected: StatusCode) -> (HeaderMap, Value) {
    let (headers, body) = body_text(response, expected).await;
    let content_type = header(&headers, "content-type").unwrap_or_default();
    assert!(content_type.starts_with("application/json"), "expected application/json, got {content_type:?}");
    let value = serde_json::from_str(&body).unwrap_or_else(|error| panic!("invalid JSON ({error}): {body}"));
    (headers, value)
}

/// Asserts an empty-bodied answer (204, 304) and returns its headers.
pub async fn assert_no_body(response: Response, expected: StatusCode) -> HeaderMap {
    let (headers, body) = body_text(response, expected).await;
    assert!(body.is_empty(), "a {expected} has no body, got {body:?}");
    headers
}

/// Asserts a problem+json error (docs/http-contract.md#errors, docs/testing.md#fixtures): status, content type, `status`, `error`,
/// `type`, `title`, `detail` = `message`, `request_id` = `X-Request-Id`, `instance` = the path.
/// Returns the body.
pub async fn assert_problem(response: Response, status: StatusCode, code: &str) -> Value {
    assert_problem_with_headers(response, status, code).await.1
}

/// Like [`assert_problem`], also returning the headers.
pub async fn assert_problem_with_headers(response: Response, status: StatusCode, code: &str) -> (HeaderMap, Value) {
    let path = response.url().path().to_owned();
    let (headers, body) = body_text(response, status).await;
    let content_type = header(&headers, "content-type").unwrap_or_default();
    assert!(
        content_type.starts_with("application/problem+json"),
        "expected application/problem+json, got {content_type:?}; body: {body}"
    );
    let problem: Value = serde_json::from_str(&body).unwrap_or_else(|error| panic!("invalid JSON ({error}): {body}"));
    assert_eq!(problem["error"], code, "error code; body: {problem}");
    assert_eq!(problem["status"], status.as_u16(), "status member; body: {problem}");
    assert_eq!(problem["type"], format!("urn:taskify:problem:{code}"), "type; body: {problem}");
    assert_eq!(
        problem["title"],
        status.canonical_reason().expect("a standard status"),
        "title is the reason phrase; body: {problem}"
    );
    assert!(problem["message"].is_string(), "message; body: {problem}");
    assert_eq!(problem["detail"], problem["message"], "detail equals message; body: {problem}");
    assert_eq!(problem["instance"], path, "instance is the request path; body: {problem}");
    let request_id = header(&headers, "x-request-id").expect("every response carries X-Request-Id");
    assert_eq!(problem["request_id"], request_id, "request_id equals X-Request-Id; body: {problem}");
    (headers, problem)
}

/// The `field` names of a problem's `errors`.
pub fn error_fields(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .map(|errors| errors.iter().filter_map(|error| error["field"].as_str().map(str::to_owned)).collect())
        .unwrap_or_default()
}

/// The message of the error on `field` in a problem's `errors`.
pub fn error_message<'a>(problem: &'a Value, field: &str) -> &'a str {
    problem["errors"]
        .as_array()
        .and_then(|errors| errors.iter().find(|error| error["field"] == field))
        .and_then(|error| error["message"].as_str())
        .unwrap_or_else(|| panic!("no error on field {field}: {problem}"))
}

/// Asserts that `errors` names `field`.
pub fn assert_field_error(problem: &Value, field: &str) {
    let fields = error_fields(problem);
    assert!(fields.iter().any(|name| name == field), "expected an error on {field}, got {fields:?}: {problem}");
}

/// Asserts the six security headers of docs/http-contract.md#security-headers.
pub fn assert_security_headers(headers: &HeaderMap) {
    for (name, value) in SECURITY_HEADERS {
        assert_eq!(header(headers, name).as_deref(), Some(value), "security header {name}");
    }
}

/// Asserts that no member anywhere in `value` looks like a password or a hash.
pub fn assert_no_secret_members(value: &Value) {
    match value {
        Value::Object(members) => {
            for (key, member) in members {
                let key = key.to_ascii_lowercase();
                assert!(!key.contains("password") && !key.contains("hash"), "secret member {key} exposed: {value}");
                assert_no_secret_members(member);
            }
        }
        Value::Array(items) => items.iter().for_each(assert_no_secret_members),
        _ => {}
    }
}

/// The string at a JSON pointer, failing with the document when absent.
pub fn string_at(value: &Value, pointer: &str) -> String {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no string at {pointer} in {value}"))
        .to_owned()
}

/// The ids of the `tasks` of a list body.
pub fn task_ids(list: &Value) -> Vec<String> {
    // Same extraction chain as administration.rs usernames (over `tasks` here): two short readers of two list bodies.
    list["tasks"]
        .as_array()
        .unwrap_or_else(|| panic!("no tasks array in {list}"))
        .iter()
        .map(|task| string_at(task, "/id"))
        .collect()
}

/// Sorted copies of ids, to compare sets.
pub fn sorted(mut ids: Vec<String>) -> Vec<String> {
    ids.sort();
    ids
}

/// Asserts an output timestamp: RFC 3339, UTC with `Z`, exactly 6 fractional digits (docs/http-contract.md#times-identifiers-and-durations).
pub fn parse_timestamp(value: &Value) -> DateTime<Utc> {
    let text = value.as_str().unwrap_or_else(|| panic!("timestamp expected, got {value}"));
    let fraction = text.rsplit_once('.').map(|(_, fraction)| fraction).unwrap_or_default();
    assert!(
        text.ends_with('Z') && fraction.len() == 7 && fraction[..6].bytes().all(|b| b.is_ascii_digit()),
        "timestamp {text} is not UTC with 6 fractional digits"
    );
    DateTime::parse_from_rfc3339(text).unwrap_or_else(|error| panic!("bad timestamp {text}: {error}")).to_utc()
}

/// Asserts that a timestamp is within a minute of now.
pub fn assert_recent(value: &Value) {
    let age = Utc::now().signed_duration_since(parse_timestamp(value));
    assert!(age.num_seconds().abs() < 60, "timestamp {value} is not close to now");
}

/// Polls `probe` every 100 ms until it settles (`true`, or `Some` value), failing after
/// `deadline`. Slower than the shared [`taskify_test_support::eventually`]: the probes here send
/// requests to a server.
pub async fn eventually<S, F, Fut>(what: &str, deadline: Duration, probe: F) -> S::Value
where
    S: taskify_test_support::Settled,
    F: FnMut() -> Fut,
    Fut: Future<Output = S>,
{
    eventually_every(what, deadline, Duration::from_millis(100), probe).await
}

/// Polls `GET /audit-logs` (as `admin_token`, with `query`) for up to 5 s until a row satisfies
/// `matches`, and returns it.
pub async fn await_audit_row(
    api: &ApiClient,
    admin_token: &str,
    query: Query<'_>,
    matches: impl Fn(&Value) -> bool,
) -> Value {
    eventually("the audit row", Duration::from_secs(5), || async {
        let body = json_body(api.audit_logs(admin_token, query).await, StatusCode::OK).await;
        body["audit_logs"].as_array().and_then(|rows| rows.iter().find(|row| matches(row)).cloned())
    })
    .await
}

/// Waits until wall-clock time has passed `duration` (for TTLs and lockouts; never to synchronise
/// with the server).
pub async fn let_time_pass(duration: Duration) {
    tokio::time::sleep(duration).await;
}

/// Waits until the wall clock is past `moment` (an expiry the test set), plus a few milliseconds
/// so that the server's clock reading is past it too.
pub async fn let_time_pass_until(moment: DateTime<Utc>) {
    let remaining = moment.signed_duration_since(Utc::now()).to_std().unwrap_or_default();
    let_time_pass(remaining + Duration::from_millis(50)).await;
}

/// A timestamp as request input: RFC 3339 in UTC with microseconds, the precision of the output.
pub fn timestamp_text(moment: DateTime<Utc>) -> String {
    moment.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// The moment `seconds` from now, truncated to microseconds (so it survives a round trip).
pub fn seconds_from_now(seconds: i64) -> DateTime<Utc> {
    let moment = Utc::now() + chrono::Duration::seconds(seconds);
    DateTime::parse_from_rfc3339(&timestamp_text(moment)).expect("a formatted timestamp parses").to_utc()
}
