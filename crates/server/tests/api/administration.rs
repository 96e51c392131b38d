//! docs/testing.md#e-administration (E1–E9): user administration, roles and user attributes; and the first start of two
//! instances on one empty PostgreSQL database (docs/authentication.md#first-administrator-and-cli, I13).

use std::time::Duration;

use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::both_backends;
use crate::helpers::*;
use crate::server_process::{ServerProcess, Workspace, child_environment, env_pairs};

/// The seeded roles in rank order, with their ids and number of permission rows (docs/data-model.md#seed-data).
const SEEDED_ROLES: [(&str, &str, usize); 3] = [
    ("admin", "00000000-0000-0000-0000-000000000002", 23),
    ("manager", "00000000-0000-0000-0000-000000000003", 7),
    ("user", "00000000-0000-0000-0000-000000000001", 6),
];

/// The grants of the role `user` (docs/data-model.md#seed-data); `manager` adds `task:read:department`.
const USER_GRANTS: [&str; 6] = [
    "profile:read:own",
    "profile:update:own",
    "task:create:own",
    "task:read:own",
    "task:update:own",
    "task:delete:own",
];

/// The `resource:action:scope` grants of a Role, sorted.
fn grants(role: &Value) -> Vec<String> {
    let permissions = role["permissions"].as_array().unwrap_or_else(|| panic!("no permissions in {role}"));
    sorted(
        permissions
            .iter()
            .map(|permission| {
                let part = |name: &str| string_at(permission, &format!("/{name}"));
                format!("{}:{}:{}", part("resource"), part("action"), part("scope"))
            })
            .collect(),
    )
}

/// The names of the users of a `GET /users` page, in order.
fn usernames(list: &Value) -> Vec<String> {
    // Same extraction chain as helpers/assertions.rs task_ids (over `users` here): two short readers of two list
    // bodies.
    list["users"]
        .as_array()
        .unwrap_or_else(|| panic!("no users array in {list}"))
        .iter()
        .map(|user| string_at(user, "/username"))
        .collect()
}

/// The entry of `username` in a `GET /users` page.
fn listed_user<'a>(list: &'a Value, username: &str) -> &'a Value {
    list["users"]
        .as_array()
        .and_then(|users| users.iter().find(|user| user["username"] == username))
        .unwrap_or_else(|| panic!("{username} is not listed in {list}"))
}

/// The role names of a user's `role_assignments`, sorted.
fn assigned_roles(user: &Value) -> Vec<String> {
    let assignments = user["role_assignments"].as_array().unwrap_or_else(|| panic!("no role_assignments in {user}"));
    sorted(assignments.iter().map(|assignment| string_at(assignment, "/role")).collect())
}

/// Asserts a problem+json 400 whose code is either of the two 400 codes (for inputs the contract
/// only calls "bad", such as a malformed attribute key in the path), and returns it.
async fn assert_bad_request(response: Response) -> Value {
    // Starts like jobs/support.rs assert_bad_request, but checks status and request_id where that one checks type and
    // the field error: each suite asserts its own facts.
    let path = response.url().path().to_owned();
    let (headers, body) = body_text(response, StatusCode::BAD_REQUEST).await;
    let content_type = header(&headers, "content-type").unwrap_or_default();
    assert!(content_type.starts_with("application/problem+json"), "problem+json expected, got {content_type:?}");
    let problem: Value = serde_json::from_str(&body).unwrap_or_else(|error| panic!("invalid JSON ({error}): {body}"));
    let code = problem["error"].as_str().unwrap_or_default();
    assert!(matches!(code, "invalid_request" | "validation_failed"), "a 400 code: {problem}");
    assert_eq!(problem["status"], 400, "{problem}");
    assert_eq!(problem["instance"], path, "{problem}");
    assert_eq!(problem["request_id"], header(&headers, "x-request-id").expect("X-Request-Id"), "{problem}");
    problem
}

