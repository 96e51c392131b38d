//! Migrations, seed data, the schema-too-new guard and the migration lock.

use crate::harness::TestDb;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use taskify_store::{Store, StoreError};

/// Seed rows per table: 3 roles, 23 permissions, 36 role_permissions (6 + 7 + 23).
async fn assert_seeded(db: &TestDb) {
    assert_eq!(db.count("SELECT COUNT(*) FROM roles").await, 3);
    assert_eq!(db.count("SELECT COUNT(*) FROM permissions").await, 23);
    assert_eq!(db.count("SELECT COUNT(*) FROM role_permissions").await, 36);

    let roles = db.store.list_roles().await.expect("list roles");
    let summary: Vec<(String, usize)> = roles.iter().map(|r| (r.name.clone(), r.permissions.len())).collect();
    assert_eq!(summary, [("admin".to_owned(), 23), ("manager".to_owned(), 7), ("user".to_owned(), 6)]);
    let manager = &roles[1];
    assert!(manager.permissions.windows(2).all(|w| w[0].id < w[1].id), "permissions are ordered by id");
    assert!(
        manager
            .permissions
            .iter()
            .any(|p| p.resource == "task" && p.action == "read" && p.scope == taskify_domain::Scope::Department)
    );
}

async fn fresh_migrations_apply_with_seed_and_twice_is_a_no_op(db: TestDb) {
    assert!(db.store.migrations_pending().await.expect("pending"));
    db.store.migrate().await.expect("first migrate");
    assert!(!db.store.migrations_pending().await.expect("pending"));
    assert_seeded(&db).await;

    db.store.migrate().await.expect("second migrate is a no-op");
    assert!(!db.store.migrations_pending().await.expect("pending"));
    assert_seeded(&db).await;
}

#[tokio::test]
async fn fresh_migrations_apply_with_seed_and_twice_is_a_no_op_sqlite() {
    fresh_migrations_apply_with_seed_and_twice_is_a_no_op(TestDb::sqlite(false).await).await;
}

#[tokio::test]
async fn fresh_migrations_apply_with_seed_and_twice_is_a_no_op_postgres() {
    fresh_migrations_apply_with_seed_and_twice_is_a_no_op(TestDb::postgres(false).await).await;
}

store_test!(
    async fn seed_is_never_overwritten(db) {
        db.exec("UPDATE roles SET description = 'edited by an operator' WHERE name = 'user'").await;
        db.exec("DELETE FROM role_permissions WHERE permission_id = '10000000-0000-0000-0000-000000000028'")
            .await;
        db.store.migrate().await.expect("migrate again");
        let roles = db.store.list_roles().await.expect("roles");
        let user = roles.iter().find(|r| r.name == "user").expect("user role");
        assert_eq!(user.description.as_deref(), Some("edited by an operator"));
        // Already applied migrations do not run again, so a deleted grant stays deleted.
        assert_eq!(db.count("SELECT COUNT(*) FROM role_permissions").await, 35);
    }
);

store_test!(
    async fn a_database_newer_than_the_binary_is_refused(db) {
        let checksum = match db.backend() {
            taskify_store::Backend::Postgres => "decode('00', 'hex')",
            taskify_store::Backend::Sqlite => "X'00'",
        };
        db.exec(&format!(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
             VALUES (99990101000000, 'from the future', TRUE, {checksum}, 0)"
        ))
        .await;
        assert!(matches!(db.store.migrate().await, Err(StoreError::SchemaTooNew)));
    }
);

