//! docs/testing.md#g-middleware-and-failure-handling (G1–G3, G5, G6; G4 is in bad_input.rs, G9 in binary.rs) and H13: rate limits and
//! their headers, CORS, response compression, the request timeout, and which client address the
//! limits and the audit log believe.

use std::time::Duration;

use reqwest::header::HeaderMap;
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::*;

/// The `RateLimit-*` and `Retry-After` headers (docs/http-contract.md#rate-limits).
const RATE_LIMIT_HEADERS: [&str; 5] =
    ["ratelimit-limit", "ratelimit-remaining", "ratelimit-reset", "ratelimit-policy", "retry-after"];

/// Class `api` at 6 requests a minute with a burst of 10 (G1, H13); the `auth` class gets room for
/// the setup's registrations and logins.
const TIGHT_API_LIMITS: &[(&str, &str)] = &[
    ("RATE_LIMIT_ENABLED", "true"),
    ("RATE_LIMIT_RPM", "6"),
    ("RATE_LIMIT_BURST", "10"),
    ("RATE_LIMIT_AUTH_RPM", "600"),
    ("RATE_LIMIT_AUTH_BURST", "100"),
];

/// The policy header of class `api` under [`TIGHT_API_LIMITS`]: 10 tokens at 0.1 a second take
/// 100 s to refill.
const TIGHT_API_POLICY: &str = r#"10;w=100;name="api""#;

/// A whole-number header.
fn numeric_header(headers: &HeaderMap, name: &str) -> u64 {
    let value = header(headers, name).unwrap_or_else(|| panic!("a {name} header"));
    value.parse().unwrap_or_else(|_| panic!("{name} is a whole number: {value:?}"))
}

