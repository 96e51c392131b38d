//! The error vocabulary of the use cases. Each variant is one problem code of docs/http-contract.md#errors; the
//! server maps them to HTTP statuses in exactly one place.

use taskify_domain::FieldError;
use taskify_domain::metric_names as names;
use taskify_store::StoreError;

/// Why authentication failed (401 codes of docs/http-contract.md#errors / docs/authentication.md#access-tokens).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthFailure {
    MissingToken,
    InvalidTokenFormat,
    /// Bad token: undecodable, bad signature, wrong alg, `nbf` in the future, user gone.
    InvalidToken,
    /// The jti has been revoked (logout, reuse, password change).
    RevokedToken,
    /// A refresh token that is unknown, expired, revoked or reused.
    InvalidRefreshToken,
    ExpiredToken,
    InvalidIssuer,
    InvalidClaims,
    InvalidCredentials,
}

/// A use-case failure.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// Syntactically bad input; `errors` names the member when it is known.
    #[error("invalid request: {message}")]
    InvalidRequest { message: String, errors: Vec<FieldError> },
    /// Well-formed input that breaks a rule.
    #[error("validation failed: {0:?}")]
    Validation(Vec<FieldError>),
    #[error("authentication failed: {0:?}")]
    Unauthenticated(AuthFailure),
    #[error("account disabled")]
    AccountDisabled,
    /// `system:admin` is required and missing.
    #[error("admin role required")]
    InsufficientRole,
    /// No active role grants `resource:action`.
    #[error("missing permission {0}")]
    MissingPermission(String),
    /// The permission is held but the policies deny this resource.
    #[error("access denied")]
    Forbidden,
    /// The target does not exist; the text is the documented message (`Task not found`, …).
    #[error("{0}")]
    NotFound(&'static str),
    /// A business conflict; the text is the documented message.
    #[error("{0}")]
    Conflict(&'static str),
    #[error("precondition failed")]
    PreconditionFailed,
    #[error("idempotency key reused")]
    IdempotencyKeyReused,
    /// Login lockout (or, later, rate limits).
    #[error("rate limited")]
    RateLimited { retry_after_secs: u64, message: &'static str },
    /// A dependency is unavailable or saturated; `retry_after_secs` feeds `Retry-After`.
    #[error("service unavailable: {reason}")]
    Unavailable { reason: String, retry_after_secs: Option<u64> },
    /// The database cannot be reached (or is known to be down): 503 `database_unavailable` with
    /// `Retry-After`, so clients and load balancers back off instead of piling up.
    #[error("database unavailable: {reason}")]
    DatabaseUnavailable { reason: String, retry_after_secs: u64 },
    /// The work ran past the request deadline (`REQUEST_TIMEOUT`).
    #[error("request timed out")]
    Timeout,
    /// Anything unexpected. The text is logged, never shown.
    #[error("internal error: {0}")]
    Internal(String),
}

impl CoreError {
    /// A single-field validation failure.
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        Self::Validation(vec![FieldError::new(field, message)])
    }

    /// `invalid_request` with a specific message and no field.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::InvalidRequest { message: message.into(), errors: Vec::new() }
    }

    pub fn internal(context: &str, err: impl std::fmt::Display) -> Self {
        Self::Internal(format!("{context}: {err}"))
    }
}

impl From<StoreError> for CoreError {
    fn from(err: StoreError) -> Self {
        let kind = match &err {
            StoreError::Unavailable(_) => "connection",
            StoreError::Conflict(_) => "constraint",
            _ => "query",
        };
        metrics::counter!(names::DB_ERRORS_TOTAL, "kind" => kind).increment(1);
        match err {
            // The store's text names the driver's message and SQLSTATE, for the log line.
            e @ StoreError::Unavailable(_) => Self::DatabaseUnavailable {
                reason: e.to_string(),
                retry_after_secs: taskify_store::UNAVAILABLE_RETRY_AFTER_SECS,
            },
            StoreError::Timeout(_) => Self::Timeout,
            other => Self::Internal(format!("store: {other}: {}", source_chain(&other))),
        }
    }
}

/// Renders an error's source chain for logs.
fn source_chain(err: &dyn std::error::Error) -> String {
    let mut out = String::new();
    let mut cur = err.source();
    while let Some(e) = cur {
        out.push_str(&e.to_string());
        out.push_str("; ");
        cur = e.source();
    }
    out
}

pub type CoreResult<T> = Result<T, CoreError>;

/// Collects field errors while validating a whole input, so every failing field is reported.
#[derive(Debug, Default)]
pub struct Violations(Vec<FieldError>);

impl Violations {
    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.0.push(FieldError::new(field, message));
    }

    /// Records `check`'s message, if any, against `field`.
    pub fn check(&mut self, field: &str, check: Option<String>) {
        if let Some(message) = check {
            self.add(field, message);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Ok(value)` when nothing failed, else `Validation` with every failure.
    pub fn finish<T>(self, value: T) -> CoreResult<T> {
        if self.0.is_empty() { Ok(value) } else { Err(CoreError::Validation(self.0)) }
    }
}
