//! The consecutive-failure circuit breaker of docs/cache.md#circuit-breaker.
//!
//! `closed`: every call runs and a success resets the failure count; `max_failures` failures in
//! a row open it. `open`: calls are rejected at once ("skipped") until `timeout` has passed since
//! the failure that opened it, then it is `half-open`. `half-open`: at most `half_open_max_calls`
//! trial calls are in flight, others are skipped; `half_open_successes` successes in a row close
//! it and any failure opens it again (and restarts the timeout).
//!
//! The breaker does not know what a failure is: the caller reports it through a [`Permit`].
//! [`crate::RedisHandle`] reports connection errors and timeouts as failures, and a `nil` reply
//! or a Redis logical error as a success (the server answered).

use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::breaker_state::BreakerState;
use crate::config::BreakerConfig;
use crate::telemetry;

/// A source of monotonic time, so that tests can drive the breaker without sleeping.
pub trait Clock: Send + Sync + 'static {
    /// The current instant.
    fn now(&self) -> Instant;
}

/// The real monotonic clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
}

/// A clock that only moves when told to (for tests).
#[derive(Debug)]
pub struct ManualClock {
    base: Instant,
    offset: Mutex<Duration>,
}

impl ManualClock {
    /// A clock standing at the current instant.
    pub fn new() -> Self {
        Self { base: Instant::now(), offset: Mutex::new(Duration::ZERO) }
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        *lock(&self.offset) += by;
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        self.base + *lock(&self.offset)
    }
}

/// A point-in-time view of the breaker, in the shape of the `circuit_breaker` object of the
/// stats body (docs/cache.md#stats).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BreakerSnapshot {
    /// The current state.
    pub state: BreakerState,
    /// Consecutive failures counted in `closed` (0 in the other states).
    pub failure_count: u32,
    /// Consecutive successes counted in `half-open` (0 in the other states).
    pub success_count: u32,
    /// When the last failure happened (unix seconds), if ever.
    pub last_failure: Option<u64>,
    /// `CACHE_BREAKER_MAX_FAILURES`.
    pub max_failures: u32,
    /// `CACHE_BREAKER_TIMEOUT` in whole seconds.
    pub timeout_seconds: u64,
    /// `CACHE_BREAKER_HALF_OPEN_SUCCESSES`.
    pub half_open_successes_required: u32,
}

