//! Authentication (SPEC §4): registration, login with throttling, refresh-token rotation with
//! reuse detection, logout, password changes, and the per-request token guard.

pub mod jwt;
pub mod password;
pub mod refresh;
pub mod throttle;

use crate::access::Access;
use crate::cached::Caching;
use crate::config::{CoreConfig, chrono_duration};
use crate::context::RequestContext;
use crate::error::{AuthFailure, CoreError, CoreResult, Violations};
use crate::input::{Field, JsonInput};
use crate::validate;
use jwt::{AccessClaims, JwtCodec};
use password::{PasswordHasherPool, Verified};
use serde::Serialize;
use std::sync::Arc;
use taskify_domain::{AttributeValue, Decision, Principal, Timestamp, User, time};
use taskify_store::{NewAttribute, NewUser, RefreshToken, RevokedJti, Store, StoreError, UniqueViolation};
use throttle::LoginThrottle;
use uuid::Uuid;

pub const MSG_EMAIL_TAKEN: &str = "An account with this email already exists";
pub const MSG_USERNAME_TAKEN: &str = "This username is already taken";

/// The token members of login, refresh and password-change answers.
#[derive(Debug, Clone, Serialize)]
pub struct TokenPair {
    pub access_token: String,
    pub refresh_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    pub refresh_expires_in: i64,
}

/// A successful login.
#[derive(Debug, Clone)]
pub struct LoginOutcome {
    pub tokens: TokenPair,
    pub user: User,
    pub permissions: Vec<String>,
}

/// Validated registration fields.
#[derive(Debug, Clone)]
pub struct Registration {
    pub username: String,
    pub email: String,
    pub password: String,
    pub first_name: String,
    pub last_name: String,
    pub department: Option<String>,
    pub position: Option<String>,
}

impl Registration {
    /// Reads and validates a register body (SPEC §1.2), reporting every failing field.
    pub fn from_json(mut body: JsonInput) -> CoreResult<Self> {
        let fields = ["username", "email", "password", "first_name", "last_name"].map(|f| body.string(f));
        let department = body.string("department");
        let position = body.string("position");
        body.finish()?;
        let mut v = Violations::default();
        let [username, email, password, first_name, last_name] = fields.map(Field::into_option);
        let trim = |s: &str| s.trim().to_owned();
        let username = required(&mut v, "username", username, trim, validate::username_problem);
        let email = required(&mut v, "email", email, validate::normalise_email, validate::email_problem);
        let password = required(&mut v, "password", password, str::to_owned, validate::password_problem);
        let first_name = required(&mut v, "first_name", first_name, trim, validate::name_problem);
        let last_name = required(&mut v, "last_name", last_name, trim, validate::name_problem);
        let department = validate::optional_trimmed(department.into_option().as_deref());
        let position = validate::optional_trimmed(position.into_option().as_deref());
        if let Some(d) = &department {
            v.check("department", validate::org_field_problem(d));
        }
        if let Some(p) = &position {
            v.check("position", validate::org_field_problem(p));
        }
        v.finish(Self { username, email, password, first_name, last_name, department, position })
    }
}

/// A required string member: `is required` when absent or null, else normalised and checked.
pub(crate) fn required(
    v: &mut Violations,
    name: &str,
    value: Option<String>,
    normalise: impl Fn(&str) -> String,
    rule: impl Fn(&str) -> Option<String>,
) -> String {
    match value {
        None => {
            v.add(name, "is required");
            String::new()
        }
        Some(raw) => {
            let value = normalise(&raw);
            v.check(name, rule(&value));
            value
        }
    }
}

/// Authentication use cases.
#[derive(Clone)]
pub struct AuthService {
    store: Store,
    jwt: Arc<JwtCodec>,
    passwords: PasswordHasherPool,
    throttle: Arc<LoginThrottle>,
    access: Access,
    caching: Caching,
    config: Arc<CoreConfig>,
}

