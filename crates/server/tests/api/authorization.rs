//! docs/authorization.md and docs/authentication.md#principal-freshness: single-task decisions agree with the filtered lists for any population of
//! roles, departments, clearances and owners; changes to a principal take effect on its next
//! request; `POLICY_FILE` replaces the built-in policy set, and a bad file stops the startup.

use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use reqwest::StatusCode;
use serde_json::json;

use crate::both_backends;
use crate::helpers::*;
use crate::server_process::{ServerProcess, Workspace, child_environment, env_pairs, serve_expecting_startup_failure};

// ---------------------------------------------------------------------------------------------
// Lists and single reads agree (issue acceptance: the property test)
// ---------------------------------------------------------------------------------------------

/// The seed of the generated population: fixed, so a failure can be replayed, and chosen so that
/// the population covers every rule (see `the_generated_population_exercises_every_rule`).
const POPULATION_SEED: u64 = 0x7a51_c0e5;
const MEMBERS: usize = 12;
const TASKS: usize = 30;
/// Departments as typed at registration: the comparison trims and folds ASCII case, and an empty
/// department matches nobody (docs/authorization.md#default-policies).
const DEPARTMENTS: [&str; 4] = ["Engineering", "Sales", "", "engineering "];

/// What a generated member is allowed, as the policies see it once the setup is done.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Standing {
    User,
    Manager,
    Admin,
    /// Was a manager until an assignment expiry that passes before the checks.
    LapsedManager,
}

/// Whether a generated member can still make requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Account {
    Active,
    Deactivated,
    Deleted,
}

/// A generated user, before it exists on the server.
struct MemberPlan {
    name: String,
    typed_department: &'static str,
    standing: Standing,
    /// `None` keeps the clearance 1 that registration grants.
    clearance: Option<i64>,
    account: Account,
}

impl MemberPlan {
    /// The department as the policies compare it: trimmed and lowercased.
    fn department(&self) -> String {
        self.typed_department.trim().to_ascii_lowercase()
    }

    fn effective_clearance(&self) -> i64 {
        self.clearance.unwrap_or(1)
    }
}

/// A generated task, before it exists on the server.
struct TaskPlan {
    title: String,
    /// The index of the owner among the members.
    owner: usize,
    required_clearance: Option<i64>,
}

/// The users and tasks of the property test, drawn from `seed`.
fn generate_population(seed: u64) -> (Vec<MemberPlan>, Vec<TaskPlan>) {
    let mut rng = StdRng::seed_from_u64(seed);
    let members: Vec<MemberPlan> = (0..MEMBERS)
        .map(|n| MemberPlan {
            name: format!("member_{n:02}"),
            typed_department: DEPARTMENTS[rng.random_range(0..DEPARTMENTS.len())],
            standing: match rng.random_range(0..10) {
                0..4 => Standing::User,
                4..7 => Standing::Manager,
                7 => Standing::Admin,
                _ => Standing::LapsedManager,
            },
            clearance: rng.random_bool(0.75).then(|| rng.random_range(0..=4)),
            account: match rng.random_range(0..6) {
                0 => Account::Deactivated,
                1 => Account::Deleted,
                _ => Account::Active,
            },
        })
        .collect();
    let tasks = (0..TASKS)
        .map(|n| {
            let owner = rng.random_range(0..MEMBERS);
            TaskPlan {
                title: format!("Task {n:02} of {}", members[owner].name),
                owner,
                required_clearance: rng.random_bool(0.6).then(|| rng.random_range(0..=4)),
            }
        })
        .collect();
    (members, tasks)
}

/// Whether the default policy set lets `viewer` read `task` of `owner` (docs/authorization.md#default-policies).
fn may_read(viewer: &MemberPlan, task: &TaskPlan, owner: &MemberPlan) -> bool {
    match viewer.standing {
        Standing::Admin => true,
        _ if viewer.name == owner.name => true,
        Standing::Manager => {
            owner.account != Account::Deleted
                && !owner.department().is_empty()
                && owner.department() == viewer.department()
                && task.required_clearance.is_none_or(|required| required <= viewer.effective_clearance())
        }
        Standing::User | Standing::LapsedManager => false,
    }
}

