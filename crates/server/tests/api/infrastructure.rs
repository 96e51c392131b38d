//! docs/testing.md#a-infrastructure-and-routing: infrastructure endpoints, routing, request ids, security headers, the UI shell and
//! the API documentation.

use reqwest::{Method, StatusCode};
use uuid::Uuid;

use crate::helpers::*;
use crate::{both_backends, sqlite_only};

both_backends!(health_reports_a_healthy_database_and_disabled_redis, |app| async move {
    // A1
    let body = json_body(app.get("/health").await, StatusCode::OK).await;
    assert_eq!(body["status"], "healthy");
    assert_eq!(body["database"], "up");
    assert_eq!(body["redis"], "disabled");
    assert_eq!(body["service"], "task-manager-backend");
    assert_eq!(body["checks"]["database"]["backend"], app.backend.name());
    assert_eq!(body["checks"]["redis"]["status"], "disabled");
    let timestamp = body["timestamp"].as_str().expect("a timestamp");
    assert!(
        timestamp.ends_with('Z') && !timestamp.contains('.'),
        "the health timestamp has whole seconds in UTC: {timestamp}"
    );
    chrono::DateTime::parse_from_rfc3339(timestamp).expect("the health timestamp is RFC 3339");
});

sqlite_only!(ready_and_live_answer_200, |app| async move {
    // A2
    let ready = json_body(app.get("/ready").await, StatusCode::OK).await;
    assert_eq!(ready["ready"], true);
    let live = json_body(app.get("/live").await, StatusCode::OK).await;
    assert_eq!(live["status"], "alive");
    assert!(live["uptime_seconds"].is_u64(), "uptime_seconds is a whole number: {live}");
});

sqlite_only!(head_is_accepted_wherever_get_is, |app| async move {
    let response = send(app.request(Method::HEAD, "/health")).await;
    assert_no_body(response, StatusCode::OK).await;
});

sqlite_only!(metrics_expose_the_prometheus_text_format, |app| async move {
    // A3: a request first, so that http_requests_total has a sample.
    json_body(app.get("/health").await, StatusCode::OK).await;
    let (headers, body) = body_text(app.get("/metrics").await, StatusCode::OK).await;
    let content_type = header(&headers, "content-type").unwrap_or_default();
    assert!(content_type.starts_with("text/plain; version=0.0.4"), "metrics content type {content_type:?}");
    for metric in ["http_requests_total", "circuit_breaker_state", "cache_jobs_queue_size", "taskify_build_info"] {
        assert!(body.lines().any(|line| line.starts_with(metric)), "metric {metric} missing from:\n{body}");
    }
    for line in body.lines().filter(|line| !line.is_empty() && !line.starts_with('#')) {
        assert_prometheus_sample(line);
    }
});

/// Asserts that a line is a Prometheus text-format sample: `name{labels} value [timestamp]`.
fn assert_prometheus_sample(line: &str) {
    let (series, rest) = match line.find('{') {
        Some(open) => {
            let close = line.rfind('}').unwrap_or_else(|| panic!("unclosed labels in {line:?}"));
            (&line[..open], line[close + 1..].trim())
        }
        None => line.split_once(' ').unwrap_or_else(|| panic!("no value in {line:?}")),
    };
    assert!(
        !series.is_empty() && series.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
        "bad metric name in {line:?}"
    );
    let mut fields = rest.split_whitespace();
    let value = fields.next().unwrap_or_else(|| panic!("no value in {line:?}"));
    assert!(value.parse::<f64>().is_ok(), "bad sample value in {line:?}");
    if let Some(timestamp) = fields.next() {
        assert!(timestamp.parse::<i64>().is_ok(), "bad timestamp in {line:?}");
    }
}

sqlite_only!(metrics_can_be_disabled, overrides = &[("METRICS_ENABLED", "false")], |app| async move {
    // A10
    assert_problem(app.get("/metrics").await, StatusCode::NOT_FOUND, "not_found").await;
});

sqlite_only!(unknown_routes_answer_not_found_with_security_headers, |app| async move {
    // A4
    let (headers, problem) =
        assert_problem_with_headers(app.get("/api/v1/nope").await, StatusCode::NOT_FOUND, "not_found").await;
    assert_eq!(problem["message"], "Route not found");
    assert_security_headers(&headers);
});

