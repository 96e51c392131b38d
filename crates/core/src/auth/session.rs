//! Sessions: issuing token pairs, refresh-token rotation with its grace window and reuse
//! detection, and logout.
//!
//! Rotation is one store transaction that re-checks the parent and its family under lock (see
//! `Store::rotate_refresh_token`), so a reuse detection, a logout or a password change that
//! commits at the same moment can never leave a live token in a revoked family. Security events
//! (reuse, logout) are audited before their effect, so a full audit buffer answers 503 with
//! nothing changed.

use super::{AuthService, TokenPair, bearer_token, refresh};
use crate::config::chrono_duration;
use crate::context::RequestContext;
use crate::error::{AuthFailure, CoreError, CoreResult};
use crate::input::{Field, JsonInput};
use taskify_domain::metric_names as names;
use taskify_domain::{Decision, Principal, Timestamp, time};
use taskify_store::{RefreshToken, RevokedJti, Rotation};
use uuid::Uuid;

/// What a new session is made of, before anything is stored.
struct NewSession {
    tokens: TokenPair,
    row: RefreshToken,
}

impl AuthService {
    /// Signs an access token and draws a refresh token for `principal`, and builds the row to
    /// store. `family` is `(family_id, parent_id)` on rotation; `None` starts a new family.
    fn new_session(
        &self,
        principal: &Principal,
        family: Option<(Uuid, Uuid)>,
        now: Timestamp,
        ctx: &RequestContext,
    ) -> CoreResult<NewSession> {
        let access = self
            .jwt
            .issue(principal.user_id, &principal.role_names(), &principal.permission_names(), now.timestamp())
            .map_err(|e| CoreError::internal("sign access token", e))?;
        let refresh_token = refresh::generate();
        let id = Uuid::now_v7();
        let (family_id, parent_id) = family.map_or((id, None), |(f, p)| (f, Some(p)));
        let refresh_ttl = chrono_duration(self.config.refresh_token_ttl);
        let row = RefreshToken {
            id,
            user_id: principal.user_id,
            family_id,
            parent_id,
            token_hash: refresh::fingerprint(&refresh_token),
            access_jti: Some(access.jti),
            // The token's own `exp`: revocations must outlive it even if the TTL is lowered later.
            access_expires_at: Some(
                chrono::DateTime::from_timestamp(access.expires_at_unix, 0)
                    .unwrap_or(now + chrono_duration(self.config.access_token_ttl)),
            ),
            issued_at: now,
            expires_at: now + refresh_ttl,
            used_at: None,
            revoked_at: None,
            revoke_reason: None,
            ip_address: ctx.client_ip.clone(),
            user_agent: ctx.user_agent_truncated(),
        };
        let tokens = TokenPair {
            access_token: access.token,
            refresh_token,
            token_type: "Bearer",
            expires_in: self.jwt.ttl_secs(),
            refresh_expires_in: refresh_ttl.num_seconds(),
        };
        Ok(NewSession { tokens, row })
    }

    /// Starts a new family (login, password change) and returns its first token pair.
    pub(super) async fn start_session(&self, principal: &Principal, ctx: &RequestContext) -> CoreResult<TokenPair> {
        let session = self.new_session(principal, None, time::now(), ctx)?;
        self.store.insert_refresh_token(&session.row).await?;
        Ok(session.tokens)
    }

    /// Reads the `refresh_token` member of a refresh body (required string, 1–512 characters).
    pub fn refresh_token_member(mut body: JsonInput) -> CoreResult<String> {
        let token = body.string("refresh_token");
        body.finish()?;
        match token {
            Field::Value(t) if (1..=512).contains(&t.chars().count()) => Ok(t),
            Field::Value(_) => Err(CoreError::field("refresh_token", "must be between 1 and 512 characters")),
            _ => Err(CoreError::field("refresh_token", "is required")),
        }
    }

    /// Reads the `refresh_token` member of a logout body: any string (the body limit bounds it).
    /// Logout answers the same for every string, known or not, so a length rule would only
    /// tell a caller something about the token without protecting anything.
    pub fn logout_token_member(mut body: JsonInput) -> CoreResult<String> {
        let token = body.string("refresh_token");
        body.finish()?;
        token.into_option().ok_or_else(|| CoreError::field("refresh_token", "is required"))
    }