/// The call was not run because the breaker is open, or half-open with all trial slots taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("circuit breaker {0} is open: call skipped")]
pub struct Rejected(pub &'static str);

/// A consecutive-failure circuit breaker. Cheap to clone: clones share one state.
#[derive(Clone)]
pub struct CircuitBreaker {
    shared: Arc<Shared>,
}

struct Shared {
    name: &'static str,
    config: BreakerConfig,
    clock: Arc<dyn Clock>,
    inner: Mutex<Inner>,
    /// Mirror of `inner.state` for lock-free reads on hot paths.
    state: AtomicU8,
    /// How many times the breaker has opened since it was built.
    times_opened: AtomicU64,
}

struct Inner {
    state: BreakerState,
    /// Consecutive failures while closed.
    failures: u32,
    /// Consecutive successes while half-open.
    successes: u32,
    /// When the breaker last opened (the failure that opened it).
    opened_at: Option<Instant>,
    /// Trial calls in flight while half-open.
    in_flight: u32,
    /// Incremented at every transition: a permit issued in an earlier epoch reports nothing.
    epoch: u64,
    last_failure: Option<SystemTime>,
}

impl CircuitBreaker {
    /// A breaker on the real clock. `name` labels its metrics and logs (`redis`).
    pub fn new(name: &'static str, config: BreakerConfig) -> Self {
        Self::with_clock(name, config, Arc::new(SystemClock))
    }

    /// A breaker on the given clock (tests pass a [`ManualClock`]).
    pub fn with_clock(name: &'static str, config: BreakerConfig, clock: Arc<dyn Clock>) -> Self {
        let breaker = Self {
            shared: Arc::new(Shared {
                name,
                config,
                clock,
                inner: Mutex::new(Inner {
                    state: BreakerState::Closed,
                    failures: 0,
                    successes: 0,
                    opened_at: None,
                    in_flight: 0,
                    epoch: 0,
                    last_failure: None,
                }),
                state: AtomicU8::new(BreakerState::Closed.to_u8()),
                times_opened: AtomicU64::new(0),
            }),
        };
        telemetry::breaker_state(name, BreakerState::Closed);
        breaker
    }

    /// The breaker's name.
    pub fn name(&self) -> &'static str {
        self.shared.name
    }

    /// Its settings.
    pub fn config(&self) -> &BreakerConfig {
        &self.shared.config
    }

    /// Asks to run one call. `Ok` gives a permit on which the caller reports the outcome;
    /// `Err` means "skipped". Dropping a permit without reporting releases its trial slot and
    /// counts as nothing (a cancelled call).
    pub fn try_acquire(&self) -> Result<Permit, Rejected> {
        let mut inner = self.lock_and_refresh();
        match inner.state {
            BreakerState::Closed => Ok(Permit::new(self.clone(), inner.epoch, false)),
            BreakerState::Open => Err(Rejected(self.shared.name)),
            BreakerState::HalfOpen => {
                if inner.in_flight >= self.shared.config.half_open_max_calls.max(1) {
                    Err(Rejected(self.shared.name))
                } else {
                    inner.in_flight += 1;
                    Ok(Permit::new(self.clone(), inner.epoch, true))
                }
            }
        }
    }

    /// The current state (an `open` breaker whose timeout has passed reports `half-open`).
    pub fn state(&self) -> BreakerState {
        self.lock_and_refresh().state
    }

    /// The state as of the last transition, without taking the lock: an `open` breaker whose
    /// timeout has passed still reads `open` until the next call. For hot paths.
    pub fn state_fast(&self) -> BreakerState {
        BreakerState::from_u8(self.shared.state.load(Ordering::Acquire))
    }

    /// True unless the breaker is open ("Redis available" of docs/jobs.md#routing when Redis is configured).
    pub fn allows_calls(&self) -> bool {
        self.state() != BreakerState::Open
    }

    /// How many times the breaker has opened since it was built. Monotonic.
    pub fn times_opened(&self) -> u64 {
        self.shared.times_opened.load(Ordering::Acquire)
    }

    /// A snapshot for the stats body.
    pub fn snapshot(&self) -> BreakerSnapshot {
        let inner = self.lock_and_refresh();
        let config = &self.shared.config;
        BreakerSnapshot {
            state: inner.state,
            failure_count: if inner.state == BreakerState::Closed { inner.failures } else { 0 },
            success_count: if inner.state == BreakerState::HalfOpen { inner.successes } else { 0 },
            last_failure: inner.last_failure.and_then(|t| t.duration_since(UNIX_EPOCH).ok()).map(|d| d.as_secs()),
            max_failures: config.max_failures,
            timeout_seconds: config.timeout.as_secs(),
            half_open_successes_required: config.half_open_successes,
        }
    }

    fn lock_and_refresh(&self) -> MutexGuard<'_, Inner> {
        let mut inner = lock(&self.shared.inner);
        if inner.state == BreakerState::Open
            && let Some(opened_at) = inner.opened_at
            && self.shared.clock.now().saturating_duration_since(opened_at) >= self.shared.config.timeout
        {
            self.transition(&mut inner, BreakerState::HalfOpen);
        }
        inner
    }

    fn record(&self, epoch: u64, trial: bool, success: bool) {
        let mut inner = self.lock_and_refresh();
        if inner.epoch != epoch {
            // The permit was issued before the last transition: its outcome says nothing about
            // the current state (e.g. a slow failure arriving after the breaker already opened).
            return;
        }
        if trial {
            inner.in_flight = inner.in_flight.saturating_sub(1);
        }
        if !success {
            inner.last_failure = Some(SystemTime::now());
        }
        let config = &self.shared.config;
        match (inner.state, success) {
            (BreakerState::Closed, true) => inner.failures = 0,
            (BreakerState::Closed, false) => {
                inner.failures += 1;
                if inner.failures >= config.max_failures.max(1) {
                    self.transition(&mut inner, BreakerState::Open);
                }
            }
            (BreakerState::HalfOpen, true) => {
                inner.successes += 1;
                if inner.successes >= config.half_open_successes.max(1) {
                    self.transition(&mut inner, BreakerState::Closed);
                }
            }
            (BreakerState::HalfOpen, false) => self.transition(&mut inner, BreakerState::Open),
            (BreakerState::Open, _) => {}
        }
    }

    fn release(&self, epoch: u64) {
        let mut inner = lock(&self.shared.inner);
        if inner.epoch == epoch && inner.state == BreakerState::HalfOpen {
            inner.in_flight = inner.in_flight.saturating_sub(1);
        }
    }

    fn transition(&self, inner: &mut Inner, to: BreakerState) {
        let from = inner.state;
        if from == to {
            return;
        }
        inner.state = to;
        inner.epoch += 1;
        inner.failures = 0;
        inner.successes = 0;
        inner.in_flight = 0;
        if to == BreakerState::Open {
            inner.opened_at = Some(self.shared.clock.now());
            self.shared.times_opened.fetch_add(1, Ordering::AcqRel);
        }
        self.shared.state.store(to.to_u8(), Ordering::Release);
        let name = self.shared.name;
        match to {
            BreakerState::Open => tracing::warn!(
                breaker = name,
                from = from.as_str(),
                to = to.as_str(),
                timeout_ms = self.shared.config.timeout.as_millis() as u64,
                "circuit breaker opened: calls are skipped"
            ),
            _ => tracing::info!(breaker = name, from = from.as_str(), to = to.as_str(), "circuit breaker transition"),
        }
        telemetry::breaker_transition(name, from, to);
    }
}