/// Asserts a 429 `rate_limited` (docs/http-contract.md#errors, docs/http-contract.md#rate-limits): `Retry-After` ≥ 1 equal to `retry_after`, and
/// the RateLimit headers. Returns the headers and the problem.
async fn assert_rate_limited(response: Response, policy: &str) -> (HeaderMap, Value) {
    let (headers, problem) = assert_problem_with_headers(response, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    assert_eq!(problem["message"], "rate limit exceeded");
    let retry_after = numeric_header(&headers, "retry-after");
    assert!(retry_after >= 1, "Retry-After is at least 1 s: {retry_after}");
    assert_eq!(problem["retry_after"].as_u64(), Some(retry_after), "retry_after equals Retry-After: {problem}");
    assert_eq!(header(&headers, "ratelimit-policy").as_deref(), Some(policy));
    assert_eq!(numeric_header(&headers, "ratelimit-remaining"), 0);
    (headers, problem)
}

both_backends!(
    the_api_class_allows_its_burst_then_answers_429_per_user,
    overrides = TIGHT_API_LIMITS,
    |app| async move {
        // G1
        let alice = app.new_account("alice", Some("Engineering")).await;
        let bob = app.new_account("bob", Some("Engineering")).await;

        for expected_remaining in (0..10).rev() {
            let (headers, _) = json_with_headers(app.list_tasks(alice.token(), &[]).await, StatusCode::OK).await;
            assert_eq!(numeric_header(&headers, "ratelimit-limit"), 10);
            assert_eq!(numeric_header(&headers, "ratelimit-remaining"), expected_remaining);
            assert_eq!(header(&headers, "ratelimit-policy").as_deref(), Some(TIGHT_API_POLICY));
            let reset = numeric_header(&headers, "ratelimit-reset");
            assert!((1..=100).contains(&reset), "RateLimit-Reset is the time to a full bucket: {reset}");
        }
        let (headers, _) = assert_rate_limited(app.list_tasks(alice.token(), &[]).await, TIGHT_API_POLICY).await;
        assert_eq!(numeric_header(&headers, "ratelimit-limit"), 10);

        // Another user has a bucket of their own.
        let (headers, _) = json_with_headers(app.list_tasks(bob.token(), &[]).await, StatusCode::OK).await;
        assert_eq!(numeric_header(&headers, "ratelimit-remaining"), 9);

        for _ in 0..50 {
            let (headers, _) = json_with_headers(app.get("/health").await, StatusCode::OK).await;
            for name in RATE_LIMIT_HEADERS {
                assert!(header(&headers, name).is_none(), "/health is exempt and carries no {name}");
            }
        }
    }
);

both_backends!(
    the_auth_class_limits_anonymous_logins_from_one_address,
    overrides = &[("RATE_LIMIT_ENABLED", "true")],
    |app| async move {
        // G2: unknown emails, so that the per-account login throttle (5 failures) stays out of it.
        for attempt in 0..5 {
            let response = app.login(&format!("nobody{attempt}@example.com"), "Wrong@Password1").await;
            let (headers, _) =
                assert_problem_with_headers(response, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
            assert_eq!(numeric_header(&headers, "ratelimit-limit"), 5);
            assert_eq!(numeric_header(&headers, "ratelimit-remaining"), 4 - attempt);
        }
        let response = app.login("nobody5@example.com", "Wrong@Password1").await;
        assert_rate_limited(response, r#"5;w=30;name="auth""#).await;
    }
);

const ALLOWED_ORIGIN: &str = "http://localhost:3000";
const FOREIGN_ORIGIN: &str = "http://evil.example";

/// The comma-separated entries of every `name` header, lowercased.
fn header_list(headers: &HeaderMap, name: &str) -> Vec<String> {
    headers
        .get_all(name)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(|entry| entry.trim().to_ascii_lowercase())
        .filter(|entry| !entry.is_empty())
        .collect()
}

/// A CORS preflight for `PUT path` with `If-Match`, from `origin`.
async fn preflight(app: &TestApp, path: &str, origin: &str) -> Response {
    send(
        app.request(Method::OPTIONS, path)
            .header("origin", origin)
            .header("access-control-request-method", "PUT")
            .header("access-control-request-headers", "if-match"),
    )
    .await
}

both_backends!(cors_answers_allowed_origins_and_refuses_others, |app| async move {
    // G3
    let alice = app.new_account("alice", Some("Engineering")).await;
    let task = app.new_task_id(alice.token(), "Cross-origin").await;
    let path = format!("/api/v1/tasks/{task}");

    let headers = assert_no_body(preflight(&app, &path, ALLOWED_ORIGIN).await, StatusCode::NO_CONTENT).await;
    assert_eq!(header(&headers, "access-control-allow-origin").as_deref(), Some(ALLOWED_ORIGIN));
    let methods = header_list(&headers, "access-control-allow-methods");
    for method in ["get", "post", "put", "patch", "delete", "options"] {
        assert!(methods.iter().any(|allowed| allowed == method), "{method} is allowed: {methods:?}");
    }
    let allowed_headers = header_list(&headers, "access-control-allow-headers");
    for name in ["authorization", "content-type", "idempotency-key", "if-match", "if-none-match", "x-request-id"] {
        assert!(allowed_headers.iter().any(|allowed| allowed == name), "{name} is allowed: {allowed_headers:?}");
    }
    assert_eq!(header(&headers, "access-control-max-age").as_deref(), Some("43200"));
    assert!(header(&headers, "access-control-allow-credentials").is_none(), "no credentials");

    let problem =
        assert_problem(preflight(&app, &path, FOREIGN_ORIGIN).await, StatusCode::FORBIDDEN, "forbidden").await;
    assert_eq!(problem["message"], "Origin not allowed");

    let response = send(app.authed(Method::GET, &path, alice.token()).header("origin", FOREIGN_ORIGIN)).await;
    let (headers, _) = json_with_headers(response, StatusCode::OK).await;
    assert!(header(&headers, "access-control-allow-origin").is_none(), "no CORS headers for a foreign origin");

    let response = send(app.authed(Method::GET, &path, alice.token()).header("origin", ALLOWED_ORIGIN)).await;
    let (headers, _) = json_with_headers(response, StatusCode::OK).await;
    assert_eq!(header(&headers, "access-control-allow-origin").as_deref(), Some(ALLOWED_ORIGIN));
    assert!(header_list(&headers, "vary").iter().any(|entry| entry == "origin"), "Vary: Origin");
    let exposed = header_list(&headers, "access-control-expose-headers");
    for name in [
        "etag",
        "location",
        "x-request-id",
        "retry-after",
        "idempotency-replayed",
        "ratelimit-limit",
        "ratelimit-remaining",
        "ratelimit-reset",
        "ratelimit-policy",
    ] {
        assert!(exposed.iter().any(|entry| entry == name), "{name} is exposed: {exposed:?}");
    }
});

/// Decompresses a gzip body with the system's `gzip`.
async fn gunzip(compressed: &[u8]) -> Vec<u8> {
    let dir = fresh_temp_dir();
    let file = dir.join("body.gz");
    std::fs::write(&file, compressed).expect("the compressed body can be written");
    let output = tokio::process::Command::new("gzip").arg("-dc").arg(&file).output().await.expect("gzip runs");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(output.status.success(), "the body is valid gzip: {}", String::from_utf8_lossy(&output.stderr));
    output.stdout
}

both_backends!(large_responses_are_gzip_compressed_when_the_client_accepts_it, |app| async move {
    // G5
    let alice = app.new_account("alice", Some("Engineering")).await;
    for n in 0..20 {
        let description = format!("Task {n}: {}", "a long description that repeats itself ".repeat(10));
        app.new_task(alice.token(), &json!({"title": format!("Task {n}"), "description": description})).await;
    }
    let page = [("pageSize", "100")];

    let response = send(app.client.get(app.url("/api/v1/tasks", &page)).bearer_auth(alice.token())).await;
    let (headers, plain) = body_text(response, StatusCode::OK).await;
    assert!(header(&headers, "content-encoding").is_none(), "no encoding unless asked for");
    assert!(plain.len() >= 1024, "the body is above the compression threshold: {} bytes", plain.len());
    let expected: Value = serde_json::from_str(&plain).expect("the list is JSON");

    let request = app.client.get(app.url("/api/v1/tasks", &page)).bearer_auth(alice.token());
    let response = send(request.header("accept-encoding", "gzip")).await;
    assert_eq!(response.status(), StatusCode::OK);
    let headers = response.headers().clone();
    assert_eq!(header(&headers, "content-encoding").as_deref(), Some("gzip"));
    let compressed = response.bytes().await.expect("the body can be read");
    assert_eq!(compressed.get(..2), Some(&[0x1f, 0x8b][..]), "the gzip magic number");
    let decoded: Value = serde_json::from_slice(&gunzip(&compressed).await).expect("the decompressed body is JSON");
    assert_eq!(decoded["total"], 20);
    assert_eq!(task_ids(&decoded), task_ids(&expected), "the same list either way");
});

both_backends!(a_handler_past_the_request_timeout_answers_503, |app| async move {
    // G6: the instance restarts with a 1 ms deadline and a password hash that cannot be computed
    // in 1 ms on any machine (Argon2id over 64 MiB, three passes: writing that memory once takes
    // longer), then a registration has to hash. The test instances' usual hash (1 MiB, one pass)
    // can finish within 1 ms, so a login was not always past the deadline.
    let app =
        app.restart(&[("REQUEST_TIMEOUT", "1ms"), ("ARGON2_MEMORY_KIB", "65536"), ("ARGON2_ITERATIONS", "3")]).await;
    let response = app.register(&registration("alice", Some("Engineering"))).await;
    let problem = assert_problem(response, StatusCode::SERVICE_UNAVAILABLE, "request_timeout").await;
    assert_eq!(problem["message"], "Request timed out");
});

/// Logs `email` in with `X-Forwarded-For: forwarded_for`, expecting 200, and returns the request id.
async fn login_forwarded_for(app: &TestApp, email: &str, forwarded_for: &str) -> String {
    let body = json!({"email": email, "password": USER_PASSWORD});
    let request = app.request(Method::POST, "/api/v1/auth/login").header("x-forwarded-for", forwarded_for);
    let response = send(request.json(&body)).await;
    let request_id = header(response.headers(), "x-request-id").expect("X-Request-Id");
    json_body(response, StatusCode::OK).await;
    request_id
}

/// The `ip_address` of the `auth:login` audit row of the request `request_id`. Polls gently: the
/// admin's own requests count against the tight limits of H13.
async fn audited_login_address(app: &TestApp, admin_token: &str, user_id: &str, request_id: &str) -> Value {
    let query = [("user_id", user_id), ("action", "auth:login")];
    eventually_every("the auth:login audit row", Duration::from_secs(4), Duration::from_millis(500), || async {
        let body = json_body(app.audit_logs(admin_token, &query).await, StatusCode::OK).await;
        let rows = body["audit_logs"].as_array().cloned().unwrap_or_default();
        rows.into_iter().find(|row| row["request_id"] == request_id).map(|row| row["ip_address"].clone())
    })
    .await
}

both_backends!(
    forwarded_for_headers_from_untrusted_peers_are_ignored,
    overrides = &[
        ("RATE_LIMIT_ENABLED", "true"),
        ("RATE_LIMIT_RPM", "6"),
        ("RATE_LIMIT_BURST", "10"),
        ("AUDIT_FLUSH_INTERVAL", "200ms")
    ],
    |app| async move {
        // H13 (TRUSTED_PROXIES empty): every request is keyed on the peer, whatever it claims.
        let alice_id = app.register_user("alice", Some("Engineering")).await;
        let admin = app.sign_in_admin().await;

        for n in 0..10 {
            let forwarded_for = format!("198.51.100.{}", rand::random_range(1..=254));
            let response =
                send(app.request(Method::GET, "/api/v1/tasks").header("x-forwarded-for", forwarded_for)).await;
            let (headers, _) = assert_problem_with_headers(response, StatusCode::UNAUTHORIZED, "missing_token").await;
            assert_eq!(numeric_header(&headers, "ratelimit-remaining"), 9 - n, "one bucket for the peer address");
        }
        let response = send(app.request(Method::GET, "/api/v1/tasks").header("x-forwarded-for", "203.0.113.250")).await;
        assert_rate_limited(response, TIGHT_API_POLICY).await;

        let request_id = login_forwarded_for(&app, &email_of("alice"), "203.0.113.66").await;
        let address = audited_login_address(&app, admin.token(), &alice_id, &request_id).await;
        assert_eq!(address, "127.0.0.1", "the audit row has the peer address");
    }
);

both_backends!(
    forwarded_for_headers_from_trusted_proxies_name_the_client,
    overrides = &[("TRUSTED_PROXIES", "127.0.0.1/32"), ("AUDIT_FLUSH_INTERVAL", "200ms")],
    |app| async move {
        // H13, trusted-proxy variant (docs/http-contract.md#rate-limits): walk X-Forwarded-For from the right to the first
        // untrusted address; when every entry is trusted, the left-most one is the client.
        let alice_id = app.register_user("alice", Some("Engineering")).await;
        // Set-up, then a `for (input, expected) in [...]` case table: the same shape as tasks.rs
        // invalid_list_parameters_name_the_parameter; the cases differ.
        let admin = app.sign_in_admin().await;
        for (forwarded_for, client) in [
            ("203.0.113.9", "203.0.113.9"),
            ("198.51.100.7, 203.0.113.10", "203.0.113.10"),
            ("203.0.113.11, 127.0.0.1", "203.0.113.11"),
            ("127.0.0.1", "127.0.0.1"),
        ] {
            let request_id = login_forwarded_for(&app, &email_of("alice"), forwarded_for).await;
            let address = audited_login_address(&app, admin.token(), &alice_id, &request_id).await;
            assert_eq!(address, client, "X-Forwarded-For: {forwarded_for}");
        }
    }
);

both_backends!(
    rate_limits_are_keyed_on_the_client_a_trusted_proxy_names,
    overrides = &[("TRUSTED_PROXIES", "127.0.0.1/32"), ("RATE_LIMIT_ENABLED", "true")],
    |app| async move {
        // docs/http-contract.md#rate-limits: the client IP behind a trusted proxy is the key of the `auth` class (burst 5).
        let attempt = |n: usize, forwarded_for: &'static str| {
            let request = app.request(Method::POST, "/api/v1/auth/login").header("x-forwarded-for", forwarded_for);
            send(request.json(&json!({"email": format!("nobody{n}@example.com"), "password": "Wrong@Password1"})))
        };
        for n in 0..5 {
            assert_problem(attempt(n, "203.0.113.20").await, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
        }
        assert_rate_limited(attempt(5, "203.0.113.20").await, r#"5;w=30;name="auth""#).await;
        assert_problem(attempt(6, "203.0.113.21").await, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    }
);
