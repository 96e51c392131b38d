//! One decision, entity building included: a manager reading a task of their department
//! (the commonest non-trivial request). Budget: well under 50 µs at the median.

use criterion::{Criterion, criterion_group, criterion_main};
use std::collections::BTreeMap;
use std::hint::black_box;
use taskify_authz::{DecisionContext, PolicyEngine, Resource, TaskFacts};
use taskify_domain::auth::{Grant, PrincipalAttribute};
use taskify_domain::{AttributeValue, Principal, PrincipalRole, Scope};
use uuid::Uuid;

/// A seeded manager (docs/data-model.md#seed-data) with the attributes registration gives.
fn manager() -> Principal {
    // The seeded manager grants, as in tests/common/mod.rs `MANAGER`: a bench target cannot import
    // the integration tests' module.
    let grants = [
        ("profile:read", Scope::Own),
        ("profile:update", Scope::Own),
        ("task:create", Scope::Own),
        ("task:read", Scope::Own),
        ("task:read", Scope::Department),
        ("task:update", Scope::Own),
        ("task:delete", Scope::Own),
    ];
    let mut grants: Vec<Grant> = grants.iter().map(|(a, s)| Grant { action: (*a).into(), scope: *s }).collect();
    grants.sort();
    let attribute = |value| PrincipalAttribute { value, expires_at: None };
    Principal {
        user_id: Uuid::new_v4(),
        username: "mike".into(),
        active: true,
        deleted: false,
        department: "engineering".into(),
        roles: vec![PrincipalRole { name: "manager".into(), expires_at: None }],
        grants,
        attributes: BTreeMap::from([
            ("account_type".to_owned(), attribute(AttributeValue::String("standard".into()))),
            ("clearance_level".to_owned(), attribute(AttributeValue::Number(1.into()))),
        ]),
        tokens_valid_after: None,
    }
}

fn decision(c: &mut Criterion) {
    let engine = PolicyEngine::default_policies().expect("the default policy set loads");
    let mike = manager();
    let task = TaskFacts {
        id: Uuid::new_v4(),
        owner: Uuid::new_v4(),
        owner_department: "engineering",
        owner_deleted: false,
        required_clearance: None,
        attributes: &[],
    };
    let context = DecisionContext {
        now_unix: 1_764_460_800,
        ip: Some("127.0.0.1"),
        request_id: "0193a0b4-7f6e-7d2c-9a55-3c1e2f4b5a6d",
        method: "GET",
        path: "/api/v1/tasks/0193a0b4-7f6e-7d2c-9a55-3c1e2f4b5a6d",
    };
    let resource = Resource::Task(task);
    let expected = engine.decide(&mike, "task:read", &resource, &context);
    assert_eq!(expected.policy_ids, ["task-department-read"]);
    c.bench_function("manager reads a department task", |b| {
        b.iter(|| {
            engine.decide_fresh(black_box(&mike), black_box("task:read"), black_box(&resource), black_box(&context))
        })
    });
    // The same decision answered by the decision memo (docs/performance.md#decision-memo).
    c.bench_function("manager reads a department task, memoised", |b| {
        b.iter(|| engine.decide(black_box(&mike), black_box("task:read"), black_box(&resource), black_box(&context)))
    });
    // What every request paid before L1 kept decoded values (docs/cache.md#decoded-values).
    let json = serde_json::to_vec(&mike).expect("a principal serialises");
    c.bench_function("principal parsed from its cached JSON", |b| {
        b.iter(|| serde_json::from_slice::<Principal>(black_box(&json)).expect("parses"))
    });
}

criterion_group!(benches, decision);
criterion_main!(benches);