/// Splits `Bearer <token>` (checks 1–2 of SPEC §4.1).
pub fn bearer_token(header: Option<&str>) -> Result<&str, AuthFailure> {
    let header = header.map(str::trim_end).filter(|h| !h.is_empty()).ok_or(AuthFailure::MissingToken)?;
    match header.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") && !token.is_empty() && !token.contains(' ') => {
            Ok(token)
        }
        _ => Err(AuthFailure::InvalidTokenFormat),
    }
}

impl AuthService {
    pub fn new(
        store: Store,
        passwords: PasswordHasherPool,
        access: Access,
        caching: Caching,
        config: Arc<CoreConfig>,
    ) -> CoreResult<Self> {
        let jwt = JwtCodec::new(&config.jwt_secret, config.access_token_ttl)
            .map_err(|e| CoreError::internal("JWT key", e))?;
        let throttle = LoginThrottle::new(config.throttle.clone(), caching.cache().redis());
        Ok(Self { store, jwt: Arc::new(jwt), passwords, throttle: Arc::new(throttle), access, caching, config })
    }

    pub fn passwords(&self) -> &PasswordHasherPool {
        &self.passwords
    }

    /// `POST /auth/register`: creates an active user with the role `user` and the registration
    /// attributes, in one transaction. Duplicates answer 409 (email first).
    pub async fn register(&self, reg: Registration) -> CoreResult<User> {
        match self.store.find_taken(&reg.email, &reg.username).await? {
            Some(UniqueViolation::Email) => return Err(CoreError::Conflict(MSG_EMAIL_TAKEN)),
            Some(UniqueViolation::Username) => return Err(CoreError::Conflict(MSG_USERNAME_TAKEN)),
            _ => {}
        }
        let hash = self.passwords.hash(&reg.password).await?;
        let attrs = [
            ("account_type", AttributeValue::String("standard".into())),
            ("clearance_level", AttributeValue::Number(1.into())),
        ]
        .map(|(key, value)| NewAttribute {
            key: key.into(),
            value,
            source: "registration".into(),
            expires_at: None,
        });
        self.create_user(&reg, hash, &["user"], &attrs).await
    }

    /// Inserts a user, mapping unique violations to the spec's 409 messages.
    pub async fn create_user(
        &self,
        reg: &Registration,
        password_hash: String,
        roles: &[&str],
        attributes: &[NewAttribute],
    ) -> CoreResult<User> {
        let new = NewUser {
            id: Uuid::now_v7(),
            username: reg.username.clone(),
            email: reg.email.clone(),
            password_hash,
            first_name: reg.first_name.clone(),
            last_name: reg.last_name.clone(),
            department: reg.department.clone(),
            position: reg.position.clone(),
            created_at: time::now(),
        };
        match self.store.create_user(&new, roles, attributes).await {
            Ok(user) => Ok(user),
            Err(StoreError::Conflict(UniqueViolation::Email)) => Err(CoreError::Conflict(MSG_EMAIL_TAKEN)),
            Err(StoreError::Conflict(UniqueViolation::Username)) => Err(CoreError::Conflict(MSG_USERNAME_TAKEN)),
            Err(e) => Err(e.into()),
        }
    }

