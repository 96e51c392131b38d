//! Test databases and fixtures.

#![allow(dead_code)]

use sqlx::Connection;
use std::time::Duration;
use taskify_domain::time::parse_rfc3339;
use taskify_domain::{Task, TaskPriority, TaskStatus, Timestamp, User};
use taskify_store::{Backend, NewAttribute, NewUser, PoolConfig, Store};
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

const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

fn admin_postgres_url() -> String {
    std::env::var("TEST_DATABASE_URL").unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_owned())
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

/// A database of its own for one test, removed when the test ends (even when it panics).
pub struct TestDb {
    pub store: Store,
    pub url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres { name: String },
}

impl TestDb {
    /// A SQLite file in a fresh temporary directory (inside a folder that does not exist yet,
    /// so `connect` has to create it).
    pub async fn sqlite(migrate: bool) -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let path = dir.path().join("nested").join("taskify.db");
        let url = format!("sqlite://{}", path.display());
        let store = Store::connect(&url, &pool_config()).await.expect("connect to SQLite");
        if migrate {
            store.migrate().await.expect("migrate SQLite");
        }
        Self { store, url, cleanup: Cleanup::Sqlite(dir) }
    }

    /// A fresh PostgreSQL database `taskify_store_<uuid>`.
    pub async fn postgres(migrate: bool) -> Self {
        let admin_url = admin_postgres_url();
        let name = format!("taskify_store_{}", Uuid::new_v4().simple());
        let mut admin = sqlx::PgConnection::connect(&admin_url)
            .await
            .expect("PostgreSQL must run on 127.0.0.1:5432 (or set TEST_DATABASE_URL)");
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
            .execute(&mut admin)
            .await
            .expect("create test database");
        admin.close().await.ok();
        let url = database_url(&admin_url, &name);
        let store = Store::connect(&url, &pool_config()).await.expect("connect to PostgreSQL");
        if migrate {
            store.migrate().await.expect("migrate PostgreSQL");
        }
        Self { store, url, cleanup: Cleanup::Postgres { name } }
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

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Cleanup::Postgres { name } = &self.cleanup {
            // Best effort, on a thread of its own: Drop cannot await, and the test's runtime may
            // be shutting down. FORCE ends the store's pooled sessions.
            let name = name.clone();
            let admin_url = admin_postgres_url();
            let dropped = std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build();
                if let Ok(runtime) = runtime {
                    runtime.block_on(async move {
                        if let Ok(mut admin) = sqlx::PgConnection::connect(&admin_url).await {
                            let sql = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
                            let _ = sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&mut admin).await;
                            let _ = admin.close().await;
                        }
                    });
                }
            });
            let _ = dropped.join();
        }
    }
}

/// `postgres://…/postgres` → `postgres://…/<name>`, keeping any query string.
fn database_url(admin_url: &str, name: &str) -> String {
    let (base, query) = match admin_url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (admin_url, None),
    };
    let prefix = base.rsplit_once('/').map(|(p, _)| p).unwrap_or(base);
    match query {
        Some(q) => format!("{prefix}/{name}?{q}"),
        None => format!("{prefix}/{name}"),
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
