//! Generation counters (docs/cache.md#keys-and-ttls).

use taskify_cache::redis::AsyncCommands;

use crate::harness::Namespace;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counters_live_outside_the_prefix_without_ttl_and_are_shared() {
    let ns = Namespace::shared();
    let a = ns.cache().await;
    let b = ns.cache().await;
    let gu = ns.outside("gen:tasks:user:42");
    let gall = ns.outside("gen:tasks:all");

    assert_eq!(a.generation(&gu).await, 0, "a missing counter reads as 0");
    a.bump(&[&gu, &gall]).await;
    a.bump(&[&gall]).await;
    assert_eq!(b.generations(&[&gu, &gall]).await, vec![1, 2]);
    assert_eq!(b.generation(&gall).await, 2);

    let mut raw = ns.raw().await;
    let stored: Option<String> = raw.get(&gall).await.expect("GET");
    assert_eq!(stored.as_deref(), Some("2"));
    let ttl: i64 = raw.pttl(&gall).await.expect("PTTL");
    assert_eq!(ttl, -1, "no TTL");

    // Counters are read from Redis every time: a change behind the cache's back shows at once.
    let _: i64 = raw.incr(&gu, 10).await.expect("INCRBY");
    assert_eq!(a.generation(&gu).await, 11);

    // A clear never touches them.
    a.clear().await;
    assert_eq!(b.generation(&gall).await, 2);
    a.shutdown().await;
    b.shutdown().await;
}