    /// `POST /auth/login` (SPEC §1.2, §4.4).
    pub async fn login(&self, mut body: JsonInput, ctx: &RequestContext) -> CoreResult<LoginOutcome> {
        let email = body.string("email").into_option();
        let password = body.string("password").into_option();
        body.finish()?;
        let mut v = Violations::default();
        let email = required(&mut v, "email", email, validate::normalise_email, validate::email_problem);
        let password = required(&mut v, "password", password, str::to_owned, validate::login_password_problem);
        v.finish(())?;

        let ip = ctx.client_ip.clone().unwrap_or_default();
        if let Err(retry_after_secs) = self.throttle.check(&email, &ip).await {
            metrics::counter!("auth_logins_total", "result" => "locked").increment(1);
            self.audit_login(None, Decision::Denied, "locked", ctx).await?;
            return Err(CoreError::RateLimited {
                retry_after_secs: retry_after_secs.max(1),
                message: "Too many failed login attempts, try again later",
            });
        }

        let credentials = self.store.credentials_by_email(&email).await?.filter(|c| !c.deleted);
        let verified = match &credentials {
            Some(c) => self.passwords.verify(&password, &c.password_hash).await?,
            None => {
                self.passwords.verify_dummy(&password).await?;
                Verified::Wrong
            }
        };
        let user_id = credentials.as_ref().map(|c| c.user_id);
        let Some(credentials) = credentials.filter(|_| verified != Verified::Wrong) else {
            if let Some(kind) = self.throttle.record_failure(&email, &ip).await {
                metrics::counter!("auth_lockouts_total", "kind" => kind.as_str()).increment(1);
            }
            metrics::counter!("auth_logins_total", "result" => "invalid_credentials").increment(1);
            self.audit_login(user_id, Decision::Denied, "invalid_credentials", ctx).await?;
            return Err(CoreError::Unauthenticated(AuthFailure::InvalidCredentials));
        };
        if !credentials.is_active {
            metrics::counter!("auth_logins_total", "result" => "disabled").increment(1);
            self.audit_login(user_id, Decision::Denied, "account_disabled", ctx).await?;
            return Err(CoreError::AccountDisabled);
        }
        self.throttle.record_success(&email, &ip).await;
        if verified == Verified::CorrectNeedsRehash {
            let hash = self.passwords.hash(&password).await?;
            self.store.set_password_hash(credentials.user_id, &hash).await?;
        }
        let now = time::now();
        self.store.record_login(credentials.user_id, now).await?;
        self.caching.user_changed(credentials.user_id).await;
        let principal = self.load_principal(credentials.user_id, now).await?;
        let user = self
            .store
            .get_user(credentials.user_id, now, false)
            .await?
            .ok_or(CoreError::Unauthenticated(AuthFailure::InvalidCredentials))?;
        let tokens = self.issue_session(&principal, None, ctx).await?;
        metrics::counter!("auth_logins_total", "result" => "success").increment(1);
        self.audit_login(user_id, Decision::Allowed, "login succeeded", ctx).await?;
        Ok(LoginOutcome { tokens, user, permissions: principal.permission_names() })
    }

    async fn audit_login(
        &self,
        user_id: Option<Uuid>,
        decision: Decision,
        reason: &str,
        ctx: &RequestContext,
    ) -> CoreResult<()> {
        let entry = self.access.entry(user_id, "auth:login", None, decision, reason.into(), Vec::new(), ctx, None);
        self.access.audit().record(entry).await
    }

    /// Issues an access token and a refresh token. `family` is `(family_id, parent_id)` on
    /// rotation; a login starts a new family.
    async fn issue_session(
        &self,
        principal: &Principal,
        family: Option<(Uuid, Uuid)>,
        ctx: &RequestContext,
    ) -> CoreResult<TokenPair> {
        let now = time::now();
        let access = self
            .jwt
            .issue(principal.user_id, &principal.role_names(), &principal.permission_names(), now.timestamp())
            .map_err(|e| CoreError::internal("sign access token", e))?;
        let refresh_token = refresh::generate();
        let id = Uuid::now_v7();
        let (family_id, parent_id) = family.map_or((id, None), |(f, p)| (f, Some(p)));
        let refresh_ttl = chrono_duration(self.config.refresh_token_ttl);
        self.store
            .insert_refresh_token(&RefreshToken {
                id,
                user_id: principal.user_id,
                family_id,
                parent_id,
                token_hash: refresh::fingerprint(&refresh_token),
                access_jti: Some(access.jti),
                issued_at: now,
                expires_at: now + refresh_ttl,
                used_at: None,
                revoked_at: None,
                revoke_reason: None,
                ip_address: ctx.client_ip.clone(),
                user_agent: ctx.user_agent_truncated(),
            })
            .await?;
        Ok(TokenPair {
            access_token: access.token,
            refresh_token,
            token_type: "Bearer",
            expires_in: self.jwt.ttl_secs(),
            refresh_expires_in: refresh_ttl.num_seconds(),
        })
    }

    /// Reads the `refresh_token` member (required string, 1–512 characters).
    pub fn refresh_token_member(mut body: JsonInput) -> CoreResult<String> {
        let token = body.string("refresh_token");
        body.finish()?;
        match token {
            Field::Value(t) if (1..=512).contains(&t.chars().count()) => Ok(t),
            Field::Value(_) => Err(CoreError::field("refresh_token", "must be between 1 and 512 characters")),
            _ => Err(CoreError::field("refresh_token", "is required")),
        }
    }

