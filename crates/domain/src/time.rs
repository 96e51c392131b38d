//! Timestamps: always UTC, rendered with exactly six fractional digits (docs/http-contract.md#times-identifiers-and-durations).

use chrono::{DateTime, SecondsFormat, Utc};

/// The one timestamp type: UTC, microsecond precision (both databases keep microseconds).
pub type Timestamp = DateTime<Utc>;

/// The current time truncated to microseconds, so a value survives a database round trip unchanged.
pub fn now() -> Timestamp {
    truncate_micros(Utc::now())
}

/// Drops sub-microsecond precision.
pub fn truncate_micros(t: Timestamp) -> Timestamp {
    let nanos = t.timestamp_subsec_nanos();
    t - chrono::Duration::nanoseconds(i64::from(nanos % 1_000))
}

/// `2025-11-17T10:11:12.345678Z`: the output format of every API timestamp and of SQLite columns.
pub fn format_micros(t: &Timestamp) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// `2025-11-17T10:11:12Z`: whole seconds, used only by the health endpoints.
pub fn format_secs(t: &Timestamp) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Parses an RFC 3339 date-time with an offset (a bare date is rejected) and normalises it to UTC.
pub fn parse_rfc3339(s: &str) -> Option<Timestamp> {
    // chrono accepts a space instead of `T` and lowercase `t`/`z`; RFC 3339 allows both cases.
    DateTime::parse_from_rfc3339(s).ok().map(|t| truncate_micros(t.with_timezone(&Utc)))
}

/// Serde adapter for `Timestamp` in the API format.
pub mod serde_micros {
    use super::{Timestamp, format_micros};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format_micros(t))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
        Timestamp::deserialize(d)
    }

    /// The same for `Option<Timestamp>`; `None` is `null`.
    pub mod option {
        use super::super::{Timestamp, format_micros};
        use serde::{Deserialize, Deserializer, Serializer};

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Timestamp>, D::Error> {
            Option::<Timestamp>::deserialize(d)
        }

        pub fn serialize<S: Serializer>(t: &Option<Timestamp>, s: S) -> Result<S::Ok, S::Error> {
            match t {
                Some(t) => s.serialize_str(&format_micros(t)),
                None => s.serialize_none(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_with_six_fraction_digits_and_z() {
        let t = parse_rfc3339("2025-11-17T12:11:12.3+02:00").expect("valid");
        assert_eq!(format_micros(&t), "2025-11-17T10:11:12.300000Z");
        assert_eq!(format_secs(&t), "2025-11-17T10:11:12Z");
    }

    #[test]
    fn bare_dates_and_garbage_are_rejected() {
        assert!(parse_rfc3339("2025-12-01").is_none());
        assert!(parse_rfc3339("2025-13-01T00:00:00Z").is_none());
        assert!(parse_rfc3339("tomorrow").is_none());
    }
}
