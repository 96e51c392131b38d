//! docs/testing.md#d-profile: the caller's profile, its allow-list, password changes and other users' profiles
//! (D1–D6).

use reqwest::{Method, StatusCode};
use serde_json::json;
use uuid::Uuid;

use crate::both_backends;
use crate::helpers::*;

both_backends!(the_profile_carries_the_permissions_and_no_secrets, |app| async move {
    // D1
    let fixtures = app.fixtures().await;
    let profile = json_body(app.profile(fixtures.alice.token()).await, StatusCode::OK).await;
    assert_eq!(profile["id"], fixtures.alice.id.as_str());
    assert_eq!(profile["username"], "alice");
    assert_eq!(profile["department"], "Engineering");
    assert_eq!(profile["roles"], json!(["user"]));
    assert_eq!(profile["permissions"], json!(USER_PERMISSIONS));
    assert_no_secret_members(&profile);

    let mike = json_body(app.profile(fixtures.mike.token()).await, StatusCode::OK).await;
    assert_eq!(mike["roles"], json!(["manager", "user"]), "roles are listed highest rank first");
    assert_eq!(mike["role"], "manager");
});

both_backends!(only_allowed_profile_members_can_change, |app| async move {
    // D2
    let fixtures = app.fixtures().await;
    let alice_task = app.new_task_id(fixtures.alice.token(), "Alice's task").await;

    let body =
        json_body(app.update_profile(fixtures.alice.token(), &json!({"first_name": "Alicia"})).await, StatusCode::OK)
            .await;
    assert_eq!(body["message"], "User updated successfully");
    assert_eq!(body["user"]["first_name"], "Alicia");

    let problem = assert_problem(
        app.update_profile(fixtures.mike.token(), &json!({"department": "Sales"})).await,
        StatusCode::BAD_REQUEST,
        "validation_failed",
    )
    .await;
    assert_eq!(error_message(&problem, "department"), "is not allowed");

    assert!(app.listed_task_ids(fixtures.mike.token(), &[]).await.contains(&alice_task), "M reads alice's task first");
    json_body(
        app.patch_user(fixtures.admin.token(), &fixtures.alice.id, &json!({"department": "Sales"})).await,
        StatusCode::OK,
    )
    .await;
    assert!(
        !app.listed_task_ids(fixtures.mike.token(), &[]).await.contains(&alice_task),
        "after the department change, alice's tasks leave M's list"
    );
});

both_backends!(members_outside_the_allow_list_are_each_rejected, |app| async move {
    // D3 (and H10)
    let fixtures = app.fixtures().await;
    let before = json_body(app.profile(fixtures.alice.token()).await, StatusCode::OK).await;
    let body = json!({
        "email": "x@y.zz",
        "is_active": false,
        "role": "admin",
        "id": Uuid::new_v4().to_string(),
        "password": "X",
    });
    let problem = assert_problem(
        app.update_profile(fixtures.alice.token(), &body).await,
        StatusCode::BAD_REQUEST,
        "validation_failed",
    )
    .await;
    assert_eq!(sorted(error_fields(&problem)), ["email", "id", "is_active", "password", "role"]);
    for field in ["email", "id", "is_active", "password", "role"] {
        assert_eq!(error_message(&problem, field), "is not allowed");
    }
    let after = json_body(app.profile(fixtures.alice.token()).await, StatusCode::OK).await;
    assert_eq!(after, before, "nothing is written");
});

both_backends!(changing_the_password_revokes_older_sessions_and_continues_this_one, |app| async move {
    // D4
    let fixtures = app.fixtures().await;
    let alice = &fixtures.alice;
    let wrong = json!({"current_password": "wrong", "new_password": "New@123456"});
    let problem =
        assert_problem(app.update_profile(alice.token(), &wrong).await, StatusCode::BAD_REQUEST, "validation_failed")
            .await;
    assert_eq!(error_message(&problem, "current_password"), "is incorrect");

    let weak = json!({"current_password": USER_PASSWORD, "new_password": "weak"});
    let problem =
        assert_problem(app.update_profile(alice.token(), &weak).await, StatusCode::BAD_REQUEST, "validation_failed")
            .await;
    assert_field_error(&problem, "new_password");

    let change = json!({"current_password": USER_PASSWORD, "new_password": "New@123456"});
    let body = json_body(app.update_profile(alice.token(), &change).await, StatusCode::OK).await;
    assert_eq!(body["message"], "User updated successfully");
    assert_eq!(body["token_type"], "Bearer");
    assert!(body["expires_in"].is_u64() && body["refresh_expires_in"].is_u64(), "token lifetimes: {body}");
    let new_access = string_at(&body, "/access_token");
    let new_refresh = string_at(&body, "/refresh_token");
    assert_ne!(new_refresh, alice.refresh_token);

    assert_problem(app.profile(alice.token()).await, StatusCode::UNAUTHORIZED, "invalid_token").await;
    assert_problem(app.refresh(&alice.refresh_token).await, StatusCode::UNAUTHORIZED, "invalid_token").await;
    json_body(app.profile(&new_access).await, StatusCode::OK).await;
    json_body(app.refresh(&new_refresh).await, StatusCode::OK).await;
    assert_problem(app.login(&alice.email, USER_PASSWORD).await, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    json_body(app.login(&alice.email, "New@123456").await, StatusCode::OK).await;
});

both_backends!(other_users_profiles_are_visible_to_admins_only, |app| async move {
    // D5, H9
    let fixtures = app.fixtures().await;
    let alice_id = fixtures.alice.id.as_str();
    let stranger = Uuid::new_v4().to_string();

    let own = json_body(app.profile_of(fixtures.alice.token(), alice_id).await, StatusCode::OK).await;
    assert_eq!(own["id"], alice_id);
    let problem =
        assert_problem(app.profile_of(fixtures.bob.token(), alice_id).await, StatusCode::FORBIDDEN, "forbidden").await;
    assert_eq!(problem["message"], "Access denied");
    assert_problem(app.profile_of(fixtures.bob.token(), &stranger).await, StatusCode::FORBIDDEN, "forbidden").await;
    let seen_by_admin = json_body(app.profile_of(fixtures.admin.token(), alice_id).await, StatusCode::OK).await;
    assert_eq!(seen_by_admin["id"], alice_id);
    assert_no_secret_members(&seen_by_admin);
    let problem =
        assert_problem(app.profile_of(fixtures.admin.token(), &stranger).await, StatusCode::NOT_FOUND, "not_found")
            .await;
    assert_eq!(problem["message"], "User not found");

    let injection = "1%27%20OR%20%271%27%3D%271";
    // Same assert_problem call shape as the bad-id cases in tasks.rs and administration.rs: each is its own request and
    // expected problem.
    let problem = assert_problem(
        app.profile_of(fixtures.bob.token(), injection).await,
        StatusCode::BAD_REQUEST,
        "invalid_request",
    )
    .await;
    assert_eq!(problem["message"], "Invalid user ID format");
});

both_backends!(the_profile_cannot_be_deleted, |app| async move {
    // D6: the static segment wins over /users/{user_id}.
    let fixtures = app.fixtures().await;
    let response = send(app.authed(Method::DELETE, "/api/v1/users/profile", fixtures.admin.token())).await;
    let (headers, _) =
        assert_problem_with_headers(response, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed").await;
    assert!(header(&headers, "allow").is_some(), "a 405 carries Allow");
    json_body(app.profile(fixtures.admin.token()).await, StatusCode::OK).await;
});
