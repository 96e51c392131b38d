//! Revoking refresh tokens together with the access tokens issued alongside them, inside a
//! caller's transaction. Shared by logout / reuse detection, password change and user deletion.

use crate::error::db_err;
use crate::types::{DbTime, DbUuid};
use crate::{RevokedJti, StoreResult, Ttl};
use taskify_domain::Timestamp;
use uuid::Uuid;

/// Which refresh tokens to revoke.
#[derive(Debug, Clone, Copy)]
pub(crate) enum RevokeScope {
    /// Every token of a login family; the access tokens of *all* its rows are revoked (a
    /// rotated or already revoked row may still have a live access token).
    Family(Uuid),
    /// Every unrevoked token of a user; the access tokens of those rows are revoked.
    User(Uuid),
}

/// Operations on an open transaction's connection, implemented for both backends.
pub(crate) trait Revocation {
    /// Sets `revoked_at` / `revoke_reason` on the unrevoked tokens of `scope` and records in
    /// `revoked_access_tokens` each access jti whose token (issued_at + `access_ttl`) has not
    /// expired yet. Returns those jtis for cache publication.
    async fn revoke_refresh_tokens(
        &mut self,
        scope: RevokeScope,
        reason: &str,
        now: Timestamp,
        access_ttl: Ttl,
    ) -> StoreResult<Vec<RevokedJti>>;
}

#[derive(sqlx::FromRow)]
struct LiveAccessRow {
    access_jti: DbUuid,
    user_id: DbUuid,
    issued_at: DbTime,
}

macro_rules! impl_revocation {
    ($conn:ty) => {
        impl Revocation for $conn {
            async fn revoke_refresh_tokens(
                &mut self,
                scope: RevokeScope,
                reason: &str,
                now: Timestamp,
                access_ttl: Ttl,
            ) -> StoreResult<Vec<RevokedJti>> {
                let (owner, select_sql, update_sql) = match scope {
                    RevokeScope::Family(id) => (
                        id,
                        "SELECT access_jti, user_id, issued_at FROM refresh_tokens \
                         WHERE family_id = $1 AND access_jti IS NOT NULL AND issued_at > $2 \
                         ORDER BY issued_at, id",
                        "UPDATE refresh_tokens SET revoked_at = $2, revoke_reason = $3 \
                         WHERE family_id = $1 AND revoked_at IS NULL",
                    ),
                    RevokeScope::User(id) => (
                        id,
                        "SELECT access_jti, user_id, issued_at FROM refresh_tokens \
                         WHERE user_id = $1 AND revoked_at IS NULL AND access_jti IS NOT NULL \
                           AND issued_at > $2 \
                         ORDER BY issued_at, id",
                        "UPDATE refresh_tokens SET revoked_at = $2, revoke_reason = $3 \
                         WHERE user_id = $1 AND revoked_at IS NULL",
                    ),
                };
                // An access token issued at `issued_at` lives until issued_at + access_ttl.
                let live: Vec<LiveAccessRow> = sqlx::query_as(select_sql)
                    .bind(DbUuid(owner))
                    .bind(DbTime(now - access_ttl))
                    .fetch_all(&mut *self)
                    .await
                    .map_err(db_err)?;
                sqlx::query(update_sql)
                    .bind(DbUuid(owner))
                    .bind(DbTime(now))
                    .bind(reason)
                    .execute(&mut *self)
                    .await
                    .map_err(db_err)?;
                let mut revoked = Vec::with_capacity(live.len());
                for row in live {
                    let jti = RevokedJti {
                        jti: row.access_jti.0,
                        user_id: row.user_id.0,
                        expires_at: row.issued_at.0 + access_ttl,
                    };
                    sqlx::query(INSERT_REVOKED_ACCESS)
                        .bind(DbUuid(jti.jti))
                        .bind(DbUuid(jti.user_id))
                        .bind(DbTime(jti.expires_at))
                        .bind(DbTime(now))
                        .execute(&mut *self)
                        .await
                        .map_err(db_err)?;
                    revoked.push(jti);
                }
                Ok(revoked)
            }
        }
    };
}

impl_revocation!(sqlx::PgConnection);
impl_revocation!(sqlx::SqliteConnection);

/// Records one revoked access token; a second revocation of the same jti changes nothing.
pub(crate) const INSERT_REVOKED_ACCESS: &str = "INSERT INTO revoked_access_tokens (jti, user_id, expires_at, revoked_at) \
     VALUES ($1, $2, $3, $4) ON CONFLICT (jti) DO NOTHING";
