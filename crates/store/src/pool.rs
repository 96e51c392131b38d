//! The connection pool of one backend. Its own module, so the availability probe and the
//! connection set-up can both use it without importing each other.

#[derive(Clone)]
pub(crate) enum Pool {
    Postgres(sqlx::PgPool),
    Sqlite(sqlx::SqlitePool),
}
