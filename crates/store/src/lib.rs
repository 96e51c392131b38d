//! Persistence for Taskify: ONE sqlx implementation serving PostgreSQL and SQLite.
//!
//! The backend is chosen from the `DATABASE_URL` scheme at start-up. SQL is written once with
//! `$n` placeholders; the few dialect differences live in [`dialect`]. Ids and timestamps are
//! produced in Rust so both backends behave the same. There is one concrete [`Store`] rather
//! than a trait per aggregate: with a single implementation a trait would only add indirection.
//!
//! Contract notes shared by every method:
//! - `now` is passed in by the caller (never read from the database clock), so "active"
//!   (role assignments, attributes) is evaluated against the caller's notion of time.
//! - Unique-constraint violations surface as [`StoreError::Conflict`], never as text matching.
//! - Connection failures surface as [`StoreError::Unavailable`] (the API answers 503).

#[macro_use]
mod macros;

mod admins;
mod attributes;
mod audit;
mod availability;
mod connect;
mod dialect;
mod error;
mod idempotency;
mod migrate;
mod params;
mod pool;
mod principals;
mod revocation;
mod roles;
mod rows;
mod tasks;
mod tokens;
mod types;
mod user_admin;
mod users;

use chrono::Duration;
use taskify_domain::{Attribute, AttributeValue, RoleAssignment, Task, Timestamp};
use uuid::Uuid;

pub use availability::RETRY_AFTER_SECS as UNAVAILABLE_RETRY_AFTER_SECS;
pub use connect::{Backend, PoolConfig, PoolStats};
pub use idempotency::IdempotencyCompletion;
pub use migrate::MigrationLock;

/// Store operations started by this process (each runs one or more SQL statements). Exported
/// as a metric so tests and operators can see that a cached read touches no database.
pub(crate) static OPERATIONS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// How many store operations this process has started.
pub fn operations() -> u64 {
    OPERATIONS.load(std::sync::atomic::Ordering::Relaxed)
}

/// The database handle. Cheap to clone (pools are reference-counted).
#[derive(Clone)]
pub struct Store {
    db: connect::Db,
}

/// A store failure. Business outcomes (not found, last admin, …) are return values, not errors.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique constraint rejected the write.
    #[error("duplicate {0:?}")]
    Conflict(UniqueViolation),
    /// The database cannot be reached (connect error, pool timeout, I/O).
    #[error("database unavailable: {}", error::describe(.0))]
    Unavailable(#[source] sqlx::Error),
    /// The statement ran past `statement_timeout` (PostgreSQL): the request took too long.
    #[error("database statement timed out: {}", error::describe(.0))]
    Timeout(#[source] sqlx::Error),
    /// Any other database error, for instance a value the database refuses.
    #[error("database query failed: {}", error::describe(.0))]
    Query(#[source] sqlx::Error),
    /// A stored value could not be decoded into a domain type.
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
    /// Applying migrations failed.
    #[error("migration failed")]
    Migrate(#[source] sqlx::migrate::MigrateError),
    /// The database carries migrations this binary does not know: it is newer than the binary.
    #[error("the database schema is newer than this binary")]
    SchemaTooNew,
}

/// Which unique rule a write broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UniqueViolation {
    Email,
    Username,
    Other,
}

impl StoreError {
    /// The SQLSTATE (PostgreSQL) or extended result code (SQLite) the database reported, if any.
    pub fn sqlstate(&self) -> Option<String> {
        match self {
            Self::Unavailable(e) | Self::Timeout(e) | Self::Query(e) => error::sqlstate(e),
            _ => None,
        }
    }

    /// True when trying the same statement again later may succeed: the database could not be
    /// reached, or it was too busy to finish in time. Anything else is about the statement or
    /// its values, and repeating it would fail the same way.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Unavailable(_) | Self::Timeout(_))
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

// ---------------------------------------------------------------- users

/// A user row to insert. `email` is already trimmed and lowercased, names trimmed,
/// empty department/position already turned into `None`.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub id: Uuid,
    // The users columns, as in domain::User and rows.rs `UserRow`: this is the insert's input (with
    // the hash), so it stays its own type. (The Report of server/tests/cluster/load.rs matches by
    // shape only.)
    pub username: String,
    pub email: String,
    pub password_hash: String,
    pub first_name: String,
    pub last_name: String,
    pub department: Option<String>,
    pub position: Option<String>,
    pub created_at: Timestamp,
}

/// What login needs about an account.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub user_id: Uuid,
    pub password_hash: String,
    // Plain row fields; the shape matches jobs' queue counts by coincidence only.
    pub is_active: bool,
    pub deleted: bool,
}

/// `PUT /users/profile` changes; `None` leaves a field as it is, `Some(None)` clears.
#[derive(Debug, Clone, Default)]
pub struct ProfileChanges {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub position: Option<Option<String>>,
}

/// `PATCH /users/{id}` changes; `None` leaves a field as it is, `Some(None)` clears.
#[derive(Debug, Clone, Default)]
pub struct UserPatch {
    pub is_active: Option<bool>,
    pub department: Option<Option<String>>,
    pub position: Option<Option<String>>,
}

/// Result of an admin write guarded by the last-admin rule.
#[derive(Debug, Clone)]
pub enum AdminWrite<T> {
    Done(T),
    /// The user does not exist or is deleted.
    NotFound,
    /// The write would leave no active admin.
    LastAdmin,
}

/// An access token that has just been revoked, to be published to caches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevokedJti {
    pub jti: Uuid,
    pub user_id: Uuid,
    /// The access token's own `exp`.
    pub expires_at: Timestamp,
}