both_backends!(admins_list_users_with_role_assignments_and_others_may_not, |app| async move {
    // E1
    let fixtures = app.fixtures().await;
    let admin = fixtures.admin.token();
    let list = json_body(app.list_users(admin, &[]).await, StatusCode::OK).await;
    assert_eq!(list["total"], 5, "the admin and the four fixture users: {list}");
    assert_eq!(
        (list["page"].as_u64(), list["page_size"].as_u64(), list["total_pages"].as_u64()),
        (Some(1), Some(10), Some(1))
    );
    assert_eq!(sorted(usernames(&list)), ["admin", "alice", "bob", "carol", "mike"]);
    assert_no_secret_members(&list);
    for user in list["users"].as_array().expect("users") {
        assert!(user["role_assignments"].is_array(), "every listed user has role_assignments: {user}");
    }
    let mike = listed_user(&list, "mike");
    assert_eq!(assigned_roles(mike), ["manager", "user"]);
    assert_eq!(mike["roles"], json!(["manager", "user"]));
    let manager = mike["role_assignments"]
        .as_array()
        .and_then(|assignments| assignments.iter().find(|assignment| assignment["role"] == "manager"))
        .expect("mike's manager assignment");
    assert_recent(&manager["assigned_at"]);
    assert!(manager["expires_at"].is_null(), "no expiry: {manager}");
    assert_eq!(manager["assigned_by"], fixtures.admin.id.as_str());
    assert_eq!(assigned_roles(listed_user(&list, "admin")), ["admin", "user"]);

    let problem =
        assert_problem(app.list_users(fixtures.alice.token(), &[]).await, StatusCode::FORBIDDEN, "missing_permission")
            .await;
    let message = problem["message"].as_str().expect("a message");
    assert!(message.ends_with("user:read"), "the message names the permission: {message}");
});

