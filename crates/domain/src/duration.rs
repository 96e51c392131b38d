//! Durations as text, Go-style: `"15m"`, `"1h30m"`, `"1500ms"` in (configuration values and job
//! TTLs alike), Go's `Duration.String()` out (`"15m0s"`, `"1.5s"`, `"720h0m0s"`). One parser and
//! one printer for the whole workspace.

use std::time::Duration;

const NANOS_PER_SEC: u64 = 1_000_000_000;

/// Parses a Go-style duration: a sequence of decimal numbers, each with an optional fraction and
/// a unit (`ns`, `us`/`µs`/`μs`, `ms`, `s`, `m`, `h`), such as `"1h30m"`, `"1.5s"` or `"250ms"`. A
/// bare `"0"` is zero. Negative durations, a missing unit and values above ~584 years are
/// errors; the message says what is expected.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    const EXPECTED: &str = "must be a duration such as \"90s\", \"15m\" or \"1h30m\"";
    let mut rest = text;
    if let Some(r) = rest.strip_prefix('+') {
        rest = r;
    } else if rest.starts_with('-') {
        return Err("must not be negative".to_owned());
    }
    if rest == "0" {
        return Ok(Duration::ZERO);
    }
    if rest.is_empty() {
        return Err(EXPECTED.to_owned());
    }
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let int_len = rest.bytes().take_while(u8::is_ascii_digit).count();
        let (int_part, after) = rest.split_at(int_len);
        let (frac_part, after) = match after.strip_prefix('.') {
            Some(a) => {
                let n = a.bytes().take_while(u8::is_ascii_digit).count();
                a.split_at(n)
            }
            None => ("", after),
        };
        if int_part.is_empty() && frac_part.is_empty() {
            return Err(EXPECTED.to_owned());
        }
        let unit_len = after.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(after.len());
        let (unit, after) = after.split_at(unit_len);
        let unit_nanos: u128 = match unit {
            "ns" => 1,
            "us" | "\u{b5}s" | "\u{3bc}s" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60 * 1_000_000_000,
            "h" => 3600 * 1_000_000_000,
            "" => return Err(format!("{EXPECTED} (missing unit)")),
            _ => return Err(format!("{EXPECTED} (unknown unit \"{unit}\")")),
        };
        let int: u128 = if int_part.is_empty() { 0 } else { int_part.parse().map_err(|_| EXPECTED.to_owned())? };
        let mut part = int.checked_mul(unit_nanos).ok_or_else(|| "is too large".to_owned())?;
        // Digits past the 20th cannot change a nanosecond count that fits in u64.
        let frac_digits = &frac_part[..frac_part.len().min(20)];
        if !frac_digits.is_empty() {
            let frac: u128 = frac_digits.parse().map_err(|_| EXPECTED.to_owned())?;
            let scale = 10u128.pow(frac_digits.len() as u32);
            part += frac * unit_nanos / scale;
        }
        total = total.checked_add(part).ok_or_else(|| "is too large".to_owned())?;
        rest = after;
    }
    let nanos = u64::try_from(total).map_err(|_| "is too large".to_owned())?;
    Ok(Duration::from_nanos(nanos))
}

/// Go's `time.Duration.String()`: `"0s"`, `"750ns"`, `"1.2ms"`, `"1.5s"`, `"1m30s"`, `"15m0s"`,
/// `"1h0m0s"`, `"720h0m0s"`. Durations above `u64::MAX` nanoseconds are clamped.
pub fn format_duration(d: Duration) -> String {
    let nanos = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
    if nanos < NANOS_PER_SEC {
        return match nanos {
            0 => "0s".to_owned(),
            n if n < 1_000 => format!("{n}ns"),
            n if n < 1_000_000 => format!("{}\u{b5}s", with_fraction(n, 3)),
            n => format!("{}ms", with_fraction(n, 6)),
        };
    }
    let secs = nanos / NANOS_PER_SEC;
    let mut out = String::new();
    let minutes = secs / 60;
    if minutes > 0 {
        let hours = minutes / 60;
        if hours > 0 {
            out.push_str(&format!("{hours}h"));
        }
        out.push_str(&format!("{}m", minutes % 60));
    }
    out.push_str(&format!("{}{}s", secs % 60, fraction(nanos % NANOS_PER_SEC, 9)));
    out
}

/// `value / 10^digits` with its non-zero decimal fraction (`1_200_000, 6` → `"1.2"`).
fn with_fraction(value: u64, digits: u32) -> String {
    let scale = 10u64.pow(digits);
    format!("{}{}", value / scale, fraction(value % scale, digits as usize))
}

/// `".5"` for a remainder of 500 000 000 out of 9 digits; `""` for 0.
fn fraction(remainder: u64, digits: usize) -> String {
    if remainder == 0 {
        return String::new();
    }
    let text = format!("{remainder:0digits$}");
    format!(".{}", text.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_style_strings_parse() {
        assert_eq!(parse_duration("15m"), Ok(Duration::from_secs(900)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("1500ms"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("2us"), Ok(Duration::from_micros(2)));
        assert_eq!(parse_duration("2µs"), Ok(Duration::from_micros(2)));
        assert_eq!(parse_duration(".5h"), Ok(Duration::from_secs(1800)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert!(parse_duration("").is_err());
        assert!(parse_duration("abc").is_err());
        assert!(parse_duration("15").is_err());
        assert!(parse_duration("-1s").is_err());
        assert!(parse_duration("1d").is_err());
        assert!(parse_duration("99999999999h").is_err());
    }

    #[test]
    fn go_style_strings_format() {
        assert_eq!(format_duration(Duration::ZERO), "0s");
        assert_eq!(format_duration(Duration::from_nanos(750)), "750ns");
        assert_eq!(format_duration(Duration::from_micros(1500)), "1.5ms");
        assert_eq!(format_duration(Duration::from_nanos(1_200_000)), "1.2ms");
        assert_eq!(format_duration(Duration::from_nanos(2_500)), "2.5µs");
        assert_eq!(format_duration(Duration::from_secs(61) + Duration::from_millis(500)), "1m1.5s");
    }
}
