//! docs/testing.md#b-authentication: registration, login, token refresh and rotation, logout, login throttling and the
//! access-token checks (B1–B22; B23 and B24 run the binary, see `binary.rs`).

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::both_backends;
use crate::helpers::*;
use crate::tokens::{claims_of, decode_segment};

const WELCOME: &str = "Welcome to Taskify! Your account has been created successfully.";

fn john() -> Value {
    json!({
        "username": "john_doe",
        "email": "john@example.com",
        "password": "SecurePass@123",
        "first_name": "John",
        "last_name": "Doe",
    })
}

/// Registers john (B1), expecting 201, and returns his id.
async fn register_john(app: &TestApp) -> String {
    string_at(&json_body(app.register(&john()).await, StatusCode::CREATED).await, "/user/id")
}

both_backends!(registering_returns_the_welcome_message_and_a_plain_user, |app| async move {
    // B1
    let body = json_body(app.register(&john()).await, StatusCode::CREATED).await;
    assert_eq!(body["message"], WELCOME);
    let user = &body["user"];
    assert_eq!(user["username"], "john_doe");
    assert_eq!(user["email"], "john@example.com");
    assert_eq!(user["first_name"], "John");
    assert_eq!(user["last_name"], "Doe");
    assert_eq!(user["role"], "user");
    assert_eq!(user["roles"], json!(["user"]));
    assert_eq!(user["is_active"], true);
    for absent in ["department", "position", "last_login_at"] {
        assert!(user.get(absent).is_some_and(Value::is_null), "{absent} is sent as null: {user}");
    }
    Uuid::parse_str(user["id"].as_str().expect("an id")).expect("the id is a UUID");
    parse_timestamp(&user["created_at"]);
    parse_timestamp(&user["updated_at"]);
    assert!(body.get("access_token").is_none(), "registration issues no tokens");
    assert_no_secret_members(&body);
});

both_backends!(duplicate_emails_and_usernames_are_conflicts, |app| async move {
    register_john(&app).await;
    // B2: the email is trimmed and lowercased before the uniqueness check.
    let mut same_email = john();
    same_email["email"] = json!(" John@Example.COM ");
    same_email["username"] = json!("johnny");
    let problem = assert_problem(app.register(&same_email).await, StatusCode::CONFLICT, "conflict").await;
    assert_eq!(problem["message"], "An account with this email already exists");
    // B3: usernames are unique ignoring case.
    let mut same_username = john();
    same_username["email"] = json!("other@example.com");
    same_username["username"] = json!("JOHN_DOE");
    let problem = assert_problem(app.register(&same_username).await, StatusCode::CONFLICT, "conflict").await;
    assert_eq!(problem["message"], "This username is already taken");
});

both_backends!(invalid_registrations_list_every_failing_field, |app| async move {
    // B4
    let body =
        json!({"username": "ab", "email": "nope", "password": "weakpass", "first_name": "  ", "last_name": "Doe"});
    let problem = assert_problem(app.register(&body).await, StatusCode::BAD_REQUEST, "validation_failed").await;
    for field in ["username", "email", "password", "first_name"] {
        assert_field_error(&problem, field);
    }
    let message = error_message(&problem, "password");
    assert!(message.contains("uppercase letter, number, special character"), "password message: {message}");

    // B5: 129 characters with all four classes.
    let mut too_long = john();
    too_long["password"] = json!(format!("Aa1@{}", "x".repeat(125)));
    let problem = assert_problem(app.register(&too_long).await, StatusCode::BAD_REQUEST, "validation_failed").await;
    assert_eq!(error_fields(&problem), ["password"]);
});

