//! Durations as the jobs API writes and reads them (docs/http-contract.md#times-identifiers-and-durations, docs/jobs.md#job-document): Go-style duration strings
//! (`"15m"`, `"1h30m"`, `"1500ms"`) and integer nanoseconds in, Go's `Duration.String()` out
//! (`"15m0s"`, `"1.5s"`, `"720h0m0s"`).

use std::time::Duration;

use serde_json::Value;

/// The one duration parser and printer of Taskify (configuration, job TTLs, job documents).
pub use taskify_domain::duration::{format_duration, parse_duration};

/// The shortest TTL a job accepts (1 s).
pub const MIN_TTL: Duration = Duration::from_secs(1);
/// The longest TTL a job accepts (30 days).
pub const MAX_TTL: Duration = Duration::from_secs(30 * 24 * 3600);
/// The TTL of warmup and scheduled jobs when the request gives none (15 minutes).
pub const DEFAULT_TTL: Duration = Duration::from_secs(15 * 60);
/// The TTL of batch and validation jobs when the request gives none (1 hour).
pub const DEFAULT_LONG_TTL: Duration = Duration::from_secs(3600);

/// Reads a job TTL from a request body member (docs/jobs.md#job-document "TTL input"):
/// - absent, `null`, `0` or a zero duration string: `default`;
/// - a JSON integer: nanoseconds; a string: a duration ([`parse_duration`]);
/// - the value is truncated to whole milliseconds and must then lie within 1 s ..= 30 days.
///
/// Negative numbers, non-integer numbers, unparsable strings, other JSON types and values out of
/// range are errors (400 `validation_failed`; the message is meant for `errors[].message`).
pub fn parse_ttl(value: Option<&Value>, default: Duration) -> Result<Duration, String> {
    let raw = match value {
        None | Some(Value::Null) => return Ok(default),
        Some(Value::Number(n)) => match (n.as_u64(), n.as_i64(), n.as_f64()) {
            (Some(ns), _, _) => Duration::from_nanos(ns),
            (None, Some(_), _) => return Err("must not be negative".to_owned()),
            (None, None, Some(f)) if f < 0.0 => return Err("must not be negative".to_owned()),
            _ => return Err("must be an integer number of nanoseconds or a duration string".to_owned()),
        },
        Some(Value::String(s)) => parse_duration(s.trim())?,
        Some(_) => return Err("must be an integer number of nanoseconds or a duration string".to_owned()),
    };
    if raw.is_zero() {
        return Ok(default);
    }
    let ttl = Duration::from_millis(u64::try_from(raw.as_millis()).unwrap_or(u64::MAX));
    if ttl < MIN_TTL || ttl > MAX_TTL {
        return Err(format!("must be between {} and {}", format_duration(MIN_TTL), format_duration(MAX_TTL)));
    }
    Ok(ttl)
}

/// Renders a job TTL as the API sends it (docs/jobs.md#job-document "TTL output"): [`format_duration`].
pub fn format_ttl(ttl: Duration) -> String {
    format_duration(ttl)
}
