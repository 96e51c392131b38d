//! Redis outages on a private `redis-server` (docs/cache.md#redis-outages, docs/cache.md#circuit-breaker).

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use taskify_cache::redis::{self, AsyncCommands};
use taskify_cache::{BreakerConfig, BreakerState, Cache, CacheConfig, Fill, L2Outcome, SetOutcome};

use crate::harness::{Namespace, RedisServer, eventually, free_port, text};

const MIN: Duration = Duration::from_secs(60);
const RECOVERY: Duration = Duration::from_secs(15);

fn outage_config(ns: &Namespace) -> CacheConfig {
    CacheConfig {
        breaker: BreakerConfig {
            max_failures: 5,
            timeout: Duration::from_secs(1),
            half_open_successes: 3,
            half_open_max_calls: 3,
        },
        l1_outage_ttl: Duration::from_millis(300),
        ..ns.cache_config()
    }
}

async fn recovered(cache: &Cache) -> bool {
    cache.breaker().state() == BreakerState::Closed
        && cache.pending_invalidations() == 0
        && cache.l2_reads_enabled()
        && cache.subscription_connected()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_degrades_to_the_loader_records_pending_work_and_replays_it_on_recovery() {
    let mut server = RedisServer::start().await;
    let ns = Namespace::on(&server.url());
    let cache = ns.cache_with(outage_config(&ns)).await;
    let gall = ns.outside("gen:tasks:all");
    assert_eq!(cache.set_versioned("task:1", "v1", 1, MIN).await, SetOutcome::Stored);
    cache.bump(&[&gall]).await;
    assert_eq!(cache.generation(&gall).await, 1);

    server.stop();

    // Reads keep working: a miss goes to the loader.
    let calls = AtomicUsize::new(0);
    let loaded = cache
        .get_or_load("task:2", || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Ok::<_, Infallible>(Some(Fill::new("from-db", MIN)))
        })
        .await
        .expect("a miss is never an error");
    assert_eq!(text(loaded).as_deref(), Some("from-db"));
    assert_eq!(calls.load(Ordering::SeqCst), 1);

    eventually("the breaker opens", Duration::from_secs(5), || async { cache.breaker().state() == BreakerState::Open })
        .await;
    assert!(!cache.redis_available());
    assert!(!cache.subscription_connected());
    let stats = cache.stats();
    assert_eq!(stats.circuit_breaker.state, BreakerState::Open);
    assert!(stats.circuit_breaker.last_failure.is_some());
    assert!(!stats.l2.connected);

    // Writes become pending; this instance reads its own writes meanwhile.
    assert_eq!(cache.set_versioned("task:1", "v2", 2, MIN).await, SetOutcome::Pending);
    assert_eq!(text(cache.get("task:1").await).as_deref(), Some("v2"));
    assert_eq!(cache.invalidate(&["user:1"]).await, L2Outcome::Pending);
    cache.bump(&[&gall]).await;
    assert_eq!(cache.generation(&gall).await, 2, "the local view includes the pending increment");
    assert_eq!(cache.pending_invalidations(), 3, "task:1, user:1 and the counter");
    assert!(!cache.l2_reads_enabled());
    assert_eq!(cache.stats().l2.pending_invalidations, Some(3));

    // While disconnected an L1 entry is served only if younger than CACHE_L1_OUTAGE_TTL.
    eventually("task:1 ages out of L1", Duration::from_secs(2), || async { cache.get("task:1").await.is_none() }).await;

    // Redis comes back (empty) on the same port.
    server.start_again().await;
    eventually("breaker closed, pending replayed, L2 reads enabled", RECOVERY, || async {
        cache.recoveries() >= 1 && recovered(&cache).await
    })
    .await;
    let mut raw = ns.raw().await;
    let epoch: Option<i64> = raw.get(format!("{}epoch", ns.prefix)).await.expect("GET");
    assert!(epoch.is_some_and(|e| e > 0), "the namespace epoch was bumped: {epoch:?}");
    let g: Option<u64> = raw.get(&gall).await.expect("GET");
    assert_eq!(g, Some(1), "the pending increment was replayed on the restarted (empty) Redis");
    assert_eq!(cache.set_versioned("task:1", "v3", 3, MIN).await, SetOutcome::Stored);
    assert_eq!(ns.raw_get(&ns.physical("task:1")).await.as_deref(), Some("v3"));
    assert_eq!(text(cache.get("task:1").await).as_deref(), Some("v3"));
    cache.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_subscription_bumps_the_epoch_so_older_values_are_never_served_again() {
    let server = RedisServer::start().await;
    let ns = Namespace::on(&server.url());
    let a = ns.cache_with(outage_config(&ns)).await;
    let b = ns.cache_with(outage_config(&ns)).await;
    a.set("task:9", "before", MIN).await;
    assert_eq!(text(b.get("task:9").await).as_deref(), Some("before"));
    let epoch_key = format!("{}epoch", ns.prefix);
    let mut raw = ns.raw().await;
    let epoch: Option<String> = raw.get(&epoch_key).await.expect("GET");
    assert_eq!(epoch, None);

    let killed: u64 =
        redis::cmd("CLIENT").arg("KILL").arg("TYPE").arg("pubsub").query_async(&mut raw).await.expect("CLIENT KILL");
    assert!(killed >= 2);

    // Each instance noticed the loss and recovered from it (the state alone could still be the
    // one from before the kill).
    eventually("both instances resubscribe and resync", RECOVERY, || async {
        a.recoveries() >= 1 && b.recoveries() >= 1 && recovered(&a).await && recovered(&b).await
    })
    .await;
    let epoch: Option<i64> = raw.get(&epoch_key).await.expect("GET");
    assert!(epoch.is_some_and(|e| e > 0));
    assert_eq!(ns.raw_get(&ns.physical("task:9")).await.as_deref(), Some("before"), "still stored");
    assert_eq!(a.get("task:9").await, None, "but hidden by the epoch");
    assert_eq!(b.get("task:9").await, None);
    // New values work as usual.
    assert_eq!(a.set("task:9", "after", MIN).await, SetOutcome::Stored);
    assert_eq!(text(b.get("task:9").await).as_deref(), Some("after"));
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_up_with_a_dead_redis_is_prompt_and_attaches_when_it_comes_up() {
    let mut server = RedisServer::not_started_on(free_port());
    let ns = Namespace::on(&server.url());
    let started = Instant::now();
    let cache = Cache::with_redis(outage_config(&ns), ns.redis_config()).await.expect("valid URL");
    assert!(started.elapsed() < Duration::from_secs(2), "start-up took {:?}", started.elapsed());
    assert!(!cache.subscription_connected());
    assert!(!cache.redis_connected());

    // L1-only meanwhile.
    assert_eq!(cache.set("k", "v", MIN).await, SetOutcome::Pending);
    assert_eq!(text(cache.get("k").await).as_deref(), Some("v"));
    let v = cache.get_or_load("k2", || async { Ok::<_, Infallible>(Some(Fill::new("db", MIN))) }).await;
    assert_eq!(text(v.expect("ok")).as_deref(), Some("db"));

    server.start_again().await;
    eventually("the cache attaches", RECOVERY, || async { cache.recoveries() >= 1 && recovered(&cache).await }).await;
    assert_eq!(cache.set("k3", "v3", MIN).await, SetOutcome::Stored);
    assert_eq!(ns.raw_get(&ns.physical("k3")).await.as_deref(), Some("v3"));
    assert!(cache.redis_connected());
    assert!(cache.l2_info().await.is_some_and(|i| i.used_memory_bytes > 0));
    cache.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_pending_items_collapse_into_a_clear_and_the_overflow_counter() {
    let mut server = RedisServer::start().await;
    let ns = Namespace::on(&server.url());
    let cache = ns.cache_with(CacheConfig { pending_limit: 5, ..outage_config(&ns) }).await;
    cache.set("keep", "old", MIN).await;
    server.stop();
    for i in 0..10 {
        assert_eq!(cache.invalidate(&[&format!("user:{i}")]).await, L2Outcome::Pending);
    }
    assert_eq!(cache.pending_invalidations(), 2, "clear all + the overflow counter");

    server.start_again().await;
    eventually("recovered", RECOVERY, || async { cache.recoveries() >= 1 && recovered(&cache).await }).await;
    let g: Option<u64> = ns.raw().await.get(ns.outside("gen:tasks:all")).await.expect("GET");
    assert_eq!(g, Some(1));
    cache.shutdown().await;
}

#[tokio::test]
async fn an_invalid_url_is_rejected() {
    let err = Cache::with_redis(CacheConfig::default(), taskify_cache::RedisConfig::new("not a url")).await;
    assert!(err.is_err());
}
