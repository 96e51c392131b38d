//! The few places where PostgreSQL and SQLite SQL differ.
//!
//! Everything here returns whitelisted SQL fragments built from column expressions written in
//! this crate; no caller-supplied value ever reaches them.

/// Which SQL flavour a statement is written for. `on_db!` binds it next to the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    Postgres,
    Sqlite,
}

impl Dialect {
    /// ASCII-only lowercase of `expr` (docs/http-contract.md#request-bodies-and-field-rules): PostgreSQL's `lower` follows the collation,
    /// and only the "C" collation leaves non-ASCII letters alone; SQLite's `lower` is ASCII-only.
    /// The same expressions back the unique indexes, so lookups can use them.
    pub(crate) fn fold(self, expr: &str) -> String {
        match self {
            Self::Postgres => format!("lower({expr} COLLATE \"C\")"),
            Self::Sqlite => format!("lower({expr})"),
        }
    }

    /// The statement that opens a transaction which will write.
    ///
    /// On SQLite a plain (deferred) `BEGIN` takes the write lock only at the first write, and a
    /// reader that tries to upgrade while another connection writes fails with `SQLITE_BUSY`
    /// at once, without waiting for the busy timeout. `BEGIN IMMEDIATE` takes the write lock
    /// up front, which also serialises check-then-write sequences (the last-admin rule).
    pub(crate) fn begin_write(self) -> &'static str {
        match self {
            Self::Postgres => "BEGIN",
            Self::Sqlite => "BEGIN IMMEDIATE",
        }
    }

    /// `expr` with its fractional part dropped, for "is a whole number" tests
    /// (`CAST(... AS INTEGER)` saturates on SQLite but raises an error on PostgreSQL).
    pub(crate) fn trunc(self, expr: &str) -> String {
        match self {
            Self::Postgres => format!("trunc({expr})"),
            Self::Sqlite => format!("CAST({expr} AS INTEGER)"),
        }
    }

    /// The numeric value of an attribute row when its `data_type` is `number`, else NULL.
    /// The CASE guards the cast, so a text value never reaches it (PostgreSQL would raise).
    pub(crate) fn attribute_number(self, alias: &str) -> String {
        let real = match self {
            Self::Postgres => "DOUBLE PRECISION",
            Self::Sqlite => "REAL",
        };
        format!("CASE WHEN {alias}.data_type = 'number' THEN CAST({alias}.value AS {real}) END")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding_is_ascii_only_on_both() {
        assert_eq!(Dialect::Postgres.fold("u.email"), "lower(u.email COLLATE \"C\")");
        assert_eq!(Dialect::Sqlite.fold("u.email"), "lower(u.email)");
    }
}
