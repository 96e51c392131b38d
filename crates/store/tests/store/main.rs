//! Store tests: every test body runs against SQLite (a file in a temporary directory) and against
//! PostgreSQL (a fresh database per test on 127.0.0.1:5432, or `TEST_DATABASE_URL`).

#[macro_use]
mod harness;

mod attributes;
mod audit;
mod idempotency;
mod migrations;
mod owner_department;
mod rotation;
mod send;
mod tasks;
mod tokens;
mod users;
