//! Tasks: visibility, filters, sorts, pagination, compare-and-set.

use crate::harness::{attribute, insert, minutes, new_task, number, t0, ts, user};
use taskify_domain::{
    AttributeValue, Order, PageRequest, TaskChanges, TaskListQuery, TaskPriority, TaskSort, TaskStatus, Visibility,
};
use taskify_store::{AttributeOwner, NewAttribute};
use uuid::Uuid;

fn titles(page: &taskify_domain::Paged<taskify_domain::Task>) -> Vec<String> {
    page.items.iter().map(|t| t.title.clone()).collect()
}

fn everything() -> TaskListQuery {
    TaskListQuery {
        sort_by: TaskSort::Title,
        order: Order::Asc,
        page: PageRequest { page: 1, page_size: 100 },
        ..Default::default()
    }
}

store_test!(
    async fn list_visibility_follows_scope_department_and_clearance(db) {
        let boss = user(db, "boss", Some("Sales"), &["user", "manager"]).await;
        let mate = user(db, "mate", Some(" sales "), &["user"]).await;
        let other = user(db, "other", Some("Support"), &["user"]).await;
        let gone = user(db, "gone", Some("sales"), &["user"]).await;
        let nodept = user(db, "nodept", None, &["user"]).await;
        user(db, "root", None, &["user", "admin"]).await;

        insert(db, new_task(boss.id, "boss own")).await;
        let secret_own = insert(db, new_task(boss.id, "boss secret")).await;
        insert(db, new_task(mate.id, "mate plain")).await;
        let low = insert(db, new_task(mate.id, "mate low")).await;
        let high = insert(db, new_task(mate.id, "mate high")).await;
        let expired = insert(db, new_task(mate.id, "mate expired clearance")).await;
        let fraction = insert(db, new_task(mate.id, "mate fractional clearance")).await;
        insert(db, new_task(other.id, "other")).await;
        insert(db, new_task(gone.id, "gone")).await;
        insert(db, new_task(nodept.id, "nodept")).await;
        db.store.soft_delete_user(gone.id, t0(), minutes(15)).await.expect("delete");

        let put = |task: Uuid, attr: NewAttribute| async move {
            db.store.put_attribute(AttributeOwner::Task(task), &attr, t0()).await.expect("attribute");
        };
        put(secret_own.id, attribute("required_clearance", number(9))).await;
        put(low.id, attribute("required_clearance", number(2))).await;
        put(high.id, attribute("required_clearance", number(3))).await;
        put(expired.id, NewAttribute { expires_at: Some(t0() - minutes(1)), ..attribute("required_clearance", number(9)) }).await;
        put(fraction.id, attribute("required_clearance", AttributeValue::Number(serde_json::Number::from_f64(7.5).expect("finite")))).await;
        // A text value is no clearance at all (and must not break the numeric comparison).
        put(fraction.id, attribute("label", AttributeValue::String("abc".to_owned()))).await;

        let list = |visibility: Visibility| async move {
            titles(&db.store.list_tasks(&everything(), &visibility, t0()).await.expect("list"))
        };

        assert_eq!(list(Visibility::Own { user_id: boss.id }).await, ["boss own", "boss secret"]);
        assert_eq!(
            list(Visibility::Department { user_id: boss.id, department: "SALES".to_owned(), clearance: 2 }).await,
            [
                "boss own",
                "boss secret",
                "mate expired clearance",
                "mate fractional clearance",
                "mate low",
                "mate plain"
            ]
        );
        assert_eq!(
            list(Visibility::Department { user_id: boss.id, department: "sales".to_owned(), clearance: 3 }).await.len(),
            7
        );
        // An empty department matches nobody else's tasks.
        assert_eq!(
            list(Visibility::Department { user_id: nodept.id, department: "  ".to_owned(), clearance: 10 }).await,
            ["nodept"]
        );
        assert_eq!(list(Visibility::All).await.len(), 10);

        let record = db.store.get_task(high.id, t0()).await.expect("get").expect("task");
        assert_eq!(record.required_clearance, Some(3));
        assert_eq!(record.owner_department, "sales");
        assert!(!record.owner_deleted);
        assert_eq!(record.task.owner_username, "mate");
        let record = db.store.get_task(expired.id, t0()).await.expect("get").expect("task");
        assert_eq!((record.required_clearance, record.attributes.len()), (None, 0));
        let record = db.store.get_task(fraction.id, t0()).await.expect("get").expect("task");
        assert_eq!(record.required_clearance, None);
        assert_eq!(record.attributes.iter().map(|a| a.key.as_str()).collect::<Vec<_>>(), ["label", "required_clearance"]);
        let gone_task = db
            .store
            .list_tasks(&TaskListQuery { owner: Some(gone.id), ..everything() }, &Visibility::All, t0())
            .await
            .expect("list");
        let record = db.store.get_task(gone_task.items[0].id, t0()).await.expect("get").expect("task");
        assert!(record.owner_deleted);
        assert_eq!(record.owner_department, "sales");
        assert!(db.store.get_task(Uuid::now_v7(), t0()).await.expect("get").is_none());
    }
);

