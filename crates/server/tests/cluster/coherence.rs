//! Three replicas behind nginx behave as one service: nginx spreads requests over all of them, a
//! write through one replica is read through every other one within 1 s (the cache's coherence
//! bound), and a client's rate limit is one bucket shared through Redis, not one per replica.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::harness::{Cluster, POLL};
use crate::helpers::json_body;

/// The cache's coherence bound between replicas.
const PROPAGATION: Duration = Duration::from_secs(1);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_are_seen_on_every_replica_and_nginx_uses_them_all() {
    let Some(cluster) = Cluster::start(3, &[]).await else { return };
    let user = cluster.entry.new_account("coherent", None).await;
    let id = cluster.entry.new_task_id(user.token(), "round 0").await;

    let mut stale_polls = 0;
    for round in 1..=6_usize {
        let writer = &cluster.nodes[round % cluster.nodes.len()];
        let written = json_body(
            writer.api.update_task(user.token(), &id, &json!({"title": format!("round {round}")})).await,
            StatusCode::OK,
        )
        .await;
        let version = written["task"]["version"].as_i64().expect("a version");
        for reader in &cluster.nodes {
            let started = Instant::now();
            loop {
                let seen: Value = json_body(reader.api.get_task(user.token(), &id).await, StatusCode::OK).await;
                let seen = seen["version"].as_i64().expect("a version");
                assert!(seen <= version && seen >= version - 1, "node{} served version {seen}", reader.index);
                if seen == version {
                    break;
                }
                stale_polls += 1;
                assert!(
                    started.elapsed() < PROPAGATION,
                    "node{} still served version {seen} {PROPAGATION:?} after node{} wrote {version}",
                    reader.index,
                    writer.index
                );
                tokio::time::sleep(POLL).await;
            }
        }
    }

    let before = cluster.upstreams_used().len();
    for _ in 0..30 {
        json_body(cluster.entry.get_task(user.token(), &id).await, StatusCode::OK).await;
    }
    let used = cluster.upstreams_used();
    println!(
        "coherence: 6 writes x 3 replicas read back (stale polls within 1 s: {stale_polls}); replicas used by nginx: {used:?}"
    );
    assert_eq!(used.len(), 3, "nginx sent requests to every replica (before: {before}): {used:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rate_limit_is_shared_by_the_replicas() {
    const BURST: u64 = 20;
    let settings = [("RATE_LIMIT_ENABLED", "true"), ("RATE_LIMIT_RPM", "60"), ("RATE_LIMIT_BURST", "20")];
    let Some(cluster) = Cluster::start(3, &settings).await else { return };
    let user = cluster.entry.new_account("limited", None).await;

    let started = Instant::now();
    let (mut allowed, mut limited, mut other) = (0_u64, 0_u64, Vec::new());
    for _ in 0..(3 * BURST) {
        match cluster.entry.list_tasks(user.token(), &[]).await.status() {
            StatusCode::OK => allowed += 1,
            StatusCode::TOO_MANY_REQUESTS => limited += 1,
            status => other.push(status),
        }
    }
    // The bucket refills at 1 token per second (60 per minute).
    let refilled = started.elapsed().as_secs() + 1;
    let used = cluster.upstreams_used();
    println!(
        "rate limit: {} requests, {allowed} allowed, {limited} limited (429), others {other:?}, \
         in {:?}; replicas used: {used:?}",
        3 * BURST,
        started.elapsed()
    );
    assert!(other.is_empty(), "only 200 and 429 are expected: {other:?}");
    assert_eq!(used.len(), 3, "the requests were spread over the three replicas: {used:?}");
    // Per-replica buckets would admit about 3 x BURST; the shared one BURST plus the refill.
    assert!(allowed <= BURST + refilled, "{allowed} allowed: more than one bucket of {BURST} (+{refilled} refilled)");
    assert!(allowed >= BURST / 2, "{allowed} allowed: the bucket of {BURST} was not honoured");
    assert!(limited > 0, "the client was limited");
}
