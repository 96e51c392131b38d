//! docs/testing.md#h-security and the security acceptance criteria: forged and misused tokens, ownership,
//! mass assignment, SQL injection, refresh-token replay and constraint races.

use jsonwebtoken::Algorithm;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::*;
use crate::tokens::{assemble, sign, sign_valid, valid_claims, with_changes};

/// Asserts that `token` is refused on an authenticated endpoint with `code`.
async fn assert_refused(app: &TestApp, token: &str, code: &str, case: &str) {
    let response = app.profile(token).await;
    let problem = assert_problem(response, StatusCode::UNAUTHORIZED, code).await;
    assert_eq!(problem["error"], code, "{case}");
}

both_backends!(forged_or_misused_access_tokens_are_rejected, |app| async move {
    let fixtures = app.fixtures().await;
    let claims = valid_claims(&fixtures.alice.id);

    // The baseline: a token minted with the instance's secret and valid claims is accepted, so
    // every rejection below is caused by the one thing that differs.
    json_body(app.profile(&sign_valid(&claims)).await, StatusCode::OK).await;

    // H1, H2
    let none_header = json!({"alg": "none", "typ": "JWT"});
    let rs256_header = json!({"alg": "RS256", "typ": "JWT"});
    let invalid = [
        ("alg none, empty signature", assemble(&none_header, &claims, "")),
        ("HS256 with another secret", sign(Algorithm::HS256, "another-secret-another-secret-another-secret", &claims)),
        ("HS512 with the right secret", sign(Algorithm::HS512, JWT_SECRET, &claims)),
        ("RS256 header", assemble(&rs256_header, &claims, "c2lnbmF0dXJl")),
        (
            "nbf in the future",
            sign_valid(&with_changes(&claims, &json!({"nbf": chrono::Utc::now().timestamp() + 600}))),
        ),
        ("H5: the opaque refresh token", fixtures.alice.refresh_token.clone()),
    ];
    for (case, token) in &invalid {
        assert_refused(&app, token, "invalid_token", case).await;
    }

    // H3
    for (case, changes) in [("iss evil", json!({"iss": "evil"})), ("no iss", json!({"iss": null}))] {
        assert_refused(&app, &sign_valid(&with_changes(&claims, &changes)), "invalid_issuer", case).await;
    }

    // H4
    for (case, changes) in [
        ("aud other", json!({"aud": "other"})),
        ("type refresh", json!({"type": "refresh"})),
        ("sub differs from user_id", json!({"sub": fixtures.bob.id})),
        ("no jti", json!({"jti": null})),
    ] {
        assert_refused(&app, &sign_valid(&with_changes(&claims, &changes)), "invalid_claims", case).await;
    }

    // Expiry is checked before the issuer (docs/authentication.md#access-tokens order).
    let past = chrono::Utc::now().timestamp() - 60;
    let expired = with_changes(&claims, &json!({"exp": past, "iat": past - 900, "iss": "evil"}));
    assert_refused(&app, &sign_valid(&expired), "expired_token", "expired with a bad issuer").await;
});

both_backends!(authorization_comes_from_the_database_not_the_token_claims, |app| async move {
    // H6
    let fixtures = app.fixtures().await;
    let claims = with_changes(
        &valid_claims(&fixtures.alice.id),
        &json!({"role": "admin", "roles": ["admin"], "permissions": ADMIN_PERMISSIONS}),
    );
    let token = sign_valid(&claims);
    // Any `system:admin` route shows it; /cache/stats joins this list with the cache endpoints.
    let admin_only = format!("/api/v1/tasks/{}/attributes", uuid::Uuid::new_v4());
    let problem =
        assert_problem(app.get_with(&token, &admin_only, &[]).await, StatusCode::FORBIDDEN, "insufficient_role").await;
    assert_eq!(problem["message"], "Admin role required for this operation");
    let problem = assert_problem(app.list_users(&token, &[]).await, StatusCode::FORBIDDEN, "missing_permission").await;
    assert_eq!(problem["message"], "User does not have required permission: user:read");
});

