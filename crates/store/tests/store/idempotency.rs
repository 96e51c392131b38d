//! Idempotency-Key records.

use crate::harness::{minutes, t0, user};
use taskify_store::{IdempotencyBegin, StoredResponse};

store_test!(
    async fn idempotency_begin_replay_mismatch_in_progress_and_takeover(db) {
        let me = user(db, "me", None, &["user"]).await;
        let now = t0();
        let expires = now + minutes(24 * 60);
        let stale = now - minutes(1);
        let begin = |key: &'static str, hash: &'static str, now, expires, stale| {
            let store = db.store.clone();
            let id = me.id;
            async move { store.idempotency_begin(id, key, hash, now, expires, stale).await.expect("begin") }
        };

        assert_eq!(begin("k1", "h1", now, expires, stale).await, IdempotencyBegin::Started);
        assert_eq!(begin("k1", "h1", now, expires, stale).await, IdempotencyBegin::InProgress);
        assert_eq!(begin("k1", "h2", now, expires, stale).await, IdempotencyBegin::Mismatch);

        let response = StoredResponse {
            status: 201,
            body: r#"{"id":"x","title":"ü"}"#.to_owned(),
            headers: vec![("Location".to_owned(), "/api/v1/tasks/x".to_owned()), ("ETag".to_owned(), "\"1\"".to_owned())],
        };
        db.store.idempotency_complete(me.id, "k1", &response).await.expect("complete");
        assert_eq!(begin("k1", "h1", now, expires, stale).await, IdempotencyBegin::Replay(response.clone()));
        assert_eq!(begin("k1", "h2", now, expires, stale).await, IdempotencyBegin::Mismatch);
        // A completed record is never "stale"; it only goes away when it expires.
        let much_later = now + minutes(30);
        assert_eq!(
            begin("k1", "h1", much_later, much_later + minutes(60), much_later).await,
            IdempotencyBegin::Replay(response)
        );
        let after_expiry = expires + minutes(1);
        assert_eq!(
            begin("k1", "h2", after_expiry, after_expiry + minutes(60), after_expiry - minutes(1)).await,
            IdempotencyBegin::Started
        );

        // An in_progress record of a dead request is taken over once it is stale.
        assert_eq!(begin("k2", "h1", now, expires, stale).await, IdempotencyBegin::Started);
        let soon = now + minutes(1);
        assert_eq!(begin("k2", "h1", soon, expires, soon - minutes(2)).await, IdempotencyBegin::InProgress);
        assert_eq!(begin("k2", "h1", soon, expires, now + minutes(1)).await, IdempotencyBegin::Started);

        // Releasing lets the key be retried.
        db.store.idempotency_release(me.id, "k2").await.expect("release");
        assert_eq!(begin("k2", "h3", soon, expires, stale).await, IdempotencyBegin::Started);

        // Keys are scoped per user.
        let other = user(db, "other", None, &["user"]).await;
        let theirs = db.store.idempotency_begin(other.id, "k2", "h9", now, expires, stale).await.expect("begin");
        assert_eq!(theirs, IdempotencyBegin::Started);

        let report = db.store.housekeeping(after_expiry + minutes(24 * 60 * 2), None).await.expect("housekeeping");
        assert_eq!(report.idempotency_keys, 3);
    }
);

store_test!(
    async fn concurrent_requests_with_one_key_start_exactly_once(db) {
        let me = user(db, "me", None, &["user"]).await;
        let mut requests = Vec::new();
        for _ in 0..8 {
            let store = db.store.clone();
            let id = me.id;
            requests.push(tokio::spawn(async move {
                store.idempotency_begin(id, "same", "hash", t0(), t0() + minutes(60), t0() - minutes(1)).await
            }));
        }
        let mut started = 0;
        for request in requests {
            match request.await.expect("task").expect("begin") {
                IdempotencyBegin::Started => started += 1,
                IdempotencyBegin::InProgress => {}
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(started, 1);
    }
);
