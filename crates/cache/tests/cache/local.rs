//! Redis disabled: L1 only, single-instance semantics (docs/cache.md#levels).

use std::convert::Infallible;
use std::time::Duration;

use taskify_cache::{Cache, CacheConfig, Fill, L2Outcome, SetOutcome};

use crate::harness::text;

const MIN: Duration = Duration::from_secs(60);

#[tokio::test]
async fn without_redis_the_cache_works_in_process() {
    let cache = Cache::local(CacheConfig::default());
    assert!(!cache.redis_configured());
    assert!(cache.redis().is_none());

    assert_eq!(cache.set_versioned("task:1", "v2", 2, MIN).await, SetOutcome::Stored);
    assert_eq!(cache.set_versioned("task:1", "v1", 1, MIN).await, SetOutcome::KeptNewer);
    assert_eq!(text(cache.get("task:1").await).as_deref(), Some("v2"));
    assert_eq!(cache.invalidate(&["task:1"]).await, L2Outcome::Local);
    assert_eq!(cache.get("task:1").await, None);
    assert_eq!(cache.set_versioned("task:1", "v3", 3, MIN).await, SetOutcome::Tombstoned);

    // A fill that began before an invalidation of its key is discarded.
    let loaded = cache
        .get_or_load("user:1", || async {
            cache.invalidate(&["user:1"]).await;
            Ok::<_, Infallible>(Some(Fill::new("stale", MIN)))
        })
        .await
        .expect("ok");
    assert_eq!(text(loaded).as_deref(), Some("stale"));
    assert_eq!(cache.get("user:1").await, None);
    let fresh = cache.get_or_load("user:1", || async { Ok::<_, Infallible>(Some(Fill::new("fresh", MIN))) }).await;
    assert_eq!(text(fresh.expect("ok")).as_deref(), Some("fresh"));
    assert_eq!(text(cache.get("user:1").await).as_deref(), Some("fresh"));

    // Counters in process.
    assert_eq!(cache.generation("g").await, 0);
    cache.bump(&["g", "h"]).await;
    cache.bump(&["g"]).await;
    assert_eq!(cache.generations(&["g", "h"]).await, vec![2, 1]);

    // Patterns and clear.
    cache.set("user:2", "u", MIN).await;
    cache.set("task:2", "t", MIN).await;
    assert_eq!(cache.delete_pattern("user:*").await, Ok(None));
    assert_eq!(cache.get("user:2").await, None);
    assert!(cache.get("task:2").await.is_some());
    assert_eq!(cache.clear().await, None);
    assert_eq!(cache.get("task:2").await, None);

    let stats = serde_json::to_value(cache.stats()).expect("json");
    assert_eq!(stats["l2"], serde_json::json!({"enabled": false, "connected": false}));
    assert_eq!(stats["l1"]["type"], "memory");
    assert_eq!(stats["l1"]["capacity"], 10_000);
    assert_eq!(stats["circuit_breaker"]["state"], "closed");
    assert_eq!(stats["circuit_breaker"]["last_failure"], serde_json::Value::Null);
    assert!(stats["metrics"]["start_time"].as_u64().is_some_and(|t| t > 1_700_000_000));
    cache.shutdown().await;
}

#[tokio::test]
async fn l1_ttl_is_capped_by_the_entry_ttl() {
    let cache = Cache::local(CacheConfig { l1_ttl: Duration::from_millis(200), ..CacheConfig::default() });
    cache.set("a", "1", MIN).await;
    cache.set("b", "1", Duration::from_millis(50)).await;
    assert!(cache.get("a").await.is_some());
    tokio::time::sleep(Duration::from_millis(80)).await;
    assert!(cache.get("b").await.is_none(), "its own TTL");
    assert!(cache.get("a").await.is_some());
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(cache.get("a").await.is_none(), "CACHE_L1_TTL");
    cache.shutdown().await;
}
