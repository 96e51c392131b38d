//! Live updates across replicas (docs/live-updates.md#transport): a change made through one
//! replica reaches the subscribers of every replica, directly and through nginx (the observed
//! latency is printed; the 1 s is a target measured here, asserted only with a generous
//! deadline), and a Redis restart gives every subscriber `resync {"reason":"reconnected"}`.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use tokio::time::Instant;

use crate::harness::Cluster;
use crate::helpers::{Next, SseItem, SseReader, json_body};

/// Generous: a loaded 2-core machine runs three replicas, PostgreSQL, Redis and nginx.
const DEADLINE: Duration = Duration::from_secs(15);

/// Reads `stream` until a `task.updated` of `version` arrives; returns when it did.
async fn await_version(stream: &mut SseReader, version: i64, name: &str) -> Instant {
    loop {
        let event = stream.event(DEADLINE).await;
        if event.event == "task.updated" && event.data["version"] == version {
            return Instant::now();
        }
        assert!(event.event.starts_with("task."), "{name}: unexpected {event:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_through_one_replica_reaches_subscribers_of_every_replica_and_redis_restarts_resync() {
    let Some(mut cluster) = Cluster::start(3, &[("EVENTS_HEARTBEAT", "1s")]).await else { return };
    let user = cluster.entry.new_account("live", None).await;
    let id = cluster.entry.new_task_id(user.token(), "round 0").await;

    let mut streams = Vec::new();
    for node in &cluster.nodes {
        streams.push((format!("node{}", node.index), node.api.open_events(user.token(), None).await));
    }
    streams.push(("nginx".to_owned(), cluster.entry.open_events(user.token(), None).await));

    let mut worst = Duration::ZERO;
    for round in 1..=6_usize {
        let writer = &cluster.nodes[round % cluster.nodes.len()];
        let started = Instant::now();
        let body = json!({"title": format!("round {round}")});
        let written = json_body(writer.api.update_task(user.token(), &id, &body).await, StatusCode::OK).await;
        let version = written["task"]["version"].as_i64().expect("a version");
        for (name, stream) in &mut streams {
            let latency = await_version(stream, version, name).await - started;
            worst = worst.max(latency);
        }
    }
    println!("live updates: 6 writes x 4 subscribers (3 replicas + nginx); worst latency from the write {worst:?}");

    cluster.redis.stop();
    cluster.redis.start_again().await;
    for (name, stream) in &mut streams {
        let deadline = Instant::now() + DEADLINE * 2;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match stream.next(left).await {
                Next::Item(SseItem::Event(event)) if event.event == "resync" => {
                    assert_eq!(event.data, json!({"reason": "reconnected"}), "{name}");
                    break;
                }
                Next::Item(_) => {}
                other => panic!("{name}: no resync after the Redis restart: {other:?}"),
            }
        }
    }
    // And live again afterwards.
    let written = json_body(
        cluster.nodes[0].api.update_task(user.token(), &id, &json!({"title": "after"})).await,
        StatusCode::OK,
    )
    .await;
    let version = written["task"]["version"].as_i64().expect("a version");
    for (name, stream) in &mut streams {
        await_version(stream, version, name).await;
    }
}