/// The situations a population must contain so that the property test exercises every rule.
fn uncovered_situations(members: &[MemberPlan], tasks: &[TaskPlan]) -> Vec<&'static str> {
    let department_reads: Vec<(&MemberPlan, &TaskPlan, &MemberPlan)> = tasks
        .iter()
        .flat_map(|task| {
            let owner = &members[task.owner];
            members
                .iter()
                .filter(move |viewer| {
                    viewer.standing == Standing::Manager
                        && viewer.account == Account::Active
                        && viewer.name != owner.name
                        && !viewer.department().is_empty()
                        && viewer.department() == owner.department()
                })
                .map(move |viewer| (viewer, task, owner))
        })
        .collect();
    let granted = |viewer: &MemberPlan, task: &TaskPlan, owner: &MemberPlan| may_read(viewer, task, owner);
    let situations = [
        (
            "a department read granted",
            department_reads.iter().any(|(viewer, task, owner)| granted(viewer, task, owner)),
        ),
        (
            "a department read refused for clearance",
            department_reads.iter().any(|(viewer, task, owner)| {
                owner.account != Account::Deleted
                    && task.required_clearance.is_some_and(|level| level > viewer.effective_clearance())
            }),
        ),
        (
            "a department read of a deleted owner's task",
            department_reads.iter().any(|(_, _, owner)| owner.account == Account::Deleted),
        ),
        (
            "a department read of a deactivated owner's task",
            department_reads
                .iter()
                .any(|(viewer, task, owner)| owner.account == Account::Deactivated && granted(viewer, task, owner)),
        ),
        (
            "a department that matches only after trimming and folding case",
            department_reads.iter().any(|(viewer, _, owner)| viewer.typed_department != owner.typed_department),
        ),
        ("an active admin", members.iter().any(|m| m.standing == Standing::Admin && m.account == Account::Active)),
        (
            "an active lapsed manager",
            members.iter().any(|m| m.standing == Standing::LapsedManager && m.account == Account::Active),
        ),
        ("an active plain user", members.iter().any(|m| m.standing == Standing::User && m.account == Account::Active)),
    ];
    situations.into_iter().filter(|(_, present)| !present).map(|(situation, _)| situation).collect()
}

#[test]
fn the_generated_population_exercises_every_rule() {
    let (members, tasks) = generate_population(POPULATION_SEED);
    assert_eq!(uncovered_situations(&members, &tasks), Vec::<&str>::new(), "seed {POPULATION_SEED:#x}");
}

both_backends!(a_single_task_is_readable_exactly_when_it_is_in_the_readers_list, |app| async move {
    let (mut members, tasks) = generate_population(POPULATION_SEED);
    let admin = app.sign_in_admin().await;
    let admin_token = admin.token();

    // Users, roles and clearances. The lapsing assignments expire a few seconds ahead; the checks
    // wait for the latest expiry.
    let mut tokens = Vec::with_capacity(members.len());
    let mut ids = Vec::with_capacity(members.len());
    let mut lapse_at: Option<DateTime<Utc>> = None;
    for member in &members {
        let account = app.new_account(&member.name, Some(member.typed_department)).await;
        let assignment = match member.standing {
            Standing::User => None,
            Standing::Manager => Some(json!({"role": "manager"})),
            Standing::Admin => Some(json!({"role": "admin"})),
            Standing::LapsedManager => {
                let expires_at = seconds_from_now(3);
                lapse_at = lapse_at.max(Some(expires_at));
                Some(json!({"role": "manager", "expires_at": timestamp_text(expires_at)}))
            }
        };
        if let Some(body) = assignment {
            json_body(app.assign_role(admin_token, &account.id, &body).await, StatusCode::CREATED).await;
        }
        if let Some(level) = member.clearance {
            let body = json!({"value": level});
            json_body(app.put_user_attribute(admin_token, &account.id, "clearance_level", &body).await, StatusCode::OK)
                .await;
        }
        ids.push(account.id.clone());
        tokens.push(account.access_token);
    }

    let mut task_ids = Vec::with_capacity(tasks.len());
    for task in &tasks {
        let id = app.new_task_id(&tokens[task.owner], &task.title).await;
        if let Some(level) = task.required_clearance {
            let body = json!({"value": level});
            json_body(app.put_task_attribute(admin_token, &id, "required_clearance", &body).await, StatusCode::CREATED)
                .await;
        }
        task_ids.push(id);
    }

    // Owners leave only after their tasks exist.
    for (member, id) in members.iter().zip(&ids) {
        let response = match member.account {
            Account::Active => continue,
            Account::Deactivated => app.patch_user(admin_token, id, &json!({"is_active": false})).await,
            Account::Deleted => app.delete_user(admin_token, id).await,
        };
        json_body(response, StatusCode::OK).await;
    }
    if let Some(moment) = lapse_at {
        let_time_pass_until(moment).await;
    }

    // The bootstrap admin reads too; it owns nothing.
    members.push(MemberPlan {
        name: "admin".to_owned(),
        typed_department: "",
        standing: Standing::Admin,
        clearance: Some(0),
        account: Account::Active,
    });
    tokens.push(admin.access_token.clone());

    for (viewer, token) in members.iter().zip(&tokens).filter(|(viewer, _)| viewer.account == Account::Active) {
        let listed = app.all_listed_task_ids(token).await;
        assert!(
            listed.iter().all(|id| task_ids.contains(id)),
            "{} lists only generated tasks: {listed:?}",
            viewer.name
        );
        for (task, id) in tasks.iter().zip(&task_ids) {
            let owner = &members[task.owner];
            let pair = format!(
                "{} ({:?}, department {:?}, clearance {}) reading {:?} (owner {:?} in {:?}, required_clearance {:?})",
                viewer.name,
                viewer.standing,
                viewer.typed_department,
                viewer.effective_clearance(),
                task.title,
                owner.account,
                owner.typed_department,
                task.required_clearance,
            );
            let in_list = listed.contains(id);
            let response = app.get_task(token, id).await;
            if in_list {
                let body = json_body(response, StatusCode::OK).await;
                assert_eq!(&body["id"], id.as_str(), "{pair}");
            } else {
                let problem = assert_problem(response, StatusCode::FORBIDDEN, "forbidden").await;
                assert_eq!(problem["message"], "Access denied", "{pair}");
            }
            assert_eq!(in_list, may_read(viewer, task, owner), "the default policies decide {pair}");
        }
    }
});

