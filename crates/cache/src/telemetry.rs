//! The cache and breaker metrics of docs/operations.md#metrics, behind small helpers so that names and label
//! values are spelled in one place.

use crate::breaker_state::BreakerState;

/// `cache_operations_total{level,op,result}`.
pub const CACHE_OPERATIONS: &str = "cache_operations_total";
/// `cache_hits_total`: overall result of a cache read.
pub const CACHE_HITS: &str = "cache_hits_total";
/// `cache_misses_total`: overall result of a cache read.
pub const CACHE_MISSES: &str = "cache_misses_total";
/// `cache_l1_entries` gauge.
pub const CACHE_L1_ENTRIES: &str = "cache_l1_entries";
/// `cache_invalidations_published_total`.
pub const INVALIDATIONS_PUBLISHED: &str = "cache_invalidations_published_total";
/// `cache_invalidations_received_total`.
pub const INVALIDATIONS_RECEIVED: &str = "cache_invalidations_received_total";
/// `cache_pending_invalidations` gauge.
pub const PENDING_INVALIDATIONS: &str = "cache_pending_invalidations";
/// `circuit_breaker_state{name}` gauge: 0 closed, 1 half-open, 2 open.
pub const BREAKER_STATE: &str = "circuit_breaker_state";
/// `circuit_breaker_transitions_total{name,from,to}`.
pub const BREAKER_TRANSITIONS: &str = "circuit_breaker_transitions_total";
/// `redis_up` gauge (0 when Redis is disabled or unreachable).
pub const REDIS_UP: &str = "redis_up";

/// Exports the transitions of the breaker `name` at zero, so the counter exists before the
/// first outage (docs/operations.md#metrics lists it).
pub fn register_breaker(name: &'static str) {
    use crate::breaker_state::BreakerState::{Closed, HalfOpen, Open};
    for (from, to) in [(Closed, Open), (Open, HalfOpen), (HalfOpen, Closed), (HalfOpen, Open)] {
        metrics::counter!(BREAKER_TRANSITIONS, "name" => name, "from" => from.as_str(), "to" => to.as_str())
            .absolute(0);
    }
}

/// The `level` label.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Level {
    L1,
    L2,
}

/// The `op` label.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Op {
    Get,
    Set,
    Delete,
    DeletePattern,
}

/// The `result` label.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Outcome {
    Hit,
    Miss,
    Ok,
    Error,
    Skipped,
}

pub(crate) fn operation(level: Level, op: Op, outcome: Outcome) {
    let level = match level {
        Level::L1 => "l1",
        Level::L2 => "l2",
    };
    let op = match op {
        Op::Get => "get",
        Op::Set => "set",
        Op::Delete => "delete",
        Op::DeletePattern => "delete_pattern",
    };
    let result = match outcome {
        Outcome::Hit => "hit",
        Outcome::Miss => "miss",
        Outcome::Ok => "ok",
        Outcome::Error => "error",
        Outcome::Skipped => "skipped",
    };
    metrics::counter!(CACHE_OPERATIONS, "level" => level, "op" => op, "result" => result).increment(1);
}

pub(crate) fn read_result(hit: bool) {
    if hit {
        metrics::counter!(CACHE_HITS).increment(1);
    } else {
        metrics::counter!(CACHE_MISSES).increment(1);
    }
}

pub(crate) fn l1_entries(n: u64) {
    metrics::gauge!(CACHE_L1_ENTRIES).set(n as f64);
}

pub(crate) fn published() {
    metrics::counter!(INVALIDATIONS_PUBLISHED).increment(1);
}

pub(crate) fn received() {
    metrics::counter!(INVALIDATIONS_RECEIVED).increment(1);
}

pub(crate) fn pending(n: usize) {
    metrics::gauge!(PENDING_INVALIDATIONS).set(n as f64);
}

pub(crate) fn redis_up(up: bool) {
    metrics::gauge!(REDIS_UP).set(if up { 1.0 } else { 0.0 });
}

pub(crate) fn breaker_state(name: &'static str, state: BreakerState) {
    metrics::gauge!(BREAKER_STATE, "name" => name).set(state.gauge_value());
}

pub(crate) fn breaker_transition(name: &'static str, from: BreakerState, to: BreakerState) {
    metrics::counter!(BREAKER_TRANSITIONS, "name" => name, "from" => from.as_str(), "to" => to.as_str()).increment(1);
    breaker_state(name, to);
}
