//! Cross-instance invalidation over pub/sub (docs/cache.md#coherence, docs/cache.md#cross-instance-invalidation).

use std::time::Duration;

use futures::StreamExt;
use taskify_cache::{Invalidation, SetOutcome, redis};

use crate::harness::{Namespace, eventually, text};

const MIN: Duration = Duration::from_secs(60);
const WINDOW: Duration = Duration::from_secs(1);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_kind_of_invalidation_on_one_instance_reaches_the_l1_of_another() {
    let ns = Namespace::shared();
    let a = ns.cache().await;
    let b = ns.cache().await;

    // Writer set: B's L1 copy of v1 is replaced by v2 within the window.
    a.set_versioned("task:1", "v1", 1, MIN).await;
    assert_eq!(text(b.get("task:1").await).as_deref(), Some("v1"));
    assert_eq!(a.set_versioned("task:1", "v2", 2, MIN).await, SetOutcome::Stored);
    eventually("B sees v2", WINDOW, || async { text(b.get("task:1").await).as_deref() == Some("v2") }).await;

    // Tombstone.
    a.invalidate(&["task:1"]).await;
    eventually("B misses task:1", WINDOW, || async { b.get("task:1").await.is_none() }).await;

    // Pattern: B keeps user:1 in L1 only (its L2 copy removed behind the cache's back), so only
    // the message can make B miss.
    a.set("user:1", "u1", MIN).await;
    a.set("task:2", "t2", MIN).await;
    assert!(b.get("user:1").await.is_some());
    assert!(b.get("task:2").await.is_some());
    let mut raw = ns.raw().await;
    let _: u64 = redis::AsyncCommands::del(&mut raw, ns.physical("user:1")).await.expect("DEL");
    a.delete_pattern("user:*").await.expect("valid glob");
    eventually("B drops user:1", WINDOW, || async { b.get("user:1").await.is_none() }).await;
    assert!(b.get("task:2").await.is_some(), "a key outside the pattern stays");

    // Clear: everything goes on every instance.
    let _: u64 = redis::AsyncCommands::del(&mut raw, ns.physical("task:2")).await.expect("DEL");
    assert!(b.get("task:2").await.is_some(), "still in B's L1");
    assert!(a.clear().await.is_some());
    eventually("B's L1 is empty", WINDOW, || async { b.get("task:2").await.is_none() }).await;

    // An instance ignores its own messages; B published nothing.
    assert_eq!(b.invalidations_received(), 7, "seven writes on A");
    assert_eq!(a.invalidations_received(), 0);
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_have_the_spec_shape_on_the_namespace_channel() {
    let ns = Namespace::shared();
    let cache = ns.cache().await;
    let client = redis::Client::open(ns.url.as_str()).expect("url");
    let mut pubsub = client.get_async_pubsub().await.expect("pubsub");
    pubsub.subscribe(format!("{}invalidate", ns.prefix)).await.expect("subscribe");

    cache.invalidate(&["user:9", "principal:9"]).await;
    cache.delete_pattern("tasks_paginated:*").await.expect("glob");
    cache.clear().await;

    let mut stream = pubsub.on_message();
    let mut next = async || -> serde_json::Value {
        let msg = tokio::time::timeout(WINDOW, stream.next()).await.expect("a message").expect("open");
        serde_json::from_slice(msg.get_payload_bytes()).expect("json")
    };
    let id = cache.instance_id().to_owned();
    assert_eq!(
        next().await,
        serde_json::json!({"origin": id, "keys": ["user:9", "principal:9"], "patterns": [], "all": false})
    );
    assert_eq!(
        next().await,
        serde_json::json!({"origin": id, "keys": [], "patterns": ["tasks_paginated:*"], "all": false})
    );
    assert_eq!(next().await, serde_json::json!({"origin": id, "keys": [], "patterns": [], "all": true}));
    let parsed: Invalidation =
        serde_json::from_str(r#"{"origin":"x","keys":["k"],"patterns":[],"all":false}"#).expect("spec message parses");
    assert_eq!(parsed.keys, vec!["k".to_owned()]);
    // Same shutdown-then-fresh-Namespace frame as the scenarios of tests/cache/levels.rs: each test
    // is self-contained.
    cache.shutdown().await;
}

/// Decoded values (docs/cache.md#decoded-values): an L1 hit shares the value decoded from the
/// entry's bytes, and every change that replaces the bytes (a writer set here or on another
/// instance, an invalidation) is seen decoded at once, never the old parse.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decoded_values_follow_every_change_of_their_bytes() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use taskify_cache::Fill;

    let ns = Namespace::shared();
    let a = ns.cache().await;
    let b = ns.cache().await;
    let parses = Arc::new(AtomicUsize::new(0));
    let read = |cache: &taskify_cache::Cache| {
        let (cache, parses) = (cache.clone(), Arc::clone(&parses));
        async move {
            let decode = |bytes: &[u8]| {
                parses.fetch_add(1, Ordering::SeqCst);
                Ok::<_, std::convert::Infallible>(String::from_utf8_lossy(bytes).to_uppercase())
            };
            let load = || async { Ok(Some(Fill::new("loaded", MIN).with_version(1))) };
            cache.get_or_load_decoded("task:9", decode, load).await.expect("infallible").expect("a value")
        }
    };

    // The load decodes what it loaded; the first L1 hit decodes the entry once and keeps it.
    assert_eq!(*read(&b).await, "LOADED");
    let first_hit = read(&b).await;
    let again = read(&b).await;
    assert_eq!(*first_hit, "LOADED");
    assert!(Arc::ptr_eq(&first_hit, &again), "an L1 hit shares the decoded value");
    assert_eq!(parses.load(Ordering::SeqCst), 2, "once for the load, once for the entry");

    // A writer set on another instance replaces B's entry, and with it the decoded value.
    assert_eq!(a.set_versioned("task:9", "v2", 2, MIN).await, SetOutcome::Stored);
    eventually("B decodes v2", WINDOW, || async { *read(&b).await == "V2" }).await;

    // A local writer set and an invalidation, the same.
    assert_eq!(b.set_versioned("task:9", "v3", 3, MIN).await, SetOutcome::Stored);
    assert_eq!(*read(&b).await, "V3");
    b.invalidate(&["task:9"]).await;
    assert_eq!(text(b.get("task:9").await), None, "tombstoned");
    a.shutdown().await;
    b.shutdown().await;
}