// ---------------------------------------------------------------------------------------------
// Changes take effect on the next request (docs/authentication.md#principal-freshness)
// ---------------------------------------------------------------------------------------------

both_backends!(a_deactivated_user_is_refused_on_the_very_next_request, |app| async move {
    let fixtures = app.fixtures().await;
    let (admin, bob) = (fixtures.admin.token(), &fixtures.bob);
    let bob_task = app.new_task_id(bob.token(), "Bob's task").await;

    json_body(app.patch_user(admin, &bob.id, &json!({"is_active": false})).await, StatusCode::OK).await;
    assert_problem(app.list_tasks(bob.token(), &[]).await, StatusCode::FORBIDDEN, "account_disabled").await;
    assert_problem(app.get_task(bob.token(), &bob_task).await, StatusCode::FORBIDDEN, "account_disabled").await;
    assert_problem(
        app.create_task(bob.token(), &json!({"title": "x"})).await,
        StatusCode::FORBIDDEN,
        "account_disabled",
    )
    .await;
    assert_problem(app.refresh(&bob.refresh_token).await, StatusCode::FORBIDDEN, "account_disabled").await;

    // The tokens were kept: reactivation restores the same session.
    json_body(app.patch_user(admin, &bob.id, &json!({"is_active": true})).await, StatusCode::OK).await;
    json_body(app.get_task(bob.token(), &bob_task).await, StatusCode::OK).await;
});

both_backends!(a_revoked_manager_role_stops_department_reads_at_once, |app| async move {
    let fixtures = app.fixtures().await;
    let mike = fixtures.mike.token();
    let alice_task = app.new_task_id(fixtures.alice.token(), "Alice's task").await;
    json_body(app.get_task(mike, &alice_task).await, StatusCode::OK).await;
    assert!(app.listed_task_ids(mike, &[]).await.contains(&alice_task), "M lists alice's task while a manager");

    json_body(app.revoke_role(fixtures.admin.token(), &fixtures.mike.id, "manager").await, StatusCode::OK).await;
    assert_problem(app.get_task(mike, &alice_task).await, StatusCode::FORBIDDEN, "forbidden").await;
    assert!(!app.listed_task_ids(mike, &[]).await.contains(&alice_task), "nor is it listed any more");
    assert_problem(app.user_tasks(mike, &fixtures.alice.id, &[]).await, StatusCode::FORBIDDEN, "forbidden").await;
});

