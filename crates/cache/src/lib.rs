//! Taskify's cache: a two-level cache (L1 in process, L2 in Redis) that stores bytes under
//! logical keys and knows nothing about tasks, plus the Redis circuit breaker, the
//! cross-instance invalidation bus and the generation counters (docs/cache.md).
//!
//! # Levels and reads
//! L1 is a moka cache bounded by `CACHE_L1_MAX_ENTRIES` and `CACHE_L1_MAX_BYTES` (each entry
//! weighed by its serialised size), with a TTL per entry of min(entry TTL, `CACHE_L1_TTL`).
//! L2 is Redis. A read tries L1, then L2 (a hit is promoted to L1 with TTL = min(PTTL,
//! `CACHE_L1_TTL`)), then loads ([`Cache::get_or_load`], single flight per key). A value above
//! `CACHE_MAX_VALUE_BYTES` is cached at neither level. A miss is never an error.
//!
//! # L2 layout
//! The value of logical key `k` is stored verbatim (the caller's JSON) under `<prefix>k`, so a
//! warm-up of `test:key` reads back as exactly `{"test":"data"}`. Its metadata, the namespace
//! epoch at write time, the kind (value or tombstone) and the writer version, live in a sidecar
//! key `<prefix>k\x1f` with the same TTL. Every read, fill, writer set and tombstone is one Lua
//! script that reads the value, its metadata and the epoch atomically (see [`scripts`]).
//!
//! # Writes and invalidations
//! - read fills never overwrite (SET NX semantics, refused over a current value, a tombstone or
//!   after an epoch change) and an L1 fill that began before an invalidation of its key is
//!   discarded;
//! - [`Cache::set_versioned`] keeps the higher version and never replaces a tombstone;
//! - [`Cache::invalidate`] writes 60 s tombstones (used for every single-key DEL of docs/cache.md#what-writes-do);
//! - [`Cache::delete_pattern`] and [`Cache::clear`] use SCAN + UNLINK, never `KEYS`;
//! - every L1 change is applied locally and published on `<prefix>invalidate`
//!   (`taskify:cache:invalidate` by default) before the call returns; other instances apply it,
//!   and an instance ignores its own messages.
//!
//! # Outages
//! Every Redis call goes through the [`CircuitBreaker`] named `redis` with a per-call timeout.
//! A write that cannot reach L2 is recorded in a pending set and L2 reads stop on that instance.
//! Once Redis answers again, the instance bumps the namespace epoch (hiding every value written
//! before), replays counter increments and a pending clear, publishes `{"all":true}` and only
//! then reads L2 again. While the subscription is down (or the breaker open), L1 entries older
//! than `CACHE_L1_OUTAGE_TTL` are not served, and L1 is cleared on disconnection and on
//! reconnection.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod breaker;
mod breaker_state;
mod bus;
mod cache;
mod config;
mod flight;
mod glob;
mod l1;
mod pending;
mod redis_handle;
pub mod scripts;
mod stats;
pub mod stream;
pub mod telemetry;

pub use breaker::{BreakerSnapshot, CircuitBreaker, Clock, ManualClock, Permit, Rejected, SystemClock};
pub use breaker_state::BreakerState;
pub use bus::Invalidation;
pub use cache::{Cache, CacheError, Fill, FillOutcome, FillTicket, L2Outcome, SetOutcome};
pub use config::{BreakerConfig, CacheConfig, DEFAULT_OVERFLOW_COUNTER, RedisConfig, redact_url};
pub use glob::{Glob, GlobError, escape as escape_glob, is_glob};
pub use redis_handle::{CallKind, RedisCallError, RedisHandle, is_transport_error};
pub use stats::{CacheStats, L1Stats, L2Info, L2Stats, OperationStats};

/// The Redis client crate this cache is built on, for callers of [`RedisHandle::call`].
pub use redis;
