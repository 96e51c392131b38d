//! Embedded migrations (one set per backend) and the migration lock that serialises instances.

use crate::connect::Pool;
use crate::error::{connect_err, db_err, is_unavailable};
use crate::types::{DbTime, DbUuid};
use crate::{Store, StoreError, StoreResult};
use sqlx::Connection;
use sqlx::migrate::{MigrateError, Migrator};
use std::collections::BTreeSet;
use std::time::Duration;
use taskify_domain::time;
use uuid::Uuid;

static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("migrations/postgres");
static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("migrations/sqlite");

/// Key of the PostgreSQL session advisory lock ("taskify!" in ASCII). sqlx's migrator takes its
/// own advisory lock with a key derived from the database name, so the two never collide.
const PG_LOCK_KEY: i64 = 0x7461_736b_6966_7921;

/// A SQLite lock row older than this belongs to an instance that died while holding it.
const SQLITE_LOCK_STALE_AFTER: chrono::Duration = chrono::Duration::seconds(60);
/// How often a SQLite lock holder refreshes its row, well within the stale limit, so a long
/// migration is never mistaken for a dead holder.
const SQLITE_LOCK_HEARTBEAT: Duration = Duration::from_secs(10);
/// How often a waiter retries to take the SQLite lock row.
const SQLITE_LOCK_POLL: Duration = Duration::from_millis(50);

const SQLITE_LOCK_TABLE: &str = "CREATE TABLE IF NOT EXISTS taskify_migration_lock (
    id          INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    holder      TEXT    NOT NULL,
    acquired_at TEXT    NOT NULL
)";

/// Held while migrations and the admin bootstrap run, so concurrent instances take turns:
/// a PostgreSQL advisory lock on a dedicated connection, or a lock row on SQLite.
///
/// Dropping the guard without [`MigrationLock::release`] still frees the lock: the PostgreSQL
/// connection is closed (which ends its session locks), and the SQLite row is deleted in the
/// background (or, failing that, goes stale after 60 s).
pub struct MigrationLock {
    held: Option<Held>,
}

enum Held {
    /// The dedicated session that owns the advisory lock. It is not a pool connection: a pooled
    /// connection would go back to the pool with the session lock still held.
    Postgres(sqlx::PgConnection),
    Sqlite {
        pool: sqlx::SqlitePool,
        holder: Uuid,
        heartbeat: tokio::task::JoinHandle<()>,
    },
}

impl MigrationLock {
    /// Releases the lock.
    pub async fn release(mut self) -> StoreResult<()> {
        match self.held.take() {
            Some(Held::Postgres(mut conn)) => {
                sqlx::query("SELECT pg_advisory_unlock($1)")
                    .bind(PG_LOCK_KEY)
                    .execute(&mut conn)
                    .await
                    .map_err(db_err)?;
                // Closing ends the session; even if the unlock above had failed, that frees it.
                conn.close().await.map_err(db_err)
            }
            Some(Held::Sqlite { pool, holder, heartbeat }) => {
                heartbeat.abort();
                delete_sqlite_lock_row(&pool, holder).await
            }
            None => Ok(()),
        }
    }
}

impl Drop for MigrationLock {
    fn drop(&mut self) {
        if let Some(Held::Sqlite { pool, holder, heartbeat }) = self.held.take() {
            heartbeat.abort();
            // Best effort: without a runtime the row simply goes stale after 60 s.
            if let Ok(handle) = tokio::runtime::Handle::try_current() {
                handle.spawn(async move {
                    if let Err(err) = delete_sqlite_lock_row(&pool, holder).await {
                        tracing::warn!(error = %err, "could not release the SQLite migration lock");
                    }
                });
            }
        }
        // A PostgreSQL connection dropped here closes its socket, which ends the session lock.
    }
}

async fn delete_sqlite_lock_row(pool: &sqlx::SqlitePool, holder: Uuid) -> StoreResult<()> {
    sqlx::query("DELETE FROM taskify_migration_lock WHERE id = 1 AND holder = $1")
        .bind(DbUuid(holder))
        .execute(pool)
        .await
        .map_err(db_err)?;
    Ok(())
}

impl Store {
    /// Waits for and takes the migration lock.
    pub async fn migration_lock(&self) -> StoreResult<MigrationLock> {
        let held = match &self.db.pool {
            Pool::Postgres(pool) => {
                let mut conn = dedicated_pg_connection(pool).await?;
                // Blocks until the current holder releases it.
                sqlx::query("SELECT pg_advisory_lock($1)")
                    .bind(PG_LOCK_KEY)
                    .execute(&mut conn)
                    .await
                    .map_err(db_err)?;
                Held::Postgres(conn)
            }
            Pool::Sqlite(pool) => {
                let holder = Uuid::new_v4();
                acquire_sqlite_lock_row(pool, holder).await?;
                let heartbeat = tokio::spawn(sqlite_heartbeat(pool.clone(), holder));
                Held::Sqlite { pool: pool.clone(), holder, heartbeat }
            }
        };
        Ok(MigrationLock { held: Some(held) })
    }

