//! The one trick that lets a single body of query code serve both backends.
//!
//! `on_db!` matches the pool enum and expands the same tokens once per backend, with `$pool`
//! bound to the concrete `PgPool` / `SqlitePool` and `$dialect` to the matching
//! [`Dialect`](crate::dialect::Dialect). Every query inside is therefore fully typed for its
//! database (no `AnyPool`, which cannot decode UUIDs, timestamps or JSON), yet written once.

/// Runs `$body` with `$pool` bound to the concrete pool of the current backend.
///
/// While the database is known to be down the enclosing function returns
/// `Err(StoreError::Unavailable)` at once, without touching the pool; every admitted operation
/// is watched so that an outage becomes known (see [`crate::availability`]).
macro_rules! on_db {
    ($db:expr, |$pool:ident, $dialect:ident| $body:expr) => {{
        let db: &$crate::connect::Db = $db;
        db.availability.admit()?;
        $crate::OPERATIONS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let _watch = $crate::availability::OperationWatch::new(&db.availability, &db.pool);
        match &db.pool {
            $crate::connect::Pool::Postgres($pool) => {
                #[allow(unused_variables)]
                let $dialect = $crate::dialect::Dialect::Postgres;
                $body
            }
            $crate::connect::Pool::Sqlite($pool) => {
                #[allow(unused_variables)]
                let $dialect = $crate::dialect::Dialect::Sqlite;
                $body
            }
        }
    }};
}

/// Binds a [`Params`](crate::params::Params) list, in order, to a `query` / `query_as` /
/// `query_scalar` built from dynamic SQL.
macro_rules! bind_params {
    ($query:expr, $params:expr) => {{
        let mut query = $query;
        for param in $params.into_values() {
            use $crate::params::Param;
            use $crate::types::{DbTime, DbUuid};
            query = match param {
                Param::Uuid(v) => query.bind(DbUuid(v)),
                Param::OptUuid(v) => query.bind(v.map(DbUuid)),
                Param::Time(v) => query.bind(DbTime(v)),
                Param::OptTime(v) => query.bind(v.map(DbTime)),
                Param::Text(v) => query.bind(v),
                Param::OptText(v) => query.bind(v),
                Param::Int(v) => query.bind(v),
                Param::Bool(v) => query.bind(v),
                Param::Json(v) => query.bind(sqlx::types::Json(v)),
                Param::OptJson(v) => query.bind(v.map(sqlx::types::Json)),
            };
        }
        query
    }};
}