impl std::fmt::Debug for CircuitBreaker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CircuitBreaker").field("name", &self.shared.name).field("state", &self.state_fast()).finish()
    }
}

/// Permission to run one call through the breaker. Report its outcome with
/// [`Permit::success`] or [`Permit::failure`]; dropping it unreported counts as nothing.
#[must_use = "report the outcome of the call"]
pub struct Permit {
    breaker: CircuitBreaker,
    epoch: u64,
    trial: bool,
    reported: bool,
}

impl Permit {
    fn new(breaker: CircuitBreaker, epoch: u64, trial: bool) -> Self {
        Self { breaker, epoch, trial, reported: false }
    }

    /// The call succeeded (or failed for a reason that is not the dependency's health).
    pub fn success(mut self) {
        self.reported = true;
        self.breaker.record(self.epoch, self.trial, true);
    }

    /// The call failed with a connection error or a timeout.
    pub fn failure(mut self) {
        self.reported = true;
        self.breaker.record(self.epoch, self.trial, false);
    }

    /// Whether this is a half-open trial call.
    pub fn is_trial(&self) -> bool {
        self.trial
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        if !self.reported && self.trial {
            self.breaker.release(self.epoch);
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A poisoned lock only means another thread panicked while holding it; the breaker's state
    // is always consistent between statements, so keep going.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breaker() -> (CircuitBreaker, Arc<ManualClock>) {
        let clock = Arc::new(ManualClock::new());
        let config = BreakerConfig {
            max_failures: 5,
            timeout: Duration::from_secs(30),
            half_open_successes: 3,
            half_open_max_calls: 3,
        };
        (CircuitBreaker::with_clock("test", config, clock.clone()), clock)
    }

    fn fail(b: &CircuitBreaker, n: u32) {
        for _ in 0..n {
            b.try_acquire().expect("call allowed").failure();
        }
    }

    #[test]
    fn closed_breaker_opens_after_consecutive_failures_only() {
        let (b, _) = breaker();
        fail(&b, 4);
        b.try_acquire().expect("allowed").success();
        fail(&b, 4);
        assert_eq!(b.state(), BreakerState::Closed);
        assert_eq!(b.snapshot().failure_count, 4);
        fail(&b, 1);
        assert_eq!(b.state(), BreakerState::Open);
        assert_eq!(b.times_opened(), 1);
        assert!(b.snapshot().last_failure.is_some());
    }

    #[test]
    fn open_breaker_skips_calls_until_the_timeout() {
        let (b, clock) = breaker();
        fail(&b, 5);
        assert!(b.try_acquire().is_err());
        clock.advance(Duration::from_secs(29));
        assert!(b.try_acquire().is_err());
        // The 30 s open window step by step, as in
        // `a_failure_in_half_open_reopens_and_restarts_the_timeout`: each test spells out the clock
        // it relies on.
        assert_eq!(b.state(), BreakerState::Open);
        clock.advance(Duration::from_secs(1));
        assert_eq!(b.state(), BreakerState::HalfOpen);
    }

    #[test]
    fn half_open_allows_three_trials_in_flight() {
        let (b, clock) = breaker();
        fail(&b, 5);
        clock.advance(Duration::from_secs(30));
        let p1 = b.try_acquire().expect("trial 1");
        let p2 = b.try_acquire().expect("trial 2");
        let p3 = b.try_acquire().expect("trial 3");
        assert!(p1.is_trial());
        assert!(b.try_acquire().is_err(), "a fourth concurrent call is skipped");
        drop(p3); // cancelled: frees its slot, counts nothing
        let p4 = b.try_acquire().expect("slot freed");
        p1.success();
        p2.success();
        assert_eq!(b.state(), BreakerState::HalfOpen);
        assert_eq!(b.snapshot().success_count, 2);
        p4.success();
        assert_eq!(b.state(), BreakerState::Closed);
    }

    #[test]
    fn a_failure_in_half_open_reopens_and_restarts_the_timeout() {
        let (b, clock) = breaker();
        fail(&b, 5);
        clock.advance(Duration::from_secs(30));
        b.try_acquire().expect("trial").success();
        b.try_acquire().expect("trial").failure();
        assert_eq!(b.state(), BreakerState::Open);
        assert_eq!(b.times_opened(), 2);
        clock.advance(Duration::from_secs(29));
        // The same 30 s window as in `open_breaker_skips_calls_until_the_timeout`: re-opening
        // restarts that timer.
        assert_eq!(b.state(), BreakerState::Open);
        clock.advance(Duration::from_secs(1));
        assert_eq!(b.state(), BreakerState::HalfOpen);
    }

    #[test]
    fn late_outcomes_of_earlier_states_are_ignored() {
        let (b, clock) = breaker();
        let slow = b.try_acquire().expect("allowed");
        fail(&b, 5);
        clock.advance(Duration::from_secs(30));
        assert_eq!(b.state(), BreakerState::HalfOpen);
        slow.failure(); // issued while closed: must not reopen the half-open breaker
        assert_eq!(b.state(), BreakerState::HalfOpen);
    }
}
