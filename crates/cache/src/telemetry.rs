//! The cache and breaker metrics of docs/operations.md#metrics, behind small helpers so that label
//! values are spelled in one place; the names come from the one table, `taskify_domain::metric_names`.

use crate::breaker_state::BreakerState;
use taskify_domain::metric_keys::LabelledMetric;
use taskify_domain::metric_names as names;

/// Exports the transitions of the breaker `name` at zero, so the counter exists before the
/// first outage (docs/operations.md#metrics lists it).
pub fn register_breaker(name: &'static str) {
    use crate::breaker_state::BreakerState::{Closed, HalfOpen, Open};
    for (from, to) in [(Closed, Open), (Open, HalfOpen), (HalfOpen, Closed), (HalfOpen, Open)] {
        metrics::counter!(names::CIRCUIT_BREAKER_TRANSITIONS_TOTAL, "name" => name, "from" => from.as_str(), "to" => to.as_str())
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
    static OPERATIONS: LabelledMetric = LabelledMetric::new(names::CACHE_OPERATIONS_TOTAL, &["level", "op", "result"]);
    OPERATIONS.counter(&[level, op, result]).increment(1);
}

pub(crate) fn read_result(hit: bool) {
    if hit {
        metrics::counter!(names::CACHE_HITS_TOTAL).increment(1);
    } else {
        metrics::counter!(names::CACHE_MISSES_TOTAL).increment(1);
    }
}

pub(crate) fn l1_entries(n: u64) {
    metrics::gauge!(names::CACHE_L1_ENTRIES).set(n as f64);
}

pub(crate) fn published() {
    metrics::counter!(names::CACHE_INVALIDATIONS_PUBLISHED_TOTAL).increment(1);
}

pub(crate) fn received() {
    metrics::counter!(names::CACHE_INVALIDATIONS_RECEIVED_TOTAL).increment(1);
}

pub(crate) fn pending(n: usize) {
    metrics::gauge!(names::CACHE_PENDING_INVALIDATIONS).set(n as f64);
}

pub(crate) fn redis_up(up: bool) {
    metrics::gauge!(names::REDIS_UP).set(if up { 1.0 } else { 0.0 });
}

pub(crate) fn breaker_state(name: &'static str, state: BreakerState) {
    metrics::gauge!(names::CIRCUIT_BREAKER_STATE, "name" => name).set(state.gauge_value());
}

pub(crate) fn breaker_transition(name: &'static str, from: BreakerState, to: BreakerState) {
    metrics::counter!(names::CIRCUIT_BREAKER_TRANSITIONS_TOTAL, "name" => name, "from" => from.as_str(), "to" => to.as_str()).increment(1);
    breaker_state(name, to);
}
