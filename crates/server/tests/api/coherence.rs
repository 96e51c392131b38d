//! docs/testing.md#i-scale-out-coherence-and-outages (I4–I8) and B25: two instances sharing one database (a fresh PostgreSQL database,
//! or one SQLite file in WAL mode) and one private Redis stay coherent (docs/cache.md#coherence, docs/cache.md#cross-instance-invalidation): a write on
//! one node is read on the other within the 1 s the acceptance checks allow, and never undone
//! afterwards; principal changes, revocations, rate-limit buckets (docs/http-contract.md#rate-limits) and login throttles
//! (docs/authentication.md#login-throttling) are shared; and the admin CLI's promotion reaches running nodes at once (docs/authentication.md#first-administrator-and-cli).

use std::time::Duration;

use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

use crate::cluster_both_backends;
use crate::helpers::*;
use crate::redis::Cluster;
use crate::server_process::run_to_completion;

/// The cross-instance propagation bound the acceptance checks allow (docs/cache.md#coherence).
pub const PROPAGATION: Duration = Duration::from_secs(1);
/// How often a propagation is polled.
pub const POLL: Duration = Duration::from_millis(20);

/// The version of task `id` as `token` reads it on `node`, or `None` on 404. Any other answer
/// fails the test.
pub async fn version_on(node: &ApiClient, token: &str, id: &str) -> Option<i64> {
    let response = node.get_task(token, id).await;
    match response.status() {
        StatusCode::OK => {
            let task = json_body(response, StatusCode::OK).await;
            Some(task["version"].as_i64().unwrap_or_else(|| panic!("a version in {task}")))
        }
        StatusCode::NOT_FOUND => {
            assert_problem(response, StatusCode::NOT_FOUND, "not_found").await;
            None
        }
        status => panic!("GET /tasks/{id} on {} answered {status}: {:?}", node.address, response.text().await),
    }
}

/// Polls `GET /tasks/{id}` on `node` until it answers `expected` (a version, or `None` for 404),
/// within [`PROPAGATION`]. Every answer seen meanwhile must be `previous` (the value the node held
/// before the write) or `expected`: never anything older.
async fn await_version(node: &ApiClient, token: &str, id: &str, previous: Option<i64>, expected: Option<i64>) {
    eventually_every(&format!("version {expected:?} of {id} on {}", node.address), PROPAGATION, POLL, || async {
        let seen = version_on(node, token, id).await;
        assert!(
            seen == expected || seen == previous,
            "{} served {seen:?} for {id} while moving from {previous:?} to {expected:?}",
            node.address
        );
        (seen == expected).then_some(())
    })
    .await;
}

/// Polls `send` until the answer has `status`, within [`PROPAGATION`], and returns that answer.
async fn await_status<F, Fut>(what: &str, status: StatusCode, mut send: F) -> Response
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Response>,
{
    eventually_every(what, PROPAGATION, POLL, || {
        let response = send();
        async move {
            let response = response.await;
            (response.status() == status).then_some(response)
        }
    })
    .await
}

// ---------------------------------------------------------------------------------------------
// I4, I5, I6: task data
// ---------------------------------------------------------------------------------------------

cluster_both_backends!(
    an_update_on_one_node_is_read_on_the_other_within_a_second,
    nodes = 2,
    |cluster: Cluster| async move {
        // I4, 50 iterations, the writer alternating between the nodes.
        let alice = cluster.node(0).new_account("alice", Some("Engineering")).await;
        let id = cluster.node(0).new_task_id(alice.token(), "iteration 0").await;
        let mut latest = 1;
        for iteration in 1..=50 {
            let (writer, reader) = if iteration % 2 == 1 {
                (cluster.node(0), cluster.node(1))
            } else {
                (cluster.node(1), cluster.node(0))
            };
            // The reader holds the current version in its caches.
            for _ in 0..2 {
                assert_eq!(version_on(reader, alice.token(), &id).await, Some(latest), "iteration {iteration}");
            }
            let title = format!("iteration {iteration}");
            let updated =
                json_body(writer.update_task(alice.token(), &id, &json!({"title": title})).await, StatusCode::OK).await;
            assert_eq!(updated["task"]["version"], latest + 1, "{updated}");
            assert_eq!(version_on(writer, alice.token(), &id).await, Some(latest + 1), "the writer reads its write");
            await_version(reader, alice.token(), &id, Some(latest), Some(latest + 1)).await;
            latest += 1;
            let task = json_body(reader.get_task(alice.token(), &id).await, StatusCode::OK).await;
            assert_eq!(task["title"], title.as_str(), "{task}");
            assert_eq!(task["version"], latest, "never an older version after the new one was seen: {task}");
        }
    }
);

