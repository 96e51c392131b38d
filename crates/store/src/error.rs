//! Mapping of sqlx errors onto [`StoreError`]: by error kind and constraint name, never by
//! guessing from free text where the database gives something better.

use crate::{StoreError, UniqueViolation};
use sqlx::error::{DatabaseError, ErrorKind};

/// Classifies a sqlx error: connection trouble is `Unavailable` (the API answers 503), a unique
/// violation is `Conflict` naming the rule that was broken, anything else is `Query`.
pub(crate) fn db_err(err: sqlx::Error) -> StoreError {
    if is_unavailable(&err) {
        return StoreError::Unavailable(err);
    }
    match &err {
        // 57014 query_canceled: the statement_timeout (the request timeout) cut the query off.
        sqlx::Error::Database(db) if db.code().as_deref() == Some("57014") => StoreError::Timeout(err),
        sqlx::Error::Database(db) if db.kind() == ErrorKind::UniqueViolation => {
            StoreError::Conflict(unique_violation(db.as_ref()))
        }
        _ => StoreError::Query(err),
    }
}

/// Like [`db_err`], for places where failing at all means the database cannot be reached
/// (opening a pool or a dedicated session).
pub(crate) fn connect_err(err: sqlx::Error) -> StoreError {
    match db_err(err) {
        StoreError::Query(e) => StoreError::Unavailable(e),
        other => other,
    }
}

/// True for connection trouble: I/O, TLS, pool exhaustion or shutdown, and the database errors
/// that mean "cannot serve right now".
pub(crate) fn is_unavailable(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => is_connection_failure(db.as_ref()),
        _ => false,
    }
}

/// Which unique rule a violation broke.
///
/// PostgreSQL names the index in `constraint()`. SQLite reports only text: for an index on an
/// expression (our `lower(...)` indexes) it says `UNIQUE constraint failed: index
/// 'uq_users_email'`, for plain columns `UNIQUE constraint failed: users.email`; both forms are
/// recognised.
fn unique_violation(db: &dyn DatabaseError) -> UniqueViolation {
    let name = db.constraint().unwrap_or_else(|| db.message());
    if name.contains("uq_users_email") || name.contains("users.email") {
        UniqueViolation::Email
    } else if name.contains("uq_users_username") || name.contains("users.username") {
        UniqueViolation::Username
    } else {
        UniqueViolation::Other
    }
}

/// Database-reported errors that mean "cannot serve right now" rather than "bad query".
fn is_connection_failure(db: &dyn DatabaseError) -> bool {
    let Some(code) = db.code() else {
        return false;
    };
    if db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>().is_some() {
        // Class 08: connection exception; 53300: too many connections; 57P01–57P03: the server
        // is shutting down or not yet accepting connections.
        code.starts_with("08") || matches!(&*code, "53300" | "57P01" | "57P02" | "57P03")
    } else {
        // SQLite extended result codes keep the primary code in the low byte:
        // SQLITE_BUSY (5) after busy_timeout, SQLITE_IOERR (10), SQLITE_CANTOPEN (14).
        code.parse::<i64>().map(|c| matches!(c & 0xff, 5 | 10 | 14)).unwrap_or(false)
    }
}

/// The database's own words for an error, for logs: `SQLSTATE <code>: <message>` for an error
/// the database reported (the code is SQLite's extended result code there), the driver's text
/// otherwise. PostgreSQL's DETAIL, where it quotes the values of a violated key, is left out.
pub(crate) fn describe(err: &sqlx::Error) -> String {
    match err {
        sqlx::Error::Database(db) => match db.code() {
            Some(code) => format!("SQLSTATE {code}: {}", db.message()),
            None => db.message().to_owned(),
        },
        other => other.to_string(),
    }
}

/// The code of an error the database reported.
pub(crate) fn sqlstate(err: &sqlx::Error) -> Option<String> {
    match err {
        sqlx::Error::Database(db) => db.code().map(std::borrow::Cow::into_owned),
        _ => None,
    }
}

/// A stored value that does not decode into its domain type.
pub(crate) fn corrupt(what: impl Into<String>) -> StoreError {
    StoreError::Corrupt(what.into())
}
