//! The Cedar engine with the default policy set against the hand-written evaluator it replaces
//! (`decide` of `crates/core/src/access.rs`, copied below as the oracle with this crate's
//! types), over every combination of the inputs the policies read: roles, departments,
//! clearance, activity, ownership, deletion, required clearance, resource kinds and every
//! action of docs/data-model.md#seed-data. Both must agree on allowed, policy ids and reason.

mod common;

use common::{ACTIONS, ADMIN, CONTEXT, MANAGER, USER, principal, with_clearance};
use taskify_authz::{Decision, OwnerFacts, PolicyEngine, Resource, TaskFacts};
use taskify_domain::{Principal, Scope};
use uuid::Uuid;

/// `crates/core/src/access.rs::decide`, with `TaskRecord` → `TaskFacts` and
/// `CollectionOwner` → `OwnerFacts`. Keep it a copy: it is the reference.
fn oracle(principal: &Principal, action: &str, resource: Resource<'_>) -> Decision {
    let mut forbids: Vec<&'static str> = Vec::new();
    let mut permits: Vec<&'static str> = Vec::new();
    let is_task_action = action.starts_with("task:");
    let holds_all = principal.holds_at(action, Scope::All);

    if !principal.active {
        forbids.push("forbid-inactive");
    }
    if let Resource::Task(record) = resource {
        let is_owner = record.owner == principal.user_id;
        if is_task_action
            && record.required_clearance.is_some_and(|c| c > principal.clearance_level())
            && !is_owner
            && !holds_all
        {
            forbids.push("forbid-insufficient-clearance");
        }
    }
    if principal.has_role("admin") {
        permits.push("admin-all");
    }
    let owner_of = |resource: Resource<'_>| -> Option<(Uuid, String, bool)> {
        match resource {
            Resource::Task(r) => Some((r.owner, r.owner_department.to_owned(), r.owner_deleted)),
            Resource::TaskCollection(Some(o)) => Some((o.user_id, o.department.to_owned(), o.deleted)),
            _ => None,
        }
    };
    let is_task_resource = matches!(resource, Resource::Task(_) | Resource::TaskCollection(_));
    if action == "task:create" && matches!(resource, Resource::TaskCollection(_)) && principal.holds(action) {
        permits.push("task-create");
    }
    if action == "task:read" && matches!(resource, Resource::TaskCollection(None)) && principal.holds(action) {
        permits.push("task-list");
    }
    if let Some((owner, department, owner_deleted)) = owner_of(resource) {
        if matches!(action, "task:read" | "task:update" | "task:delete")
            && owner == principal.user_id
            && principal.holds(action)
        {
            permits.push("task-owner");
        }
        if action == "task:read"
            && !owner_deleted
            && !department.is_empty()
            && department == principal.department
            && principal.holds_at("task:read", Scope::Department)
        {
            permits.push("task-department-read");
        }
    }
    if is_task_action && is_task_resource && holds_all {
        permits.push("task-all");
    }
    if let Resource::Profile(target) = resource {
        if matches!(action, "profile:read" | "profile:update") && target == principal.user_id && principal.holds(action)
        {
            permits.push("profile-self");
        }
        if action.starts_with("profile:") && holds_all {
            permits.push("profile-all");
        }
    }
    let admin_action = action.starts_with("user:") || matches!(action, "role:manage" | "audit:read" | "system:admin");
    if admin_action && matches!(resource, Resource::System) && holds_all {
        permits.push("admin-actions");
    }

    let owned = |ids: Vec<&str>| ids.into_iter().map(str::to_owned).collect::<Vec<_>>();
    if !forbids.is_empty() {
        forbids.sort_unstable();
        let reason = format!("denied by {}", forbids.join(", "));
        Decision { allowed: false, policy_ids: owned(forbids), reason }
    } else if permits.is_empty() {
        Decision { allowed: false, policy_ids: Vec::new(), reason: "no permitting policy".into() }
    } else {
        permits.sort_unstable();
        permits.dedup();
        let reason = format!("allowed by {}", permits.join(", "));
        Decision { allowed: true, policy_ids: owned(permits), reason }
    }
}

/// A role that holds actions at scope `all` without being `admin`, so that `task-all`,
/// `profile-all`, `admin-actions` and the clearance exemption are exercised without
/// `admin-all` beside them; plus odd scopes (`task:update` at `department`).
const AUDITOR: &[(&str, Scope)] = &[
    ("task:read", Scope::All),
    ("task:update", Scope::Department),
    ("task:create", Scope::All),
    ("profile:read", Scope::All),
    ("user:read", Scope::All),
    ("audit:read", Scope::Department),
    ("system:admin", Scope::All),
];

const DEPARTMENTS: &[&str] = &["", "engineering", "sales"];
const ROLES: &[(&str, &[(&str, Scope)])] =
    &[("user", USER), ("manager", MANAGER), ("admin", ADMIN), ("", &[]), ("auditor", AUDITOR)];
const CLEARANCES: &[Option<i64>] = &[None, Some(0), Some(1), Some(2), Some(3), Some(4), Some(5)];
const REQUIRED_CLEARANCES: &[Option<i64>] = &[None, Some(0), Some(1), Some(2), Some(3), Some(4), Some(5), Some(6)];
const TASK_ACTIONS: &[&str] = &["task:create", "task:read", "task:update", "task:delete", "task:assign"];

/// Principals: every role × department × activity, with each of `clearances`.
fn principals(clearances: &[Option<i64>], activity: &[bool]) -> Vec<Principal> {
    let mut out = Vec::new();
    for (role, grants) in ROLES {
        for department in DEPARTMENTS {
            for &active in activity {
                for &clearance in clearances {
                    let mut p = with_clearance(principal(role, grants, department), clearance);
                    p.active = active;
                    out.push(p);
                }
            }
        }
    }
    out
}