both_backends!(malformed_registration_bodies_are_rejected, |app| async move {
    // B6
    let raw = |body: &'static str, content_type: &'static str| {
        send(app.request(Method::POST, "/api/v1/auth/register").header("content-type", content_type).body(body))
    };
    assert_problem(raw(r#"{"username":"#, "application/json").await, StatusCode::BAD_REQUEST, "invalid_request").await;
    assert_problem(raw("[]", "application/json").await, StatusCode::BAD_REQUEST, "invalid_request").await;
    let valid = serde_json::to_string(&john()).expect("JSON serialises");
    let response =
        send(app.request(Method::POST, "/api/v1/auth/register").header("content-type", "text/plain").body(valid)).await;
    assert_problem(response, StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type").await;
});

both_backends!(login_returns_a_token_pair_and_the_permissions, |app| async move {
    // B7
    register_john(&app).await;
    let body = json_body(app.login(" JOHN@example.com ", "SecurePass@123").await, StatusCode::OK).await;
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    assert_eq!(body["refresh_expires_in"], 604_800);
    let refresh_token = body["refresh_token"].as_str().expect("a refresh token");
    assert_eq!(refresh_token.len(), 43, "refresh token {refresh_token}");
    assert!(
        refresh_token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
        "the refresh token is base64url: {refresh_token}"
    );
    assert_eq!(body["permissions"], json!(USER_PERMISSIONS));
    assert_eq!(body["user"]["email"], "john@example.com");
    assert_recent(&body["user"]["last_login_at"]);
    assert_no_secret_members(&body["user"]);

    // B8
    let access_token = body["access_token"].as_str().expect("an access token");
    let header = decode_segment(access_token, 0);
    assert_eq!(header["alg"], "HS256");
    let claims = claims_of(access_token);
    assert_eq!(claims["iss"], "taskify-backend");
    assert_eq!(claims["aud"], "taskify-users");
    assert_eq!(claims["sub"], body["user"]["id"]);
    assert_eq!(claims["sub"], claims["user_id"]);
    assert_eq!(claims["type"], "access");
    Uuid::parse_str(claims["jti"].as_str().expect("a jti")).expect("the jti is a UUID");
    let lifetime = claims["exp"].as_i64().expect("exp") - claims["iat"].as_i64().expect("iat");
    assert_eq!(lifetime, 900);
    assert_eq!(claims["roles"], json!(["user"]));
});

both_backends!(wrong_passwords_and_unknown_emails_get_identical_answers, |app| async move {
    // B9
    register_john(&app).await;
    let wrong_password = assert_problem(
        app.login("john@example.com", "WrongPass@123").await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;
    // Same assert_problem call shape as the other login cases here: each case is its own request and expected problem.
    let unknown_email = assert_problem(
        app.login("nobody@example.com", "WrongPass@123").await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;
    assert_eq!(wrong_password["message"], "Invalid email or password");
    let without_request_id = |mut problem: Value| {
        problem.as_object_mut().expect("an object").remove("request_id");
        problem
    };
    assert_eq!(without_request_id(wrong_password), without_request_id(unknown_email));
});

both_backends!(deactivated_users_cannot_log_in_or_refresh, |app| async move {
    // B10, B15
    let john_id = register_john(&app).await;
    let session = app.sign_in("john@example.com", "SecurePass@123").await;
    let admin = app.sign_in_admin().await;
    json_body(app.patch_user(admin.token(), &john_id, &json!({"is_active": false})).await, StatusCode::OK).await;

    // Same assert_problem call shape as the login cases above, for a deactivated account.
    let problem = assert_problem(
        app.login("john@example.com", "SecurePass@123").await,
        StatusCode::FORBIDDEN,
        "account_disabled",
    )
    .await;
    assert_eq!(problem["message"], "Your account has been disabled. Please contact support.");
    assert_problem(
        app.login("john@example.com", "WrongPass@123").await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;
    assert_problem(app.refresh(&session.refresh_token).await, StatusCode::FORBIDDEN, "account_disabled").await;
    assert_problem(app.profile(session.token()).await, StatusCode::FORBIDDEN, "account_disabled").await;
});

both_backends!(login_without_a_password_fails_validation, |app| async move {
    // B11
    let response = app.post_json("/api/v1/auth/login", &json!({"email": "john@example.com"})).await;
    let problem = assert_problem(response, StatusCode::BAD_REQUEST, "validation_failed").await;
    assert_field_error(&problem, "password");
});

both_backends!(refreshing_rotates_the_refresh_token, |app| async move {
    // B12
    let fixtures = app.fixtures().await;
    let body = json_body(app.refresh(&fixtures.alice.refresh_token).await, StatusCode::OK).await;
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    assert!(body["refresh_expires_in"].is_u64(), "refresh_expires_in: {body}");
    let rotated = body["refresh_token"].as_str().expect("a new refresh token");
    assert_ne!(rotated, fixtures.alice.refresh_token);
    assert_eq!(rotated.len(), 43);
    let access_token = body["access_token"].as_str().expect("a new access token");
    json_body(app.profile(access_token).await, StatusCode::OK).await;
});

// Same macro header as security.rs replaying_a_rotated_refresh_token_revokes_its_whole_family (no grace), but a
// different case: B13 here, the child and other-family checks there.
both_backends!(
    reusing_a_rotated_refresh_token_revokes_the_family,
    overrides = &[("REFRESH_REUSE_GRACE", "0")],
    |app| async move {
        // B13
        let fixtures = app.fixtures().await;
        let first = fixtures.alice.refresh_token.clone();
        let rotated = json_body(app.refresh(&first).await, StatusCode::OK).await;
        let second = string_at(&rotated, "/refresh_token");
        let access_token = string_at(&rotated, "/access_token");

        let problem = assert_problem(app.refresh(&first).await, StatusCode::UNAUTHORIZED, "invalid_token").await;
        assert_eq!(problem["message"], "Invalid or expired refresh token");
        assert_problem(app.refresh(&second).await, StatusCode::UNAUTHORIZED, "invalid_token").await;
        assert_problem(app.list_tasks(&access_token, &[]).await, StatusCode::UNAUTHORIZED, "invalid_token").await;

        let alice_id = fixtures.alice.id.clone();
        let row = await_audit_row(&app, fixtures.admin.token(), &[("action", "auth:refresh_reuse")], |row| {
            row["action"] == "auth:refresh_reuse" && row["user_id"] == alice_id.as_str()
        })
        .await;
        assert_eq!(row["decision"], "denied");
        assert_eq!(row["resource"], "auth");
    }
);

both_backends!(unknown_or_missing_refresh_tokens_are_rejected, |app| async move {
    // B14
    let random = Uuid::new_v4().simple().to_string();
    assert_problem(app.refresh(&random).await, StatusCode::UNAUTHORIZED, "invalid_token").await;
    let response = app.post_json("/api/v1/auth/refresh", &json!({})).await;
    let problem = assert_problem(response, StatusCode::BAD_REQUEST, "validation_failed").await;
    assert_field_error(&problem, "refresh_token");
});

both_backends!(expired_refresh_tokens_are_rejected, overrides = &[("REFRESH_TOKEN_TTL", "2s")], |app| async move {
    // B16
    let fixtures = app.fixtures().await;
    let_time_pass(Duration::from_secs(3)).await;
    assert_problem(app.refresh(&fixtures.alice.refresh_token).await, StatusCode::UNAUTHORIZED, "invalid_token").await;
});

both_backends!(logout_revokes_the_access_token_and_the_refresh_family, |app| async move {
    // B17
    let fixtures = app.fixtures().await;
    let alice = &fixtures.alice;
    let body = json_body(app.logout(&alice.refresh_token, Some(alice.token())).await, StatusCode::OK).await;
    assert_eq!(body["message"], "Successfully logged out");
    let problem = assert_problem(app.profile(alice.token()).await, StatusCode::UNAUTHORIZED, "invalid_token").await;
    assert_eq!(problem["message"], "Token has been revoked");
    assert_problem(app.refresh(&alice.refresh_token).await, StatusCode::UNAUTHORIZED, "invalid_token").await;
    // Other sessions are untouched.
    json_body(app.profile(fixtures.bob.token()).await, StatusCode::OK).await;
});

both_backends!(logout_always_succeeds_once_the_body_is_valid, |app| async move {
    // B18
    let body = json_body(app.logout("not-a-known-token", None).await, StatusCode::OK).await;
    assert_eq!(body["message"], "Successfully logged out");
    let invalid_authorization = send(
        app.request(Method::POST, "/api/v1/auth/logout").bearer_auth("garbage").json(&json!({"refresh_token": "x"})),
    )
    .await;
    assert_eq!(json_body(invalid_authorization, StatusCode::OK).await["message"], "Successfully logged out");
    let problem = assert_problem(
        app.post_json("/api/v1/auth/logout", &json!({})).await,
        StatusCode::BAD_REQUEST,
        "validation_failed",
    )
    .await;
    assert_field_error(&problem, "refresh_token");
});

both_backends!(
    repeated_wrong_passwords_lock_the_account_for_the_lockout_time,
    overrides = &[("LOGIN_MAX_FAILURES", "5"), ("LOGIN_LOCKOUT", "3s")],
    |app| async move {
        // B19
        let fixtures = app.fixtures().await;
        let email = fixtures.alice.email.clone();
        for _ in 0..5 {
            assert_problem(app.login(&email, "WrongPass@123").await, StatusCode::UNAUTHORIZED, "invalid_credentials")
                .await;
        }
        // Same rate-limited assertion shape as coherence.rs: one instance here, every node there.
        let (headers, problem) = assert_problem_with_headers(
            app.login(&email, USER_PASSWORD).await,
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
        )
        .await;
        assert_eq!(problem["message"], "Too many failed login attempts, try again later");
        let retry_after: u64 = header(&headers, "retry-after")
            .expect("a 429 carries Retry-After")
            .parse()
            .expect("Retry-After is whole seconds");
        assert!((1..=3).contains(&retry_after), "Retry-After {retry_after}");
        assert!(problem["retry_after"].is_u64(), "retry_after in the body: {problem}");

        let_time_pass(Duration::from_secs(3)).await;
        json_body(app.login(&email, USER_PASSWORD).await, StatusCode::OK).await;
    }
);

both_backends!(
    many_failures_from_one_ip_lock_that_ip,
    overrides = &[("LOGIN_IP_MAX_FAILURES", "20")],
    |app| async move {
        // B20
        let fixtures = app.fixtures().await;
        for attempt in 0..20 {
            let email = format!("unknown{attempt}@example.com");
            assert_problem(app.login(&email, "WrongPass@123").await, StatusCode::UNAUTHORIZED, "invalid_credentials")
                .await;
        }
        assert_problem(
            app.login(&fixtures.alice.email, USER_PASSWORD).await,
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
        )
        .await;
    }
);

both_backends!(
    expired_access_token_is_rejected_with_expired_token,
    overrides = &[("ACCESS_TOKEN_TTL", "1s")],
    |app| async move {
        // B21 (one user only: the fixtures would outlive a 1 s token while they are set up)
        let alice = app.new_account("alice", Some("Engineering")).await;
        let_time_pass(Duration::from_secs(2)).await;
        let (headers, problem) = assert_problem_with_headers(
            app.list_tasks(alice.token(), &[]).await,
            StatusCode::UNAUTHORIZED,
            "expired_token",
        )
        .await;
        assert_eq!(problem["message"], "Token has expired");
        let challenge = header(&headers, "www-authenticate").expect("a 401 carries WWW-Authenticate");
        assert!(challenge.contains("invalid_token"), "WWW-Authenticate: {challenge}");
    }
);

both_backends!(missing_or_malformed_authorization_headers_are_told_apart, |app| async move {
    // B22
    let (headers, problem) =
        assert_problem_with_headers(app.get("/api/v1/tasks").await, StatusCode::UNAUTHORIZED, "missing_token").await;
    assert_eq!(problem["message"], "Authorization header is required");
    let challenge = header(&headers, "www-authenticate").expect("a 401 carries WWW-Authenticate");
    assert!(challenge.starts_with("Bearer") && !challenge.contains("error="), "WWW-Authenticate: {challenge}");

    let with_authorization =
        |value: &'static str| send(app.request(Method::GET, "/api/v1/tasks").header("authorization", value));
    let problem =
        assert_problem(with_authorization("Token x").await, StatusCode::UNAUTHORIZED, "invalid_token_format").await;
    assert_eq!(problem["message"], "Authorization header must use Bearer token");
    let (headers, _) = assert_problem_with_headers(
        with_authorization("Bearer garbage").await,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await;
    let challenge = header(&headers, "www-authenticate").expect("a 401 carries WWW-Authenticate");
    assert!(challenge.contains(r#"error="invalid_token""#), "WWW-Authenticate: {challenge}");
});

both_backends!(deleted_users_lose_their_sessions_and_their_login, |app| async move {
    // docs/http-contract.md#administration (DELETE /users/{user_id}) as seen by authentication.
    let fixtures = app.fixtures().await;
    let carol = &fixtures.carol;
    let body = json_body(app.delete_user(fixtures.admin.token(), &carol.id).await, StatusCode::OK).await;
    assert_eq!(body["message"], "User deleted successfully");
    assert_problem(app.profile(carol.token()).await, StatusCode::UNAUTHORIZED, "invalid_token").await;
    assert_problem(app.refresh(&carol.refresh_token).await, StatusCode::UNAUTHORIZED, "invalid_token").await;
    assert_problem(app.login(&carol.email, USER_PASSWORD).await, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    let reuse = registration("carol", Some("Sales"));
    assert_problem(app.register(&reuse).await, StatusCode::CONFLICT, "conflict").await;
});