sqlite_only!(a_wrong_method_answers_405_with_allow, |app| async move {
    // A5
    let response = send(app.request(Method::PATCH, "/api/v1/tasks")).await;
    let (headers, _) =
        assert_problem_with_headers(response, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed").await;
    let allow = header(&headers, "allow").expect("a 405 carries Allow");
    let methods: Vec<&str> = allow.split(',').map(str::trim).collect();
    assert!(methods.contains(&"GET") && methods.contains(&"POST"), "Allow: {allow}");
});

sqlite_only!(a_trailing_slash_is_not_redirected, |app| async move {
    // A6
    let (headers, _) =
        assert_problem_with_headers(app.get("/api/v1/tasks/").await, StatusCode::NOT_FOUND, "not_found").await;
    assert_eq!(header(&headers, "location"), None);
});

sqlite_only!(ui_pages_are_served_and_missing_assets_are_not_found, |app| async move {
    // A7
    for page in ["/", "/tasks", "/admin"] {
        let (headers, body) = body_text(app.get(page).await, StatusCode::OK).await;
        let content_type = header(&headers, "content-type").unwrap_or_default();
        assert!(content_type.starts_with("text/html"), "{page} content type {content_type:?}");
        assert!(!body.is_empty(), "{page} has a body");
        assert_security_headers(&headers);
    }
    assert_problem(app.get("/assets/missing.js").await, StatusCode::NOT_FOUND, "not_found").await;
});

sqlite_only!(request_ids_are_echoed_when_valid_and_replaced_otherwise, |app| async move {
    // A8
    let with_id = |id: &str| send(app.request(Method::GET, "/api/v1/nope").header("x-request-id", id));

    let problem = assert_problem(with_id("abc-123").await, StatusCode::NOT_FOUND, "not_found").await;
    assert_eq!(problem["request_id"], "abc-123");

    let longest = "a.b:c_d-".repeat(16);
    let problem = assert_problem(with_id(&longest).await, StatusCode::NOT_FOUND, "not_found").await;
    assert_eq!(problem["request_id"], longest.as_str(), "128 allowed characters are kept");

    for rejected in ["bad id!".to_owned(), format!("{longest}x")] {
        let problem = assert_problem(with_id(&rejected).await, StatusCode::NOT_FOUND, "not_found").await;
        let generated = problem["request_id"].as_str().expect("a request id");
        assert!(Uuid::parse_str(generated).is_ok(), "{rejected:?} is replaced by a UUID, got {generated:?}");
    }

    let response = app.get("/health").await;
    let generated = header(response.headers(), "x-request-id").expect("every response carries X-Request-Id");
    assert!(Uuid::parse_str(&generated).is_ok(), "a missing id is generated as a UUID: {generated}");
});

sqlite_only!(every_response_carries_the_security_headers, |app| async move {
    // A9: success, problem, metrics and UI responses alike.
    for path in ["/health", "/live", "/metrics", "/", "/api/v1/tasks", "/api/v1/nope"] {
        let response = app.get(path).await;
        assert_security_headers(response.headers());
    }
});

sqlite_only!(the_openapi_document_and_its_viewer_are_served, |app| async move {
    let document = json_body(app.get("/api-docs/openapi.json").await, StatusCode::OK).await;
    let version = document["openapi"].as_str().expect("an openapi version");
    assert!(version.starts_with("3.1"), "OpenAPI version {version}");

    let (headers, _) = body_text(app.get("/api-docs").await, StatusCode::OK).await;
    let content_type = header(&headers, "content-type").unwrap_or_default();
    assert!(content_type.starts_with("text/html"), "/api-docs content type {content_type:?}");
});

sqlite_only!(
    a_client_that_never_finishes_its_request_head_is_disconnected,
    overrides = &[("READ_TIMEOUT", "1s")],
    |app| async move {
        // READ_TIMEOUT bounds the wait for a complete request head (slow-client protection).
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", app.port)).await.expect("connects");
        stream.write_all(b"GET /live HTTP/1.1\r\nHost: 127.0.0.1\r\n").await.expect("partial head sent");
        let mut buffer = [0u8; 64];
        let read = tokio::time::timeout(std::time::Duration::from_secs(10), stream.read(&mut buffer))
            .await
            .expect("the server closes the connection well before 10 s");
        assert!(matches!(read, Ok(0) | Err(_)), "the connection was closed without an answer: {read:?}");
        // The server still serves everyone else.
        assert_eq!(app.get("/live").await.status(), reqwest::StatusCode::OK);
    }
);