    /// `POST /auth/refresh` (SPEC §4.2): rotation with a grace window and reuse detection.
    pub async fn refresh(&self, token: &str, ctx: &RequestContext) -> CoreResult<TokenPair> {
        let invalid = || {
            metrics::counter!("auth_token_refresh_total", "result" => "invalid").increment(1);
            CoreError::Unauthenticated(AuthFailure::InvalidRefreshToken)
        };
        let hash = refresh::fingerprint(token);
        let now = time::now();
        let Some(mut row) = self.store.find_refresh_token(&hash).await? else {
            return Err(invalid());
        };
        if row.revoked_at.is_some() || row.expires_at <= now {
            return Err(invalid());
        }
        if let Some(used_at) = row.used_at
            && !self.within_grace(used_at, now)
        {
            return Err(self.reuse_detected(&row, now, ctx).await?);
        }
        let principal = match self.store.load_principal(row.user_id, now).await? {
            Some(p) if !p.deleted => p,
            _ => return Err(invalid()),
        };
        if !principal.active {
            metrics::counter!("auth_token_refresh_total", "result" => "disabled").increment(1);
            return Err(CoreError::AccountDisabled);
        }
        if row.used_at.is_none() && !self.store.mark_refresh_token_used(row.id, now).await? {
            // Another request rotated it first: judge it like a reuse, within or past the grace.
            row = self.store.find_refresh_token(&hash).await?.ok_or_else(invalid)?;
            match row.used_at {
                Some(used_at) if row.revoked_at.is_none() && self.within_grace(used_at, now) => {}
                _ => return Err(self.reuse_detected(&row, now, ctx).await?),
            }
        }
        let tokens = self.issue_session(&principal, Some((row.family_id, row.id)), ctx).await?;
        metrics::counter!("auth_token_refresh_total", "result" => "success").increment(1);
        Ok(tokens)
    }

    fn within_grace(&self, used_at: Timestamp, now: Timestamp) -> bool {
        let grace = chrono_duration(self.config.refresh_reuse_grace);
        !grace.is_zero() && now - used_at < grace
    }

    /// Revokes the whole family and its live access tokens, audits the reuse, and returns the
    /// error to answer with.
    async fn reuse_detected(&self, row: &RefreshToken, now: Timestamp, ctx: &RequestContext) -> CoreResult<CoreError> {
        let access_ttl = chrono_duration(self.config.access_token_ttl);
        let revoked = self.store.revoke_refresh_family(row.family_id, "reuse_detected", now, access_ttl).await?;
        self.caching.revoked(&revoked).await;
        metrics::counter!("auth_token_refresh_total", "result" => "reuse_detected").increment(1);
        let entry = self.access.entry(
            Some(row.user_id),
            "auth:refresh_reuse",
            None,
            Decision::Denied,
            "refresh token reuse detected".into(),
            Vec::new(),
            ctx,
            None,
        );
        self.access.audit().record(entry).await?;
        Ok(CoreError::Unauthenticated(AuthFailure::InvalidRefreshToken))
    }

    /// `POST /auth/logout`: revokes the presented family and, when a valid access token is
    /// presented too, its jti. Always succeeds once the body is valid.
    pub async fn logout(&self, token: &str, authorization: Option<&str>, ctx: &RequestContext) -> CoreResult<()> {
        let now = time::now();
        let access_ttl = chrono_duration(self.config.access_token_ttl);
        let mut user_id = None;
        if let Some(row) = self.store.find_refresh_token(&refresh::fingerprint(token)).await? {
            let revoked = self.store.revoke_refresh_family(row.family_id, "logout", now, access_ttl).await?;
            self.caching.revoked(&revoked).await;
            user_id = Some(row.user_id);
        }
        if let Some(claims) = bearer_token(authorization).ok().and_then(|t| self.jwt.verify(t, now.timestamp()).ok()) {
            let expires_at = chrono::DateTime::from_timestamp(claims.exp, 0).unwrap_or(now);
            let revoked = RevokedJti { jti: claims.jti, user_id: claims.user_id, expires_at };
            self.store.revoke_access_token(&revoked, now).await?;
            self.caching.revoked(&[revoked]).await;
            user_id.get_or_insert(claims.user_id);
        }
        metrics::counter!("auth_logouts_total").increment(1);
        let entry =
            self.access.entry(user_id, "auth:logout", None, Decision::Allowed, "logout".into(), Vec::new(), ctx, None);
        self.access.audit().record(entry).await
    }

