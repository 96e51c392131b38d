//! Portable column types: one Rust wrapper, the native type on PostgreSQL and the canonical text
//! form of docs/data-model.md#portable-types on SQLite.
//!
//! sqlx's own SQLite mappings do not fit the contract (a `Uuid` becomes a 16-byte BLOB and a
//! `DateTime` text with a `+00:00` offset and a variable number of fraction digits), so these
//! wrappers encode exactly what the schema promises: lowercase hyphenated UUIDs and
//! `YYYY-MM-DDTHH:MM:SS.ffffffZ` timestamps, whose text order is time order. That is what makes
//! `expires_at > $1` with a bound timestamp correct on SQLite.

use chrono::{DateTime, Utc};
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::postgres::{PgArgumentBuffer, PgTypeInfo, PgValueRef};
use sqlx::sqlite::{SqliteArgumentsBuffer, SqliteTypeInfo, SqliteValueRef};
use sqlx::{Decode, Encode, Postgres, Sqlite, Type};
use taskify_domain::Timestamp;
use taskify_domain::time::format_micros;
use uuid::Uuid;

/// A UUID column: PostgreSQL `UUID`, SQLite `TEXT` (36 lowercase characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DbUuid(pub Uuid);

/// A timestamp column: PostgreSQL `TIMESTAMPTZ`, SQLite `TEXT` in the canonical form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DbTime(pub Timestamp);

// ------------------------------------------------------------------ PostgreSQL: delegate

// PostgreSQL and SQLite impls mirror each other per type (sqlx needs one impl per database); only
// the wire type differs.
impl Type<Postgres> for DbUuid {
    fn type_info() -> PgTypeInfo {
        <Uuid as Type<Postgres>>::type_info()
    }
    fn compatible(ty: &PgTypeInfo) -> bool {
        <Uuid as Type<Postgres>>::compatible(ty)
    }
}

impl Encode<'_, Postgres> for DbUuid {
    fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
        <Uuid as Encode<Postgres>>::encode_by_ref(&self.0, buf)
    }
}

impl<'r> Decode<'r, Postgres> for DbUuid {
    fn decode(value: PgValueRef<'r>) -> Result<Self, BoxDynError> {
        <Uuid as Decode<Postgres>>::decode(value).map(Self)
    }
}

impl Type<Postgres> for DbTime {
    fn type_info() -> PgTypeInfo {
        <DateTime<Utc> as Type<Postgres>>::type_info()
    }
    fn compatible(ty: &PgTypeInfo) -> bool {
        <DateTime<Utc> as Type<Postgres>>::compatible(ty)
    }
}

impl Encode<'_, Postgres> for DbTime {
    fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
        <DateTime<Utc> as Encode<Postgres>>::encode_by_ref(&self.0, buf)
    }
}

impl<'r> Decode<'r, Postgres> for DbTime {
    fn decode(value: PgValueRef<'r>) -> Result<Self, BoxDynError> {
        <DateTime<Utc> as Decode<Postgres>>::decode(value).map(Self)
    }
}

// ------------------------------------------------------------------ SQLite: canonical text

// Mirror of the PostgreSQL impls above (see there), with text as the wire type.
impl Type<Sqlite> for DbUuid {
    fn type_info() -> SqliteTypeInfo {
        <String as Type<Sqlite>>::type_info()
    }
    fn compatible(ty: &SqliteTypeInfo) -> bool {
        <String as Type<Sqlite>>::compatible(ty)
    }
}

impl Encode<'_, Sqlite> for DbUuid {
    fn encode_by_ref(&self, buf: &mut SqliteArgumentsBuffer) -> Result<IsNull, BoxDynError> {
        // `Hyphenated` displays lowercase, which the schema and the id ordering rely on.
        <String as Encode<Sqlite>>::encode(self.0.hyphenated().to_string(), buf)
    }
}

impl<'r> Decode<'r, Sqlite> for DbUuid {
    fn decode(value: SqliteValueRef<'r>) -> Result<Self, BoxDynError> {
        let text = <&str as Decode<Sqlite>>::decode(value)?;
        Ok(Self(Uuid::parse_str(text)?))
    }
}

impl Type<Sqlite> for DbTime {
    fn type_info() -> SqliteTypeInfo {
        <String as Type<Sqlite>>::type_info()
    }
    fn compatible(ty: &SqliteTypeInfo) -> bool {
        <String as Type<Sqlite>>::compatible(ty)
    }
}

impl Encode<'_, Sqlite> for DbTime {
    fn encode_by_ref(&self, buf: &mut SqliteArgumentsBuffer) -> Result<IsNull, BoxDynError> {
        <String as Encode<Sqlite>>::encode(format_micros(&self.0), buf)
    }
}

impl<'r> Decode<'r, Sqlite> for DbTime {
    fn decode(value: SqliteValueRef<'r>) -> Result<Self, BoxDynError> {
        let text = <&str as Decode<Sqlite>>::decode(value)?;
        let parsed =
            DateTime::parse_from_rfc3339(text).map_err(|e| format!("invalid stored timestamp {text:?}: {e}"))?;
        Ok(Self(parsed.with_timezone(&Utc)))
    }
}

/// `Option<DbUuid>` → `Option<Uuid>`.
pub(crate) fn opt_uuid(v: Option<DbUuid>) -> Option<Uuid> {
    v.map(|u| u.0)
}

/// `Option<DbTime>` → `Option<Timestamp>`.
pub(crate) fn opt_time(v: Option<DbTime>) -> Option<Timestamp> {
    v.map(|t| t.0)
}
