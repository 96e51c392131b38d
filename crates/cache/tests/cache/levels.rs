//! Reads, fills and writer sets through both levels (docs/cache.md#levels).

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use taskify_cache::redis::AsyncCommands;
use taskify_cache::{CacheConfig, Fill, FillOutcome, SetOutcome};

use crate::harness::{Namespace, eventually, text};

const MIN: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_value_round_trips_through_both_levels_and_l2_holds_the_plain_json() {
    let ns = Namespace::shared();
    let a = ns.cache().await;
    let b = ns.cache().await;
    let json = r#"{"test":"data"}"#;

    assert_eq!(a.set("test:key", json, Duration::from_secs(900)).await, SetOutcome::Stored);
    // L2 holds exactly the JSON under prefix + key, with its TTL (docs/testing.md#f-cache-and-jobs F3).
    assert_eq!(ns.raw_get(&ns.physical("test:key")).await.as_deref(), Some(json));
    let pttl: i64 = ns.raw().await.pttl(ns.physical("test:key")).await.expect("PTTL");
    assert!(pttl > 0 && pttl <= 900_000, "pttl {pttl}");

    assert_eq!(text(a.get("test:key").await).as_deref(), Some(json));
    // B has nothing in L1: it reads L2 and promotes.
    assert_eq!(text(b.get("test:key").await).as_deref(), Some(json));
    // Remove the L2 copy behind the caches' back: B still answers from L1.
    let _: u64 = ns.raw().await.del(ns.physical("test:key")).await.expect("DEL");
    assert_eq!(text(b.get("test:key").await).as_deref(), Some(json));
    // A third instance has an empty L1 and L2 is empty now.
    let c = ns.cache().await;
    assert_eq!(c.get("test:key").await, None);

    let stats = b.stats();
    assert_eq!(stats.metrics.hits, 2);
    for cache in [a, b, c] {
        // Each scenario here shuts its caches down and the next starts from a fresh Namespace: the
        // tests share a frame, not state, so each stays self-contained.
        cache.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_promoted_entry_expires_with_the_remaining_l2_ttl() {
    let ns = Namespace::shared();
    let a = ns.cache().await;
    let b = ns.cache().await;
    a.set("short", "v", Duration::from_millis(400)).await;
    assert_eq!(text(b.get("short").await).as_deref(), Some("v"));
    eventually("the L2 copy expires", Duration::from_secs(3), || async {
        ns.raw_get(&ns.physical("short")).await.is_none()
    })
    .await;
    // Promoted with min(PTTL, CACHE_L1_TTL), not with the 5 min L1 TTL.
    assert_eq!(b.get("short").await, None);
    // Same shutdown-then-fresh-Namespace frame as every scenario in this file (self-contained
    // tests).
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_misses_of_one_key_load_once() {
    let ns = Namespace::shared();
    let cache = ns.cache().await;
    let calls = Arc::new(AtomicUsize::new(0));
    let readers = (0..100).map(|_| {
        let cache = cache.clone();
        let calls = calls.clone();
        async move {
            cache
                .get_or_load("task:sf", || async move {
                    calls.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(150)).await;
                    Ok::<_, Infallible>(Some(Fill::new("loaded", MIN).with_version(1)))
                })
                .await
        }
    });
    let results = futures::future::join_all(readers).await;
    assert_eq!(calls.load(Ordering::SeqCst), 1, "the loader ran once");
    for r in results {
        assert_eq!(text(r.expect("no error")).as_deref(), Some("loaded"));
    }
    assert_eq!(ns.raw_get(&ns.physical("task:sf")).await.as_deref(), Some("loaded"));
    // Same shutdown-then-fresh-Namespace frame as the other scenarios; the next test fires
    // concurrent loaders like this one, for errors instead of success.
    cache.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_load_error_is_shared_and_not_found_is_not_cached() {
    let ns = Namespace::shared();
    let cache = ns.cache().await;
    let calls = Arc::new(AtomicUsize::new(0));
    let failing = (0..10).map(|_| {
        let cache = cache.clone();
        let calls = calls.clone();
        async move {
            cache
                .get_or_load("err", || async move {
                    calls.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    Err::<Option<Fill>, _>("database down")
                })
                .await
        }
    });
    for r in futures::future::join_all(failing).await {
        assert_eq!(*r.expect_err("shared error"), "database down");
    }
    assert_eq!(calls.load(Ordering::SeqCst), 1);

    for _ in 0..2 {
        let r = cache
            .get_or_load("missing", || async {
                calls.fetch_add(1, Ordering::SeqCst);
                Ok::<_, Infallible>(None)
            })
            .await;
        assert_eq!(r.expect("ok"), None);
    }
    assert_eq!(calls.load(Ordering::SeqCst), 3, "a not-found is loaded again every time");
    assert!(ns.stored_keys().await.is_empty(), "nothing was written: {:?}", ns.stored_keys().await);
    cache.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_fill_never_overwrites_a_value_written_meanwhile() {
    let ns = Namespace::shared();
    let a = ns.cache().await;
    let b = ns.cache().await;
    let loaded = a
        .get_or_load("task:1", || async {
            // A writer commits version 5 while this reader is still loading version 4.
            assert_eq!(b.set_versioned("task:1", "v5", 5, MIN).await, SetOutcome::Stored);
            Ok::<_, Infallible>(Some(Fill::new("v4", MIN).with_version(4)))
        })
        .await
        .expect("ok");
    // The reader gets what it loaded (it is concurrent with the write) ...
    assert_eq!(text(loaded).as_deref(), Some("v4"));
    // ... but neither level keeps it.
    assert_eq!(ns.raw_get(&ns.physical("task:1")).await.as_deref(), Some("v5"));
    assert_eq!(text(a.get("task:1").await).as_deref(), Some("v5"));

    // The warm-up path: a ticket taken before loading, a write, then the fill.
    let ticket = a.begin_fill().await;
    a.set("warm:1", "new", MIN).await;
    assert_eq!(a.fill(&ticket, "warm:1", Fill::new("old", MIN)).await, FillOutcome::Refused);
    assert_eq!(ns.raw_get(&ns.physical("warm:1")).await.as_deref(), Some("new"));
    let ticket = a.begin_fill().await;
    assert_eq!(a.fill(&ticket, "warm:2", Fill::new("w2", MIN)).await, FillOutcome::Stored);
    assert_eq!(ns.raw_get(&ns.physical("warm:2")).await.as_deref(), Some("w2"));
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_writer_keeps_the_higher_version_and_never_replaces_a_tombstone() {
    let ns = Namespace::shared();
    let a = ns.cache().await;
    let b = ns.cache().await;
    let key = "task:v";
    let raw = || async { ns.raw_get(&ns.physical(key)).await };

    assert_eq!(a.set_versioned(key, "v2", 2, MIN).await, SetOutcome::Stored);
    assert_eq!(b.set_versioned(key, "v1", 1, MIN).await, SetOutcome::KeptNewer);
    assert_eq!(b.set_versioned(key, "v2-again", 2, MIN).await, SetOutcome::KeptNewer);
    assert_eq!(raw().await.as_deref(), Some("v2"));
    assert_eq!(text(b.get(key).await).as_deref(), Some("v2"));
    assert_eq!(b.set_versioned(key, "v3", 3, MIN).await, SetOutcome::Stored);
    assert_eq!(raw().await.as_deref(), Some("v3"));

    // Delete: a tombstone; the value is gone from Redis and reads miss everywhere.
    a.invalidate(&[key]).await;
    assert_eq!(raw().await, None);
    assert_eq!(a.get(key).await, None);
    eventually("B drops its L1 copy", Duration::from_secs(1), || async { b.get(key).await.is_none() }).await;

    // A delayed writer cannot resurrect the deleted task, and neither can a read fill.
    assert_eq!(b.set_versioned(key, "v4", 4, MIN).await, SetOutcome::Tombstoned);
    let loaded = b
        .get_or_load(key, || async { Ok::<_, Infallible>(Some(Fill::new("v3-from-db", MIN).with_version(3))) })
        .await
        .expect("ok");
    assert_eq!(text(loaded).as_deref(), Some("v3-from-db"));
    assert_eq!(raw().await, None, "the fill did not land over the tombstone");

    // A plain (warm-up) set replaces the tombstone.
    assert_eq!(a.set(key, "warm", MIN).await, SetOutcome::Stored);
    assert_eq!(raw().await.as_deref(), Some("warm"));
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fill_that_began_before_an_invalidation_cannot_resurrect_stale_data() {
    let ns = Namespace::shared();
    let a = ns.cache().await;
    let b = ns.cache().await;

    // 1. Tombstone from another instance while A loads.
    let before = a.invalidations_received();
    let loaded = a
        .get_or_load("principal:1", || async {
            b.invalidate(&["principal:1"]).await;
            eventually("A receives B's invalidation", Duration::from_secs(1), || async {
                a.invalidations_received() > before
            })
            .await;
            Ok::<_, Infallible>(Some(Fill::new("stale", MIN)))
        })
        .await
        .expect("ok");
    assert_eq!(text(loaded).as_deref(), Some("stale"));
    assert_eq!(ns.raw_get(&ns.physical("principal:1")).await, None);
    assert_eq!(a.get("principal:1").await, None, "not in A's L1");

    // 2. A pattern eviction (no tombstone): L2 accepts the fill, but A's L1 must not, because
    //    the eviction message arrived while A was loading.
    let before = a.invalidations_received();
    a.get_or_load("user:7", || async {
        b.delete_pattern("user:*").await.expect("valid glob");
        eventually("A receives the pattern", Duration::from_secs(1), || async { a.invalidations_received() > before })
            .await;
        Ok::<_, Infallible>(Some(Fill::new("stale", MIN)))
    })
    .await
    .expect("ok");
    let _: u64 = ns.raw().await.del(ns.physical("user:7")).await.expect("DEL");
    assert_eq!(a.get("user:7").await, None, "the L1 fill was discarded");
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_values_and_unusable_keys_are_cached_nowhere() {
    let ns = Namespace::shared();
    let cache = ns.cache_with(CacheConfig { max_value_bytes: 16, ..ns.cache_config() }).await;
    cache.set("big", "small", MIN).await;
    assert_eq!(cache.set("big", "x".repeat(17), MIN).await, SetOutcome::TooLarge);
    assert_eq!(ns.raw_get(&ns.physical("big")).await, None, "the old value was invalidated");
    assert_eq!(cache.get("big").await, None);

    let calls = AtomicUsize::new(0);
    for _ in 0..2 {
        let v = cache
            .get_or_load("big2", || async {
                calls.fetch_add(1, Ordering::SeqCst);
                Ok::<_, Infallible>(Some(Fill::new("y".repeat(100), MIN)))
            })
            .await
            .expect("ok");
        assert_eq!(v.map(|b| b.len()), Some(100));
    }
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert_eq!(ns.raw_get(&ns.physical("big2")).await, None);

    assert_eq!(cache.set("epoch", "1", MIN).await, SetOutcome::Rejected);
    assert_eq!(cache.set("bad\u{1f}key", "1", MIN).await, SetOutcome::Rejected);
    assert_eq!(cache.set("", "1", MIN).await, SetOutcome::Rejected);
    cache.shutdown().await;
}
