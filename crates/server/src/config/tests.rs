//! Loading and validating the configuration.

use super::*;
use std::collections::HashMap;

fn config(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let map: HashMap<String, String> = pairs.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect();
    Config::from_lookup(|k| map.get(k).cloned())
}

#[test]
fn durations_combine_units() {
    let c = config(&[("READ_TIMEOUT", "1m30s"), ("REQUEST_TIMEOUT", "1.5s")]).expect("valid");
    assert_eq!((c.read_timeout, c.request_timeout), (Duration::from_secs(90), Duration::from_millis(1500)));
    for bad in ["abc", "10", "5x", "s", "-1s", "0", "0s"] {
        assert_eq!(config(&[("READ_TIMEOUT", bad)]).expect_err(bad).variable, "READ_TIMEOUT");
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
    for (name, bad) in [("EVENTS_HEARTBEAT", "0s"), ("EVENTS_MAX_PER_USER", "0"), ("EVENTS_MAX_STREAMS", "many")] {
        assert_eq!(config(&[(name, bad)]).expect_err(bad).variable, name);
    }
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
