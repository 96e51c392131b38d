//! Authentication (docs/authentication.md): registration, login with throttling, refresh-token rotation with
//! reuse detection, logout, password changes, and the per-request token guard.

pub mod jwt;
pub mod password;
pub mod refresh;
mod session;
pub mod throttle;
mod verified;

use crate::access::{Access, AuditFacts};
use crate::cached::Caching;
use crate::config::{CoreConfig, chrono_duration};
use crate::context::RequestContext;
use crate::error::{AuthFailure, CoreError, CoreResult, Violations};
use crate::events::EventHub;
use crate::input::{Field, JsonInput};
use crate::validate;
use jwt::{AccessClaims, JwtCodec};
use password::{PasswordHasherPool, Verified};
use serde::Serialize;
use std::sync::Arc;
use taskify_domain::metric_names as names;
use taskify_domain::{AttributeValue, Decision, Principal, Timestamp, User, time};
use taskify_store::{NewAttribute, NewUser, Store, StoreError, UniqueViolation};
use throttle::LoginThrottle;
use uuid::Uuid;
use verified::VerifiedTokens;

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
    // The profile fields again, as in domain::User and store's NewUser/UserRow: each layer has its
    // own type (this one is registration input), so they are not shared. (The Report of
    // server/tests/cluster/load.rs matches by shape only.)
    pub username: String,
    pub email: String,
    pub password: String,
    pub first_name: String,
    pub last_name: String,
    pub department: Option<String>,
    pub position: Option<String>,
}

impl Registration {
    /// Reads and validates a register body (docs/authentication.md#endpoints), reporting every failing field.
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
    /// Tokens that passed verification, so a client's next request skips it.
    verified: Arc<VerifiedTokens>,
    passwords: PasswordHasherPool,
    throttle: Arc<LoginThrottle>,
    access: Access,
    caching: Caching,
    events: EventHub,
    config: Arc<CoreConfig>,
}

