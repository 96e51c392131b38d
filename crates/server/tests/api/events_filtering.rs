//! The property of docs/live-updates.md#filtering, over generated populations (issue acceptance
//! 2): no subscriber ever receives an event for a task that `GET /tasks/{id}` refuses it, and,
//! the other way round, every change of a task it may read reaches it. Random members (roles,
//! departments, clearances) change between phases; each phase makes random task changes (creates,
//! updates, deletes, `required_clearance`), then every subscriber reads its stream up to a marker
//! task of its own and what it received is compared with what `GET` answers it.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use reqwest::StatusCode;
use serde_json::json;

use crate::both_backends;
use crate::helpers::*;

/// Fixed seeds, so that a failure can be replayed.
const SEEDS: [u64; 2] = [0x11fe_0001, 0x5eed_2026];
const MEMBERS: usize = 5;
const PHASES: usize = 5;
const WAIT: Duration = Duration::from_secs(10);
const DEPARTMENTS: [&str; 3] = ["Engineering", "Sales", "engineering "];

struct Member {
    account: Account,
    stream: SseReader,
}

/// What one subscriber received in a phase: task id → event types.
type Received = BTreeMap<String, Vec<String>>;

/// Reads `member`'s stream up to the marker task it creates now. Earlier markers (of any member)
/// are left out of what it returns.
async fn drain_to_marker(app: &TestApp, member: &mut Member, markers: &mut BTreeSet<String>) -> Received {
    let marker = app.new_task_id(member.account.token(), "marker").await;
    markers.insert(marker.clone());
    let mut received = Received::new();
    loop {
        let event = member.stream.event(WAIT).await;
        assert_ne!(event.event, "resync", "no resync is expected here: {event:?}");
        let id = event.data["id"].as_str().unwrap_or_else(|| panic!("an id in {event:?}")).to_owned();
        if id == marker {
            return received;
        }
        if markers.contains(&id) {
            continue;
        }
        received.entry(id).or_default().push(event.event);
    }
}

async fn readable(app: &TestApp, member: &Member, task: &str) -> bool {
    let response = app.get_task(member.account.token(), task).await;
    match response.status() {
        StatusCode::OK => true,
        StatusCode::FORBIDDEN | StatusCode::NOT_FOUND => false,
        other => panic!("GET /tasks/{task} answered {other}"),
    }
}

async fn run(app: TestApp, seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed);
    let admin = app.sign_in_admin().await;
    let mut members = Vec::new();
    for n in 0..MEMBERS {
        let department = *DEPARTMENTS.choose(&mut rng).unwrap_or(&"");
        let account = app.new_account(&format!("member{n}"), Some(department)).await;
        let stream = app.open_events(account.token(), None).await;
        members.push(Member { account, stream });
    }
    // Tasks alive, with their owner; the markers are never touched again.
    let mut tasks: Vec<(String, usize)> = Vec::new();
    let mut markers: BTreeSet<String> = BTreeSet::new();
    for phase in 0..PHASES {
        // Principal changes: applied before the task changes of the phase.
        for _ in 0..rng.random_range(1..=3) {
            let who = rng.random_range(0..MEMBERS);
            let id = members[who].account.id.clone();
            match rng.random_range(0..4) {
                0 => {
                    let _ = app.assign_role(admin.token(), &id, &json!({"role": "manager"})).await;
                }
                1 => {
                    let _ = app.revoke_role(admin.token(), &id, "manager").await;
                }
                2 => {
                    let department = *DEPARTMENTS.choose(&mut rng).unwrap_or(&"");
                    let body = json!({"department": department});
                    json_body(app.patch_user(admin.token(), &id, &body).await, StatusCode::OK).await;
                }
                _ => {
                    let body = json!({"value": rng.random_range(0..=3)});
                    let response = app.put_user_attribute(admin.token(), &id, "clearance_level", &body).await;
                    assert!(response.status().is_success(), "clearance set: {}", response.status());
                }
            }
        }
        // Task changes, at most one per task (so that what a subscriber was judged on is what
        // GET sees afterwards), remembering for each deleted task who could read its last state.
        let mut changed: BTreeSet<String> = BTreeSet::new();
        let mut deleted: BTreeMap<String, Vec<bool>> = BTreeMap::new();
        for _ in 0..rng.random_range(3..=6) {
            let untouched: Vec<usize> = (0..tasks.len()).filter(|&i| !changed.contains(&tasks[i].0)).collect();
            let op = if untouched.is_empty() { 0 } else { rng.random_range(0..4) };
            let pick = untouched.choose(&mut rng).copied().unwrap_or(0);
            match op {
                0 => {
                    let owner = rng.random_range(0..MEMBERS);
                    let id = app.new_task_id(members[owner].account.token(), &format!("phase {phase}")).await;
                    changed.insert(id.clone());
                    tasks.push((id, owner));
                }
                1 => {
                    let (id, owner) = tasks[pick].clone();
                    let body = json!({"title": format!("updated in phase {phase}")});
                    json_body(app.update_task(members[owner].account.token(), &id, &body).await, StatusCode::OK).await;
                    changed.insert(id);
                }
                2 => {
                    let (id, _) = tasks[pick].clone();
                    let body = json!({"value": rng.random_range(0..=3)});
                    let response = app.put_task_attribute(admin.token(), &id, "required_clearance", &body).await;
                    assert!(response.status().is_success(), "required_clearance set: {}", response.status());
                    changed.insert(id);
                }
                _ => {
                    let (id, owner) = tasks.swap_remove(pick);
                    let mut could_read = Vec::new();
                    for member in &members {
                        could_read.push(readable(&app, member, &id).await);
                    }
                    assert_no_body(app.delete_task(members[owner].account.token(), &id).await, StatusCode::NO_CONTENT)
                        .await;
                    deleted.insert(id, could_read);
                }
            }
        }
        for m in 0..MEMBERS {
            let received = drain_to_marker(&app, &mut members[m], &mut markers).await;
            let member = &members[m];
            for (task, events) in &received {
                if let Some(could_read) = deleted.get(task) {
                    assert!(could_read[m], "seed {seed:#x} phase {phase}: member{m} got {events:?} of deleted {task}");
                    continue;
                }
                assert!(changed.contains(task), "seed {seed:#x} phase {phase}: member{m} got {events:?} of {task}");
                assert!(
                    readable(&app, member, task).await,
                    "seed {seed:#x} phase {phase}: member{m} received {events:?} of {task}, which GET refuses it"
                );
            }
            for task in &changed {
                if !received.contains_key(task) {
                    assert!(
                        !readable(&app, member, task).await,
                        "seed {seed:#x} phase {phase}: member{m} may read {task} but received nothing of its change"
                    );
                }
            }
            for (task, could_read) in &deleted {
                let got_deletion = received.get(task).is_some_and(|e| e.iter().any(|t| t == "task.deleted"));
                assert_eq!(got_deletion, could_read[m], "seed {seed:#x} phase {phase}: member{m}, deletion of {task}");
            }
        }
    }
}

both_backends!(no_subscriber_receives_an_event_of_a_task_get_refuses_it, |app| async move {
    run(app, SEEDS[0]).await;
});

both_backends!(every_subscriber_receives_the_changes_of_the_tasks_it_may_read, |app| async move {
    run(app, SEEDS[1]).await;
});
