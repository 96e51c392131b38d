//! The audit log: batched inserts, filtered lists, the capped total, retention.

use crate::harness::{minutes, t0};
use chrono::Duration;
use taskify_domain::{AuditEntry, AuditQuery, Decision, Order, PageRequest};
use taskify_store::{Backend, StoreError};
use uuid::Uuid;

fn entry(i: i64, user_id: Option<Uuid>, decision: Decision) -> AuditEntry {
    AuditEntry {
        id: Uuid::now_v7(),
        timestamp: t0() + Duration::seconds(i),
        user_id,
        action: if i % 2 == 0 { "task:read".to_owned() } else { "task:update".to_owned() },
        resource: "task".to_owned(),
        resource_id: Some(Uuid::new_v4().to_string()),
        decision,
        reason: Some("allowed by task-owner".to_owned()),
        policy_ids: vec!["task-owner".to_owned()],
        request_id: Some(format!("req-{i}")),
        ip_address: Some("203.0.113.7".to_owned()),
        user_agent: None,
        method: Some("PUT".to_owned()),
        path: Some("/api/v1/tasks/x".to_owned()),
        context: Some(serde_json::json!({"query": {"page": "1"}, "scope": "own"})),
    }
}

fn query() -> AuditQuery {
    AuditQuery {
        user_id: None,
        resource: None,
        action: None,
        decision: None,
        from: t0() - minutes(1),
        to: None,
        order: Order::Desc,
        page: PageRequest { page: 1, page_size: 100 },
    }
}

store_test!(
    async fn audit_batches_are_listed_filtered_and_ordered(db) {
        let alice = Uuid::now_v7();
        // 1 200 rows: three multi-row statements (500 + 500 + 200) in one transaction.
        let entries: Vec<AuditEntry> = (0..1200)
            .map(|i| entry(i, (i % 3 == 0).then_some(alice), if i % 4 == 0 { Decision::Denied } else { Decision::Allowed }))
            .collect();
        db.store.insert_audit_batch(&entries).await.expect("insert");
        // Retrying a batch that was written already neither fails nor duplicates.
        db.store.insert_audit_batch(&entries[..10]).await.expect("retry");
        db.store.insert_audit_batch(&[]).await.expect("empty batch");
        assert_eq!(db.count("SELECT COUNT(*) FROM audit_logs").await, 1200);

        let page = db.store.list_audit(&query()).await.expect("list");
        assert_eq!((page.total, page.items.len()), (1200, 100));
        assert_eq!(page.items[0], entries[1199]);
        assert!(page.items.windows(2).all(|w| w[0].timestamp > w[1].timestamp));

        let mine = db.store.list_audit(&AuditQuery { user_id: Some(alice), ..query() }).await.expect("list");
        assert_eq!(mine.total, 400);
        let denied_updates = db
            .store
            .list_audit(&AuditQuery { decision: Some(Decision::Denied), action: Some("task:update".to_owned()), ..query() })
            .await
            .expect("list");
        assert_eq!(denied_updates.total, 0);
        let denied = db.store.list_audit(&AuditQuery { decision: Some(Decision::Denied), ..query() }).await.expect("list");
        assert_eq!(denied.total, 300);
        let other_resource = db.store.list_audit(&AuditQuery { resource: Some("user".to_owned()), ..query() }).await.expect("list");
        assert_eq!(other_resource.total, 0);

        // `from` inclusive, `to` exclusive, ascending order, second page.
        let window = AuditQuery {
            from: t0() + Duration::seconds(10),
            to: Some(t0() + Duration::seconds(20)),
            order: Order::Asc,
            page: PageRequest { page: 2, page_size: 4 },
            ..query()
        };
        let listed = db.store.list_audit(&window).await.expect("list");
        assert_eq!(listed.total, 10);
        assert_eq!(listed.items.iter().map(|e| e.request_id.clone().unwrap_or_default()).collect::<Vec<_>>(), ["req-14", "req-15", "req-16", "req-17"]);
    }
);

store_test!(
    async fn audit_ties_on_timestamp_are_broken_by_id_ascending(db) {
        let mut same: Vec<AuditEntry> = (0..5).map(|_| entry(0, None, Decision::Allowed)).collect();
        for e in &mut same {
            e.id = Uuid::new_v4();
        }
        db.store.insert_audit_batch(&same).await.expect("insert");
        let mut ids: Vec<Uuid> = same.iter().map(|e| e.id).collect();
        ids.sort();
        for order in [Order::Asc, Order::Desc] {
            let listed = db.store.list_audit(&AuditQuery { order, ..query() }).await.expect("list");
            assert_eq!(listed.items.iter().map(|e| e.id).collect::<Vec<_>>(), ids);
        }
    }
);

store_test!(
    async fn audit_total_is_capped_and_retention_deletes_in_batches(db) {
        let entries: Vec<AuditEntry> = (0..10_050).map(|i| entry(i, None, Decision::Allowed)).collect();
        db.store.insert_audit_batch(&entries).await.expect("insert");
        let page = db.store.list_audit(&query()).await.expect("list");
        assert_eq!(page.total, 10_000);

        // Retention: rows older than now - retention go, in batches of 10 000.
        let now = t0() + Duration::seconds(10_050) + Duration::days(1);
        let report = db.store.housekeeping(now, Some(Duration::days(1) + Duration::seconds(50))).await.expect("housekeeping");
        assert_eq!(report.audit_rows, 10_000);
        assert_eq!(db.count("SELECT COUNT(*) FROM audit_logs").await, 50);
        let report = db.store.housekeeping(now, None).await.expect("housekeeping");
        assert_eq!(report.audit_rows, 0);
        let report = db.store.housekeeping(now, Some(Duration::zero())).await.expect("housekeeping");
        assert_eq!(report.audit_rows, 0);
    }
);

store_test!(
    async fn a_refused_audit_row_fails_with_the_database_reason_and_is_not_transient(db) {
        // Both schemas check the column widths; the error must say why, with its code.
        let wide = AuditEntry { method: Some("M".repeat(11)), ..entry(0, None, Decision::Allowed) };
        let err = db.store.insert_audit_batch(&[wide]).await.expect_err("a method wider than its column");
        assert!(matches!(err, StoreError::Query(_)), "{err:?}");
        assert!(!err.is_transient(), "a refused value is not retried: {err:?}");
        let code = err.sqlstate().expect("the database's code");
        assert!(err.to_string().contains(&format!("SQLSTATE {code}: ")), "{err}");
        if db.backend() == Backend::Postgres {
            assert_eq!(code, "22001", "string_data_right_truncation");
            let nul = AuditEntry { path: Some("/a\0b".into()), ..entry(1, None, Decision::Allowed) };
            let err = db.store.insert_audit_batch(&[nul]).await.expect_err("PostgreSQL refuses a NUL");
            assert_eq!(err.sqlstate().as_deref(), Some("22021"), "{err}");
            assert!(err.to_string().contains("0x00"), "the driver's message: {err}");
        }
        assert_eq!(db.count("SELECT COUNT(*) FROM audit_logs").await, 0);
    }
);
