//! One replica is SIGKILLed under load. nginx must take every GET to the survivors (a refused
//! connection is retried on another replica, and after 3 failures the dead one is left out for
//! `fail_timeout`), and POSTs that the client retries with the same `Idempotency-Key` must each
//! create exactly one task.

use std::time::Duration;

use crate::harness::Cluster;
use crate::load::{Load, compare, titles_on_server};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failover_one_replica_killed_under_load() {
    let Some(mut cluster) = Cluster::start(3, &[]).await else { return };
    let user = cluster.entry.new_account("failover", None).await;
    let task = cluster.entry.new_task_id(user.token(), "read me").await;

    let load = Load::start(&cluster.entry, user.token(), &task, 4, 2, "failover");
    load.run_for(100, Duration::from_secs(1), Duration::from_secs(60)).await;
    cluster.nodes[1].signal("KILL");
    let status = cluster.nodes[1].wait_for_exit().await;
    // Past nginx's fail_timeout (2 s), so the dead replica is tried again while the load runs.
    load.run_for(300, Duration::from_secs(5), Duration::from_secs(60)).await;
    let report = load.finish().await;

    let stored = titles_on_server(&cluster.entry, user.token()).await;
    let (duplicates, missing) = compare(&report.created, &stored);
    // Same report line as rolling_restart.rs: each scenario prints its own counts under its own name.
    println!(
        "failover: node2 {status}; GET requests {} failures {}; POST requests {} failures {} client retries {} \
         duplicates {} missing {}",
        report.gets,
        report.get_failures,
        report.posts,
        report.post_failures,
        report.post_retries,
        duplicates.len(),
        missing.len()
    );
    assert_eq!(report.get_failures, 0, "failed GETs: {:?}{}", report.errors, cluster.logs());
    assert_eq!(report.post_failures, 0, "POSTs that never succeeded: {:?}", report.errors);
    assert!(duplicates.is_empty(), "tasks created twice: {duplicates:?}");
    assert!(missing.is_empty(), "acknowledged tasks not stored: {missing:?}");
    assert!(report.gets > 0 && report.posts > 0, "the load ran");
}
