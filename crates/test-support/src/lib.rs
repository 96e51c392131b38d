//! The fixtures the tests of several crates share (docs/testing.md#shared-fixtures). A crate lists
//! this one under `[dev-dependencies]` with the features it needs; nothing else may depend on it.
//!
//! - [`free_port`], [`fresh_temp_dir`]: a local port and a directory of one's own;
//! - [`eventually`], [`eventually_every`]: polling a condition with a deadline, never a sleep;
//! - [`RedisServer`]: a private `redis-server` child that can be stopped and started again;
//! - `databases` feature: [`TestDatabase`], a PostgreSQL database or a SQLite file per test;
//! - `metrics` feature: [`capture`] and [`capture_polling`], the metrics a closure records;
//! - `cache` feature: [`Namespace`], a private key space on the shared Redis.
//!
//! Fixtures that only one crate's tests use stay in that crate's test harness.

mod local;
mod poll;
mod redis_server;

#[cfg(feature = "databases")]
mod databases;
#[cfg(feature = "metrics")]
mod metrics_capture;
#[cfg(feature = "cache")]
mod namespace;

pub use local::{free_port, fresh_temp_dir};
pub use poll::{Settled, eventually, eventually_every};
pub use redis_server::RedisServer;

#[cfg(feature = "databases")]
pub use databases::{Backend, TestDatabase, postgres_server_url};
#[cfg(feature = "metrics")]
pub use metrics_capture::{Captured, MetricValue, capture, capture_polling};
#[cfg(feature = "metrics")]
pub use metrics_util::MetricKind;
#[cfg(feature = "cache")]
pub use namespace::{Namespace, shared_redis_url};