store_test!(
    async fn list_filters_match_exactly(db) {
        let me = user(db, "me", None, &["user"]).await;
        let you = user(db, "you", None, &["user"]).await;
        let mut a = new_task(me.id, "Fix 100% of bugs");
        a.status = TaskStatus::Completed;
        a.priority = TaskPriority::High;
        a.due_date = Some(ts("2030-02-01T00:00:00Z"));
        let mut b = new_task(me.id, "plain");
        b.description = r"path C:\Temp and snake_case".to_owned();
        b.due_date = Some(ts("2030-03-01T00:00:00Z"));
        let c = new_task(you.id, "FIX the ÄRGER");
        for task in [a, b, c] {
            insert(db, task).await;
        }

        let run = |query: TaskListQuery| async move {
            titles(&db.store.list_tasks(&query, &Visibility::All, t0()).await.expect("list"))
        };
        assert_eq!(run(TaskListQuery { status: Some(TaskStatus::Completed), ..everything() }).await, ["Fix 100% of bugs"]);
        assert_eq!(run(TaskListQuery { priority: Some(TaskPriority::Medium), ..everything() }).await, ["FIX the ÄRGER", "plain"]);
        assert_eq!(run(TaskListQuery { owner: Some(you.id), ..everything() }).await, ["FIX the ÄRGER"]);
        // due_after is inclusive, due_before exclusive; either bound drops tasks without a date.
        assert_eq!(
            run(TaskListQuery { due_after: Some(ts("2030-02-01T00:00:00Z")), ..everything() }).await,
            ["Fix 100% of bugs", "plain"]
        );
        assert_eq!(
            run(TaskListQuery { due_before: Some(ts("2030-03-01T00:00:00Z")), ..everything() }).await,
            ["Fix 100% of bugs"]
        );
        assert_eq!(
            run(TaskListQuery {
                due_after: Some(ts("2030-02-01T00:00:01Z")),
                due_before: Some(ts("2030-03-01T00:00:01Z")),
                ..everything()
            })
            .await,
            ["plain"]
        );
        // q: ASCII case-insensitive substring of title or description, metacharacters literal.
        assert_eq!(run(TaskListQuery { q: Some("fix".to_owned()), ..everything() }).await, ["Fix 100% of bugs", "FIX the ÄRGER"]);
        assert_eq!(run(TaskListQuery { q: Some("100%".to_owned()), ..everything() }).await, ["Fix 100% of bugs"]);
        assert!(run(TaskListQuery { q: Some("1%b".to_owned()), ..everything() }).await.is_empty());
        assert_eq!(run(TaskListQuery { q: Some("E_C".to_owned()), ..everything() }).await, ["plain"]);
        assert!(run(TaskListQuery { q: Some("h_c".to_owned()), ..everything() }).await.is_empty());
        assert_eq!(run(TaskListQuery { q: Some(r"c:\temp".to_owned()), ..everything() }).await, ["plain"]);
        // Only ASCII folds: "ä" does not match "Ä".
        assert!(run(TaskListQuery { q: Some("ärger".to_owned()), ..everything() }).await.is_empty());
        assert_eq!(run(TaskListQuery { q: Some("ÄRGER".to_owned()), ..everything() }).await, ["FIX the ÄRGER"]);
    }
);