// The same decision asked twice is answered by the decision memo the second time
// (docs/performance.md#decision-memo); a role change must still count on the very next request,
// in both directions.
both_backends!(a_role_change_is_seen_at_once_by_memoised_decisions, |app| async move {
    let fixtures = app.fixtures().await;
    let (admin, bob) = (fixtures.admin.token(), fixtures.bob.token());
    let alice_task = app.new_task_id(fixtures.alice.token(), "Alice's task").await;
    for _ in 0..2 {
        assert_problem(app.get_task(bob, &alice_task).await, StatusCode::FORBIDDEN, "forbidden").await;
    }

    let granted = app.assign_role(admin, &fixtures.bob.id, &json!({"role": "manager"})).await;
    json_body(granted, StatusCode::CREATED).await;
    for _ in 0..2 {
        json_body(app.get_task(bob, &alice_task).await, StatusCode::OK).await;
    }

    json_body(app.revoke_role(admin, &fixtures.bob.id, "manager").await, StatusCode::OK).await;
    assert_problem(app.get_task(bob, &alice_task).await, StatusCode::FORBIDDEN, "forbidden").await;
});

both_backends!(an_expired_clearance_hides_a_classified_task_again, |app| async move {
    let fixtures = app.fixtures().await;
    let (admin, mike) = (fixtures.admin.token(), fixtures.mike.token());
    let bob_task = app.new_task_id(fixtures.bob.token(), "Classified").await;
    json_body(
        app.put_task_attribute(admin, &bob_task, "required_clearance", &json!({"value": 2})).await,
        StatusCode::CREATED,
    )
    .await;
    assert_problem(app.get_task(mike, &bob_task).await, StatusCode::FORBIDDEN, "forbidden").await;
    assert!(!app.listed_task_ids(mike, &[]).await.contains(&bob_task), "hidden at clearance 1");

    let expires_at = seconds_from_now(2);
    let clearance = json!({"value": 2, "expires_at": timestamp_text(expires_at)});
    json_body(app.put_user_attribute(admin, &fixtures.mike.id, "clearance_level", &clearance).await, StatusCode::OK)
        .await;
    json_body(app.get_task(mike, &bob_task).await, StatusCode::OK).await;
    assert!(app.listed_task_ids(mike, &[]).await.contains(&bob_task), "visible at clearance 2");

    let_time_pass_until(expires_at).await;
    eventually("the expired clearance to stop counting", Duration::from_secs(2), || async {
        let response = app.get_task(mike, &bob_task).await;
        match response.status() {
            StatusCode::OK => None,
            _ => Some(assert_problem(response, StatusCode::FORBIDDEN, "forbidden").await),
        }
    })
    .await;
    assert!(!app.listed_task_ids(mike, &[]).await.contains(&bob_task), "hidden again after the expiry");
    json_body(app.get_task(fixtures.bob.token(), &bob_task).await, StatusCode::OK).await;
});

// ---------------------------------------------------------------------------------------------
// POLICY_FILE (docs/authorization.md#engine-and-policy-files)
// ---------------------------------------------------------------------------------------------

/// The shipped default policy set.
const DEFAULT_POLICIES: &str = include_str!("../../../../policies/default.cedar");

/// `policies` without the policy annotated `@id("<id>")` (from its annotation to its closing `};`).
fn without_policy(policies: &str, id: &str) -> String {
    let annotation = format!("@id(\"{id}\")");
    let start = policies.find(&annotation).unwrap_or_else(|| panic!("the policy set has {annotation}"));
    let length = policies[start..].find("};").unwrap_or_else(|| panic!("{annotation} ends with `}};`")) + 2;
    let remaining = format!("{}{}", &policies[..start], &policies[start + length..]);
    assert!(!remaining.contains(&annotation) && remaining.contains("@id(\"task-owner\")"), "only {id} is removed");
    remaining
}

