//! Principals and tasks for the integration tests, with the seeded roles of docs/data-model.md#seed-data.

#![allow(dead_code)] // each test binary uses a different part

use std::collections::BTreeMap;
use taskify_authz::{DecisionContext, TaskFacts};
use taskify_domain::auth::{Grant, PrincipalAttribute};
use taskify_domain::{AttributeValue, Principal, PrincipalRole, Scope};
use uuid::Uuid;

pub const CONTEXT: DecisionContext<'static> = DecisionContext {
    now_unix: 1_764_460_800,
    ip: Some("127.0.0.1"),
    request_id: "req-1",
    method: "GET",
    path: "/api/v1/tasks",
};

// The same actions as the engine's unit test `every_action_of_the_permission_table_is_declared`
// (src/engine.rs), which cannot import this module.
/// Every `resource:action` of docs/data-model.md#seed-data.
pub const ACTIONS: &[&str] = &[
    "profile:read",
    "profile:update",
    "profile:delete",
    "user:read",
    "user:create",
    "user:update",
    "user:delete",
    "user:assign_role",
    "user:revoke_role",
    "task:create",
    "task:read",
    "task:update",
    "task:delete",
    "task:assign",
    "system:admin",
    "audit:read",
    "role:manage",
];

// One table per seeded role, each spelled out in full as docs/data-model.md#seed-data lists it:
// roles share rows, and a shared base would hide what each role gets.
/// The `user` role's seeded permissions.
pub const USER: &[(&str, Scope)] = &[
    ("profile:read", Scope::Own),
    ("profile:update", Scope::Own),
    ("task:create", Scope::Own),
    ("task:read", Scope::Own),
    ("task:update", Scope::Own),
    ("task:delete", Scope::Own),
];

// Also spelled out in benches/decision.rs `manager()`: the bench target cannot import this test
// module.
/// The `manager` role's seeded permissions.
pub const MANAGER: &[(&str, Scope)] = &[
    ("profile:read", Scope::Own),
    ("profile:update", Scope::Own),
    ("task:create", Scope::Own),
    ("task:read", Scope::Own),
    ("task:read", Scope::Department),
    ("task:update", Scope::Own),
    ("task:delete", Scope::Own),
];

/// The `admin` role's seeded permissions (23 rows).
pub const ADMIN: &[(&str, Scope)] = &[
    ("profile:read", Scope::Own),
    ("profile:update", Scope::Own),
    ("profile:read", Scope::All),
    ("profile:update", Scope::All),
    ("profile:delete", Scope::All),
    ("user:read", Scope::All),
    ("user:create", Scope::All),
    ("user:update", Scope::All),
    ("user:delete", Scope::All),
    ("user:assign_role", Scope::All),
    ("user:revoke_role", Scope::All),
    ("task:create", Scope::Own),
    ("task:read", Scope::Own),
    ("task:update", Scope::Own),
    ("task:delete", Scope::Own),
    ("task:read", Scope::All),
    ("task:update", Scope::All),
    ("task:delete", Scope::All),
    ("task:assign", Scope::All),
    ("task:read", Scope::Department),
    ("system:admin", Scope::All),
    ("audit:read", Scope::All),
    ("role:manage", Scope::All),
];

/// A principal with one role (none when `role` is empty), the given grants and department.
pub fn principal(role: &str, grants: &[(&str, Scope)], department: &str) -> Principal {
    let mut grants: Vec<Grant> = grants.iter().map(|(a, s)| Grant { action: (*a).into(), scope: *s }).collect();
    grants.sort();
    grants.dedup();
    Principal {
        user_id: Uuid::new_v4(),
        username: "p".into(),
        active: true,
        deleted: false,
        department: department.into(),
        roles: if role.is_empty() { Vec::new() } else { vec![PrincipalRole { name: role.into(), expires_at: None }] },
        grants,
        attributes: BTreeMap::new(),
        tokens_valid_after: None,
    }
}

/// Sets the `clearance_level` attribute (a number), or removes it.
pub fn with_clearance(mut principal: Principal, level: Option<i64>) -> Principal {
    match level {
        Some(level) => {
            principal.attributes.insert(
                "clearance_level".into(),
                PrincipalAttribute { value: AttributeValue::Number(level.into()), expires_at: None },
            );
        }
        None => {
            principal.attributes.remove("clearance_level");
        }
    }
    principal
}

/// A task of `owner` with no resource attributes.
pub fn task_of(owner: Uuid, department: &str, clearance: Option<i64>) -> TaskFacts<'_> {
    TaskFacts {
        id: Uuid::new_v4(),
        owner,
        owner_department: department,
        owner_deleted: false,
        required_clearance: clearance,
        attributes: &[],
    }
}
