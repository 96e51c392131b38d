//! The scenario runner: one body run against SQLite and PostgreSQL.

use super::*;

/// Defines a module named after the scenario with one `#[tokio::test]` per database backend, each
/// running the same body against a fresh instance.
///
/// ```ignore
/// both_backends!(registering_returns_the_welcome_message, |app| async move { ... });
/// both_backends!(lockout_expires, overrides = &[("LOGIN_LOCKOUT", "3s")], |app| async move { ... });
/// ```
#[macro_export]
macro_rules! both_backends {
    ($name:ident, overrides = $overrides:expr, $scenario:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                $crate::helpers::run_scenario($crate::helpers::Backend::Sqlite, $overrides, $scenario).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                $crate::helpers::run_scenario($crate::helpers::Backend::Postgres, $overrides, $scenario).await;
            }
        }
    };
    ($name:ident, $scenario:expr) => {
        $crate::both_backends!($name, overrides = &[], $scenario);
    };
}

/// Defines a `#[tokio::test]` running the scenario on SQLite only (the default backend of docs/testing.md#fixtures), for the
/// infrastructure checks that do not depend on the database.
#[macro_export]
macro_rules! sqlite_only {
    ($name:ident, overrides = $overrides:expr, $scenario:expr) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            $crate::helpers::run_scenario($crate::helpers::Backend::Sqlite, $overrides, $scenario).await;
        }
    };
    ($name:ident, $scenario:expr) => {
        $crate::sqlite_only!($name, overrides = &[], $scenario);
    };
}

/// Spawns an instance on `backend` with `overrides` and runs `scenario` against it.
pub async fn run_scenario<F, Fut>(backend: Backend, overrides: &[(&str, &str)], scenario: F)
where
    F: FnOnce(TestApp) -> Fut,
    Fut: Future<Output = ()>,
{
    let app = spawn_app(backend, overrides).await;
    scenario(app).await;
}
