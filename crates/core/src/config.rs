//! Settings of the use cases, extracted from the server's configuration.

use std::time::Duration;

/// Which allowed reads are audited (docs/authorization.md#audit `AUDIT_ALLOWED_READS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AllowedReads {
    All,
    Others,
    None,
}

/// argon2id parameters and the concurrency cap (docs/authentication.md#passwords-and-identity-fields).
#[derive(Debug, Clone)]
pub struct PasswordConfig {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
    pub max_concurrent: usize,
}

/// Login throttling thresholds (docs/authentication.md#login-throttling).
#[derive(Debug, Clone)]
pub struct ThrottleConfig {
    pub max_failures: u32,
    pub account_max_failures: u32,
    pub ip_max_failures: u32,
    pub window: Duration,
    pub lockout: Duration,
}

/// Audit writer settings (docs/authorization.md#audit).
#[derive(Debug, Clone)]
pub struct AuditConfig {
    pub batch_size: usize,
    pub flush_interval: Duration,
    pub buffer_size: usize,
    pub enqueue_timeout: Duration,
    pub allowed_reads: AllowedReads,
}

/// The first administrator (docs/authentication.md#first-administrator-and-cli).
#[derive(Clone)]
pub struct AdminBootstrap {
    pub email: String,
    pub username: String,
    pub password: Option<String>,
}

impl std::fmt::Debug for AdminBootstrap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminBootstrap")
            .field("email", &self.email)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// Everything the services are configured with.
#[derive(Clone)]
pub struct CoreConfig {
    pub jwt_secret: Vec<u8>,
    pub access_token_ttl: Duration,
    pub refresh_token_ttl: Duration,
    pub refresh_reuse_grace: Duration,
    pub passwords: PasswordConfig,
    pub throttle: ThrottleConfig,
    pub idempotency_ttl: Duration,
    pub request_timeout: Duration,
    pub audit: AuditConfig,
    pub admin: AdminBootstrap,
}

impl std::fmt::Debug for CoreConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Field by field like taskify_cache's RedisConfig Debug: each field listed by choice so the
        // secret stays redacted.
        f.debug_struct("CoreConfig")
            .field("jwt_secret", &"<redacted>")
            .field("access_token_ttl", &self.access_token_ttl)
            .field("refresh_token_ttl", &self.refresh_token_ttl)
            .field("refresh_reuse_grace", &self.refresh_reuse_grace)
            .field("passwords", &self.passwords)
            .field("throttle", &self.throttle)
            .field("idempotency_ttl", &self.idempotency_ttl)
            .field("request_timeout", &self.request_timeout)
            .field("audit", &self.audit)
            .field("admin", &self.admin)
            .finish()
    }
}

/// `std` → `chrono` durations, saturating.
pub fn chrono_duration(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}