    /// Checks 1–6 of SPEC §4.1: no I/O, so rate limiting can key on the user cheaply.
    pub fn verify_access_token(&self, authorization: Option<&str>) -> Result<AccessClaims, AuthFailure> {
        let token = bearer_token(authorization)?;
        self.jwt.verify(token, time::now().timestamp())
    }

    /// The whole guard of SPEC §4.1 (checks 1–9): returns the fresh principal.
    pub async fn authenticate(&self, authorization: Option<&str>) -> CoreResult<Principal> {
        let claims = self.verify_access_token(authorization).map_err(CoreError::Unauthenticated)?;
        if self.caching.is_revoked(&self.store, claims.jti, claims.exp).await? {
            return Err(CoreError::Unauthenticated(AuthFailure::RevokedToken));
        }
        let principal = match self.caching.principal(&self.store, claims.user_id).await? {
            Some(p) if !p.deleted => p,
            _ => return Err(CoreError::Unauthenticated(AuthFailure::InvalidToken)),
        };
        if principal.tokens_valid_after.is_some_and(|after| claims.iat < after.timestamp()) {
            return Err(CoreError::Unauthenticated(AuthFailure::InvalidToken));
        }
        if !principal.active {
            return Err(CoreError::AccountDisabled);
        }
        Ok(principal)
    }

    /// The principal of an existing user.
    pub async fn load_principal(&self, user_id: Uuid, now: Timestamp) -> CoreResult<Principal> {
        self.store.load_principal(user_id, now).await?.ok_or(CoreError::Unauthenticated(AuthFailure::InvalidToken))
    }

    /// Password change of `PUT /users/profile` (SPEC §1.4): checks the current password (a
    /// failure counts towards the lockout), stores the new hash, revokes every session, and
    /// returns a new token pair so the calling session continues.
    pub async fn change_password(
        &self,
        principal: &Principal,
        email: &str,
        current: &str,
        new: &str,
        ctx: &RequestContext,
    ) -> CoreResult<TokenPair> {
        let stored = self.store.password_hash(principal.user_id).await?.ok_or(CoreError::NotFound("User not found"))?;
        if self.passwords.verify(current, &stored).await? == Verified::Wrong {
            let ip = ctx.client_ip.clone().unwrap_or_default();
            if let Some(kind) = self.throttle.record_failure(email, &ip).await {
                metrics::counter!("auth_lockouts_total", "kind" => kind.as_str()).increment(1);
            }
            return Err(CoreError::field("current_password", "is incorrect"));
        }
        let hash = self.passwords.hash(new).await?;
        let now = time::now();
        let access_ttl = chrono_duration(self.config.access_token_ttl);
        let revoked = self.store.change_password(principal.user_id, &hash, now, access_ttl).await?;
        self.caching.revoked(&revoked).await;
        self.caching.principal_changed(principal.user_id, false).await;
        let fresh = self.load_principal(principal.user_id, now).await?;
        self.issue_session(&fresh, None, ctx).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_header_checks_follow_the_spec_order() {
        assert_eq!(bearer_token(None), Err(AuthFailure::MissingToken));
        assert_eq!(bearer_token(Some("")), Err(AuthFailure::MissingToken));
        assert_eq!(bearer_token(Some("Token x")), Err(AuthFailure::InvalidTokenFormat));
        assert_eq!(bearer_token(Some("Bearer")), Err(AuthFailure::InvalidTokenFormat));
        assert_eq!(bearer_token(Some("bearer abc")), Ok("abc"));
    }
}
