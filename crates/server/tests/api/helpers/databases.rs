//! Test databases: a SQLite file or a fresh PostgreSQL database per test, from the fixtures the
//! crates share (`taskify-test-support`, docs/testing.md#shared-fixtures).

pub use taskify_test_support::{Backend, TestDatabase, fresh_temp_dir};
