//! Revoking refresh tokens together with the access tokens issued alongside them, inside a
//! caller's transaction. Shared by logout / reuse detection, password change and user deletion.

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
    // The signature is repeated in `impl_revocation!` below, which implements it for both backends.
    /// Sets `revoked_at` / `revoke_reason` on the unrevoked tokens of `scope` and records in
    /// `revoked_access_tokens` each access jti whose token has not expired yet, until that
    /// token's own expiry (`access_expires_at`; `issued_at + access_ttl` for rows written
    /// without it). Returns those jtis for cache publication.
    ///
    /// On PostgreSQL the user row is locked first (`FOR NO KEY UPDATE`), which waits for every
    /// rotation of that user in flight (they hold it `FOR SHARE`) and keeps new ones out until
    /// commit; the later statements then see every child those rotations inserted. On SQLite
    /// the caller's `BEGIN IMMEDIATE` already serialises them.
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
    access_expires_at: Option<DbTime>,
}

/// The statements of one scope: user lock (PostgreSQL only), live access tokens, revocation.
struct ScopeSql {
    lock: &'static str,
    live: &'static str,
    revoke: &'static str,
}

fn scope_sql(scope: RevokeScope) -> (Uuid, ScopeSql) {
    // $1 owner, $2 now, $3 now - access_ttl (for rows without a stored access expiry).
    match scope {
        RevokeScope::Family(id) => (
            id,
            ScopeSql {
                lock: "SELECT u.id FROM users u \
                       WHERE u.id IN (SELECT user_id FROM refresh_tokens WHERE family_id = $1) \
                       FOR NO KEY UPDATE OF u",
                live: "SELECT access_jti, user_id, issued_at, access_expires_at FROM refresh_tokens \
                       WHERE family_id = $1 AND access_jti IS NOT NULL \
                         AND (access_expires_at > $2 OR (access_expires_at IS NULL AND issued_at > $3)) \
                       ORDER BY issued_at, id",
                revoke: "UPDATE refresh_tokens SET revoked_at = $2, revoke_reason = $3 \
                         WHERE family_id = $1 AND revoked_at IS NULL",
            },
        ),
        RevokeScope::User(id) => (
            id,
            ScopeSql {
                lock: "SELECT id FROM users WHERE id = $1 FOR NO KEY UPDATE",
                live: "SELECT access_jti, user_id, issued_at, access_expires_at FROM refresh_tokens \
                       WHERE user_id = $1 AND revoked_at IS NULL AND access_jti IS NOT NULL \
                         AND (access_expires_at > $2 OR (access_expires_at IS NULL AND issued_at > $3)) \
                       ORDER BY issued_at, id",
                revoke: "UPDATE refresh_tokens SET revoked_at = $2, revoke_reason = $3 \
                         WHERE user_id = $1 AND revoked_at IS NULL",
            },
        ),
    }
}

/// The trait's signature repeats in the macro below: the macro is the one implementation, stamped
/// out for each backend's connection type.
macro_rules! impl_revocation {
    ($conn:ty, lock_user = $lock_user:expr) => {
        impl Revocation for $conn {
            // The trait's signature again: this macro implements it once per backend connection.
            async fn revoke_refresh_tokens(
                &mut self,
                scope: RevokeScope,
                reason: &str,
                now: Timestamp,
                access_ttl: Ttl,
            ) -> StoreResult<Vec<RevokedJti>> {
                let (owner, sql) = scope_sql(scope);
                if $lock_user {
                    sqlx::query(sql.lock).bind(DbUuid(owner)).execute(&mut *self).await?;
                }
                let live: Vec<LiveAccessRow> = sqlx::query_as(sql.live)
                    .bind(DbUuid(owner))
                    .bind(DbTime(now))
                    .bind(DbTime(now - access_ttl))
                    .fetch_all(&mut *self)
                    .await?;
                sqlx::query(sql.revoke).bind(DbUuid(owner)).bind(DbTime(now)).bind(reason).execute(&mut *self).await?;
                let mut revoked = Vec::with_capacity(live.len());
                for row in live {
                    let jti = RevokedJti {
                        jti: row.access_jti.0,
                        user_id: row.user_id.0,
                        expires_at: row.access_expires_at.map_or(row.issued_at.0 + access_ttl, |t| t.0),
                    };
                    sqlx::query(INSERT_REVOKED_ACCESS)
                        .bind(DbUuid(jti.jti))
                        .bind(DbUuid(jti.user_id))
                        .bind(DbTime(jti.expires_at))
                        .bind(DbTime(now))
                        .execute(&mut *self)
                        .await?;
                    revoked.push(jti);
                }
                Ok(revoked)
            }
        }
    };
}

impl_revocation!(sqlx::PgConnection, lock_user = true);
impl_revocation!(sqlx::SqliteConnection, lock_user = false);

/// Records one revoked access token; a second revocation of the same jti changes nothing.
pub(crate) const INSERT_REVOKED_ACCESS: &str = "INSERT INTO revoked_access_tokens (jti, user_id, expires_at, revoked_at) \
     VALUES ($1, $2, $3, $4) ON CONFLICT (jti) DO NOTHING";