    /// Applies pending migrations (schema and seed data). Fails with `SchemaTooNew` when the
    /// database has applied migrations this binary does not contain. Call under the lock.
    pub async fn migrate(&self) -> StoreResult<()> {
        if self.unknown_applied_versions().await? {
            return Err(StoreError::SchemaTooNew);
        }
        match &self.db.pool {
            Pool::Postgres(pool) => {
                // A one-connection pool of its own, without the request statement_timeout: a
                // migration may legitimately run longer than one request. (A pool rather than a
                // bare connection, because `Migrator::run(&mut PgConnection)` is not `Send`.)
                let migration_pool = sqlx::postgres::PgPoolOptions::new()
                    .max_connections(1)
                    .after_connect(|conn, _meta| {
                        Box::pin(async move {
                            sqlx::query("SET statement_timeout = 0").execute(conn).await?;
                            Ok(())
                        })
                    })
                    .connect_with((*pool.connect_options()).clone())
                    .await
                    .map_err(connect_err)?;
                let result = POSTGRES_MIGRATIONS.run(&migration_pool).await;
                migration_pool.close().await;
                result.map_err(migrate_err)
            }
            Pool::Sqlite(pool) => SQLITE_MIGRATIONS.run(pool).await.map_err(migrate_err),
        }
    }

    /// True when the binary has migrations the database has not applied.
    pub async fn migrations_pending(&self) -> StoreResult<bool> {
        let applied = self.applied_versions().await?;
        Ok(self.embedded_versions().iter().any(|v| !applied.contains(v)))
    }

    fn migrator(&self) -> &'static Migrator {
        match self.db.pool {
            Pool::Postgres(_) => &POSTGRES_MIGRATIONS,
            Pool::Sqlite(_) => &SQLITE_MIGRATIONS,
        }
    }

    fn embedded_versions(&self) -> BTreeSet<i64> {
        self.migrator().iter().filter(|m| !m.migration_type.is_down_migration()).map(|m| m.version).collect()
    }

    /// True when the database has applied a migration this binary does not have.
    async fn unknown_applied_versions(&self) -> StoreResult<bool> {
        let embedded = self.embedded_versions();
        Ok(self.applied_versions().await?.iter().any(|v| !embedded.contains(v)))
    }

    /// Successfully applied migration versions; empty when the bookkeeping table does not exist.
    async fn applied_versions(&self) -> StoreResult<BTreeSet<i64>> {
        on_db!(&self.db, |pool, d| {
            let table_exists = match d {
                crate::dialect::Dialect::Postgres => {
                    "SELECT COUNT(*) FROM information_schema.tables \
                     WHERE table_schema = current_schema() AND table_name = '_sqlx_migrations'"
                }
                crate::dialect::Dialect::Sqlite => {
                    "SELECT COUNT(*) FROM sqlite_master \
                     WHERE type = 'table' AND name = '_sqlx_migrations'"
                }
            };
            let count: i64 = sqlx::query_scalar(table_exists).fetch_one(pool).await.map_err(db_err)?;
            if count == 0 {
                return Ok(BTreeSet::new());
            }
            let versions: Vec<i64> = sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success")
                .fetch_all(pool)
                .await
                .map_err(db_err)?;
            Ok(versions.into_iter().collect())
        })
    }
}

/// A PostgreSQL session outside the pool, without a statement timeout.
async fn dedicated_pg_connection(pool: &sqlx::PgPool) -> StoreResult<sqlx::PgConnection> {
    let options = pool.connect_options();
    let mut conn = sqlx::PgConnection::connect_with(&options).await.map_err(connect_err)?;
    sqlx::query("SET statement_timeout = 0").execute(&mut conn).await.map_err(db_err)?;
    Ok(conn)
}

fn migrate_err(err: MigrateError) -> StoreError {
    match err {
        // The database carries a version this binary does not know.
        MigrateError::VersionMissing(_) => StoreError::SchemaTooNew,
        MigrateError::Execute(e) if is_unavailable(&e) => StoreError::Unavailable(e),
        other => StoreError::Migrate(other),
    }
}

/// Takes the lock row, waiting while another live holder has it. A row whose holder has not
/// refreshed it for 60 s is taken over.
async fn acquire_sqlite_lock_row(pool: &sqlx::SqlitePool, holder: Uuid) -> StoreResult<()> {
    sqlx::query(SQLITE_LOCK_TABLE).execute(pool).await.map_err(db_err)?;
    loop {
        let now = time::now();
        let taken = sqlx::query(
            "INSERT INTO taskify_migration_lock (id, holder, acquired_at) VALUES (1, $1, $2) \
             ON CONFLICT (id) DO UPDATE SET holder = excluded.holder, \
                 acquired_at = excluded.acquired_at \
             WHERE taskify_migration_lock.acquired_at < $3",
        )
        .bind(DbUuid(holder))
        .bind(DbTime(now))
        .bind(DbTime(now - SQLITE_LOCK_STALE_AFTER))
        .execute(pool)
        .await
        .map_err(db_err)?
        .rows_affected();
        if taken == 1 {
            return Ok(());
        }
        tokio::time::sleep(SQLITE_LOCK_POLL).await;
    }
}

/// Keeps the lock row fresh while it is held; aborted on release.
async fn sqlite_heartbeat(pool: sqlx::SqlitePool, holder: Uuid) {
    loop {
        tokio::time::sleep(SQLITE_LOCK_HEARTBEAT).await;
        let refreshed = sqlx::query("UPDATE taskify_migration_lock SET acquired_at = $2 WHERE id = 1 AND holder = $1")
            .bind(DbUuid(holder))
            .bind(DbTime(time::now()))
            .execute(&pool)
            .await;
        if let Err(err) = refreshed {
            tracing::warn!(error = %err, "could not refresh the SQLite migration lock");
        }
    }
}