store_test!(
    async fn list_sorts_by_every_column_with_ties_by_id(db) {
        let me = user(db, "me", None, &["user"]).await;
        let spec = [
            ("b", TaskPriority::Urgent, TaskStatus::Pending, Some("2030-05-01T00:00:00Z"), 3),
            ("A", TaskPriority::Low, TaskStatus::Cancelled, None, 1),
            ("c", TaskPriority::High, TaskStatus::InProgress, Some("2030-04-01T00:00:00Z"), 2),
            ("D", TaskPriority::Medium, TaskStatus::Completed, None, 5),
            ("e", TaskPriority::Low, TaskStatus::Pending, Some("2030-06-01T00:00:00Z"), 4),
        ];
        let mut ids = std::collections::HashMap::new();
        for (title, priority, status, due, minute) in spec {
            let mut task = new_task(me.id, title);
            task.priority = priority;
            task.status = status;
            task.due_date = due.map(ts);
            task.created_at = t0() + minutes(minute);
            task.updated_at = t0() + minutes(10 - minute);
            ids.insert(title, task.id);
            insert(db, task).await;
        }
        let sorted = |sort_by: TaskSort, order: Order| async move {
            let query = TaskListQuery { sort_by, order, ..everything() };
            titles(&db.store.list_tasks(&query, &Visibility::Own { user_id: me.id }, t0()).await.expect("list"))
        };
        // The two undated tasks, in id order: they tie on the sort key.
        let mut undated = vec![("A", ids["A"]), ("D", ids["D"])];
        undated.sort_by_key(|(_, id)| *id);
        let undated: Vec<&str> = undated.into_iter().map(|(t, _)| t).collect();

        assert_eq!(sorted(TaskSort::CreatedAt, Order::Desc).await, ["D", "e", "b", "c", "A"]);
        assert_eq!(sorted(TaskSort::UpdatedAt, Order::Asc).await, ["D", "e", "b", "c", "A"]);
        assert_eq!(sorted(TaskSort::Title, Order::Asc).await, ["A", "b", "c", "D", "e"]);
        assert_eq!(sorted(TaskSort::Title, Order::Desc).await, ["e", "D", "c", "b", "A"]);
        assert_eq!(sorted(TaskSort::DueDate, Order::Asc).await[..3], ["c", "b", "e"]);
        assert_eq!(sorted(TaskSort::DueDate, Order::Asc).await[3..], undated[..]);
        assert_eq!(sorted(TaskSort::DueDate, Order::Desc).await[..3], ["e", "b", "c"]);
        assert_eq!(sorted(TaskSort::DueDate, Order::Desc).await[3..], undated[..]);
        let mut lows = vec![("A", ids["A"]), ("e", ids["e"])];
        lows.sort_by_key(|(_, id)| *id);
        let lows: Vec<&str> = lows.into_iter().map(|(t, _)| t).collect();
        let by_priority = sorted(TaskSort::Priority, Order::Desc).await;
        assert_eq!(by_priority[..3], ["b", "c", "D"]);
        assert_eq!(by_priority[3..], lows[..]);
        let by_priority = sorted(TaskSort::Priority, Order::Asc).await;
        assert_eq!(by_priority[..2], lows[..]);
        assert_eq!(by_priority[2..], ["D", "c", "b"]);
        let mut pendings = vec![("b", ids["b"]), ("e", ids["e"])];
        pendings.sort_by_key(|(_, id)| *id);
        let pendings: Vec<&str> = pendings.into_iter().map(|(t, _)| t).collect();
        let by_status = sorted(TaskSort::Status, Order::Asc).await;
        assert_eq!(by_status[..2], pendings[..]);
        assert_eq!(by_status[2..], ["c", "D", "A"]);

        // Pagination: totals stay, a page past the end is empty.
        let page = |page: u32| TaskListQuery {
            sort_by: TaskSort::Title,
            order: Order::Asc,
            page: PageRequest { page, page_size: 2 },
            ..Default::default()
        };
        let vis = Visibility::Own { user_id: me.id };
        let p2 = db.store.list_tasks(&page(2), &vis, t0()).await.expect("page 2");
        assert_eq!((titles(&p2), p2.total, p2.page, p2.page_size), (vec!["c".to_owned(), "D".to_owned()], 5, 2, 2));
        assert_eq!(p2.total_pages(), 3);
        let p9 = db.store.list_tasks(&page(9), &vis, t0()).await.expect("page 9");
        assert!(p9.items.is_empty());
        assert_eq!(p9.total, 5);
    }
);

