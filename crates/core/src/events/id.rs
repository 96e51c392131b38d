//! Event ids: `<ms>-<seq>`, the format of Redis stream ids, also used by the in-process ring so
//! that clients see one format whatever the transport.

use std::fmt;
use std::str::FromStr;

/// An event id, ordered by time then sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct EventId {
    pub ms: u64,
    pub seq: u64,
}

impl EventId {
    pub const ZERO: EventId = EventId { ms: 0, seq: 0 };

    pub fn new(ms: u64, seq: u64) -> Self {
        Self { ms, seq }
    }

    /// The next id at `now_ms`: later than `self` even when the clock stands still or goes back.
    pub fn next(self, now_ms: u64) -> Self {
        if now_ms > self.ms { Self::new(now_ms, 0) } else { Self::new(self.ms, self.seq.saturating_add(1)) }
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

impl FromStr for EventId {
    type Err = ();

    /// `<ms>-<seq>` in decimal digits; anything else (a client's `Last-Event-ID` is free text) is
    /// refused.
    fn from_str(s: &str) -> Result<Self, ()> {
        let (ms, seq) = s.trim().split_once('-').ok_or(())?;
        let digits = |t: &str| !t.is_empty() && t.len() <= 20 && t.bytes().all(|b| b.is_ascii_digit());
        if !digits(ms) || !digits(seq) {
            return Err(());
        }
        Ok(Self::new(ms.parse().map_err(|_| ())?, seq.parse().map_err(|_| ())?))
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    u64::try_from(taskify_domain::time::now().timestamp_millis()).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_order_and_refuse_free_text() {
        let id: EventId = "1700000000000-3".parse().expect("an id");
        assert_eq!(id, EventId::new(1_700_000_000_000, 3));
        assert_eq!(id.to_string(), "1700000000000-3");
        assert!(EventId::new(1, 9) < EventId::new(2, 0));
        for bad in ["", "1", "-1", "1-", "a-1", "1-1-1", "1 -2", "99999999999999999999999-0"] {
            assert!(bad.parse::<EventId>().is_err(), "{bad:?} must be refused");
        }
        assert_eq!(EventId::new(5, 1).next(5), EventId::new(5, 2));
        assert_eq!(EventId::new(5, 1).next(3), EventId::new(5, 2));
        assert_eq!(EventId::new(5, 1).next(6), EventId::new(6, 0));
    }
}