async fn migration_lock_holders_take_turns(db: TestDb) {
    let first = db.store.migration_lock().await.expect("first lock");

    let released = Arc::new(AtomicBool::new(false));
    let other = db.another_instance().await;
    let seen_release = released.clone();
    let second = tokio::spawn(async move {
        let lock = other.migration_lock().await.expect("second lock");
        let was_released = seen_release.load(Ordering::SeqCst);
        lock.release().await.expect("release second");
        was_released
    });

    // While the first guard is held the second cannot get it (a bounded wait, not a sleep used
    // for ordering: the assertion below holds whatever the timing).
    let mut second = second;
    assert!(
        tokio::time::timeout(Duration::from_millis(300), &mut second).await.is_err(),
        "the second holder must wait"
    );
    released.store(true, Ordering::SeqCst);
    first.release().await.expect("release first");

    let saw_release = tokio::time::timeout(Duration::from_secs(10), second)
        .await
        .expect("second holder acquires after the release")
        .expect("second task");
    assert!(saw_release, "the second holder got the lock only after the first released it");
}

// One thin test per backend around the shared scenario above: the same body runs on SQLite and on
// PostgreSQL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migration_lock_holders_take_turns_sqlite() {
    migration_lock_holders_take_turns(TestDb::sqlite(false).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migration_lock_holders_take_turns_postgres() {
    migration_lock_holders_take_turns(TestDb::postgres(false).await).await;
}

/// Several instances start at once against one empty database: all of them come up and the
/// schema and seed are applied once.
async fn concurrent_instances_migrate_once(db: TestDb) {
    let mut starts = Vec::new();
    for _ in 0..3 {
        let store: Store = db.another_instance().await;
        starts.push(tokio::spawn(async move {
            let lock = store.migration_lock().await?;
            let result = store.migrate().await;
            lock.release().await?;
            result
        }));
    }
    for start in starts {
        start.await.expect("instance task").expect("instance starts");
    }
    assert_eq!(db.count("SELECT COUNT(*) FROM _sqlx_migrations").await, migration_files(&db));
    assert_seeded(&db).await;
}

/// How many migrations the binary embeds for this backend: one `.sql` file each.
fn migration_files(db: &TestDb) -> i64 {
    let dir = match db.backend() {
        taskify_store::Backend::Postgres => "postgres",
        taskify_store::Backend::Sqlite => "sqlite",
    };
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations").join(dir);
    let files = std::fs::read_dir(path).expect("the migrations directory");
    let count = files.filter_map(Result::ok).filter(|f| f.path().extension().is_some_and(|e| e == "sql")).count();
    i64::try_from(count).expect("a small count")
}

// One thin test per backend around the shared scenario above, as for the migration lock.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_instances_migrate_once_sqlite() {
    concurrent_instances_migrate_once(TestDb::sqlite(false).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_instances_migrate_once_postgres() {
    concurrent_instances_migrate_once(TestDb::postgres(false).await).await;
}

/// The SQLite file (in a directory that did not exist) is created in WAL mode.
#[tokio::test]
async fn sqlite_files_are_created_with_their_directory_in_wal_mode() {
    let db = TestDb::sqlite(true).await;
    let path = db.url.trim_start_matches("sqlite://");
    assert!(std::path::Path::new(path).is_file());
    let mut conn = <sqlx::SqliteConnection as sqlx::Connection>::connect(&db.url).await.expect("connect");
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode").fetch_one(&mut conn).await.expect("pragma");
    assert_eq!(mode, "wal");
}

/// A SQLite lock row left behind by a dead instance is taken over once it is 60 s old.
#[tokio::test]
async fn a_stale_sqlite_lock_row_is_taken_over() {
    let db = TestDb::sqlite(true).await;
    db.exec(
        "INSERT INTO taskify_migration_lock (id, holder, acquired_at) \
         VALUES (1, 'dead-instance', '2000-01-01T00:00:00.000000Z')",
    )
    .await;
    let lock = tokio::time::timeout(Duration::from_secs(10), db.store.migration_lock())
        .await
        .expect("a stale row does not block")
        .expect("lock");
    lock.release().await.expect("release");
    assert_eq!(db.count("SELECT COUNT(*) FROM taskify_migration_lock").await, 0);
}

store_test!(
    async fn ping_and_pool_stats_work(db) {
        db.store.ping().await.expect("ping");
        let stats = db.store.pool_stats();
        assert_eq!(stats.max, 5);
        assert!(stats.size >= stats.idle);
    }
);