/// Splits `Bearer <token>` (checks 1–2 of docs/authentication.md#access-tokens).
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
        events: EventHub,
        config: Arc<CoreConfig>,
    ) -> CoreResult<Self> {
        let jwt = JwtCodec::new(&config.jwt_secret, config.access_token_ttl)
            .map_err(|e| CoreError::internal("JWT key", e))?;
        let throttle = LoginThrottle::new(config.throttle.clone(), caching.cache().redis());
        let verified = Arc::new(VerifiedTokens::new(config.access_token_ttl));
        Ok(Self {
            store,
            jwt: Arc::new(jwt),
            verified,
            passwords,
            throttle: Arc::new(throttle),
            access,
            caching,
            events,
            config,
        })
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

    /// Inserts a user, mapping unique violations to the documented 409 messages.
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

    /// `POST /auth/login` (docs/authentication.md#endpoints, docs/authentication.md#login-throttling).
    ///
    /// Every outcome is audited before it has any effect (failure counted, hash upgraded,
    /// `last_login_at` set, session stored): when the audit buffer is full the answer is 503
    /// and nothing has changed.
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
            metrics::counter!(names::AUTH_LOGINS_TOTAL, "result" => "locked").increment(1);
            self.audit_login(None, Decision::Denied, "locked", ctx).await?;
            return Err(locked(retry_after_secs));
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
            self.audit_login(user_id, Decision::Denied, "invalid_credentials", ctx).await?;
            if let Some(kind) = self.throttle.record_failure(&email, &ip).await {
                metrics::counter!(names::AUTH_LOCKOUTS_TOTAL, "kind" => kind.as_str()).increment(1);
            }
            metrics::counter!(names::AUTH_LOGINS_TOTAL, "result" => "invalid_credentials").increment(1);
            return Err(CoreError::Unauthenticated(AuthFailure::InvalidCredentials));
        };
        if !credentials.is_active {
            self.audit_login(user_id, Decision::Denied, "account_disabled", ctx).await?;
            metrics::counter!(names::AUTH_LOGINS_TOTAL, "result" => "disabled").increment(1);
            return Err(CoreError::AccountDisabled);
        }
        self.audit_login(user_id, Decision::Allowed, "login succeeded", ctx).await?;
        self.throttle.record_success(&email, &ip).await;
        if verified == Verified::CorrectNeedsRehash {
            let hash = self.passwords.hash(&password).await?;
            // Conditional on the hash just verified: a password changed in the meantime stays.
            if !self.store.set_password_hash(credentials.user_id, &credentials.password_hash, &hash).await? {
                tracing::debug!(user_id = %credentials.user_id, "password changed during login; rehash skipped");
            }
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
        let tokens = self.start_session(&principal, ctx).await?;
        metrics::counter!(names::AUTH_LOGINS_TOTAL, "result" => "success").increment(1);
        Ok(LoginOutcome { tokens, user, permissions: principal.permission_names() })
    }

    async fn audit_login(
        &self,
        user_id: Option<Uuid>,
        decision: Decision,
        reason: &str,
        ctx: &RequestContext,
    ) -> CoreResult<()> {
        self.audit_event(user_id, "auth:login", decision, reason, ctx).await
    }

    /// Buffers a security event (not an authorization decision) for the audit log.
    async fn audit_event(
        &self,
        user_id: Option<Uuid>,
        action: &str,
        decision: Decision,
        reason: &str,
        ctx: &RequestContext,
    ) -> CoreResult<()> {
        let entry = self.access.entry(AuditFacts::new(user_id, action, decision, reason), ctx);
        self.access.audit().record(entry).await
    }

    /// Checks 1–6 of docs/authentication.md#access-tokens: no I/O, so rate limiting can key on the user cheaply.
    /// A token that passed them before is answered after its expiry check alone (`verified.rs`).
    pub fn verify_access_token(&self, authorization: Option<&str>) -> Result<AccessClaims, AuthFailure> {
        let token = bearer_token(authorization)?;
        let now = time::now().timestamp();
        self.verified.verify(token, now, |token| self.jwt.verify(token, now))
    }

    /// The whole guard of docs/authentication.md#access-tokens after checks 1–6 (the token's
    /// verification, [`AuthService::verify_access_token`], done once per request by the caller:
    /// docs/performance.md, "Cached read"): revocation, principal, sessions, activity. Returns
    /// the fresh principal, shared with the cache (docs/cache.md#decoded-values), and the claims
    /// (a live-update stream ends when its token is revoked or expires).
    pub async fn authenticate_verified(
        &self,
        verified: Result<AccessClaims, AuthFailure>,
    ) -> CoreResult<(Arc<Principal>, AccessClaims)> {
        let claims = verified.map_err(CoreError::Unauthenticated)?;
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
        Ok((principal, claims))
    }

    /// The principal of an existing user.
    pub async fn load_principal(&self, user_id: Uuid, now: Timestamp) -> CoreResult<Principal> {
        self.store.load_principal(user_id, now).await?.ok_or(CoreError::Unauthenticated(AuthFailure::InvalidToken))
    }

    /// Password change of `PUT /users/profile`: checks the current password, stores
    /// the new hash, revokes every session, and returns a new token pair so the calling session
    /// continues.
    ///
    /// The check is a password guess like a login, so it sits behind the same throttles: a
    /// locked pair, account or IP answers 429 as login does (without verifying), and a wrong
    /// password counts towards the lockouts. Both are audited (`auth:password_change`, denied)
    /// before they count.
    pub async fn change_password(
        &self,
        principal: &Principal,
        email: &str,
        current: &str,
        new: &str,
        ctx: &RequestContext,
    ) -> CoreResult<TokenPair> {
        let user_id = Some(principal.user_id);
        let ip = ctx.client_ip.clone().unwrap_or_default();
        if let Err(retry_after_secs) = self.throttle.check(email, &ip).await {
            self.audit_event(user_id, "auth:password_change", Decision::Denied, "locked", ctx).await?;
            return Err(locked(retry_after_secs));
        }
        let stored = self.store.password_hash(principal.user_id).await?.ok_or(CoreError::NotFound("User not found"))?;
        if self.passwords.verify(current, &stored).await? == Verified::Wrong {
            self.audit_event(user_id, "auth:password_change", Decision::Denied, "invalid_credentials", ctx).await?;
            if let Some(kind) = self.throttle.record_failure(email, &ip).await {
                metrics::counter!(names::AUTH_LOCKOUTS_TOTAL, "kind" => kind.as_str()).increment(1);
            }
            return Err(CoreError::field("current_password", "is incorrect"));
        }
        let hash = self.passwords.hash(new).await?;
        let now = time::now();
        let access_ttl = chrono_duration(self.config.access_token_ttl);
        let revoked = self.store.change_password(principal.user_id, &hash, now, access_ttl).await?;
        self.caching.revoked(&revoked).await;
        self.caching.principal_changed(principal.user_id, false).await;
        self.events.revoked(&revoked).await;
        self.events.principal_changed(principal.user_id).await;
        let fresh = self.load_principal(principal.user_id, now).await?;
        self.start_session(&fresh, ctx).await
    }
}

/// The answer to a request whose login throttle is locked (login and password checks alike).
fn locked(retry_after_secs: u64) -> CoreError {
    CoreError::RateLimited {
        retry_after_secs: retry_after_secs.max(1),
        message: "Too many failed login attempts, try again later",
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