both_backends!(the_user_list_combines_search_filters_and_sorting, |app| async move {
    // E2
    let fixtures = app.fixtures().await;
    let query = [("q", "ali"), ("is_active", "true"), ("role", "user"), ("sortBy", "username"), ("order", "asc")];
    let list = json_body(app.list_users(fixtures.admin.token(), &query).await, StatusCode::OK).await;
    assert_eq!(usernames(&list), ["alice"]);
    assert_eq!(list["total"], 1);

    let managers =
        json_body(app.list_users(fixtures.admin.token(), &[("role", "manager")]).await, StatusCode::OK).await;
    assert_eq!(usernames(&managers), ["mike"]);
    let sorted_users = json_body(
        app.list_users(fixtures.admin.token(), &[("sortBy", "username"), ("order", "asc")]).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(usernames(&sorted_users), ["admin", "alice", "bob", "carol", "mike"]);
    let engineering = json_body(
        app.list_users(
            fixtures.admin.token(),
            &[("department", "engineering"), ("sortBy", "username"), ("order", "asc")],
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(usernames(&engineering), ["alice", "bob", "mike"], "departments compare ignoring ASCII case");
});

both_backends!(patching_a_user_changes_allowed_members_and_activation_at_once, |app| async move {
    // E3
    let fixtures = app.fixtures().await;
    let admin = fixtures.admin.token();
    let bob = &fixtures.bob;

    let body = json_body(app.patch_user(admin, &bob.id, &json!({"position": "Lead"})).await, StatusCode::OK).await;
    assert_eq!(body["message"], "User updated successfully");
    assert_eq!(body["user"]["position"], "Lead");
    assert_eq!(body["user"]["id"], bob.id.as_str());
    assert!(body["user"]["role_assignments"].is_array(), "PATCH answers with role_assignments: {body}");
    assert_no_secret_members(&body);

    let body = json_body(app.patch_user(admin, &bob.id, &json!({"is_active": false})).await, StatusCode::OK).await;
    assert_eq!(body["user"]["is_active"], false);
    let problem = assert_problem(app.profile(bob.token()).await, StatusCode::FORBIDDEN, "account_disabled").await;
    assert_eq!(problem["message"], "Your account has been disabled. Please contact support.");

    let body = json_body(app.patch_user(admin, &bob.id, &json!({"is_active": true})).await, StatusCode::OK).await;
    assert_eq!(body["user"]["is_active"], true);
    json_body(app.profile(bob.token()).await, StatusCode::OK).await;

    let problem = assert_problem(
        app.patch_user(admin, &bob.id, &json!({"email": "a@b.cc"})).await,
        StatusCode::BAD_REQUEST,
        "validation_failed",
    )
    .await;
    assert_eq!(error_message(&problem, "email"), "is not allowed");

    // The not-found cases share the assert_problem call shape (see assign_role below, profile.rs, tasks.rs): each is
    // its own request and expected problem.
    let problem = assert_problem(
        app.patch_user(admin, &Uuid::new_v4().to_string(), &json!({"position": "Lead"})).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_eq!(problem["message"], "User not found");
});

both_backends!(deleted_users_lose_access_but_keep_their_email_reserved, |app| async move {
    // E4
    let fixtures = app.fixtures().await;
    let admin = fixtures.admin.token();
    let carol = &fixtures.carol;
    let carol_task = app.new_task_id(carol.token(), "Carol's task").await;

    let body = json_body(app.delete_user(admin, &carol.id).await, StatusCode::OK).await;
    assert_eq!(body["message"], "User deleted successfully");
    assert_problem(app.profile(carol.token()).await, StatusCode::UNAUTHORIZED, "invalid_token").await;
    assert_problem(app.login(&carol.email, USER_PASSWORD).await, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    let mut registration = registration("carol_again", Some("Sales"));
    registration["email"] = json!(carol.email);
    let problem = assert_problem(app.register(&registration).await, StatusCode::CONFLICT, "conflict").await;
    assert_eq!(problem["message"], "An account with this email already exists");
    let problem = assert_problem(app.delete_user(admin, &carol.id).await, StatusCode::NOT_FOUND, "not_found").await;
    assert_eq!(problem["message"], "User not found");
    assert_problem(
        app.delete_user(fixtures.alice.token(), &fixtures.bob.id).await,
        StatusCode::FORBIDDEN,
        "missing_permission",
    )
    .await;

    // docs/http-contract.md#administration: deleted users are never listed, and their tasks stay visible to all-scope readers.
    let list = json_body(app.list_users(admin, &[]).await, StatusCode::OK).await;
    assert!(!usernames(&list).contains(&"carol".to_owned()), "a deleted user is not listed: {list}");
    json_body(app.get_task(admin, &carol_task).await, StatusCode::OK).await;
    assert!(app.listed_task_ids(admin, &[]).await.contains(&carol_task), "the admin still lists carol's task");
    json_body(app.profile(fixtures.bob.token()).await, StatusCode::OK).await;
});

both_backends!(the_last_active_admin_is_protected, |app| async move {
    // E5
    let fixtures = app.fixtures().await;
    let admin = &fixtures.admin;

    let problem =
        assert_problem(app.delete_user(admin.token(), &admin.id).await, StatusCode::CONFLICT, "conflict").await;
    assert_eq!(problem["message"], "Cannot delete the last active admin");
    let problem = assert_problem(
        app.patch_user(admin.token(), &admin.id, &json!({"is_active": false})).await,
        StatusCode::CONFLICT,
        "conflict",
    )
    .await;
    assert_eq!(problem["message"], "Cannot deactivate the last active admin");
    let problem =
        assert_problem(app.revoke_role(admin.token(), &admin.id, "admin").await, StatusCode::CONFLICT, "conflict")
            .await;
    assert_eq!(problem["message"], "Cannot remove the admin role from the last active admin");
    json_body(app.list_users(admin.token(), &[]).await, StatusCode::OK).await;

    // With a second active admin, the first can give the role up, and loses it at once.
    json_body(app.assign_role(admin.token(), &fixtures.alice.id, &json!({"role": "admin"})).await, StatusCode::CREATED)
        .await;
    json_body(app.revoke_role(admin.token(), &admin.id, "admin").await, StatusCode::OK).await;
    assert_problem(app.list_users(admin.token(), &[]).await, StatusCode::FORBIDDEN, "missing_permission").await;
    json_body(app.list_users(fixtures.alice.token(), &[]).await, StatusCode::OK).await;
});

both_backends!(roles_are_listed_by_rank_with_their_permission_rows, |app| async move {
    // E6
    let fixtures = app.fixtures().await;
    let body = json_body(app.roles(fixtures.admin.token()).await, StatusCode::OK).await;
    let roles = body["roles"].as_array().unwrap_or_else(|| panic!("no roles array in {body}"));
    assert_eq!(roles.len(), 3, "three seeded roles: {body}");
    for (role, (name, id, permission_rows)) in roles.iter().zip(SEEDED_ROLES) {
        assert_eq!(role["name"], name, "rank order admin, manager, user: {body}");
        assert_eq!(role["id"], id, "{role}");
        let permissions = role["permissions"].as_array().unwrap_or_else(|| panic!("no permissions in {role}"));
        assert_eq!(permissions.len(), permission_rows, "permission rows of {name}");
        for permission in permissions {
            for member in ["id", "resource", "action", "scope"] {
                assert!(permission[member].is_string(), "{member} of {permission}");
            }
        }
    }
    let user_grants = USER_GRANTS.map(str::to_owned).to_vec();
    assert_eq!(grants(&roles[2]), sorted(user_grants.clone()), "the grants of user");
    let mut manager_grants = user_grants;
    manager_grants.push("task:read:department".to_owned());
    assert_eq!(grants(&roles[1]), sorted(manager_grants), "the grants of manager");

    let problem =
        assert_problem(app.roles(fixtures.alice.token()).await, StatusCode::FORBIDDEN, "missing_permission").await;
    assert_eq!(problem["message"], "User does not have required permission: role:manage");
});

both_backends!(roles_are_assigned_once_and_expiring_assignments_lapse_without_a_new_login, |app| async move {
    // E7
    let fixtures = app.fixtures().await;
    let admin = fixtures.admin.token();
    let dave = app.new_account("dave", Some("Engineering")).await;
    let alice_task = app.new_task_id(fixtures.alice.token(), "Alice's task").await;

    let body =
        json_body(app.assign_role(admin, &dave.id, &json!({"role": "manager"})).await, StatusCode::CREATED).await;
    assert_eq!(body["message"], "Role assigned successfully");
    assert_eq!(body["user_id"], dave.id.as_str());
    assert_eq!(body["role"], "manager");
    assert!(body.get("expires_at").is_some_and(Value::is_null), "no expiry: {body}");
    json_body(app.get_task(dave.token(), &alice_task).await, StatusCode::OK).await;

    let problem = assert_problem(
        app.assign_role(admin, &dave.id, &json!({"role": "manager"})).await,
        StatusCode::CONFLICT,
        "conflict",
    )
    .await;
    assert_eq!(problem["message"], "User already has this role");
    assert_problem(
        app.assign_role(admin, &dave.id, &json!({"role": "ghost"})).await,
        StatusCode::BAD_REQUEST,
        "validation_failed",
    )
    .await;
    let past = timestamp_text(chrono::Utc::now() - chrono::Duration::hours(1));
    assert_problem(
        app.assign_role(admin, &dave.id, &json!({"role": "manager", "expires_at": past})).await,
        StatusCode::BAD_REQUEST,
        "validation_failed",
    )
    .await;
    // Same assert_problem not-found case as patch_user's above, for assign_role.
    let problem = assert_problem(
        app.assign_role(admin, &Uuid::new_v4().to_string(), &json!({"role": "manager"})).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_eq!(problem["message"], "User not found");

    let bob = &fixtures.bob;
    let expires_at = seconds_from_now(3);
    let body = json_body(
        app.assign_role(admin, &bob.id, &json!({"role": "manager", "expires_at": timestamp_text(expires_at)})).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(parse_timestamp(&body["expires_at"]), expires_at);
    json_body(app.get_task(bob.token(), &alice_task).await, StatusCode::OK).await;
    let profile = json_body(app.profile(bob.token()).await, StatusCode::OK).await;
    assert_eq!(profile["roles"], json!(["manager", "user"]));

    // The assignment lapses on bob's first request after the expiry, with the same token.
    let_time_pass_until(expires_at).await;
    eventually("the lapsed manager role to stop department reads", Duration::from_secs(2), || async {
        let response = app.get_task(bob.token(), &alice_task).await;
        match response.status() {
            StatusCode::OK => None,
            _ => Some(assert_problem(response, StatusCode::FORBIDDEN, "forbidden").await),
        }
    })
    .await;
    assert!(!app.listed_task_ids(bob.token(), &[]).await.contains(&alice_task), "nor is the task listed");
    let profile = json_body(app.profile(bob.token()).await, StatusCode::OK).await;
    assert_eq!(profile["roles"], json!(["user"]));

    // An expired assignment does not block a new one.
    json_body(app.assign_role(admin, &bob.id, &json!({"role": "manager"})).await, StatusCode::CREATED).await;
    json_body(app.get_task(bob.token(), &alice_task).await, StatusCode::OK).await;
});

both_backends!(revoked_roles_can_be_assigned_again, |app| async move {
    // E8
    let fixtures = app.fixtures().await;
    let admin = fixtures.admin.token();
    let mike = &fixtures.mike;

    let body = json_body(app.revoke_role(admin, &mike.id, "manager").await, StatusCode::OK).await;
    assert_eq!(body["message"], "Role revoked successfully");
    let problem =
        assert_problem(app.revoke_role(admin, &mike.id, "manager").await, StatusCode::NOT_FOUND, "not_found").await;
    assert_eq!(problem["message"], "Role assignment not found");
    let problem =
        assert_problem(app.revoke_role(admin, &mike.id, "ghost").await, StatusCode::NOT_FOUND, "not_found").await;
    assert_eq!(problem["message"], "Role not found");
    let problem = assert_problem(
        app.revoke_role(admin, &Uuid::new_v4().to_string(), "manager").await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_eq!(problem["message"], "User not found");
    json_body(app.assign_role(admin, &mike.id, &json!({"role": "manager"})).await, StatusCode::CREATED).await;
    let profile = json_body(app.profile(mike.token()).await, StatusCode::OK).await;
    assert_eq!(profile["roles"], json!(["manager", "user"]));

    assert_problem(
        app.revoke_role(fixtures.alice.token(), &mike.id, "manager").await,
        StatusCode::FORBIDDEN,
        "missing_permission",
    )
    .await;
});

/// Asserts the members of an Attribute (docs/http-contract.md#shared-objects).
fn assert_attribute(attribute: &Value, key: &str, value: &Value, data_type: &str, source: &str) {
    assert_eq!(attribute["key"], key, "{attribute}");
    assert_eq!(&attribute["value"], value, "{attribute}");
    assert_eq!(attribute["data_type"], data_type, "{attribute}");
    assert_eq!(attribute["source"], source, "{attribute}");
    parse_timestamp(&attribute["created_at"]);
    parse_timestamp(&attribute["updated_at"]);
}

/// The attribute `key` of a `GET /users/{id}/attributes` body.
fn attribute_in<'a>(list: &'a Value, key: &str) -> &'a Value {
    list["attributes"]
        .as_array()
        .and_then(|attributes| attributes.iter().find(|attribute| attribute["key"] == key))
        .unwrap_or_else(|| panic!("no attribute {key} in {list}"))
}

both_backends!(user_attributes_are_created_replaced_validated_deleted_and_expire, |app| async move {
    // E9
    let fixtures = app.fixtures().await;
    let admin = fixtures.admin.token();
    let alice = &fixtures.alice.id;
    let location = json!({"value": "US-West"});

    let created =
        json_body(app.put_user_attribute(admin, alice, "location", &location).await, StatusCode::CREATED).await;
    assert_attribute(&created, "location", &json!("US-West"), "string", "manual");
    assert_eq!(created["active"], true);
    assert!(created.get("expires_at").is_some_and(Value::is_null), "{created}");
    let replaced = json_body(app.put_user_attribute(admin, alice, "location", &location).await, StatusCode::OK).await;
    assert_attribute(&replaced, "location", &json!("US-West"), "string", "manual");

    let list = json_body(app.list_user_attributes(admin, alice).await, StatusCode::OK).await;
    assert_eq!(list["user_id"], alice.as_str());
    assert_attribute(attribute_in(&list, "account_type"), "account_type", &json!("standard"), "string", "registration");
    assert_attribute(attribute_in(&list, "clearance_level"), "clearance_level", &json!(1), "number", "registration");
    assert_attribute(attribute_in(&list, "location"), "location", &json!("US-West"), "string", "manual");

    let single = json_body(app.get_user_attribute(admin, alice, "location").await, StatusCode::OK).await;
    assert_attribute(&single, "location", &json!("US-West"), "string", "manual");

    assert_problem(
        app.put_user_attribute(admin, alice, "location", &json!({"value": "x", "data_type": "number"})).await,
        StatusCode::BAD_REQUEST,
        "validation_failed",
    )
    .await;
    assert_problem(
        app.put_user_attribute(admin, alice, "department", &json!({"value": "Sales"})).await,
        StatusCode::BAD_REQUEST,
        "validation_failed",
    )
    .await;
    assert_bad_request(app.put_user_attribute(admin, alice, "Bad%20Key", &location).await).await;
    for level in [json!(11), json!(-1), json!(1.5), json!("2")] {
        assert_problem(
            app.put_user_attribute(admin, alice, "clearance_level", &json!({"value": level})).await,
            StatusCode::BAD_REQUEST,
            "validation_failed",
        )
        .await;
    }

    assert_no_body(app.delete_user_attribute(admin, alice, "location").await, StatusCode::NO_CONTENT).await;
    let problem =
        assert_problem(app.delete_user_attribute(admin, alice, "location").await, StatusCode::NOT_FOUND, "not_found")
            .await;
    assert_eq!(problem["message"], "Attribute not found");
    let problem =
        assert_problem(app.get_user_attribute(admin, alice, "location").await, StatusCode::NOT_FOUND, "not_found")
            .await;
    assert_eq!(problem["message"], "Attribute not found");

    let expires_at = seconds_from_now(2);
    let body = json!({"value": "US-East", "expires_at": timestamp_text(expires_at)});
    let expiring = json_body(app.put_user_attribute(admin, alice, "location", &body).await, StatusCode::CREATED).await;
    assert_eq!(expiring["active"], true);
    assert_eq!(parse_timestamp(&expiring["expires_at"]), expires_at);
    let_time_pass_until(expires_at).await;
    eventually("the attribute to report active:false", Duration::from_secs(2), || async {
        let attribute = json_body(app.get_user_attribute(admin, alice, "location").await, StatusCode::OK).await;
        (attribute["active"] == false).then_some(())
    })
    .await;
    let list = json_body(app.list_user_attributes(admin, alice).await, StatusCode::OK).await;
    assert_eq!(attribute_in(&list, "location")["active"], false, "expired attributes are listed as inactive");

    assert_problem(
        app.list_user_attributes(fixtures.alice.token(), alice).await,
        StatusCode::FORBIDDEN,
        "missing_permission",
    )
    .await;
    assert_problem(
        app.put_user_attribute(fixtures.alice.token(), alice, "clearance_level", &json!({"value": 10})).await,
        StatusCode::FORBIDDEN,
        "missing_permission",
    )
    .await;
});

const PASSWORD_LINE_PREFIX: &str = "Initial admin password for ";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_starting_together_on_an_empty_database_bootstrap_one_admin() {
    // docs/authentication.md#first-administrator-and-cli and I13: both instances migrate and bootstrap under the lock; one admin, one
    // password line, the full seed.
    let database = TestDatabase::create(Backend::Postgres);
    let workspace = Workspace::new();
    let settings = child_environment(database.url(), &[("ADMIN_PASSWORD", "")]);
    let environment = env_pairs(&settings);
    let mut first = ServerProcess::spawn(&workspace.dir, &environment);
    let mut second = ServerProcess::spawn(&workspace.dir, &environment);
    first.wait_until_ready().await;
    second.wait_until_ready().await;

    // The line is printed before the instance serves; its capture may lag a little behind.
    let printed_line = eventually("the initial admin password line", Duration::from_secs(5), || async {
        first.stdout_lines().into_iter().chain(second.stdout_lines()).find(|line| line.contains(PASSWORD_LINE_PREFIX))
    })
    .await;
    let password = printed_line
        .split_once(&format!("{PASSWORD_LINE_PREFIX}{ADMIN_EMAIL}: "))
        .map(|(_, password)| password.to_owned())
        .unwrap_or_else(|| panic!("the line names {ADMIN_EMAIL}: {printed_line:?}"));

    for instance in [&first, &second] {
        let health = json_body(instance.api.get("/health").await, StatusCode::OK).await;
        assert_eq!(health["database"], "up", "{health}");
    }

    // A token from one instance is accepted by the other (same JWT_SECRET, same database).
    let admin = first.api.sign_in(ADMIN_EMAIL, &password).await;
    let admins = json_body(second.api.list_users(admin.token(), &[("role", "admin")]).await, StatusCode::OK).await;
    assert_eq!(admins["total"], 1, "exactly one admin: {admins}");
    let roles = json_body(second.api.roles(admin.token()).await, StatusCode::OK).await;
    let rows: Vec<(String, usize)> = roles["roles"]
        .as_array()
        .unwrap_or_else(|| panic!("no roles in {roles}"))
        .iter()
        .map(|role| (string_at(role, "/name"), role["permissions"].as_array().map_or(0, Vec::len)))
        .collect();
    let expected: Vec<(String, usize)> =
        SEEDED_ROLES.iter().map(|(name, _, permission_rows)| ((*name).to_owned(), *permission_rows)).collect();
    assert_eq!(rows, expected, "3 roles with 23, 7 and 6 permission rows");

    // Once both have stopped, their whole output is captured.
    let outputs = [first.stop().await, second.stop().await];
    let printed: Vec<&String> = outputs
        .iter()
        .flat_map(|output| output.stdout.iter())
        .filter(|line| line.contains(PASSWORD_LINE_PREFIX))
        .collect();
    assert_eq!(printed, [&printed_line], "exactly one password line across both instances");
}
