//! `tasks.owner_department`, kept by triggers (docs/decisions/0009-task-owner-department.md), and
//! the capped totals of task lists.

use crate::harness::{TestDb, insert, minutes, new_task, t0, user};
use taskify_domain::{Order, PageRequest, TaskListQuery, TaskSort, Visibility};
use taskify_store::{AdminWrite, UserPatch};
use uuid::Uuid;

/// The stored `owner_department` of every task of `owner`, deduplicated (`None` for NULL).
async fn departments_of(db: &TestDb, owner: Uuid) -> Vec<Option<String>> {
    // A count per possible value: the harness reads scalars only.
    let mut found = Vec::new();
    let nulls =
        db.count(&format!("SELECT COUNT(*) FROM tasks WHERE user_id = '{owner}' AND owner_department IS NULL")).await;
    if nulls > 0 {
        found.push(None);
    }
    for value in ["sales", "support"] {
        let n = db
            .count(&format!("SELECT COUNT(*) FROM tasks WHERE user_id = '{owner}' AND owner_department = '{value}'"))
            .await;
        if n > 0 {
            found.push(Some(value.to_owned()));
        }
    }
    found
}

/// A department reader (no own tasks, no clearance) of `department`.
fn department_of(department: &str) -> Visibility {
    Visibility::Department { user_id: Uuid::nil(), department: department.to_owned(), clearance: 0 }
}

async fn titles(db: &TestDb, visibility: &Visibility) -> Vec<String> {
    let query = TaskListQuery {
        sort_by: TaskSort::Title,
        order: Order::Asc,
        page: PageRequest { page: 1, page_size: 100 },
        ..Default::default()
    };
    let page = db.store.list_tasks(&query, visibility, t0()).await.expect("list");
    page.items.into_iter().map(|t| t.title).collect()
}

fn department(value: Option<&str>) -> UserPatch {
    UserPatch { department: Some(value.map(str::to_owned)), ..UserPatch::default() }
}

store_test!(
    async fn owner_department_follows_inserts_department_changes_deletes_and_restores(db) {
        let mate = user(db, "mate", Some("  Sales "), &["user"]).await;
        let blank = user(db, "blank", None, &["user"]).await;

        // Insert: the owner's folded department (trimmed, lower case); none without a department.
        insert(db, new_task(mate.id, "mate one")).await;
        insert(db, new_task(blank.id, "blank one")).await;
        assert_eq!(departments_of(db, mate.id).await, [Some("sales".to_owned())]);
        assert_eq!(departments_of(db, blank.id).await, [None]);
        assert_eq!(titles(db, &department_of("sales")).await, ["mate one"]);

        // Department change: every task of the user follows, old and new.
        let moved = db.store.patch_user(mate.id, &department(Some("SUPPORT")), t0()).await.expect("patch");
        assert!(matches!(moved, AdminWrite::Done(_)));
        insert(db, new_task(mate.id, "mate two")).await;
        assert_eq!(departments_of(db, mate.id).await, [Some("support".to_owned())]);
        assert!(titles(db, &department_of("sales")).await.is_empty());
        assert_eq!(titles(db, &department_of("support")).await, ["mate one", "mate two"]);

        // A department given to a user who had none; then taken away again.
        db.store.patch_user(blank.id, &department(Some("sales")), t0()).await.expect("patch");
        assert_eq!(departments_of(db, blank.id).await, [Some("sales".to_owned())]);
        db.store.patch_user(blank.id, &department(None), t0()).await.expect("patch");
        assert_eq!(departments_of(db, blank.id).await, [None]);

        // Soft delete: the tasks leave the department; a task inserted for the deleted owner too.
        db.store.soft_delete_user(mate.id, t0(), minutes(15)).await.expect("delete");
        assert_eq!(departments_of(db, mate.id).await, [None]);
        insert(db, new_task(mate.id, "mate after delete")).await;
        assert_eq!(departments_of(db, mate.id).await, [None]);
        assert!(titles(db, &department_of("support")).await.is_empty());

        // Restore (an operator clearing deleted_at): the tasks come back.
        db.exec(&format!("UPDATE users SET deleted_at = NULL, is_active = TRUE WHERE id = '{}'", mate.id)).await;
        assert_eq!(departments_of(db, mate.id).await, [Some("support".to_owned())]);
        assert_eq!(titles(db, &department_of("support")).await, ["mate after delete", "mate one", "mate two"]);
    }
);

store_test!(
    async fn list_totals_stop_counting_at_offset_plus_cap(db) {
        let me = user(db, "me", Some("Sales"), &["user"]).await;
        for n in 0..7 {
            insert(db, new_task(me.id, &format!("task {n}"))).await;
        }
        let page = |page: u32| TaskListQuery { page: PageRequest { page, page_size: 2 }, ..Default::default() };
        for visibility in [
            Visibility::Own { user_id: me.id },
            Visibility::All,
            Visibility::Department { user_id: me.id, department: "sales".to_owned(), clearance: 0 },
        ] {
            let capped = |n: u32, cap: u64| {
                let visibility = visibility.clone();
                async move { db.store.list_tasks_capped(&page(n), &visibility, t0(), cap).await.expect("list") }
            };
            // Page 1 with a cap of 3: counted up to 3, the page itself is whole.
            let first = capped(1, 3).await;
            assert_eq!((first.total, first.items.len()), (3, 2), "{visibility:?}");
            // Page 2 (offset 2) with a cap of 3: up to 5.
            assert_eq!(capped(2, 3).await.total, 5, "{visibility:?}");
            // A cap above the count: the exact count.
            assert_eq!(capped(2, 10).await.total, 7, "{visibility:?}");
            // The default cap (10 000 past the offset).
            assert_eq!(db.store.list_tasks(&page(4), &visibility, t0()).await.expect("list").total, 7);
        }
    }
);
