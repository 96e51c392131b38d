//! Configuration (docs/operations.md#configuration): one struct, loaded once from a variable lookup (the process
//! environment plus an optional `.env`), validated at start-up with errors that name the
//! variable and what it expects. There is no silent fallback for a bad value.

mod edge;
mod sources;
#[cfg(test)]
mod tests;
pub mod values;

pub use edge::{Cidr, ClassLimit, CorsPolicy, RateLimits};
use sources::{Vars, cache_config, class_limit, database_url, default_instance_id, redis_config, trusted_proxies};
use std::net::IpAddr;
use std::time::Duration;
use taskify_cache::{CacheConfig, RedisConfig, redact_url};
use taskify_core::cached::CacheTtls;
use taskify_core::config::{AdminBootstrap, AllowedReads, AuditConfig, CoreConfig, PasswordConfig, ThrottleConfig};
use taskify_domain::duration::parse_duration;
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
    // Plain field list, same shape as http/state.rs `Shared`: one field per dependency or setting group; nothing to
    // share between the two.
    pub cache_ttls: CacheTtls,
    pub jobs: JobConfig,
    /// Period of the built-in warm-up; `None` disables it.
    pub cache_warm_interval: Option<Duration>,
    /// Proxies whose `X-Forwarded-For` is believed (docs/http-contract.md#rate-limits).
    pub trusted_proxies: Vec<Cidr>,
    pub audit_retention: Option<Duration>,
    pub events: EventsSettings,
    pub core: CoreConfig,
}

/// Live-update streams (docs/live-updates.md#limits).
#[derive(Debug, Clone)]
pub struct EventsSettings {
    /// `EVENTS_HEARTBEAT`: the period of the keep-alive comment and of the token re-check.
    pub heartbeat: Duration,
    // Plain settings fields, the same shape as other small config structs (cache/src/l1.rs); one struct per concern on
    // purpose.
    /// `EVENTS_MAX_PER_USER`: streams of one user on one instance.
    pub max_per_user: usize,
    /// `EVENTS_MAX_STREAMS`: streams on one instance.
    pub max_streams: usize,
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
        let request_timeout = vars.positive_duration("REQUEST_TIMEOUT", "30s")?;
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
            // One `vars.duration/number(NAME, default)` line per variable, the same shape as the other groups below:
            // this is the variable table (docs/operations.md), kept literal so each default sits next to its name.
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
            Some(id) if values::is_label(id.trim()) => id.trim().to_owned(),
            Some(id) => return Err(vars.fail("INSTANCE_ID", &id, "1 to 64 letters, digits or ._:-")),
            None => default_instance_id(),
        };
        let audit_retention = Some(vars.duration("AUDIT_RETENTION", "0")?).filter(|d| !d.is_zero());
        let config = Self {
            environment,
            host: vars.parse("HOST", IpAddr::from([127, 0, 0, 1]), "an IP address", |s| s.parse().ok())?,
            port: vars.number("PORT", 8080, 0, 65535)?,
            request_timeout,
            read_timeout: vars.positive_duration("READ_TIMEOUT", "30s")?,
            shutdown_timeout: vars.duration("SHUTDOWN_TIMEOUT", "30s")?,
            shutdown_drain_delay: vars.duration("SHUTDOWN_DRAIN_DELAY", "5s")?,
            write_timeout: vars.positive_duration("WRITE_TIMEOUT", "30s")?,
            idle_timeout: vars.positive_duration("IDLE_TIMEOUT", "60s")?,
            body_limit_bytes: vars.number("BODY_LIMIT_BYTES", 1_048_576, 1, 1 << 30)?,
            instance_id: instance_id.clone(),
            log_level: vars.checked(
                "LOG_LEVEL",
                "info",
                "trace, debug, info, warn, error or per-module directives",
                |v| values::log_filter(v).is_some(),
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
                    |s| parse_duration(s).ok().filter(|d| !d.is_zero()),
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
                // Same variable-table shape as CoreConfig above: one `vars.duration(NAME, default)` per TTL.
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
                    |v| values::all_entries(v, values::is_origin),
                )?,
                &vars.checked(
                    "CORS_METHODS",
                    "GET,POST,PUT,PATCH,DELETE,OPTIONS",
                    "comma-separated method names",
                    |v| values::all_entries(v, values::is_token),
                )?,
                &vars.checked(
                    "CORS_HEADERS",
                    "Authorization,Content-Type,Idempotency-Key,If-Match,If-None-Match,X-Request-Id",
                    "comma-separated header names",
                    |v| values::all_entries(v, values::is_token),
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
            events: EventsSettings {
                heartbeat: vars.positive_duration("EVENTS_HEARTBEAT", "15s")?,
                max_per_user: vars.number("EVENTS_MAX_PER_USER", 5, 1, 10_000)?,
                max_streams: vars.number("EVENTS_MAX_STREAMS", 2_000, 1, 1_000_000)?,
            },
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