store_test!(
    async fn updates_are_compare_and_set_on_version(db) {
        let me = user(db, "me", None, &["user"]).await;
        let mut task = new_task(me.id, "draft");
        task.description = "some text".to_owned();
        task.due_date = Some(ts("2030-02-01T00:00:00Z"));
        let task = insert(db, task).await;
        assert_eq!(task.owner_username, "me");
        let later = t0() + minutes(5);

        let changes = TaskChanges {
            title: Some("final".to_owned()),
            status: Some(TaskStatus::InProgress),
            priority: Some(TaskPriority::Urgent),
            ..Default::default()
        };
        let updated = db.store.update_task(task.id, &changes, Some(1), later).await.expect("update").expect("matched");
        assert_eq!((updated.version, updated.updated_at, updated.title.as_str()), (2, later, "final"));
        assert_eq!((updated.status, updated.priority), (TaskStatus::InProgress, TaskPriority::Urgent));
        assert_eq!(updated.description, "some text");
        assert_eq!(updated.owner_username, "me");

        // A stale version changes nothing.
        assert!(db.store.update_task(task.id, &changes, Some(1), later).await.expect("update").is_none());
        // Clearing: an empty description and a null due date.
        let clear = TaskChanges { description: Some(String::new()), due_date: Some(None), ..Default::default() };
        let cleared = db.store.update_task(task.id, &clear, None, later).await.expect("update").expect("updated");
        assert_eq!((cleared.description.as_str(), cleared.due_date, cleared.version), ("", None, 3));
        // `{}` changes neither version nor updated_at, but the precondition still applies.
        let same = db.store.update_task(task.id, &TaskChanges::default(), Some(3), t0() + minutes(9)).await.expect("update").expect("task");
        assert_eq!((same.version, same.updated_at), (3, later));
        assert!(db.store.update_task(task.id, &TaskChanges::default(), Some(2), later).await.expect("update").is_none());
        assert!(db.store.update_task(Uuid::now_v7(), &changes, None, later).await.expect("update").is_none());
    }
);

store_test!(
    async fn delete_removes_the_task_and_its_attributes(db) {
        let me = user(db, "me", None, &["user"]).await;
        let task = insert(db, new_task(me.id, "doomed")).await;
        let keep = insert(db, new_task(me.id, "kept")).await;
        for t in [&task, &keep] {
            db.store
                .put_attribute(AttributeOwner::Task(t.id), &attribute("required_clearance", number(1)), t0())
                .await
                .expect("attribute");
        }
        assert!(!db.store.delete_task(task.id, Some(7)).await.expect("delete with stale version"));
        assert!(db.store.get_task(task.id, t0()).await.expect("get").is_some());
        assert!(db.store.delete_task(task.id, Some(1)).await.expect("delete"));
        assert!(db.store.get_task(task.id, t0()).await.expect("get").is_none());
        assert!(!db.store.delete_task(task.id, None).await.expect("second delete"));
        // Foreign keys are enforced on both backends (SQLite needs them switched on).
        let orphan = db.store.insert_task(&new_task(Uuid::now_v7(), "orphan")).await;
        assert!(matches!(orphan, Err(taskify_store::StoreError::Query(_))), "{orphan:?}");
        assert_eq!(db.count("SELECT COUNT(*) FROM resource_attributes").await, 1);
        assert!(db.store.delete_task(keep.id, None).await.expect("delete"));
        assert_eq!(db.count("SELECT COUNT(*) FROM resource_attributes").await, 0);
    }
);
