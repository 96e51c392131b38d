//! Test support: the shared fixtures of `taskify-test-support` (a private namespace per test on
//! the shared Redis, a private `redis-server` for outage tests, polling with a deadline), and
//! what only the cache tests need.

pub use taskify_test_support::{Namespace, RedisServer, eventually, free_port};

/// The value as text.
pub fn text(v: Option<bytes::Bytes>) -> Option<String> {
    v.map(|b| String::from_utf8(b.to_vec()).expect("utf-8"))
}
