//! User and task attributes: upsert, expiry, ordering, owners kept apart.

use crate::harness::{attribute, insert, minutes, new_task, number, t0, ts, user};
use taskify_domain::{AttributeValue, DataType};
use taskify_store::{AttributeOwner, NewAttribute};

store_test!(
    async fn attributes_upsert_keep_created_at_and_report_expiry(db) {
        let me = user(db, "me", None, &["user"]).await;
        let task = insert(db, new_task(me.id, "t")).await;
        let owner = AttributeOwner::User(me.id);

        let (created, was_created) = db
            .store
            .put_attribute(owner, &attribute("clearance_level", number(2)), t0())
            .await
            .expect("put");
        assert!(was_created);
        assert_eq!((created.data_type, created.active, created.created_at), (DataType::Number, true, t0()));

        let later = t0() + minutes(5);
        let replacement = NewAttribute {
            expires_at: Some(later + minutes(1)),
            ..attribute("clearance_level", number(4))
        };
        let (replaced, was_created) = db.store.put_attribute(owner, &replacement, later).await.expect("put");
        assert!(!was_created);
        assert_eq!((replaced.created_at, replaced.updated_at), (t0(), later));

        let due = AttributeValue::Datetime(ts("2031-01-01T00:00:00.123456Z"));
        db.store.put_attribute(owner, &attribute("deadline", due.clone()), later).await.expect("put");
        db.store.put_attribute(owner, &attribute("a_flag", AttributeValue::Boolean(true)), later).await.expect("put");
        // The same key on the task is a different attribute.
        db.store
            .put_attribute(AttributeOwner::Task(task.id), &attribute("clearance_level", number(1)), later)
            .await
            .expect("put");

        let after_expiry = later + minutes(2);
        let listed = db.store.list_attributes(owner, after_expiry).await.expect("list");
        let summary: Vec<(&str, bool)> = listed.iter().map(|a| (a.key.as_str(), a.active)).collect();
        assert_eq!(summary, [("a_flag", true), ("clearance_level", false), ("deadline", true)]);
        assert_eq!(listed[1].value, number(4));
        assert_eq!(listed[2].value, due);

        let fetched = db.store.get_attribute(owner, "clearance_level", later).await.expect("get").expect("exists");
        assert_eq!(fetched, replaced);
        let on_task = db
            .store
            .get_attribute(AttributeOwner::Task(task.id), "clearance_level", later)
            .await
            .expect("get")
            .expect("exists");
        assert_eq!(on_task.value, number(1));

        assert!(db.store.delete_attribute(owner, "deadline").await.expect("delete"));
        assert!(!db.store.delete_attribute(owner, "deadline").await.expect("delete again"));
        assert!(db.store.get_attribute(owner, "deadline", later).await.expect("get").is_none());
        assert_eq!(db.store.list_attributes(AttributeOwner::Task(task.id), later).await.expect("list").len(), 1);
    }
);
