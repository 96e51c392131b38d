//! Idempotency-Key records.

use crate::harness::{minutes, new_task, t0, user};
use taskify_store::{IdempotencyBegin, IdempotencyCompletion, StoredResponse};

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

store_test!(
    async fn a_create_and_its_claim_complete_together_or_not_at_all(db) {
        let me = user(db, "creator", None, &["user"]).await;
        let (now, expires, stale) = (t0(), t0() + minutes(60), t0() - minutes(1));
        let response = StoredResponse { status: 201, body: "{}".to_owned(), headers: Vec::new() };
        let completion = |key| IdempotencyCompletion { user_id: me.id, key, response: &response };

        // Inserted with its completion: a retry replays, it never creates again.
        assert_eq!(db.store.idempotency_begin(me.id, "a1", "h", now, expires, stale).await.expect("begin"), IdempotencyBegin::Started);
        db.store.insert_task_completing(&new_task(me.id, "Once"), Some(completion("a1"))).await.expect("insert");
        let retry = db.store.idempotency_begin(me.id, "a1", "h", now, expires, now + minutes(5)).await.expect("begin");
        assert_eq!(retry, IdempotencyBegin::Replay(response.clone()));

        // An insert that fails (the owner does not exist) leaves the claim unfinished: no task
        // and no stored 201, so a later takeover creates the task once.
        assert_eq!(db.store.idempotency_begin(me.id, "a2", "h", now, expires, stale).await.expect("begin"), IdempotencyBegin::Started);
        let orphan = new_task(uuid::Uuid::new_v4(), "Orphan");
        assert!(db.store.insert_task_completing(&orphan, Some(completion("a2"))).await.is_err());
        let again = db.store.idempotency_begin(me.id, "a2", "h", now, expires, stale).await.expect("begin");
        assert_eq!(again, IdempotencyBegin::InProgress, "the claim was not completed");
        assert_eq!(db.count("SELECT COUNT(*) FROM tasks WHERE title = 'Orphan'").await, 0);
    }
);
