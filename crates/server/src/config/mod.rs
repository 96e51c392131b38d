//! Configuration (docs/operations.md#configuration): one struct, loaded once from a variable lookup (the process
//! environment plus an optional `.env`), validated at start-up with errors that name the
//! variable and what it expects. There is no silent fallback for a bad value.

use crate::config_values;
use crate::http::client_ip::Cidr;
use crate::http::cors::CorsPolicy;
use crate::http::rate_limit::{ClassLimit, RateLimits};
use std::net::IpAddr;
use std::time::Duration;
use taskify_cache::{BreakerConfig, CacheConfig, RedisConfig, redact_url};
use taskify_core::cached::CacheTtls;
use taskify_core::config::{AdminBootstrap, AllowedReads, AuditConfig, CoreConfig, PasswordConfig, ThrottleConfig};
use taskify_jobs::JobConfig;
use taskify_store::PoolConfig;

/// A bad or missing setting.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {variable}={value:?}: expected {expected}")]
pub struct ConfigError {
    pub variable: String,
    pub value: String,
    pub expected: String,
}

/// `development`, `staging` or `production`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    Development,
    Staging,
    Production,
}

/// `json` or `pretty` logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Json,
    Pretty,
}

/// The whole configuration. `Debug` redacts secrets.
#[derive(Clone)]
pub struct Config {
    pub environment: Environment,
    pub host: IpAddr,
    pub port: u16,
    pub request_timeout: Duration,
    /// Longest time for a request, head and body, to arrive (from its first byte).
    pub read_timeout: Duration,
    pub shutdown_timeout: Duration,
    /// How long `/ready` answers 503 on SIGTERM while the instance still serves, so load
    /// balancers take it out of rotation before it stops accepting.
    pub shutdown_drain_delay: Duration,
    /// Longest time a response may take to be written to the client.
    pub write_timeout: Duration,
    /// Longest wait for the next request on a keep-alive connection.
    pub idle_timeout: Duration,
    pub body_limit_bytes: usize,
    pub instance_id: String,
    pub log_level: String,
    pub log_format: LogFormat,
    pub metrics_enabled: bool,
    pub ui_enabled: bool,
    pub database_url: String,
    pub pool: PoolConfig,
    pub migrate_on_start: bool,
    /// True when `JWT_SECRET` was not set and a random one is used (development only).
    pub jwt_secret_generated: bool,
    /// Variables of the old service that are set but have no effect here (logged at start).
    pub ignored_variables: Vec<&'static str>,
    pub policy_file: Option<String>,
    pub cors: CorsPolicy,
    pub rate_limits: RateLimits,
    /// `None` when Redis is not configured (L1 only, per-instance state).
    pub redis: Option<RedisConfig>,
    pub cache: CacheConfig,
    pub cache_ttls: CacheTtls,
    pub jobs: JobConfig,
    /// Period of the built-in warm-up; `None` disables it.
    pub cache_warm_interval: Option<Duration>,
    /// Proxies whose `X-Forwarded-For` is believed (docs/http-contract.md#rate-limits).
    pub trusted_proxies: Vec<Cidr>,
    pub audit_retention: Option<Duration>,
    pub core: CoreConfig,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("environment", &self.environment)
            .field("listen", &(self.host, self.port))
            .field("instance_id", &self.instance_id)
            .field("database", &redact_url(&self.database_url))
            .field("core", &self.core)
            .finish_non_exhaustive()
    }
}

/// Placeholder secrets refused in production (docs/operations.md#production-checks).
const PLACEHOLDER_SECRETS: &[&str] = &[
    "your-secret-key",
    "default_secret_change_in_production",
    "default_secret",
    "your-super-secret-jwt-key-change-in-production",
    "secret",
    "changeme",
];