/// Reads `id` on both nodes for a while, failing if either serves it.
async fn assert_stays_deleted(cluster: &Cluster, token: &str, id: &str) {
    let until = tokio::time::Instant::now() + PROPAGATION;
    while tokio::time::Instant::now() < until {
        for node in 0..2 {
            assert_eq!(version_on(cluster.node(node), token, id).await, None, "a deleted task is never served again");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

cluster_both_backends!(
    a_delete_on_one_node_is_a_404_on_the_other_within_a_second,
    nodes = 2,
    |cluster: Cluster| async move {
        // I5
        let (a, b) = (cluster.node(0), cluster.node(1));
        let alice = a.new_account("alice", Some("Engineering")).await;
        for _ in 0..3 {
            let id = a.new_task_id(alice.token(), "Doomed").await;
            assert_eq!(version_on(b, alice.token(), &id).await, Some(1));
            assert!(b.listed_task_ids(alice.token(), &[]).await.contains(&id), "B lists the task");
            assert_no_body(a.delete_task(alice.token(), &id).await, StatusCode::NO_CONTENT).await;
            assert_eq!(version_on(a, alice.token(), &id).await, None, "the deleting node answers 404 at once");
            await_version(b, alice.token(), &id, Some(1), None).await;
            eventually_every("the deleted task to leave B's list", PROPAGATION, POLL, || async {
                (!b.listed_task_ids(alice.token(), &[]).await.contains(&id)).then_some(())
            })
            .await;
            assert_stays_deleted(&cluster, alice.token(), &id).await;
        }
    }
);

/// Whether `token`'s `GET /tasks` on `node` lists `id`, and with which title.
async fn listed_title(node: &ApiClient, token: &str, id: &str) -> Option<String> {
    let list = json_body(node.list_tasks(token, &[("pageSize", "100")]).await, StatusCode::OK).await;
    list["tasks"]
        .as_array()
        .unwrap_or_else(|| panic!("a tasks array in {list}"))
        .iter()
        .find(|task| task["id"] == id)
        .map(|task| string_at(task, "/title"))
}

cluster_both_backends!(
    a_task_created_on_one_node_is_listed_on_the_other_within_a_second,
    nodes = 2,
    |cluster: Cluster| async move {
        // I6 (generation counters), then an update and a delete of the same task.
        let (a, b) = (cluster.node(0), cluster.node(1));
        let fixtures = a.fixtures().await;
        let (bob, mike) = (&fixtures.bob, &fixtures.mike);
        // Both lists are cached on A before the write.
        for token in [mike.token(), bob.token()] {
            json_body(a.list_tasks(token, &[("pageSize", "100")]).await, StatusCode::OK).await;
        }

        let id = b.new_task_id(bob.token(), "Made on B").await;
        for token in [mike.token(), bob.token()] {
            eventually_every("the new task in a list on A", PROPAGATION, POLL, || async {
                listed_title(a, token, &id).await.filter(|title| title == "Made on B")
            })
            .await;
        }

        json_body(b.update_task(bob.token(), &id, &json!({"title": "Renamed on B"})).await, StatusCode::OK).await;
        eventually_every("the new title in mike's list on A", PROPAGATION, POLL, || async {
            listed_title(a, mike.token(), &id).await.filter(|title| title == "Renamed on B")
        })
        .await;

        assert_no_body(b.delete_task(bob.token(), &id).await, StatusCode::NO_CONTENT).await;
        eventually_every("the deleted task to leave mike's list on A", PROPAGATION, POLL, || async {
            listed_title(a, mike.token(), &id).await.is_none().then_some(())
        })
        .await;
    }
);

// ---------------------------------------------------------------------------------------------
// I7: principals and revocations
// ---------------------------------------------------------------------------------------------

cluster_both_backends!(
    principal_changes_and_revocations_reach_the_other_node_within_a_second,
    nodes = 2,
    |cluster: Cluster| async move {
        // I7
        let (a, b) = (cluster.node(0), cluster.node(1));
        let fixtures = a.fixtures().await;
        let (admin, alice, bob, mike) = (&fixtures.admin, &fixtures.alice, &fixtures.bob, &fixtures.mike);
        let alice_task = a.new_task_id(alice.token(), "Alice's").await;

        // Deactivation: bob's principal is cached on B first.
        json_body(b.list_tasks(bob.token(), &[]).await, StatusCode::OK).await;
        json_body(a.patch_user(admin.token(), &bob.id, &json!({"is_active": false})).await, StatusCode::OK).await;
        let response =
            await_status("bob disabled on B", StatusCode::FORBIDDEN, || b.list_tasks(bob.token(), &[])).await;
        let problem = assert_problem(response, StatusCode::FORBIDDEN, "account_disabled").await;
        assert_eq!(problem["message"], "Your account has been disabled. Please contact support.");

        // Role revocation: mike reads alice's task on B first (department read).
        json_body(b.get_task(mike.token(), &alice_task).await, StatusCode::OK).await;
        json_body(a.revoke_role(admin.token(), &mike.id, "manager").await, StatusCode::OK).await;
        let response =
            await_status("mike's read forbidden on B", StatusCode::FORBIDDEN, || b.get_task(mike.token(), &alice_task))
                .await;
        assert_problem(response, StatusCode::FORBIDDEN, "forbidden").await;

        // Logout: alice's token is known to be valid on B first.
        json_body(b.profile(alice.token()).await, StatusCode::OK).await;
        let body = json_body(a.logout(&alice.refresh_token, Some(alice.token())).await, StatusCode::OK).await;
        assert_eq!(body["message"], "Successfully logged out");
        let response =
            await_status("alice's token revoked on B", StatusCode::UNAUTHORIZED, || b.profile(alice.token())).await;
        assert_problem(response, StatusCode::UNAUTHORIZED, "invalid_token").await;
        assert_problem(a.profile(alice.token()).await, StatusCode::UNAUTHORIZED, "invalid_token").await;
    }
);

// ---------------------------------------------------------------------------------------------
// I8 and the login throttle: shared limits
// ---------------------------------------------------------------------------------------------

cluster_both_backends!(
    two_nodes_allow_a_client_the_configured_burst_in_total,
    nodes = 2,
    overrides = &[
        ("RATE_LIMIT_ENABLED", "true"),
        ("RATE_LIMIT_RPM", "6"),
        ("RATE_LIMIT_BURST", "10"),
        ("RATE_LIMIT_AUTH_RPM", "600"),
        ("RATE_LIMIT_AUTH_BURST", "100"),
    ],
    |cluster: Cluster| async move {
        // I8: "Two instances sharing Redis allow a client the configured burst in total, not twice."
        let alice = cluster.node(0).new_account("alice", Some("Engineering")).await;
        for request in 0..10 {
            let node = cluster.node(request % 2);
            json_body(node.list_tasks(alice.token(), &[]).await, StatusCode::OK).await;
        }
        for node in [cluster.node(0), cluster.node(1)] {
            // Same rate-limited assertion shape as the login loop below and authentication.rs: each asserts on its own
            // node and limit.
            let (headers, problem) = assert_problem_with_headers(
                node.list_tasks(alice.token(), &[]).await,
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
            )
            .await;
            assert_eq!(problem["message"], "rate limit exceeded");
            assert!(header(&headers, "retry-after").is_some(), "a 429 carries Retry-After");
        }
    }
);

cluster_both_backends!(
    login_failures_on_both_nodes_count_towards_one_lockout,
    nodes = 2,
    overrides = &[("LOGIN_MAX_FAILURES", "3")],
    |cluster: Cluster| async move {
        // docs/authentication.md#login-throttling: the throttle counters live in Redis, so 3 failures spread over two nodes lock
        // the account for this client on both.
        let email = email_of("alice");
        cluster.node(0).register_user("alice", Some("Engineering")).await;
        for attempt in 0..3 {
            let response = cluster.node(attempt % 2).login(&email, "Wrong@Password1").await;
            assert_problem(response, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
        }
        for node in [cluster.node(1), cluster.node(0)] {
            // Same rate-limited assertion shape as the list loop above and authentication.rs: each asserts on its own
            // node and limit.
            let (headers, problem) = assert_problem_with_headers(
                node.login(&email, USER_PASSWORD).await,
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
            )
            .await;
            assert_eq!(problem["message"], "Too many failed login attempts, try again later");
            assert!(header(&headers, "retry-after").is_some(), "a lockout carries Retry-After");
        }
    }
);

// ---------------------------------------------------------------------------------------------
// B25: the admin CLI against running nodes
// ---------------------------------------------------------------------------------------------

cluster_both_backends!(
    a_cli_promotion_reaches_running_nodes_within_a_second,
    nodes = 2,
    |cluster: Cluster| async move {
        // B25
        let alice = cluster.node(0).new_account("alice", Some("Engineering")).await;
        for node in 0..2 {
            // Alice's principal is cached on both nodes.
            let response = cluster.node(node).cache_stats(alice.token()).await;
            assert_problem(response, StatusCode::FORBIDDEN, "insufficient_role").await;
        }

        let output = run_to_completion(
            cluster.workdir(),
            &["admin", "promote", "--email", &alice.email],
            &cluster.environment(),
        )
        .await;
        assert!(output.status.success(), "taskify admin promote exits 0: {output:?}");
        for node in 0..2 {
            let response = await_status("alice's old token admitted to /cache/stats", StatusCode::OK, || {
                cluster.node(node).cache_stats(alice.token())
            })
            .await;
            let stats: Value = json_body(response, StatusCode::OK).await;
            assert!(stats["cache"].is_object(), "{stats}");
        }

        let weak = run_to_completion(
            cluster.workdir(),
            &["admin", "create", "--email", "weak@example.com", "--username", "weakling", "--password", "weak"],
            &cluster.environment(),
        )
        .await;
        assert_eq!(weak.status.code(), Some(1), "a weak password makes `taskify admin create` exit 1: {weak:?}");
        assert_problem(
            cluster.node(1).login("weak@example.com", "weak").await,
            StatusCode::UNAUTHORIZED,
            "invalid_credentials",
        )
        .await;
    }
);