/// Tasks of the principal or of `other`, in every department, deleted or not, with each of
/// `required`.
fn tasks_for(p: &Principal, other: Uuid, required: &[Option<i64>]) -> Vec<Resource<'static>> {
    let mut out = Vec::new();
    for owner in [p.user_id, other] {
        for department in DEPARTMENTS {
            for owner_deleted in [false, true] {
                for &required_clearance in required {
                    out.push(Resource::Task(TaskFacts {
                        id: Uuid::new_v4(),
                        owner,
                        owner_department: department,
                        owner_deleted,
                        required_clearance,
                        attributes: &[],
                    }));
                }
            }
        }
    }
    out
}

/// Collections (all, the principal's, `other`'s in every department, deleted or not),
/// profiles (own, another's) and the system.
fn non_tasks_for(p: &Principal, other: Uuid) -> Vec<Resource<'static>> {
    let mut out =
        vec![Resource::TaskCollection(None), Resource::Profile(p.user_id), Resource::Profile(other), Resource::System];
    for owner in [p.user_id, other] {
        for department in DEPARTMENTS {
            for deleted in [false, true] {
                out.push(Resource::TaskCollection(Some(OwnerFacts { user_id: owner, department, deleted })));
            }
        }
    }
    out
}

/// Decides every case with both and fails listing the first differences. Returns how many
/// were compared and how many were allowed.
fn compare<'a>(cases: impl IntoIterator<Item = (&'a Principal, Resource<'a>, &'a str)>) -> (usize, usize) {
    let engine = PolicyEngine::default_policies().expect("the default policy set loads");
    let (mut compared, mut allowed, mut differing) = (0usize, 0usize, 0usize);
    let mut mismatches = Vec::new();
    // Decisions go through the decision memo (docs/performance.md#decision-memo), as in the
    // server. Every fourth case is asked again, so that the answer comes from the memo: it must
    // be the oracle's too (not every case, to keep the unoptimised run short).
    for (i, (p, resource, action)) in cases.into_iter().enumerate() {
        let expected = oracle(p, action, resource);
        let mut actual = engine.decide(p, action, &resource, &CONTEXT);
        if i % 4 == 0 {
            let memoised = engine.decide(p, action, &resource, &CONTEXT);
            assert_eq!(memoised, actual, "the memo answered {action} on {resource:?} differently");
            actual = memoised;
        }
        compared += 1;
        allowed += usize::from(actual.allowed);
        if actual != expected {
            differing += 1;
            if mismatches.len() < 20 {
                mismatches.push(format!(
                    "{action} by {:?} (active {}, department {:?}, clearance {}) on {resource:?}:\n  cedar  {actual:?}\n  oracle {expected:?}",
                    p.roles.first().map(|r| &r.name),
                    p.active,
                    p.department,
                    p.clearance_level(),
                ));
            }
        }
    }
    assert!(differing == 0, "{differing} of {compared} decisions differ, first ones:\n{}", mismatches.join("\n"));
    // A grid that allows (almost) nothing or (almost) everything proves little.
    assert!(allowed > compared / 20 && allowed < compared * 9 / 10, "{allowed} allowed of {compared}");
    (compared, allowed)
}

/// Task actions on tasks: every clearance against every required clearance. Inactive
/// principals are forbidden whatever their clearance, so two clearances suffice for them.
#[test]
fn task_decisions_agree_for_every_clearance_pair() {
    let other = Uuid::new_v4();
    let mut population = principals(CLEARANCES, &[true]);
    population.extend(principals(&[None, Some(3)], &[false]));
    let cases: Vec<_> = population
        .iter()
        .flat_map(|p| {
            tasks_for(p, other, REQUIRED_CLEARANCES)
                .into_iter()
                .flat_map(move |r| TASK_ACTIONS.iter().map(move |a| (p, r, *a)))
        })
        .collect();
    let (compared, _) = compare(cases);
    assert_eq!(compared, (5 * 3 * 7 + 5 * 3 * 2) * 96 * 5);
}

/// Every action on collections, profiles and the system, and the non-task actions on tasks.
#[test]
fn decisions_on_every_resource_kind_agree_for_every_action() {
    let other = Uuid::new_v4();
    let population = principals(&[Some(2)], &[true, false]);
    let cases: Vec<_> = population
        .iter()
        .flat_map(|p| {
            let non_tasks =
                non_tasks_for(p, other).into_iter().flat_map(move |r| ACTIONS.iter().map(move |a| (p, r, *a)));
            let tasks = tasks_for(p, other, &[None, Some(6)])
                .into_iter()
                .flat_map(move |r| ACTIONS.iter().filter(|a| !TASK_ACTIONS.contains(a)).map(move |a| (p, r, *a)));
            non_tasks.chain(tasks)
        })
        .collect();
    compare(cases);
}

/// The full product of every dimension (about 400 000 decisions): too slow for an
/// unoptimised build, a few seconds with `cargo test -p taskify-authz --release`.
#[test]
#[cfg_attr(debug_assertions, ignore = "about 400 000 decisions: run with --release")]
fn exhaustive_grid_agrees() {
    let other = Uuid::new_v4();
    let population = principals(CLEARANCES, &[true, false]);
    let cases: Vec<_> = population
        .iter()
        .flat_map(|p| {
            let mut resources = tasks_for(p, other, REQUIRED_CLEARANCES);
            resources.extend(non_tasks_for(p, other));
            resources.into_iter().flat_map(move |r| ACTIONS.iter().map(move |a| (p, r, *a)))
        })
        .collect();
    let (compared, _) = compare(cases);
    assert_eq!(compared, 210 * 112 * 17);
}
