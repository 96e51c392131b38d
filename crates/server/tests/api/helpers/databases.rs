//! Test databases: a SQLite file or a fresh PostgreSQL database per test.

use super::*;

/// The database engines every scenario runs against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// The name `/health` and `taskify_build_info` use for the backend.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// A database that exists only for one test and is removed (best effort) when dropped.
pub struct TestDatabase {
    url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    Directory(PathBuf),
    PostgresDatabase { server_url: String, name: String },
}

impl TestDatabase {
    /// Creates a fresh, empty database: a SQLite file in a new temporary directory, or a new
    /// PostgreSQL database on the server named by `TEST_DATABASE_URL`.
    pub fn create(backend: Backend) -> TestDatabase {
        match backend {
            Backend::Sqlite => {
                let dir = fresh_temp_dir();
                let url = format!("sqlite://{}", dir.join("taskify.db").display());
                TestDatabase { url, cleanup: Cleanup::Directory(dir) }
            }
            Backend::Postgres => {
                let server_url = std::env::var("TEST_DATABASE_URL")
                    .ok()
                    .filter(|url| !url.is_empty())
                    .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
                let name = format!("taskify_api_{}", Uuid::new_v4().simple());
                psql(&server_url, &format!("CREATE DATABASE {name}"))
                    .unwrap_or_else(|error| panic!("cannot create the test database {name}: {error}"));
                let mut url = Url::parse(&server_url).expect("TEST_DATABASE_URL is a URL");
                url.set_path(&format!("/{name}"));
                TestDatabase { url: url.to_string(), cleanup: Cleanup::PostgresDatabase { server_url, name } }
            }
        }
    }

    /// The `DATABASE_URL` of this database.
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        match &self.cleanup {
            Cleanup::Directory(dir) => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Cleanup::PostgresDatabase { server_url, name } => {
                // WITH (FORCE) ends the connections of a server that is still shutting down.
                let _ = psql(server_url, &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
            }
        }
    }
}

pub fn psql(server_url: &str, sql: &str) -> Result<(), String> {
    let output = Command::new("psql")
        .arg(server_url)
        .args(["-v", "ON_ERROR_STOP=1", "-q", "-c", sql])
        .output()
        .map_err(|error| format!("cannot run psql: {error}"))?;
    if output.status.success() { Ok(()) } else { Err(String::from_utf8_lossy(&output.stderr).into_owned()) }
}

/// A new, empty directory under the system temporary directory.
pub fn fresh_temp_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("taskify-api-{}", Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("the temporary directory can be created");
    dir
}
