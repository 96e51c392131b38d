//! Refresh-token rotation as one transaction.
//!
//! Marking the parent used and inserting the child must not be separable from the checks that
//! allow them, or a reuse detection, a logout or a password change committing in between leaves
//! a live child in a revoked family. So the checks are repeated inside the writing transaction,
//! under locks that every revocation also takes:
//!
//! - PostgreSQL: the user row is locked `FOR SHARE` (rotations of one user run side by side;
//!   revocations take it `FOR NO KEY UPDATE`, see `revocation.rs`, so the two exclude each
//!   other), then the parent row `FOR UPDATE`, which serialises concurrent rotations of the same
//!   token so that exactly one of them finds it unused.
//! - SQLite: `BEGIN IMMEDIATE` holds the database write lock for the whole transaction.
//!
//! The child is inserted only if no row of its family is revoked, which makes the write itself
//! conditional on the family, not just the earlier read.

use crate::dialect::Dialect;
use crate::error::db_err;
use crate::types::{DbTime, DbUuid};
use crate::{RefreshToken, Rotation, Store, StoreResult, Ttl};
use taskify_domain::Timestamp;

#[derive(sqlx::FromRow)]
struct ParentState {
    family_id: DbUuid,
    used_at: Option<DbTime>,
    revoked_at: Option<DbTime>,
    expires_at: DbTime,
}

/// Excludes revocations of this user's tokens until the rotation commits (PostgreSQL).
const LOCK_USER_SHARED: &str = "SELECT 1 FROM users WHERE id = $1 FOR SHARE";

const PARENT_STATE: &str = "SELECT family_id, used_at, revoked_at, expires_at FROM refresh_tokens WHERE id = $1";
const PARENT_STATE_LOCKED: &str =
    "SELECT family_id, used_at, revoked_at, expires_at FROM refresh_tokens WHERE id = $1 FOR UPDATE";

const MARK_USED: &str = "UPDATE refresh_tokens SET used_at = $2 WHERE id = $1 AND used_at IS NULL";

/// Inserts the (unused, unrevoked) child unless its family holds a revoked row.
const INSERT_CHILD: &str = "INSERT INTO refresh_tokens (id, user_id, family_id, parent_id, token_hash, \
         access_jti, access_expires_at, issued_at, expires_at, ip_address, user_agent) \
     SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11 \
     WHERE NOT EXISTS (SELECT 1 FROM refresh_tokens WHERE family_id = $3 AND revoked_at IS NOT NULL)";

impl Rotation {
    /// True when a token rotated at `used_at` may still be presented at `now`: less than
    /// `grace` ago, and the window is not disabled (zero).
    pub fn within_grace(used_at: Timestamp, now: Timestamp, grace: Ttl) -> bool {
        !grace.is_zero() && now - used_at < grace
    }
}

impl Store {
    /// Rotates `parent` (as read by the caller) into `child`, in one transaction: re-reads the
    /// parent under lock and writes only if it is still unrevoked and unexpired, its family is
    /// unrevoked, and it is either unused (it is then marked used at `now`) or was rotated within
    /// `grace` (the child is then a sibling). A parent rotated longer ago is [`Rotation::Reused`]
    /// and nothing is written. `child` must carry the parent's family and id.
    pub async fn rotate_refresh_token(
        &self,
        parent: &RefreshToken,
        child: &RefreshToken,
        now: Timestamp,
        grace: Ttl,
    ) -> StoreResult<Rotation> {
        on_db!(&self.db, |pool, d| {
            let mut tx = pool.begin_with(d.begin_write()).await.map_err(db_err)?;
            let parent_sql = match d {
                Dialect::Postgres => {
                    sqlx::query(LOCK_USER_SHARED)
                        .bind(DbUuid(parent.user_id))
                        .execute(&mut *tx)
                        .await
                        .map_err(db_err)?;
                    PARENT_STATE_LOCKED
                }
                Dialect::Sqlite => PARENT_STATE,
            };
            let state: Option<ParentState> =
                sqlx::query_as(parent_sql).bind(DbUuid(parent.id)).fetch_optional(&mut *tx).await.map_err(db_err)?;
            // Returning early drops `tx`, which rolls it back.
            let Some(state) = state else {
                return Ok(Rotation::Invalid);
            };
            if state.revoked_at.is_some() || state.expires_at.0 <= now || state.family_id.0 != child.family_id {
                return Ok(Rotation::Invalid);
            }
            match state.used_at {
                Some(used_at) if !Rotation::within_grace(used_at.0, now, grace) => return Ok(Rotation::Reused),
                Some(_) => {}
                None => {
                    sqlx::query(MARK_USED)
                        .bind(DbUuid(parent.id))
                        .bind(DbTime(now))
                        .execute(&mut *tx)
                        .await
                        .map_err(db_err)?;
                }
            }
            let inserted = sqlx::query(INSERT_CHILD)
                .bind(DbUuid(child.id))
                .bind(DbUuid(child.user_id))
                .bind(DbUuid(child.family_id))
                .bind(DbUuid(parent.id))
                .bind(&child.token_hash)
                .bind(child.access_jti.map(DbUuid))
                .bind(child.access_expires_at.map(DbTime))
                .bind(DbTime(child.issued_at))
                .bind(DbTime(child.expires_at))
                .bind(&child.ip_address)
                .bind(&child.user_agent)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?
                .rows_affected();
            if inserted != 1 {
                return Ok(Rotation::Invalid);
            }
            tx.commit().await.map_err(db_err)?;
            Ok(Rotation::Rotated)
        })
    }
}