/// Starts a child server (with `POLICY_FILE` when given), sets up the fixtures, and returns the
/// status of M's read of alice's task (same department) and whether M's list holds it.
async fn department_read_under(workspace: &Workspace, policy_file: Option<&Path>) -> (StatusCode, bool) {
    let policy_setting = policy_file.map(|path| path.display().to_string()).unwrap_or_default();
    let settings = child_environment(&workspace.sqlite_url(), &[("POLICY_FILE", policy_setting.as_str())]);
    let server = ServerProcess::start(&workspace.dir, &env_pairs(&settings)).await;
    let fixtures = server.api.fixtures().await;
    let alice_task = server.api.new_task_id(fixtures.alice.token(), "Department work").await;
    let response = server.api.get_task(fixtures.mike.token(), &alice_task).await;
    let status = response.status();
    if status != StatusCode::OK {
        assert_problem(response, StatusCode::FORBIDDEN, "forbidden").await;
    }
    json_body(server.api.get_task(fixtures.alice.token(), &alice_task).await, StatusCode::OK).await;
    let listed = server.api.listed_task_ids(fixtures.mike.token(), &[]).await.contains(&alice_task);
    server.stop().await;
    (status, listed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_policy_file_replaces_the_built_in_policy_set() {
    let default_build = Workspace::new();
    assert_eq!(department_read_under(&default_build, None).await, (StatusCode::OK, true), "built-in policies");

    let shipped = Workspace::new();
    let shipped_file = shipped.dir.join("default.cedar");
    std::fs::write(&shipped_file, DEFAULT_POLICIES).expect("the policy file can be written");
    assert_eq!(
        department_read_under(&shipped, Some(&shipped_file)).await,
        (StatusCode::OK, true),
        "the shipped file behaves as the built-in set"
    );

    let replaced = Workspace::new();
    let replaced_file = replaced.dir.join("no-department-read.cedar");
    std::fs::write(&replaced_file, without_policy(DEFAULT_POLICIES, "task-department-read"))
        .expect("the policy file can be written");
    // Lists keep following the SQL rules of the default set (docs/authorization.md#default-policies); the single read is denied.
    assert_eq!(
        department_read_under(&replaced, Some(&replaced_file)).await,
        (StatusCode::FORBIDDEN, true),
        "without task-department-read, a manager may not read a same-department task"
    );
}

/// Whether `text` points at line `line` in one of the usual notations.
fn mentions_line(text: &str, line: usize) -> bool {
    let lowered = text.to_ascii_lowercase();
    [format!("line {line}"), format!("line: {line}"), format!(":{line}:"), format!("[{line}:")]
        .iter()
        .any(|notation| lowered.contains(notation.as_str()))
}

/// Runs `taskify serve` with `POLICY_FILE` set to `file` and returns its exit code and stderr.
async fn startup_with_policy_file(workspace: &Workspace, file: &Path) -> (Option<i32>, String) {
    let policy_file = file.display().to_string();
    let settings = child_environment(&workspace.sqlite_url(), &[("POLICY_FILE", policy_file.as_str())]);
    let output = serve_expecting_startup_failure(&workspace.dir, &env_pairs(&settings)).await;
    (output.status.code(), String::from_utf8_lossy(&output.stderr).into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_policy_file_that_does_not_parse_stops_the_startup_naming_the_file_and_line() {
    let workspace = Workspace::new();
    let file = workspace.dir.join("broken.cedar");
    let broken = [
        "@id(\"allow-reads\")",
        "permit (principal, action == Action::\"task:read\", resource)",
        "when { principal.active };",
        "@id(\"broken\")",
        "permit (principal action resource);",
    ]
    .join("\n");
    // Line 5, the second policy's head, is the one that does not parse.
    std::fs::write(&file, &broken).expect("the policy file can be written");

    let (code, stderr) = startup_with_policy_file(&workspace, &file).await;
    assert_eq!(code, Some(1), "a policy file that does not parse is a startup error; stderr: {stderr}");
    assert!(stderr.contains(&file.display().to_string()), "the message names the file: {stderr}");
    assert!(mentions_line(&stderr, 5), "the message names the line of the error: {stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_policy_without_an_id_stops_the_startup_naming_the_policy() {
    let workspace = Workspace::new();
    let file = workspace.dir.join("anonymous.cedar");
    let anonymous = "permit (principal, action == Action::\"task:read\", resource);";
    let policies = format!("{DEFAULT_POLICIES}\n{anonymous}\n");
    let anonymous_line = policies.lines().position(|line| line == anonymous).expect("the policy is in the file") + 1;
    std::fs::write(&file, &policies).expect("the policy file can be written");

    let (code, stderr) = startup_with_policy_file(&workspace, &file).await;
    assert_eq!(code, Some(1), "every policy needs an @id; stderr: {stderr}");
    assert!(stderr.contains(&file.display().to_string()), "the message names the file: {stderr}");
    assert!(stderr.contains("@id"), "the message names the missing annotation: {stderr}");
    assert!(mentions_line(&stderr, anonymous_line), "the message points at the policy's line: {stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_policy_file_stops_the_startup() {
    let workspace = Workspace::new();
    let file = workspace.dir.join("absent.cedar");
    let (code, stderr) = startup_with_policy_file(&workspace, &file).await;
    assert_eq!(code, Some(1), "a missing policy file is a startup error; stderr: {stderr}");
    assert!(stderr.contains(&file.display().to_string()), "the message names the file: {stderr}");
}
