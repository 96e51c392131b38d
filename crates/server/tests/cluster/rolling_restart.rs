//! Every replica in turn is restarted under load, as an orchestrator does it: SIGTERM; the
//! replica's `/ready` answers 503 for `SHUTDOWN_DRAIN_DELAY` while it still serves requests; then
//! it stops accepting, finishes what is in flight and exits; it is started again on its port and
//! the next one follows once it is ready. No request may fail: nginx retries a refused
//! connection on another replica, and `max_fails=3 fail_timeout=2s` keeps the replicas that are
//! back from staying marked down while the next one restarts.

use std::time::Duration;

use reqwest::StatusCode;
use tokio::time::Instant;

use crate::harness::{Cluster, POLL};
use crate::load::{Load, compare, titles_on_server};

/// How long after SIGTERM `/ready` must turn 503.
const DRAIN_NOTICE: Duration = Duration::from_secs(5);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rolling_restart_under_load_fails_no_request() {
    let Some(mut cluster) = Cluster::start(3, &[]).await else { return };
    let user = cluster.entry.new_account("rolling", None).await;
    let task = cluster.entry.new_task_id(user.token(), "read me").await;
    let path = format!("/api/v1/tasks/{task}");

    let load = Load::start(&cluster.entry, user.token(), &task, 4, 2, "rolling");
    load.run_for(50, Duration::from_millis(500), Duration::from_secs(60)).await;
    let mut drains = Vec::new();
    for index in 1..=cluster.nodes.len() {
        let node = &mut cluster.nodes[index - 1];
        node.signal("TERM");
        // The drain: /ready 503 while the node still answers API requests directly.
        let deadline = Instant::now() + DRAIN_NOTICE;
        let mut served_while_draining = None;
        while Instant::now() < deadline {
            if node.ready_status().await == Some(StatusCode::SERVICE_UNAVAILABLE) {
                let direct = node.api.authed(reqwest::Method::GET, &path, user.token()).send().await;
                served_while_draining = Some(direct.map(|r| r.status()).ok());
                break;
            }
            tokio::time::sleep(POLL).await;
        }
        let status = node.wait_for_exit().await;
        drains.push((index, served_while_draining, status));
        cluster.restart_node(index).await;
        load.run_for(50, Duration::from_millis(500), Duration::from_secs(60)).await;
    }
    let report = load.finish().await;

    let stored = titles_on_server(&cluster.entry, user.token()).await;
    let (duplicates, missing) = compare(&report.created, &stored);
    // Same report line as failover.rs: each scenario prints its own counts under its own name.
    println!(
        "rolling restart: GET requests {} failures {}; POST requests {} failures {} client retries {} \
         duplicates {} missing {}; drains {drains:?}",
        report.gets,
        report.get_failures,
        report.posts,
        report.post_failures,
        report.post_retries,
        duplicates.len(),
        missing.len()
    );
    assert_eq!(report.get_failures, 0, "failed GETs: {:?}{}", report.errors, cluster.logs());
    assert_eq!(report.post_failures, 0, "failed POSTs: {:?}{}", report.errors, cluster.logs());
    assert!(duplicates.is_empty(), "tasks created twice: {duplicates:?}");
    assert!(missing.is_empty(), "acknowledged tasks not stored: {missing:?}");
    for (index, served, status) in &drains {
        assert_eq!(
            *served,
            Some(Some(StatusCode::OK)),
            "node{index}: after SIGTERM, /ready must answer 503 within {DRAIN_NOTICE:?} while the node still \
             serves (200) for the drain delay; seen: {served:?}"
        );
        assert!(status.success(), "node{index} exited with {status} after SIGTERM");
    }
}
