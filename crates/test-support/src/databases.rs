//! A database that exists for one test only: a SQLite file in a fresh directory, or a fresh
//! database on the PostgreSQL server of `TEST_DATABASE_URL` (docs/testing.md#shared-fixtures).

use std::future::Future;
use std::path::{Path, PathBuf};

use sqlx::Connection;

use crate::fresh_temp_dir;

const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// The database engines every store test and HTTP scenario runs against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// The name `/health`, `taskify_build_info` and the store use for the backend.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// The PostgreSQL server the tests create their databases on: `TEST_DATABASE_URL`, or the local
/// server with the user `postgres`.
pub fn postgres_server_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .ok()
        .filter(|url| !url.is_empty())
        .unwrap_or_else(|| DEFAULT_POSTGRES_URL.to_owned())
}

/// A database that exists only for one test and is removed (best effort) when dropped, also when
/// the test panicked. It is empty: the code under test migrates it.
pub struct TestDatabase {
    backend: Backend,
    url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    Directory(PathBuf),
    PostgresDatabase { server_url: String, name: String },
}

impl TestDatabase {
    /// A fresh, empty database: `taskify.db` in a new temporary directory, or a new PostgreSQL
    /// database `taskify_test_<uuid>`.
    pub fn create(backend: Backend) -> TestDatabase {
        match backend {
            Backend::Sqlite => TestDatabase::sqlite_at(Path::new("taskify.db")),
            Backend::Postgres => {
                let server_url = postgres_server_url();
                let name = format!("taskify_test_{}", uuid::Uuid::new_v4().simple());
                execute_on(&server_url, &format!("CREATE DATABASE \"{name}\""))
                    .unwrap_or_else(|error| panic!("cannot create the test database {name}: {error}"));
                let url = database_url(&server_url, &name);
                TestDatabase { backend, url, cleanup: Cleanup::PostgresDatabase { server_url, name } }
            }
        }
    }

    /// A SQLite database at `relative` under a new temporary directory; the file is not created,
    /// nor any directory of `relative` (so a test can check that connecting creates them).
    pub fn sqlite_at(relative: &Path) -> TestDatabase {
        let dir = fresh_temp_dir();
        let url = format!("sqlite://{}", dir.join(relative).display());
        TestDatabase { backend: Backend::Sqlite, url, cleanup: Cleanup::Directory(dir) }
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The `DATABASE_URL` of this database.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Runs one SQL statement on a connection of its own, for states the code under test cannot
    /// produce (a renamed table, a broken row). Blocks the calling thread until it is done.
    pub fn execute(&self, sql: &str) -> Result<(), String> {
        execute_on(&self.url, sql)
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        match &self.cleanup {
            Cleanup::Directory(dir) => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Cleanup::PostgresDatabase { server_url, name } => {
                // WITH (FORCE) ends the sessions of a server or pool that is still shutting down.
                let _ = execute_on(server_url, &format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"));
            }
        }
    }
}

/// Runs `sql` on a connection to `url` (PostgreSQL or SQLite), on a thread with a runtime of its
/// own: callable from synchronous code, from `Drop`, and from a test's runtime, which may be
/// shutting down.
fn execute_on(url: &str, sql: &str) -> Result<(), String> {
    let sql = sqlx::AssertSqlSafe(sql.to_owned());
    if url.starts_with("sqlite:") {
        let url = url.to_owned();
        on_own_runtime(async move {
            let mut connection = sqlx::SqliteConnection::connect(&url).await?;
            sqlx::query(sql).execute(&mut connection).await?;
            connection.close().await
        })
    } else {
        let url = url.to_owned();
        on_own_runtime(async move {
            let mut connection = sqlx::PgConnection::connect(&url).await?;
            sqlx::query(sql).execute(&mut connection).await?;
            connection.close().await
        })
    }
}

fn on_own_runtime<F>(work: F) -> Result<(), String>
where
    F: Future<Output = Result<(), sqlx::Error>> + Send + 'static,
{
    let thread = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
        runtime.block_on(work).map_err(|error| error.to_string())
    });
    thread.join().unwrap_or_else(|_| Err("the database thread panicked".to_owned()))
}

/// `postgres://…/postgres` → `postgres://…/<name>`, keeping any query string.
fn database_url(server_url: &str, name: &str) -> String {
    let (base, query) = match server_url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (server_url, None),
    };
    let prefix = base.rsplit_once('/').map(|(prefix, _)| prefix).unwrap_or(base);
    match query {
        Some(query) => format!("{prefix}/{name}?{query}"),
        None => format!("{prefix}/{name}"),
    }
}

#[cfg(test)]
mod tests {
    use super::database_url;

    #[test]
    fn the_database_name_replaces_the_path_and_keeps_the_query() {
        assert_eq!(database_url("postgres://u@h:5432/postgres", "t1"), "postgres://u@h:5432/t1");
        assert_eq!(database_url("postgres://u@h/postgres?sslmode=disable", "t1"), "postgres://u@h/t1?sslmode=disable");
    }
}
