//! Where the values come from: typed reads of the variables, failing with the variable's name,
//! and the settings assembled from several variables (database and Redis URLs, rate-limit
//! classes, cache, trusted proxies).

use super::ConfigError;
use super::edge::{Cidr, ClassLimit};
use super::values;
use std::time::Duration;
use taskify_cache::{BreakerConfig, CacheConfig, RedisConfig, redact_url};
use taskify_domain::duration::parse_duration;

/// Typed access to the variables, failing with the variable's name.
pub(super) struct Vars<F: Fn(&str) -> Option<String>> {
    pub(super) lookup: F,
}

impl<F: Fn(&str) -> Option<String>> Vars<F> {
    /// The value, with empty counting as unset.
    pub(super) fn raw(&self, name: &str) -> Option<String> {
        (self.lookup)(name).filter(|v| !v.trim().is_empty())
    }

    pub(super) fn parse<T>(
        &self,
        name: &str,
        default: T,
        expected: &str,
        parse: impl Fn(&str) -> Option<T>,
    ) -> Result<T, ConfigError> {
        match self.raw(name) {
            None => Ok(default),
            Some(value) => parse(value.trim()).ok_or_else(|| ConfigError {
                variable: name.into(),
                value,
                expected: expected.into(),
            }),
        }
    }

    pub(super) fn string(&self, name: &str, default: &str) -> String {
        self.raw(name).unwrap_or_else(|| default.to_owned())
    }

    /// A free-form value (trimmed) that must pass `check`.
    pub(super) fn checked(
        &self,
        name: &str,
        default: &str,
        expected: &str,
        check: impl Fn(&str) -> bool,
    ) -> Result<String, ConfigError> {
        let value = self.string(name, default);
        let value = value.trim();
        if check(value) { Ok(value.to_owned()) } else { Err(self.fail(name, value, expected)) }
    }

    pub(super) fn duration(&self, name: &str, default: &str) -> Result<Duration, ConfigError> {
        let default = parse_duration(default).unwrap_or_default();
        self.parse(name, default, "a duration such as 250ms, 30s, 1h30m", |s| parse_duration(s).ok())
    }

    /// A duration that must not be zero: a zero connection or request timeout would cut every
    /// request off at once.
    pub(super) fn positive_duration(&self, name: &str, default: &str) -> Result<Duration, ConfigError> {
        let default = parse_duration(default).unwrap_or_default();
        self.parse(name, default, "a duration above zero such as 250ms, 30s, 1h30m", |s| {
            parse_duration(s).ok().filter(|d| !d.is_zero())
        })
    }

    pub(super) fn number<T: std::str::FromStr + PartialOrd + Copy + std::fmt::Display>(
        &self,
        name: &str,
        default: T,
        min: T,
        max: T,
    ) -> Result<T, ConfigError> {
        let expected = format!("a whole number from {min} to {max}");
        self.parse(name, default, &expected, |s| s.parse::<T>().ok().filter(|n| *n >= min && *n <= max))
    }

    pub(super) fn boolean(&self, name: &str, default: bool) -> Result<bool, ConfigError> {
        self.parse(name, default, "true or false", |s| match s.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" => Some(true),
            "false" | "0" | "no" => Some(false),
            _ => None,
        })
    }

    pub(super) fn fail(&self, name: &str, value: &str, expected: &str) -> ConfigError {
        ConfigError { variable: name.into(), value: value.into(), expected: expected.into() }
    }
}

pub(super) fn default_instance_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "taskify".into());
    let suffix: u32 = rand::random::<u32>() & 0x00ff_ffff;
    format!("{host}-{suffix:06x}")
}

pub(super) fn database_url<F: Fn(&str) -> Option<String>>(vars: &Vars<F>) -> Result<String, ConfigError> {
    if let Some(url) = vars.raw("DATABASE_URL") {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") || url.starts_with("sqlite:") {
            return Ok(url);
        }
        return Err(vars.fail("DATABASE_URL", &url, "a postgres:// or sqlite:// URL"));
    }
    let Some(host) = vars.raw("DB_HOST") else {
        return Ok("sqlite://taskify.db".into());
    };
    let port: u16 = vars.number("DB_PORT", 5432, 1, 65535)?;
    let user = vars.string("DB_USER", "postgres");
    let password = vars.string("DB_PASSWORD", "");
    let name = vars.string("DB_NAME", "task_manager");
    let ssl_variable = if vars.raw("DB_SSL_MODE").is_some() { "DB_SSL_MODE" } else { "DB_SSLMODE" };
    let ssl =
        vars.checked(ssl_variable, "disable", "disable, allow, prefer, require, verify-ca or verify-full", |v| {
            matches!(v, "disable" | "allow" | "prefer" | "require" | "verify-ca" | "verify-full")
        })?;
    let auth = if password.is_empty() { user } else { format!("{user}:{password}") };
    Ok(format!("postgres://{auth}@{host}:{port}/{name}?sslmode={ssl}"))
}