/// Parses `250ms`, `30s`, `1h30m`, `168h` (units ns, us, ms, s, m, h; combinable). `0` is zero.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    if text == "0" {
        return Some(Duration::ZERO);
    }
    let mut total = Duration::ZERO;
    let mut rest = text;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(rest.len());
        if digits == 0 {
            return None;
        }
        let number: f64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit()).unwrap_or(rest.len());
        let nanos_per = match &rest[..unit_len] {
            "ns" => 1.0,
            "us" | "µs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        rest = &rest[unit_len..];
        let nanos = number * nanos_per;
        if !nanos.is_finite() || nanos > 1e20 {
            return None;
        }
        total += Duration::from_nanos(nanos as u64);
    }
    Some(total)
}

/// Typed access to the variables, failing with the variable's name.
struct Vars<F: Fn(&str) -> Option<String>> {
    lookup: F,
}

impl<F: Fn(&str) -> Option<String>> Vars<F> {
    /// The value, with empty counting as unset.
    fn raw(&self, name: &str) -> Option<String> {
        (self.lookup)(name).filter(|v| !v.trim().is_empty())
    }

    fn parse<T>(
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

    fn string(&self, name: &str, default: &str) -> String {
        self.raw(name).unwrap_or_else(|| default.to_owned())
    }

    /// A free-form value (trimmed) that must pass `check`.
    fn checked(
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

    fn duration(&self, name: &str, default: &str) -> Result<Duration, ConfigError> {
        let default = parse_duration(default).unwrap_or_default();
        self.parse(name, default, "a duration such as 250ms, 30s, 1h30m", parse_duration)
    }

    fn number<T: std::str::FromStr + PartialOrd + Copy + std::fmt::Display>(
        &self,
        name: &str,
        default: T,
        min: T,
        max: T,
    ) -> Result<T, ConfigError> {
        let expected = format!("a whole number from {min} to {max}");
        self.parse(name, default, &expected, |s| s.parse::<T>().ok().filter(|n| *n >= min && *n <= max))
    }

    fn boolean(&self, name: &str, default: bool) -> Result<bool, ConfigError> {
        self.parse(name, default, "true or false", |s| match s.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" => Some(true),
            "false" | "0" | "no" => Some(false),
            _ => None,
        })
    }

    fn fail(&self, name: &str, value: &str, expected: &str) -> ConfigError {
        ConfigError { variable: name.into(), value: value.into(), expected: expected.into() }
    }
}

fn default_instance_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "taskify".into());
    let suffix: u32 = rand::random::<u32>() & 0x00ff_ffff;
    format!("{host}-{suffix:06x}")
}

