//! The event stream of docs/live-updates.md#transport on the shared Redis: appends come back in
//! order from range reads and from the follower, trimming keeps about `max_len` entries, and a
//! follower that starts sees only what is appended after it is up.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use taskify_cache::stream::{EventLog, FollowEvent, follow};
use tokio_util::sync::CancellationToken;

use crate::harness::{Namespace, eventually};

#[tokio::test]
async fn appended_entries_come_back_in_order_from_ranges_and_the_follower() {
    let ns = Namespace::shared();
    let cache = ns.cache().await;
    let redis = cache.redis().expect("Redis is configured");
    let log = EventLog::new(redis, ns.physical("events"), 100);

    let before = log.append(b"before the follower").await.expect("XADD");
    let seen: Arc<Mutex<Vec<FollowEvent>>> = Arc::default();
    let stop = CancellationToken::new();
    let follower = {
        let (log, seen, stop) = (log.clone(), seen.clone(), stop.clone());
        tokio::spawn(async move {
            follow(log, Duration::from_millis(200), stop, move |e| seen.lock().expect("lock").push(e)).await;
        })
    };
    eventually("the follower is up", Duration::from_secs(5), || {
        let up = seen.lock().expect("lock").iter().any(|e| matches!(e, FollowEvent::Up { .. }));
        async move { up }
    })
    .await;
    match &seen.lock().expect("lock")[0] {
        FollowEvent::Up { newest, after_outage } => {
            assert_eq!(newest.as_deref(), Some(before.as_str()), "it starts after the newest entry");
            assert!(!after_outage);
        }
        other => panic!("expected Up first, got {other:?}"),
    }

    let mut ids = Vec::new();
    for n in 0..5 {
        ids.push(log.append(format!("entry {n}").as_bytes()).await.expect("XADD"));
    }
    let range = log.after(&before, 10).await.expect("XRANGE");
    assert_eq!(range.iter().map(|(id, _)| id.clone()).collect::<Vec<_>>(), ids);
    assert_eq!(&range[4].1[..], b"entry 4");
    assert_eq!(log.after(&ids[2], 10).await.expect("XRANGE").len(), 2, "exclusive of the id");
    assert_eq!(log.oldest_id().await.expect("XRANGE"), Some(before.clone()));

    eventually("the follower received the five entries", Duration::from_secs(5), || {
        let seen = seen.lock().expect("lock");
        let followed: Vec<String> = seen
            .iter()
            .filter_map(|e| match e {
                FollowEvent::Entries(entries) => Some(entries.iter().map(|(id, _)| id.clone()).collect::<Vec<_>>()),
                _ => None,
            })
            .flatten()
            .collect();
        let done = followed == ids;
        async move { done }
    })
    .await;
    stop.cancel();
    follower.await.expect("the follower stops");
}

#[tokio::test]
async fn the_stream_is_trimmed_to_about_its_maximum_length() {
    let ns = Namespace::shared();
    let cache = ns.cache().await;
    let log = EventLog::new(cache.redis().expect("Redis is configured"), ns.physical("events"), 10);
    let mut first = None;
    for n in 0..500 {
        let id = log.append(format!("{n}").as_bytes()).await.expect("XADD");
        first.get_or_insert(id);
    }
    let oldest = log.oldest_id().await.expect("XRANGE");
    assert_ne!(oldest, first, "old entries were trimmed");
    let kept = log.after("0-0", 1_000).await.expect("XRANGE").len();
    assert!((10..500).contains(&kept), "about max_len entries kept (MAXLEN ~), got {kept}");
}