    /// `POST /auth/refresh`: rotation with a grace window and reuse detection.
    pub async fn refresh(&self, token: &str, ctx: &RequestContext) -> CoreResult<TokenPair> {
        let invalid = || {
            metrics::counter!(names::AUTH_TOKEN_REFRESH_TOTAL, "result" => "invalid").increment(1);
            CoreError::Unauthenticated(AuthFailure::InvalidRefreshToken)
        };
        let now = time::now();
        let grace = chrono_duration(self.config.refresh_reuse_grace);
        let Some(row) = self.store.find_refresh_token(&refresh::fingerprint(token)).await? else {
            return Err(invalid());
        };
        if row.revoked_at.is_some() || row.expires_at <= now {
            return Err(invalid());
        }
        // Reuse is judged before the account state, as the rotation transaction judges it again.
        if let Some(used_at) = row.used_at
            && !Rotation::within_grace(used_at, now, grace)
        {
            return Err(self.reuse_detected(&row, now, ctx).await?);
        }
        let principal = match self.store.load_principal(row.user_id, now).await? {
            Some(p) if !p.deleted => p,
            _ => return Err(invalid()),
        };
        if !principal.active {
            metrics::counter!(names::AUTH_TOKEN_REFRESH_TOTAL, "result" => "disabled").increment(1);
            return Err(CoreError::AccountDisabled);
        }
        let session = self.new_session(&principal, Some((row.family_id, row.id)), now, ctx)?;
        match self.store.rotate_refresh_token(&row, &session.row, now, grace).await? {
            Rotation::Rotated => {
                metrics::counter!(names::AUTH_TOKEN_REFRESH_TOTAL, "result" => "success").increment(1);
                Ok(session.tokens)
            }
            Rotation::Invalid => Err(invalid()),
            // Another request rotated it first, longer ago than the grace window allows.
            Rotation::Reused => Err(self.reuse_detected(&row, now, ctx).await?),
        }
    }

    /// Audits the reuse, then revokes the whole family and its live access tokens, and returns
    /// the error to answer with. The audit comes first so that a full audit buffer (503) leaves
    /// the family as it was.
    async fn reuse_detected(&self, row: &RefreshToken, now: Timestamp, ctx: &RequestContext) -> CoreResult<CoreError> {
        self.audit_event(
            Some(row.user_id),
            "auth:refresh_reuse",
            Decision::Denied,
            "refresh token reuse detected",
            ctx,
        )
        .await?;
        let access_ttl = chrono_duration(self.config.access_token_ttl);
        let revoked = self.store.revoke_refresh_family(row.family_id, "reuse_detected", now, access_ttl).await?;
        self.caching.revoked(&revoked).await;
        self.events.revoked(&revoked).await;
        metrics::counter!(names::AUTH_TOKEN_REFRESH_TOTAL, "result" => "reuse_detected").increment(1);
        Ok(CoreError::Unauthenticated(AuthFailure::InvalidRefreshToken))
    }

    /// `POST /auth/logout`: revokes the presented family and, when a valid access token is
    /// presented too, its jti. Always succeeds once the body is valid; audited before it
    /// revokes anything.
    pub async fn logout(&self, token: &str, authorization: Option<&str>, ctx: &RequestContext) -> CoreResult<()> {
        let now = time::now();
        let row = self.store.find_refresh_token(&refresh::fingerprint(token)).await?;
        let claims = bearer_token(authorization).ok().and_then(|t| self.jwt.verify(t, now.timestamp()).ok());
        let user_id = row.as_ref().map(|r| r.user_id).or(claims.as_ref().map(|c| c.user_id));
        self.audit_event(user_id, "auth:logout", Decision::Allowed, "logout", ctx).await?;

        let access_ttl = chrono_duration(self.config.access_token_ttl);
        if let Some(row) = row {
            let revoked = self.store.revoke_refresh_family(row.family_id, "logout", now, access_ttl).await?;
            self.caching.revoked(&revoked).await;
            self.events.revoked(&revoked).await;
        }
        if let Some(claims) = claims {
            let expires_at = chrono::DateTime::from_timestamp(claims.exp, 0).unwrap_or(now);
            let revoked = RevokedJti { jti: claims.jti, user_id: claims.user_id, expires_at };
            self.store.revoke_access_token(&revoked, now).await?;
            let revoked = [revoked];
            self.caching.revoked(&revoked).await;
            self.events.revoked(&revoked).await;
        }
        metrics::counter!(names::AUTH_LOGOUTS_TOTAL).increment(1);
        Ok(())
    }
}