// ---------------------------------------------------------------- roles

/// Result of `POST /users/{id}/roles`.
#[derive(Debug, Clone)]
pub enum AssignOutcome {
    Assigned(RoleAssignment),
    UserNotFound,
    UnknownRole,
    /// An active, unexpired assignment exists already.
    AlreadyAssigned,
}

/// Result of `DELETE /users/{id}/roles/{role}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RevokeOutcome {
    Revoked,
    UserNotFound,
    UnknownRole,
    /// The user has no active assignment of the role.
    NotAssigned,
    /// Removing `admin` would leave no active admin.
    LastAdmin,
}

// ---------------------------------------------------------------- attributes

/// Whose attributes: a user's (`user_attributes`) or a task's (`resource_attributes`, type `task`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttributeOwner {
    User(Uuid),
    Task(Uuid),
}

/// An attribute to create or replace.
#[derive(Debug, Clone)]
pub struct NewAttribute {
    pub key: String,
    pub value: AttributeValue,
    /// `registration`, `manual` or `system`.
    pub source: String,
    pub expires_at: Option<Timestamp>,
}

// ---------------------------------------------------------------- tasks

/// A task plus what authorization needs to know about it and its owner.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskRecord {
    pub task: Task,
    /// Owner's department, trimmed and ASCII-lowercased; `""` when none.
    pub owner_department: String,
    pub owner_deleted: bool,
    /// The active `required_clearance` resource attribute as a whole number, if any.
    pub required_clearance: Option<i64>,
    /// All active resource attributes of the task.
    pub attributes: Vec<Attribute>,
}

// ---------------------------------------------------------------- idempotency

/// A stored 201 response of an idempotent create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    pub status: u16,
    pub body: String,
    pub headers: Vec<(String, String)>,
}

/// What to do with a request carrying an `Idempotency-Key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdempotencyBegin {
    /// No usable record existed (or a stale `in_progress` one was taken over): run the request.
    Started,
    /// The same key and fingerprint completed before: replay this.
    Replay(StoredResponse),
    /// The same key is being processed by another request right now.
    InProgress,
    /// The same key was used with a different fingerprint.
    Mismatch,
}

// ---------------------------------------------------------------- tokens

/// A refresh-token row (docs/data-model.md#tables). The plain token is never stored, only its SHA-256.
#[derive(Debug, Clone, PartialEq)]
pub struct RefreshToken {
    pub id: Uuid,
    // The refresh_tokens columns, one field each; runs of optional fields like these recur in other
    // row types (AuditEntry, RequestContext, jobs' stats) by shape only.
    pub user_id: Uuid,
    pub family_id: Uuid,
    pub parent_id: Option<Uuid>,
    /// Lowercase hex SHA-256 of the token string.
    pub token_hash: String,
    pub access_jti: Option<Uuid>,
    // (Shape shared with other row types, see the top of this struct.)
    /// The `exp` of the access token issued with this row. Revocations use it rather than the
    /// current `ACCESS_TOKEN_TTL`, which may have been lowered since. `None` (rows written
    /// without it) falls back to `issued_at` plus the current TTL.
    pub access_expires_at: Option<Timestamp>,
    pub issued_at: Timestamp,
    pub expires_at: Timestamp,
    pub used_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
    pub revoke_reason: Option<String>,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
}

/// Result of [`Store::rotate_refresh_token`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rotation {
    /// The child is stored and the parent is marked used (or was already, within the grace
    /// window: the child is then a sibling of the earlier one).
    Rotated,
    /// The parent is gone, revoked or expired, or its family is revoked: nothing was written.
    Invalid,
    /// The parent was rotated longer ago than the grace window: a reuse. Nothing was written;
    /// the caller audits it, then revokes the family.
    Reused,
}

/// Counts of what housekeeping removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HousekeepingReport {
    pub refresh_tokens: u64,
    pub revoked_access_tokens: u64,
    pub idempotency_keys: u64,
    pub audit_rows: u64,
}

/// Keeps `Duration` in the public signatures below readable.
pub type Ttl = Duration;
