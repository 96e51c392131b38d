//! Pattern evictions and clears through SCAN + UNLINK (docs/cache.md#administration-endpoints, docs/cache.md#cross-instance-invalidation).

use std::time::Duration;

use taskify_cache::redis::{self, AsyncCommands};
use taskify_cache::{Glob, GlobError};

use crate::harness::Namespace;

const MIN: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pattern_delete_scans_in_batches_and_removes_only_matching_keys() {
    let ns = Namespace::shared();
    let cache = ns.cache().await;
    for i in 0..2500 {
        cache.set(&format!("bulk:{i}"), "x", MIN).await;
    }
    cache.set("keep:1", "k", MIN).await;
    cache.set("bulkier", "k", MIN).await;
    cache.invalidate(&["bulk:tomb"]).await; // a tombstone (meta only) under the pattern

    assert_eq!(cache.delete_pattern("bulk:*").await, Ok(Some(2500)));
    let left = ns.stored_keys().await;
    assert!(left.iter().all(|k| !k.starts_with(&ns.physical("bulk:"))), "no bulk value or meta left");
    assert!(left.contains(&ns.physical("keep:1")));
    assert!(left.contains(&ns.physical("bulkier")));
    assert!(cache.get("bulk:7").await.is_none());
    assert!(cache.get("keep:1").await.is_some());

    assert_eq!(cache.delete_pattern("user:[ab").await, Err(GlobError::UnclosedBracket));
    assert_eq!(cache.delete_pattern("nothing:*").await, Ok(Some(0)));
    cache.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clear_deletes_the_whole_prefix_and_nothing_else() {
    let ns = Namespace::shared();
    let cache = ns.cache().await;
    cache.set("test:key", r#"{"a":1}"#, MIN).await;
    cache.set_versioned("task:1", "t", 1, MIN).await;
    cache.invalidate(&["user:1"]).await;
    let mut raw = ns.raw().await;
    let _: () = raw.set(format!("{}epoch", ns.prefix), "5").await.expect("SET epoch");

    // Neighbours of the namespace: counters, job queues, rate limits, a near-miss of the prefix.
    let gen_key = ns.outside("gen:tasks:all");
    cache.bump(&[&gen_key]).await;
    let delayed = ns.outside("cache_jobs_delayed");
    let _: u64 = raw.zadd(&delayed, "job", 1).await.expect("ZADD");
    let rate = ns.outside("rate_limit:api:client");
    let _: () = raw.set_ex(&rate, "1", 60).await.expect("SETEX");
    let near = ns.outside("cachex");
    let _: () = raw.set(&near, "1").await.expect("SET");

    assert_eq!(cache.clear().await, Some(2), "two values (the tombstone is not a value)");
    let mut left = ns.stored_keys().await;
    left.sort();
    let mut expected = vec![gen_key, delayed, rate, near];
    expected.sort();
    assert_eq!(left, expected);
    assert!(cache.get("test:key").await.is_none());
    cache.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn globs_select_the_same_keys_in_l1_and_in_redis() {
    let ns = Namespace::shared();
    let keys = [
        "user:1",
        "user:12",
        "user:",
        "users:1",
        "task:1",
        "task:a",
        "a*b",
        "a?b",
        "a[b",
        "hello",
        "hallo",
        "hxllo",
        "héllo",
        "x]y",
        r"back\slash",
    ];
    let patterns = [
        "*",
        "user:*",
        "user:?",
        "user:??",
        "task:[0-9]",
        "task:[^0-9]",
        "h[ae]llo",
        "h[^e]llo",
        "h?llo",
        "h*llo",
        r"a\*b",
        r"a\?b",
        r"a\[b",
        "a[*?]b",
        "x]*",
        r"back\\slash",
        "*:*",
        "[a-h]*",
        "[h-a]*",
    ];
    let mut raw = ns.raw().await;
    for k in keys {
        let _: () = raw.set(ns.physical(k), "1").await.expect("SET");
    }
    let escaped = taskify_cache::escape_glob(&ns.prefix);
    for p in patterns {
        let mut iter: redis::AsyncIter<'_, String> = raw.scan_match(format!("{escaped}{p}")).await.expect("SCAN");
        let mut from_redis = Vec::new();
        while let Some(k) = iter.next_item().await {
            from_redis.push(k.expect("key")[ns.prefix.len()..].to_owned());
        }
        drop(iter);
        // SCAN may return a key more than once.
        from_redis.sort();
        from_redis.dedup();
        let glob = Glob::new(p).expect("valid");
        let mut from_glob: Vec<String> = keys.iter().filter(|k| glob.matches(k)).map(|k| (*k).to_owned()).collect();
        from_glob.sort();
        assert_eq!(from_glob, from_redis, "pattern {p:?}");
    }
}
