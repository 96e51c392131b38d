//! The last-admin rule (docs/http-contract.md#administration): no write may leave the system without an active admin.
//!
//! An *active admin* is a non-deleted, active user with an active `admin` assignment. Only a
//! permanent assignment (no `expires_at`) counts as the admin that lets another one go: a
//! time-limited grant lapses on its own, and the system would then be left without one. The check
//! and the write must be atomic, or two admins deactivating each other at once would both pass.
//! PostgreSQL: every guarded transaction first takes one transaction-scoped advisory lock, so
//! they run one after another (each later statement sees the earlier commits, READ COMMITTED).
//! SQLite: guarded transactions start with `BEGIN IMMEDIATE`, which already serialises writers.

use crate::StoreResult;
use crate::types::{DbTime, DbUuid};
use taskify_domain::Timestamp;
use uuid::Uuid;

/// Key of the advisory lock that serialises last-admin checks ("admins" in ASCII).
const ADMIN_LOCK_KEY: i64 = 0x0000_6164_6d69_6e73;

/// Whether the target user is an active admin (through any active grant), and how many other
/// users are active admins through a permanent grant.
const ADMIN_COUNTS: &str = "SELECT \
       (SELECT COUNT(*) FROM users u \
        WHERE u.id = $1 AND u.deleted_at IS NULL AND u.is_active \
          AND EXISTS (SELECT 1 FROM user_roles ur JOIN roles r ON r.id = ur.role_id \
                      WHERE ur.user_id = u.id AND r.name = 'admin' AND ur.revoked_at IS NULL \
                        AND (ur.expires_at IS NULL OR ur.expires_at > $2))) AS target, \
       (SELECT COUNT(*) FROM users u \
        WHERE u.id <> $1 AND u.deleted_at IS NULL AND u.is_active \
          AND EXISTS (SELECT 1 FROM user_roles ur JOIN roles r ON r.id = ur.role_id \
                      WHERE ur.user_id = u.id AND r.name = 'admin' AND ur.revoked_at IS NULL \
                        AND ur.expires_at IS NULL)) AS others";

/// Last-admin checks on an open write transaction.
pub(crate) trait AdminGuard {
    /// Serialises guarded transactions. Call first thing in the transaction.
    async fn lock_admin_set(&mut self) -> StoreResult<()>;

    /// True when `user_id` is an active admin and nobody else is one through a permanent grant,
    /// so that removing their admin status (deactivation, deletion, revoking `admin`) would
    /// leave no active admin, at once or when the remaining time-limited grants lapse.
    async fn is_last_active_admin(&mut self, user_id: Uuid, now: Timestamp) -> StoreResult<bool>;

    /// `Some(is_active)` for a user that exists and is not deleted, read inside the guarded
    /// transaction so the decision and the write see the same row; `None` otherwise.
    async fn live_user_is_active(&mut self, user_id: Uuid) -> StoreResult<Option<bool>>;
}

macro_rules! impl_admin_guard {
    ($conn:ty, |$this:ident| $lock:expr) => {
        impl AdminGuard for $conn {
            async fn lock_admin_set(&mut self) -> StoreResult<()> {
                let $this = self;
                $lock
            }

            async fn is_last_active_admin(&mut self, user_id: Uuid, now: Timestamp) -> StoreResult<bool> {
                let (target, others): (i64, i64) =
                    sqlx::query_as(ADMIN_COUNTS).bind(DbUuid(user_id)).bind(DbTime(now)).fetch_one(&mut *self).await?;
                Ok(target > 0 && others == 0)
            }

            async fn live_user_is_active(&mut self, user_id: Uuid) -> StoreResult<Option<bool>> {
                let state: Option<(bool, Option<DbTime>)> =
                    sqlx::query_as("SELECT is_active, deleted_at FROM users WHERE id = $1")
                        .bind(DbUuid(user_id))
                        .fetch_optional(&mut *self)
                        .await?;
                Ok(state.and_then(|(is_active, deleted_at)| deleted_at.is_none().then_some(is_active)))
            }
        }
    };
}

impl_admin_guard!(sqlx::PgConnection, |conn| {
    sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(ADMIN_LOCK_KEY).execute(conn).await?;
    Ok(())
});

// `BEGIN IMMEDIATE` took the database write lock already.
impl_admin_guard!(sqlx::SqliteConnection, |_conn| Ok(()));