both_backends!(users_cannot_touch_other_users_tasks, |app| async move {
    // H8
    let fixtures = app.fixtures().await;
    let alice_task = app.new_task(fixtures.alice.token(), &json!({"title": "Private", "description": "mine"})).await;
    let alice_task_id = string_at(&alice_task, "/id");
    let bob_task = app.new_task_id(fixtures.bob.token(), "Bob's own").await;
    let bob = fixtures.bob.token();

    assert_problem(app.get_task(bob, &alice_task_id).await, StatusCode::FORBIDDEN, "forbidden").await;
    let edit = json!({"title": "Hijacked", "status": "cancelled"});
    assert_problem(app.update_task(bob, &alice_task_id, &edit).await, StatusCode::FORBIDDEN, "forbidden").await;
    assert_problem(app.delete_task(bob, &alice_task_id).await, StatusCode::FORBIDDEN, "forbidden").await;
    let unchanged = json_body(app.get_task(fixtures.alice.token(), &alice_task_id).await, StatusCode::OK).await;
    assert_eq!(unchanged, alice_task, "the task is unchanged");

    assert_eq!(app.listed_task_ids(bob, &[]).await, [bob_task]);
    assert_problem(app.user_tasks(bob, &fixtures.alice.id, &[]).await, StatusCode::FORBIDDEN, "forbidden").await;
    assert_problem(
        app.list_tasks(bob, &[("user_id", fixtures.alice.id.as_str())]).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
});

both_backends!(server_owned_task_members_are_never_taken_from_the_body, |app| async move {
    // H10 (D3 is covered in profile.rs)
    let fixtures = app.fixtures().await;
    let planted_id = uuid::Uuid::new_v4().to_string();
    let body = json!({
        "title": "Mass assignment",
        "user_id": fixtures.bob.id,
        "id": planted_id,
        "version": 99,
        "created_at": "2000-01-01T00:00:00Z",
        "updated_at": "2000-01-01T00:00:00Z",
    });
    let task = app.new_task(fixtures.alice.token(), &body).await;
    assert_eq!(task["user_id"], fixtures.alice.id.as_str());
    assert_ne!(task["id"], planted_id.as_str());
    assert_eq!(task["version"], 1);
    assert_recent(&task["created_at"]);
    assert_recent(&task["updated_at"]);

    let update =
        json!({"user_id": fixtures.bob.id, "version": 42, "created_at": "2000-01-01T00:00:00Z", "title": "Still mine"});
    let body =
        json_body(app.update_task(fixtures.alice.token(), &string_at(&task, "/id"), &update).await, StatusCode::OK)
            .await;
    assert_eq!(body["task"]["user_id"], fixtures.alice.id.as_str());
    assert_eq!(body["task"]["version"], 2);
    assert_eq!(body["task"]["created_at"], task["created_at"]);
});

both_backends!(sql_injection_attempts_are_inert, |app| async move {
    // H11
    let fixtures = app.fixtures().await;
    let alice = fixtures.alice.token();
    app.new_task_id(alice, "Harmless").await;
    app.new_task_id(fixtures.bob.token(), "Bob's").await;

    let list = json_body(app.list_tasks(alice, &[("q", "' OR 1=1 --")]).await, StatusCode::OK).await;
    assert_eq!(list["tasks"], json!([]));
    assert_eq!(list["total"], 0);

    let problem = assert_problem(
        app.list_tasks(alice, &[("sortBy", "title;DROP TABLE tasks")]).await,
        StatusCode::BAD_REQUEST,
        "validation_failed",
    )
    .await;
    assert_field_error(&problem, "sortBy");

    let mut register = registration("mallory", None);
    register["username"] = json!("admin'--");
    let problem = assert_problem(app.register(&register).await, StatusCode::BAD_REQUEST, "validation_failed").await;
    assert_field_error(&problem, "username");

    let problem =
        assert_problem(app.login("' OR ''='", "anything").await, StatusCode::BAD_REQUEST, "validation_failed").await;
    assert_field_error(&problem, "email");

    let response = send(app.authed(Method::GET, "/api/v1/tasks/'%20OR%201=1", alice)).await;
    let problem = assert_problem(response, StatusCode::BAD_REQUEST, "invalid_request").await;
    assert_eq!(problem["message"], "Invalid task ID format");

    let everything = json_body(app.list_tasks(fixtures.admin.token(), &[]).await, StatusCode::OK).await;
    assert_eq!(everything["total"], 2, "the tasks table is intact");
});

both_backends!(concurrent_duplicate_registrations_produce_one_account, |app| async move {
    // H15
    let body = registration("racer", Some("Engineering"));
    let attempts = (0..10).map(|_| app.register(&body));
    let responses = futures::future::join_all(attempts).await;
    let mut created = 0;
    let mut conflicts = 0;
    for response in responses {
        let status = response.status();
        let text = response.text().await.expect("the body can be read");
        assert_no_database_text(&text);
        match status {
            StatusCode::CREATED => created += 1,
            StatusCode::CONFLICT => {
                let problem: Value = serde_json::from_str(&text).expect("a JSON problem");
                assert_eq!(problem["error"], "conflict");
                assert!(
                    problem["message"] == "An account with this email already exists"
                        || problem["message"] == "This username is already taken",
                    "conflict message: {problem}"
                );
                conflicts += 1;
            }
            other => panic!("unexpected status {other}: {text}"),
        }
    }
    assert_eq!((created, conflicts), (1, 9));
});

/// Asserts that a response body leaks no SQL or database error text (docs/http-contract.md#errors).
fn assert_no_database_text(body: &str) {
    let lowered = body.to_ascii_lowercase();
    for marker in
        ["insert into", "select ", "constraint", "duplicate key", "violates", "sqlite", "postgres", "sqlx", "unique"]
    {
        assert!(!lowered.contains(marker), "the body leaks {marker:?}: {body}");
    }
}

// Same macro header as authentication.rs reusing_a_rotated_refresh_token_revokes_the_family (no grace), but a different
// case: the child and other families here, B13 there.
both_backends!(
    replaying_a_rotated_refresh_token_revokes_its_whole_family,
    overrides = &[("REFRESH_REUSE_GRACE", "0")],
    |app| async move {
        let fixtures = app.fixtures().await;
        let first = fixtures.alice.refresh_token.clone();
        let second = string_at(&json_body(app.refresh(&first).await, StatusCode::OK).await, "/refresh_token");
        let third_pair = json_body(app.refresh(&second).await, StatusCode::OK).await;
        let third = string_at(&third_pair, "/refresh_token");
        let third_access = string_at(&third_pair, "/access_token");
        json_body(app.profile(&third_access).await, StatusCode::OK).await;

        // Replaying the middle token: the family, including its child, is revoked.
        assert_problem(app.refresh(&second).await, StatusCode::UNAUTHORIZED, "invalid_token").await;
        assert_problem(app.refresh(&third).await, StatusCode::UNAUTHORIZED, "invalid_token").await;
        assert_problem(app.profile(&third_access).await, StatusCode::UNAUTHORIZED, "invalid_token").await;
        // Other families of the same user live on.
        let other_session = app.sign_in(&fixtures.alice.email, USER_PASSWORD).await;
        json_body(app.refresh(&other_session.refresh_token).await, StatusCode::OK).await;
    }
);

both_backends!(a_refresh_within_the_grace_window_issues_a_sibling, |app| async move {
    // docs/authentication.md#refresh-tokens: the default REFRESH_REUSE_GRACE is 10 s.
    let fixtures = app.fixtures().await;
    let first = fixtures.alice.refresh_token.clone();
    let child = string_at(&json_body(app.refresh(&first).await, StatusCode::OK).await, "/refresh_token");
    let sibling = string_at(&json_body(app.refresh(&first).await, StatusCode::OK).await, "/refresh_token");
    assert_ne!(child, sibling);
    json_body(app.refresh(&child).await, StatusCode::OK).await;
    json_body(app.refresh(&sibling).await, StatusCode::OK).await;
});