fn database_url<F: Fn(&str) -> Option<String>>(vars: &Vars<F>) -> Result<String, ConfigError> {
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

fn class_limit<F: Fn(&str) -> Option<String>>(
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
fn redis_config<F: Fn(&str) -> Option<String>>(vars: &Vars<F>) -> Result<Option<RedisConfig>, ConfigError> {
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

fn cache_config<F: Fn(&str) -> Option<String>>(vars: &Vars<F>, instance_id: &str) -> Result<CacheConfig, ConfigError> {
    let defaults = CacheConfig::default();
    Ok(CacheConfig {
        key_prefix: vars.checked(
            "CACHE_KEY_PREFIX",
            &defaults.key_prefix,
            "1 to 64 letters, digits or ._:-",
            config_values::is_label,
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

fn trusted_proxies<F: Fn(&str) -> Option<String>>(vars: &Vars<F>) -> Result<Vec<Cidr>, ConfigError> {
    let Some(raw) = vars.raw("TRUSTED_PROXIES") else {
        return Ok(Vec::new());
    };
    raw.split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|s| Cidr::parse(s).ok_or_else(|| vars.fail("TRUSTED_PROXIES", &raw, "comma-separated CIDRs")))
        .collect()
}

impl Config {
    /// Reads the process environment (after loading `.env`, whose values lose to real ones).
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Builds the configuration from a variable lookup (docs/operations.md#configuration names).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let vars = Vars { lookup };
        let environment =
            vars.parse("ENVIRONMENT", Environment::Development, "development, staging or production", |s| match s {
                "development" => Some(Environment::Development),
                "staging" => Some(Environment::Staging),
                "production" => Some(Environment::Production),
                _ => None,
            })?;
        let production = environment == Environment::Production;
        let request_timeout = vars.duration("REQUEST_TIMEOUT", "30s")?;
        let (jwt_secret, jwt_secret_generated) = match vars.raw("JWT_SECRET") {
            Some(s) => (s.into_bytes(), false),
            // A random secret logs everyone out at each restart and differs between replicas:
            // acceptable on a developer's machine only.
            None if environment == Environment::Development => (rand::random::<[u8; 32]>().to_vec(), true),
            None => return Err(vars.fail("JWT_SECRET", "", "a secret outside development")),
        };
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let admin_password = vars.raw("ADMIN_PASSWORD");
        if let Some(problem) = admin_password.as_deref().and_then(taskify_core::validate::password_problem) {
            return Err(vars.fail("ADMIN_PASSWORD", "<redacted>", &format!("a password that {problem}")));
        }
        let allowed_reads =
            vars.parse("AUDIT_ALLOWED_READS", AllowedReads::Others, "all, others or none", |s| match s {
                "all" => Some(AllowedReads::All),
                "others" => Some(AllowedReads::Others),
                "none" => Some(AllowedReads::None),
                _ => None,
            })?;
        let core = CoreConfig {
            jwt_secret,
            access_token_ttl: vars.duration("ACCESS_TOKEN_TTL", "15m")?,
            refresh_token_ttl: vars.duration("REFRESH_TOKEN_TTL", "168h")?,
            refresh_reuse_grace: vars.duration("REFRESH_REUSE_GRACE", "10s")?,
            passwords: PasswordConfig {
                memory_kib: vars.number("ARGON2_MEMORY_KIB", 19_456, 8, 4_194_304)?,
                iterations: vars.number("ARGON2_ITERATIONS", 2, 1, 100)?,
                parallelism: vars.number("ARGON2_PARALLELISM", 1, 1, 64)?,
                max_concurrent: vars.number("ARGON2_MAX_CONCURRENT", cores, 1, 1024)?,
            },
            throttle: ThrottleConfig {
                max_failures: vars.number("LOGIN_MAX_FAILURES", 5, 1, 1_000_000)?,
                account_max_failures: vars.number("LOGIN_ACCOUNT_MAX_FAILURES", 50, 1, 1_000_000)?,
                ip_max_failures: vars.number("LOGIN_IP_MAX_FAILURES", 100, 1, 1_000_000)?,
                window: vars.duration("LOGIN_FAILURE_WINDOW", "15m")?,
                lockout: vars.duration("LOGIN_LOCKOUT", "15m")?,
            },
            idempotency_ttl: vars.duration("IDEMPOTENCY_TTL", "24h")?,
            request_timeout,
            audit: AuditConfig {
                batch_size: vars.number("AUDIT_BATCH_SIZE", 100, 1, 10_000)?,
                flush_interval: vars.duration("AUDIT_FLUSH_INTERVAL", "1s")?,
                buffer_size: vars.number("AUDIT_BUFFER_SIZE", 10_000, 1, 10_000_000)?,
                enqueue_timeout: vars.duration("AUDIT_ENQUEUE_TIMEOUT", "1s")?,
                allowed_reads,
            },
            admin: AdminBootstrap {
                email: vars.checked("ADMIN_EMAIL", "admin@taskify.local", "an email address", |v| {
                    taskify_core::validate::email_problem(v).is_none()
                })?,
                username: vars.checked("ADMIN_USERNAME", "admin", "a valid username", |v| {
                    taskify_core::validate::username_problem(v).is_none()
                })?,
                password: admin_password,
            },
        };
        for (name, value) in
            [("ACCESS_TOKEN_TTL", core.access_token_ttl), ("REFRESH_TOKEN_TTL", core.refresh_token_ttl)]
        {
            if value < Duration::from_secs(1) {
                return Err(vars.fail(name, &format!("{value:?}"), "at least 1s"));
            }
        }
        let database_url = database_url(&vars)?;
        let instance_id = match vars.raw("INSTANCE_ID") {
            Some(id) if config_values::is_label(id.trim()) => id.trim().to_owned(),
            Some(id) => return Err(vars.fail("INSTANCE_ID", &id, "1 to 64 letters, digits or ._:-")),
            None => default_instance_id(),
        };
        let audit_retention = Some(vars.duration("AUDIT_RETENTION", "0")?).filter(|d| !d.is_zero());
        let config = Self {
            environment,
            host: vars.parse("HOST", IpAddr::from([127, 0, 0, 1]), "an IP address", |s| s.parse().ok())?,
            port: vars.number("PORT", 8080, 0, 65535)?,
            request_timeout,
            read_timeout: vars.duration("READ_TIMEOUT", "30s")?,
            shutdown_timeout: vars.duration("SHUTDOWN_TIMEOUT", "30s")?,
            shutdown_drain_delay: vars.duration("SHUTDOWN_DRAIN_DELAY", "5s")?,
            write_timeout: vars.duration("WRITE_TIMEOUT", "30s")?,
            idle_timeout: vars.duration("IDLE_TIMEOUT", "60s")?,
            body_limit_bytes: vars.number("BODY_LIMIT_BYTES", 1_048_576, 1, 1 << 30)?,
            instance_id: instance_id.clone(),
            log_level: vars.checked(
                "LOG_LEVEL",
                "info",
                "trace, debug, info, warn, error or per-module directives",
                |v| config_values::log_filter(v).is_some(),
            )?,
            log_format: vars.parse(
                "LOG_FORMAT",
                if production { LogFormat::Json } else { LogFormat::Pretty },
                "json or pretty",
                |s| match s {
                    "json" => Some(LogFormat::Json),
                    "pretty" => Some(LogFormat::Pretty),
                    _ => None,
                },
            )?,
            metrics_enabled: vars.boolean("METRICS_ENABLED", true)?,
            ui_enabled: vars.boolean("UI_ENABLED", true)?,
            pool: PoolConfig {
                max_connections: vars.number("DB_MAX_OPEN_CONNS", 10, 1, 10_000)?,
                min_connections: vars.number("DB_MAX_IDLE_CONNS", 2, 0, 10_000)?,
                max_lifetime: vars.duration("DB_CONN_MAX_LIFETIME", "1h")?,
                idle_timeout: vars.duration("DB_CONN_MAX_IDLE_TIME", "30m")?,
                // Independent of REQUEST_TIMEOUT: start-up takes its first connections through it.
                // Once the database is known to be down requests are refused at once anyway;
                // this bounds the wait of those that come before.
                acquire_timeout: vars.parse(
                    "DB_ACQUIRE_TIMEOUT",
                    Duration::from_secs(5),
                    "a duration above zero such as 500ms or 5s",
                    |s| parse_duration(s).filter(|d| !d.is_zero()),
                )?,
                // The request deadline, but never below 1 s: start-up work (migration checks,
                // the admin bootstrap) runs on the same pool and must not be cut off.
                statement_timeout: request_timeout.max(Duration::from_secs(1)),
            },
            migrate_on_start: vars.boolean("DB_MIGRATE_ON_START", true)?,
            jwt_secret_generated,
            // One multiplexed Redis connection serves every request, so pool sizes mean nothing.
            ignored_variables: ["REDIS_POOL_SIZE", "REDIS_MIN_IDLE_CONNS"]
                .into_iter()
                .filter(|name| vars.raw(name).is_some())
                .collect(),
            policy_file: vars.raw("POLICY_FILE"),
            trusted_proxies: trusted_proxies(&vars)?,
            redis: redis_config(&vars)?,
            cache: cache_config(&vars, &instance_id)?,
            cache_ttls: CacheTtls {
                task: vars.duration("CACHE_TASK_TTL", "30m")?,
                list: vars.duration("CACHE_LIST_TTL", "5m")?,
                principal: vars.duration("CACHE_PRINCIPAL_TTL", "60s")?,
                user: vars.duration("CACHE_USER_TTL", "10m")?,
            },
            jobs: JobConfig {
                local_workers: vars.number("JOB_LOCAL_WORKERS", 5, 0, 1_000)?,
                distributed_workers: vars.number("JOB_DISTRIBUTED_WORKERS", 5, 0, 1_000)?,
                local_capacity: vars.number("JOB_LOCAL_QUEUE_CAPACITY", 1_000, 1, 10_000_000)?,
                local_threshold: vars.number("JOB_LOCAL_THRESHOLD", 5, 0, 10_000_000)?,
                max_tries: vars.number("JOB_MAX_TRIES", 3, 1, 1_000)?,
                retry_backoff: vars.duration("JOB_RETRY_BACKOFF", "1s")?,
                lease: vars.duration("JOB_LEASE", "30s")?,
                poll_interval: vars.duration("JOB_POLL_INTERVAL", "100ms")?,
                dlq_max: vars.number("JOB_DLQ_MAX", 10_000, 1, 10_000_000)?,
                worker_id_prefix: instance_id.clone(),
                ..JobConfig::default()
            },
            cache_warm_interval: Some(vars.duration("CACHE_WARM_INTERVAL", "15m")?).filter(|d| !d.is_zero()),
            cors: CorsPolicy::new(
                &vars.checked(
                    "CORS_ORIGINS",
                    "http://localhost:3000",
                    "comma-separated origins (scheme://host[:port]) or *",
                    |v| config_values::all_entries(v, config_values::is_origin),
                )?,
                &vars.checked(
                    "CORS_METHODS",
                    "GET,POST,PUT,PATCH,DELETE,OPTIONS",
                    "comma-separated method names",
                    |v| config_values::all_entries(v, config_values::is_token),
                )?,
                &vars.checked(
                    "CORS_HEADERS",
                    "Authorization,Content-Type,Idempotency-Key,If-Match,If-None-Match,X-Request-Id",
                    "comma-separated header names",
                    |v| config_values::all_entries(v, config_values::is_token),
                )?,
            ),
            rate_limits: RateLimits {
                enabled: vars.boolean("RATE_LIMIT_ENABLED", true)?,
                auth: class_limit(&vars, "auth", "RATE_LIMIT_AUTH_RPM", 10, "RATE_LIMIT_AUTH_BURST", 5)?,
                refresh: class_limit(&vars, "refresh", "RATE_LIMIT_REFRESH_RPM", 600, "RATE_LIMIT_REFRESH_BURST", 100)?,
                api: class_limit(&vars, "api", "RATE_LIMIT_RPM", 300, "RATE_LIMIT_BURST", 30)?,
                idle: vars.duration("RATE_LIMIT_CLEANUP", "10m")?,
            },
            audit_retention,
            database_url,
            core,
        };
        if production {
            config.production_checks(&vars)?;
        }
        Ok(config)
    }

    /// docs/operations.md#production-checks.
    fn production_checks<F: Fn(&str) -> Option<String>>(&self, vars: &Vars<F>) -> Result<(), ConfigError> {
        let secret = vars.raw("JWT_SECRET").unwrap_or_default();
        if secret.len() < 32 || PLACEHOLDER_SECRETS.contains(&secret.as_str()) {
            return Err(vars.fail(
                "JWT_SECRET",
                "<redacted>",
                "a secret of at least 32 bytes that is not a placeholder",
            ));
        }
        if vars.string("CORS_ORIGINS", "").split(',').any(|o| o.trim() == "*") {
            return Err(vars.fail("CORS_ORIGINS", "*", "explicit origins in production"));
        }
        if vars.raw("DATABASE_URL").is_none() && vars.raw("DB_HOST").is_some() && vars.raw("DB_PASSWORD").is_none() {
            return Err(vars.fail("DB_PASSWORD", "", "a password for PostgreSQL in production"));
        }
        if self.is_postgres() && self.redis.is_none() && !vars.boolean("SINGLE_INSTANCE", false)? {
            return Err(vars.fail(
                "REDIS_URL",
                "",
                "Redis for PostgreSQL deployments in production (or SINGLE_INSTANCE=true for one instance)",
            ));
        }
        Ok(())
    }

    pub fn is_postgres(&self) -> bool {
        self.database_url.starts_with("postgres")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn durations_combine_units() {
        assert_eq!(parse_duration("1h30m"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration("1.5s"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_duration("0"), Some(Duration::ZERO));
        for bad in ["", "abc", "10", "5x", "s"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }

    #[test]
    fn defaults_are_the_embedded_setup() {
        let c = config(&[]).expect("defaults");
        assert_eq!(c.database_url, "sqlite://taskify.db");
        assert_eq!((c.port, c.core.access_token_ttl), (8080, Duration::from_secs(900)));
        assert!(c.jwt_secret_generated);
    }

    #[test]
    fn bad_values_name_the_variable() {
        let err = config(&[("REQUEST_TIMEOUT", "soon")]).expect_err("bad");
        assert_eq!(err.variable, "REQUEST_TIMEOUT");
        assert_eq!(config(&[("PORT", "70000")]).expect_err("bad").variable, "PORT");
        assert_eq!(config(&[("ADMIN_PASSWORD", "weak")]).expect_err("bad").variable, "ADMIN_PASSWORD");
        assert!(!format!("{:?}", config(&[("ADMIN_PASSWORD", "weak")])).contains("weak"));
    }

    #[test]
    fn free_form_values_are_checked_not_replaced() {
        for (name, bad) in [
            ("LOG_LEVEL", "verbose"),
            ("CORS_ORIGINS", "example.com"),
            ("CORS_METHODS", "GET,P OST"),
            ("CORS_HEADERS", "X-Ok,Bad Header"),
            ("INSTANCE_ID", "node 1"),
            ("CACHE_KEY_PREFIX", "a b"),
            ("ADMIN_EMAIL", "not-an-email"),
            ("ADMIN_USERNAME", "x"),
            ("DB_SSLMODE", "sometimes"),
        ] {
            // DB_HOST makes the DB_* variables count.
            assert_eq!(config(&[(name, bad), ("DB_HOST", "db")]).expect_err(bad).variable, name);
        }
        let ok = config(&[("LOG_LEVEL", "warn,taskify_core=debug"), ("CORS_ORIGINS", "https://a.example,*")]);
        assert_eq!(ok.expect("valid").log_level, "warn,taskify_core=debug");
    }

    #[test]
    fn a_secret_is_required_outside_development() {
        for environment in ["staging", "production"] {
            let err = config(&[("ENVIRONMENT", environment)]).expect_err(environment);
            assert_eq!(err.variable, "JWT_SECRET");
        }
        let strong = "s".repeat(40);
        assert!(!config(&[("ENVIRONMENT", "staging"), ("JWT_SECRET", &strong)]).expect("set").jwt_secret_generated);
    }

    #[test]
    fn unused_redis_pool_sizes_are_reported() {
        let c = config(&[("REDIS_POOL_SIZE", "20")]).expect("accepted");
        assert_eq!(c.ignored_variables, ["REDIS_POOL_SIZE"]);
        assert!(config(&[]).expect("defaults").ignored_variables.is_empty());
    }

    #[test]
    fn production_refuses_placeholder_secrets_and_wildcard_cors() {
        assert_eq!(
            config(&[("ENVIRONMENT", "production"), ("JWT_SECRET", "secret")]).expect_err("bad").variable,
            "JWT_SECRET"
        );
        let strong = "x".repeat(40);
        let base = [("ENVIRONMENT", "production"), ("JWT_SECRET", strong.as_str())];
        assert!(config(&base).is_ok(), "SQLite in production is allowed");
        let cors = [base[0], base[1], ("CORS_ORIGINS", "*")];
        assert_eq!(config(&cors).expect_err("bad").variable, "CORS_ORIGINS");
        let pg = [base[0], base[1], ("DATABASE_URL", "postgres://u@h/db")];
        assert_eq!(config(&pg).expect_err("bad").variable, "REDIS_URL");
    }

    #[test]
    fn db_variables_build_a_postgres_url_and_urls_are_redacted() {
        let c = config(&[("DB_HOST", "db"), ("DB_PASSWORD", "pw")]).expect("valid");
        assert_eq!(c.database_url, "postgres://postgres:pw@db:5432/task_manager?sslmode=disable");
        assert_eq!(redact_url(&c.database_url), "postgres://postgres:***@db:5432/task_manager?sslmode=disable");
    }
}
