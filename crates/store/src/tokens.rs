//! Refresh tokens (rotation, families) and revoked access tokens.

mod rotation;

use crate::revocation::{INSERT_REVOKED_ACCESS, Revocation, RevokeScope};
use crate::types::{DbTime, DbUuid, opt_time, opt_uuid};
use crate::{RefreshToken, RevokedJti, Store, StoreResult, Ttl};
use taskify_domain::Timestamp;
use uuid::Uuid;

#[derive(sqlx::FromRow)]
struct RefreshTokenRow {
    id: DbUuid,
    user_id: DbUuid,
    family_id: DbUuid,
    parent_id: Option<DbUuid>,
    token_hash: String,
    access_jti: Option<DbUuid>,
    access_expires_at: Option<DbTime>,
    issued_at: DbTime,
    expires_at: DbTime,
    used_at: Option<DbTime>,
    revoked_at: Option<DbTime>,
    revoke_reason: Option<String>,
    ip_address: Option<String>,
    user_agent: Option<String>,
}

impl From<RefreshTokenRow> for RefreshToken {
    fn from(r: RefreshTokenRow) -> Self {
        Self {
            id: r.id.0,
            user_id: r.user_id.0,
            family_id: r.family_id.0,
            parent_id: opt_uuid(r.parent_id),
            token_hash: r.token_hash,
            access_jti: opt_uuid(r.access_jti),
            access_expires_at: opt_time(r.access_expires_at),
            issued_at: r.issued_at.0,
            expires_at: r.expires_at.0,
            used_at: opt_time(r.used_at),
            revoked_at: opt_time(r.revoked_at),
            revoke_reason: r.revoke_reason,
            ip_address: r.ip_address,
            user_agent: r.user_agent,
        }
    }
}

impl Store {
    /// Stores a refresh-token row as given (login starts a family, rotation adds a child).
    /// A duplicate `token_hash` is a `Conflict(Other)`.
    pub async fn insert_refresh_token(&self, token: &RefreshToken) -> StoreResult<()> {
        on_db!(&self.db, |pool, _d| {
            sqlx::query(
                "INSERT INTO refresh_tokens (id, user_id, family_id, parent_id, token_hash, \
                     access_jti, issued_at, expires_at, used_at, revoked_at, revoke_reason, \
                     ip_address, user_agent, access_expires_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
            )
            .bind(DbUuid(token.id))
            .bind(DbUuid(token.user_id))
            .bind(DbUuid(token.family_id))
            .bind(token.parent_id.map(DbUuid))
            .bind(&token.token_hash)
            .bind(token.access_jti.map(DbUuid))
            .bind(DbTime(token.issued_at))
            .bind(DbTime(token.expires_at))
            .bind(token.used_at.map(DbTime))
            .bind(token.revoked_at.map(DbTime))
            .bind(&token.revoke_reason)
            .bind(&token.ip_address)
            .bind(&token.user_agent)
            .bind(token.access_expires_at.map(DbTime))
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// The row with this SHA-256 hash, whatever its state (used, revoked, expired): the
    /// caller decides, because reuse detection needs to see used and revoked rows too.
    pub async fn find_refresh_token(&self, token_hash: &str) -> StoreResult<Option<RefreshToken>> {
        let row: Option<RefreshTokenRow> = on_db!(&self.db, |pool, _d| {
            sqlx::query_as(
                "SELECT id, user_id, family_id, parent_id, token_hash, access_jti, access_expires_at, \
                     issued_at, expires_at, used_at, revoked_at, revoke_reason, ip_address, user_agent \
                 FROM refresh_tokens WHERE token_hash = $1",
            )
            .bind(token_hash)
            .fetch_optional(pool)
            .await?
        });
        Ok(row.map(RefreshToken::from))
    }

    /// Revokes every unrevoked token of the family with `reason`, and inserts into
    /// `revoked_access_tokens` the access jti of every row of the family whose access token has
    /// not expired (its stored expiry; `access_ttl` only for rows without one). Returns those
    /// jtis. Serialised with rotations of the same user, so no child can appear in the family
    /// once this commits.
    pub async fn revoke_refresh_family(
        &self,
        // Same kind of parameters (whose tokens, now, access_ttl) as `change_password` in users.rs:
        // both are revoking writes through `Revocation`.
        family_id: Uuid,
        reason: &str,
        now: Timestamp,
        access_ttl: Ttl,
    ) -> StoreResult<Vec<RevokedJti>> {
        on_db!(&self.db, |pool, d| {
            let mut tx = pool.begin_with(d.begin_write()).await?;
            let revoked = tx.revoke_refresh_tokens(RevokeScope::Family(family_id), reason, now, access_ttl).await?;
            tx.commit().await?;
            Ok(revoked)
        })
    }

    /// Records one revoked access token (idempotent).
    pub async fn revoke_access_token(&self, revoked: &RevokedJti, now: Timestamp) -> StoreResult<()> {
        on_db!(&self.db, |pool, _d| {
            sqlx::query(INSERT_REVOKED_ACCESS)
                .bind(DbUuid(revoked.jti))
                .bind(DbUuid(revoked.user_id))
                .bind(DbTime(revoked.expires_at))
                .bind(DbTime(now))
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// True when the jti is in `revoked_access_tokens` (rows are kept until the token's own
    /// expiry, after which the signature check rejects it anyway).
    pub async fn is_access_token_revoked(&self, jti: Uuid) -> StoreResult<bool> {
        let count: i64 = on_db!(&self.db, |pool, _d| {
            sqlx::query_scalar("SELECT COUNT(*) FROM revoked_access_tokens WHERE jti = $1")
                .bind(DbUuid(jti))
                .fetch_one(pool)
                .await?
        });
        Ok(count > 0)
    }
}
