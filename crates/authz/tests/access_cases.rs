//! The unit tests of `crates/core/src/access.rs` (the hand-written evaluator), case for case,
//! against the Cedar engine with the default policy set: same allowed, policy ids and reason.

mod common;

use common::{CONTEXT, principal, task_of};
use taskify_authz::{Decision, PolicyEngine, Resource};
use taskify_domain::Scope;
use uuid::Uuid;

// The grants of core's tests (narrower than the seed: only what each case needs).
const USER: &[(&str, Scope)] = &[("task:read", Scope::Own), ("task:update", Scope::Own)];
const MANAGER: &[(&str, Scope)] =
    &[("task:read", Scope::Own), ("task:read", Scope::Department), ("task:update", Scope::Own)];

fn engine() -> PolicyEngine {
    PolicyEngine::default_policies().expect("the default policy set loads")
}

fn allowed(ids: &[&str]) -> Decision {
    Decision {
        allowed: true,
        policy_ids: ids.iter().map(|s| (*s).to_owned()).collect(),
        reason: format!("allowed by {}", ids.join(", ")),
    }
}

fn denied(ids: &[&str]) -> Decision {
    Decision {
        allowed: false,
        policy_ids: ids.iter().map(|s| (*s).to_owned()).collect(),
        reason: format!("denied by {}", ids.join(", ")),
    }
}

fn no_permit() -> Decision {
    Decision { allowed: false, policy_ids: Vec::new(), reason: "no permitting policy".into() }
}

#[test]
fn owners_read_and_update_their_tasks_only() {
    let engine = engine();
    let alice = principal("user", USER, "engineering");
    let own = task_of(alice.user_id, "engineering", None);
    let other = task_of(Uuid::new_v4(), "engineering", None);
    assert_eq!(engine.decide(&alice, "task:update", &Resource::Task(own), &CONTEXT), allowed(&["task-owner"]));
    assert_eq!(engine.decide(&alice, "task:read", &Resource::Task(other), &CONTEXT), no_permit());
}

#[test]
fn managers_read_but_do_not_change_department_tasks_and_respect_clearance() {
    let engine = engine();
    let mike = principal("manager", MANAGER, "engineering");
    let task = task_of(Uuid::new_v4(), "engineering", None);
    assert_eq!(engine.decide(&mike, "task:read", &Resource::Task(task), &CONTEXT), allowed(&["task-department-read"]));
    assert_eq!(engine.decide(&mike, "task:update", &Resource::Task(task), &CONTEXT), no_permit());
    let secret = task_of(Uuid::new_v4(), "engineering", Some(3));
    assert_eq!(
        engine.decide(&mike, "task:read", &Resource::Task(secret), &CONTEXT),
        denied(&["forbid-insufficient-clearance"])
    );
    let sales = task_of(Uuid::new_v4(), "sales", None);
    assert_eq!(engine.decide(&mike, "task:read", &Resource::Task(sales), &CONTEXT), no_permit());
    assert_eq!(engine.decide(&mike, "task:read", &Resource::TaskCollection(None), &CONTEXT), allowed(&["task-list"]));
}

#[test]
fn inactive_principals_are_forbidden_and_admins_do_everything() {
    let engine = engine();
    let mut alice = principal("user", USER, "");
    alice.active = false;
    let own = task_of(alice.user_id, "", None);
    assert_eq!(engine.decide(&alice, "task:read", &Resource::Task(own), &CONTEXT), denied(&["forbid-inactive"]));
    let admin = principal("admin", &[("system:admin", Scope::All), ("task:read", Scope::All)], "");
    assert_eq!(
        engine.decide(&admin, "system:admin", &Resource::System, &CONTEXT),
        allowed(&["admin-actions", "admin-all"])
    );
    let secret = task_of(Uuid::new_v4(), "x", Some(10));
    assert_eq!(
        engine.decide(&admin, "task:read", &Resource::Task(secret), &CONTEXT),
        allowed(&["admin-all", "task-all"])
    );
}