pub(super) fn class_limit<F: Fn(&str) -> Option<String>>(
    vars: &Vars<F>,
    name: &'static str,
    rpm_var: &str,
    rpm: u32,
    burst_var: &str,
    burst: u32,
) -> Result<ClassLimit, ConfigError> {
    Ok(ClassLimit {
        name,
        rpm: vars.number(rpm_var, rpm, 1, 100_000_000)?,
        burst: vars.number(burst_var, burst, 1, 100_000_000)?,
    })
}

/// `REDIS_URL`, or one built from `REDIS_HOST`/`REDIS_PORT`/`REDIS_PASSWORD`/`REDIS_DB`.
pub(super) fn redis_config<F: Fn(&str) -> Option<String>>(vars: &Vars<F>) -> Result<Option<RedisConfig>, ConfigError> {
    let url = match (vars.raw("REDIS_URL"), vars.raw("REDIS_HOST")) {
        (Some(url), _) => {
            if !(url.starts_with("redis://") || url.starts_with("rediss://")) {
                return Err(vars.fail("REDIS_URL", &redact_url(&url), "a redis:// URL"));
            }
            url
        }
        (None, Some(host)) => {
            let port: u16 = vars.number("REDIS_PORT", 6379, 1, 65535)?;
            let db: u32 = vars.number("REDIS_DB", 0, 0, 1024)?;
            match vars.raw("REDIS_PASSWORD") {
                Some(pw) => format!("redis://:{pw}@{host}:{port}/{db}"),
                None => format!("redis://{host}:{port}/{db}"),
            }
        }
        (None, None) => return Ok(None),
    };
    let mut redis = RedisConfig::new(url);
    redis.dial_timeout = vars.duration("REDIS_DIAL_TIMEOUT", "5s")?;
    redis.read_timeout = vars.duration("REDIS_READ_TIMEOUT", "250ms")?;
    redis.write_timeout = vars.duration("REDIS_WRITE_TIMEOUT", "250ms")?;
    redis.max_retries = vars.number("REDIS_MAX_RETRIES", 3, 0, 100)?;
    Ok(Some(redis))
}

pub(super) fn cache_config<F: Fn(&str) -> Option<String>>(
    vars: &Vars<F>,
    instance_id: &str,
) -> Result<CacheConfig, ConfigError> {
    let defaults = CacheConfig::default();
    Ok(CacheConfig {
        key_prefix: vars.checked(
            "CACHE_KEY_PREFIX",
            &defaults.key_prefix,
            "1 to 64 letters, digits or ._:-",
            values::is_label,
        )?,
        l1_max_entries: vars.number("CACHE_L1_MAX_ENTRIES", defaults.l1_max_entries, 1, 100_000_000)?,
        l1_max_bytes: vars.number("CACHE_L1_MAX_BYTES", defaults.l1_max_bytes, 1024, 1 << 40)?,
        l1_ttl: vars.duration("CACHE_L1_TTL", "5m")?,
        l1_outage_ttl: vars.duration("CACHE_L1_OUTAGE_TTL", "1s")?,
        max_value_bytes: vars.number("CACHE_MAX_VALUE_BYTES", defaults.max_value_bytes, 1, 1 << 30)?,
        breaker: BreakerConfig {
            max_failures: vars.number("CACHE_BREAKER_MAX_FAILURES", 5, 1, 1_000_000)?,
            timeout: vars.duration("CACHE_BREAKER_TIMEOUT", "30s")?,
            half_open_successes: vars.number("CACHE_BREAKER_HALF_OPEN_SUCCESSES", 3, 1, 1_000)?,
            ..defaults.breaker.clone()
        },
        instance_id: instance_id.to_owned(),
        ..defaults
    })
}

pub(super) fn trusted_proxies<F: Fn(&str) -> Option<String>>(vars: &Vars<F>) -> Result<Vec<Cidr>, ConfigError> {
    let Some(raw) = vars.raw("TRUSTED_PROXIES") else {
        return Ok(Vec::new());
    };
    raw.split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|s| Cidr::parse(s).ok_or_else(|| vars.fail("TRUSTED_PROXIES", &raw, "comma-separated CIDRs")))
        .collect()
}
