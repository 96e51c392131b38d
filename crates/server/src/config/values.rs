//! Checks of free-form configuration values: a bad value stops the start with a message naming
//! the variable, instead of being replaced by a default or ignored later (docs/operations.md,
//! "Configuration").

use tracing_subscriber::EnvFilter;

/// The log levels `LOG_LEVEL` accepts as a single word.
const LEVELS: [&str; 6] = ["trace", "debug", "info", "warn", "error", "off"];

/// `LOG_LEVEL`: a level (`info`) or comma-separated directives (`info,taskify_core=debug`).
///
/// `EnvFilter` alone accepts any bare word as a target name, so `LOG_LEVEL=verbose` would parse
/// and silently log nothing of ours; here a directive without `=` must be a level.
pub fn log_filter(value: &str) -> Option<EnvFilter> {
    let lowered = value.to_ascii_lowercase();
    let directives_ok =
        lowered.split(',').map(str::trim).all(|d| !d.is_empty() && (d.contains('=') || LEVELS.contains(&d)));
    if !directives_ok {
        return None;
    }
    EnvFilter::builder().parse(value).ok()
}

/// A CORS origin: `*` or `scheme://host[:port]` with no path, as browsers send it.
pub fn is_origin(value: &str) -> bool {
    if value == "*" {
        return true;
    }
    let Some((scheme, rest)) = value.split_once("://") else {
        return false;
    };
    matches!(scheme, "http" | "https")
        && !rest.is_empty()
        && rest.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
}

/// An HTTP token (RFC 9110 `tchar`), as method and header names must be.
pub fn is_token(value: &str) -> bool {
    !value.is_empty() && value.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// Every comma-separated entry of `list` passes `check` (empty entries are skipped).
pub fn all_entries(list: &str, check: impl Fn(&str) -> bool) -> bool {
    list.split(',').map(str::trim).filter(|v| !v.is_empty()).all(check)
}

/// A name that ends up in logs and Redis keys (`INSTANCE_ID`, `CACHE_KEY_PREFIX`): 1 to 64
/// characters, letters, digits and `._:-`.
pub fn is_label(value: &str) -> bool {
    (1..=64).contains(&value.len())
        && value.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_levels_and_directives() {
        for good in ["info", "WARN", "debug,taskify_core=trace", "taskify_server=info", "off"] {
            assert!(log_filter(good).is_some(), "{good}");
        }
        for bad in ["verbose", "info,,", "taskify=loud", "in fo"] {
            assert!(log_filter(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn origins_tokens_and_labels() {
        assert!(is_origin("https://app.example.com") && is_origin("http://localhost:3000") && is_origin("*"));
        assert!(!is_origin("app.example.com") && !is_origin("https://a.com/path") && !is_origin("ftp://a"));
        assert!(is_token("X-Request-Id") && !is_token("Bad Header") && !is_token(""));
        assert!(all_entries("GET, POST,", is_token) && !all_entries("GET,P OST", is_token));
        assert!(is_label("web-1.a1b2c3") && !is_label("") && !is_label("a b") && !is_label(&"x".repeat(65)));
    }
}
