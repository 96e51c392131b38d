//! Test databases (on the shared fixture of `taskify-test-support`) and fixtures.

#![allow(dead_code)]

use sqlx::Connection;
use std::path::Path;
use std::time::Duration;
use taskify_domain::time::parse_rfc3339;
use taskify_domain::{Task, TaskPriority, TaskStatus, Timestamp, User};
use taskify_store::{Backend, NewAttribute, NewUser, PoolConfig, Store};
use taskify_test_support::{Backend as TestBackend, TestDatabase};
use uuid::Uuid;

/// Runs the body once per backend: `mod $name { sqlite, postgres }`.
macro_rules! store_test {
    ($(#[$meta:meta])* async fn $name:ident($db:ident) $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            $(#[$meta])*
            async fn body($db: &$crate::harness::TestDb) $body

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let db = $crate::harness::TestDb::sqlite(true).await;
                body(&db).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let db = $crate::harness::TestDb::postgres(true).await;
                body(&db).await;
            }
        }
    };
}

pub fn pool_config() -> PoolConfig {
    PoolConfig {
        max_connections: 5,
        min_connections: 0,
        max_lifetime: Duration::from_secs(600),
        idle_timeout: Duration::from_secs(60),
        acquire_timeout: Duration::from_secs(10),
        statement_timeout: Duration::from_secs(30),
    }
}

/// A database of its own for one test (the shared [`TestDatabase`]: removed when the test ends,
/// even when it panics) with a store connected to it.
pub struct TestDb {
    pub store: Store,
    pub url: String,
    // Dropped after the store (fields drop in declaration order).
    _database: TestDatabase,
}

impl TestDb {
    /// A SQLite file in a fresh temporary directory (inside a folder that does not exist yet,
    /// so `connect` has to create it).
    pub async fn sqlite(migrate: bool) -> Self {
        Self::connect(TestDatabase::sqlite_at(Path::new("nested/taskify.db")), migrate).await
    }

    /// A fresh PostgreSQL database on the server of `TEST_DATABASE_URL`.
    pub async fn postgres(migrate: bool) -> Self {
        Self::connect(TestDatabase::create(TestBackend::Postgres), migrate).await
    }

    async fn connect(database: TestDatabase, migrate: bool) -> Self {
        let engine = database.backend().name();
        let store = Store::connect(database.url(), &pool_config())
            .await
            .unwrap_or_else(|error| panic!("connect to {engine} (PostgreSQL: TEST_DATABASE_URL): {error}"));
        if migrate {
            store.migrate().await.unwrap_or_else(|error| panic!("migrate {engine}: {error}"));
        }
        Self { store, url: database.url().to_owned(), _database: database }
    }

    pub fn backend(&self) -> Backend {
        self.store.backend()
    }

    /// A second, independent store on the same database (another "instance").
    pub async fn another_instance(&self) -> Store {
        Store::connect(&self.url, &pool_config()).await.expect("connect another instance")
    }

    /// Runs raw SQL on its own connection, for setting up states the API cannot produce.
    pub async fn exec(&self, sql: &str) {
        let sql = sqlx::AssertSqlSafe(sql.to_owned());
        match self.backend() {
            Backend::Postgres => {
                let mut conn = sqlx::PgConnection::connect(&self.url).await.expect("raw connect");
                sqlx::query(sql).execute(&mut conn).await.expect("raw SQL");
                conn.close().await.ok();
            }
            Backend::Sqlite => {
                let mut conn = sqlx::SqliteConnection::connect(&self.url).await.expect("raw connect");
                sqlx::query(sql).execute(&mut conn).await.expect("raw SQL");
                conn.close().await.ok();
            }
        }
    }

    /// `SELECT COUNT(*)` on its own connection.
    pub async fn count(&self, sql: &str) -> i64 {
        let sql = sqlx::AssertSqlSafe(sql.to_owned());
        match self.backend() {
            Backend::Postgres => {
                let mut conn = sqlx::PgConnection::connect(&self.url).await.expect("raw connect");
                sqlx::query_scalar(sql).fetch_one(&mut conn).await.expect("raw count")
            }
            Backend::Sqlite => {
                let mut conn = sqlx::SqliteConnection::connect(&self.url).await.expect("raw connect");
                sqlx::query_scalar(sql).fetch_one(&mut conn).await.expect("raw count")
            }
        }
    }
}

// ---------------------------------------------------------------- fixtures

/// A fixed point in time (well in the future, so nothing depends on the wall clock).
pub fn t0() -> Timestamp {
    ts("2030-01-01T12:00:00Z")
}

pub fn ts(s: &str) -> Timestamp {
    parse_rfc3339(s).expect("test timestamp")
}

pub fn minutes(n: i64) -> chrono::Duration {
    chrono::Duration::minutes(n)
}

pub fn new_user(username: &str, department: Option<&str>) -> NewUser {
    NewUser {
        id: Uuid::now_v7(),
        username: username.to_owned(),
        email: format!("{}@example.com", username.to_ascii_lowercase()),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".to_owned(),
        first_name: "First".to_owned(),
        last_name: "Last".to_owned(),
        department: department.map(str::to_owned),
        position: None,
        created_at: t0(),
    }
}

/// A user with the given roles, created at [`t0`].
pub async fn user(db: &TestDb, username: &str, department: Option<&str>, roles: &[&str]) -> User {
    db.store.create_user(&new_user(username, department), roles, &[]).await.expect("create user")
}

pub fn attribute(key: &str, value: taskify_domain::AttributeValue) -> NewAttribute {
    NewAttribute { key: key.to_owned(), value, source: "manual".to_owned(), expires_at: None }
}

pub fn number(n: i64) -> taskify_domain::AttributeValue {
    taskify_domain::AttributeValue::Number(n.into())
}

pub fn new_task(owner: Uuid, title: &str) -> Task {
    Task {
        id: Uuid::now_v7(),
        user_id: owner,
        title: title.to_owned(),
        description: String::new(),
        status: TaskStatus::Pending,
        priority: TaskPriority::Medium,
        due_date: None,
        created_at: t0(),
        updated_at: t0(),
        version: 1,
        owner_username: String::new(),
    }
}

pub async fn insert(db: &TestDb, task: Task) -> Task {
    db.store.insert_task(&task).await.expect("insert task")
}
