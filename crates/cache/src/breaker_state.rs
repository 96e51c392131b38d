//! The state of a circuit breaker, on its own so that telemetry can report it without depending
//! on the breaker (which reports its transitions through telemetry).

use serde::Serialize;

/// The three states of docs/cache.md#circuit-breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum BreakerState {
    /// Every call runs.
    Closed,
    /// A few trial calls run; the others are skipped.
    HalfOpen,
    /// Every call is skipped.
    Open,
}

impl BreakerState {
    /// `closed`, `half-open` or `open`: the spelling of the stats body and the metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Closed => "closed",
            Self::HalfOpen => "half-open",
            Self::Open => "open",
        }
    }

    /// The value of the `circuit_breaker_state` gauge: 0 closed, 1 half-open, 2 open.
    pub fn gauge_value(self) -> f64 {
        match self {
            Self::Closed => 0.0,
            Self::HalfOpen => 1.0,
            Self::Open => 2.0,
        }
    }

    pub(crate) fn to_u8(self) -> u8 {
        match self {
            Self::Closed => 0,
            Self::HalfOpen => 1,
            Self::Open => 2,
        }
    }

    pub(crate) fn from_u8(v: u8) -> Self {
        match v {
            0 => Self::Closed,
            1 => Self::HalfOpen,
            _ => Self::Open,
        }
    }
}
