//! Logging and the Prometheus recorder.

use crate::config::{Config, LogFormat};
use crate::http::state::AppState;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;
use tracing_subscriber::EnvFilter;

/// Histogram buckets of docs/operations.md#metrics, in seconds.
const BUCKETS: &[f64] = &[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

static RECORDER: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the global recorder once per process (several test servers share it).
pub fn metrics_handle() -> PrometheusHandle {
    RECORDER
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), BUCKETS)
                .unwrap_or_else(|_| PrometheusBuilder::new());
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            // Fails only when another recorder is installed already; then ours simply renders empty.
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}

/// Sets the gauges that describe the process rather than events.
pub fn refresh_gauges(state: &AppState) {
    let store = &state.services.store;
    let pool = store.pool_stats();
    metrics::gauge!("db_pool_connections", "state" => "idle").set(f64::from(pool.idle));
    metrics::gauge!("db_pool_connections", "state" => "in_use").set(f64::from(pool.size.saturating_sub(pool.idle)));
    metrics::gauge!("db_pool_max_connections").set(f64::from(pool.max));
    metrics::gauge!("taskify_uptime_seconds").set(state.started.elapsed().as_secs_f64());
    metrics::counter!("taskify_db_operations_total").absolute(taskify_store::operations());
    metrics::gauge!("audit_queue_depth").set(state.services.access.audit().depth() as f64);
    state.metrics.run_upkeep();
}

/// Help text of every metric of docs/operations.md#metrics (and Taskify's own), so the exposition carries
/// `# HELP` lines (promtool's lint wants them).
const DESCRIPTIONS: &[(&str, &str)] = &[
    ("http_requests_total", "HTTP requests by method, route template and status."),
    ("http_request_duration_seconds", "HTTP request latency by method and route template."),
    ("http_requests_in_flight", "HTTP requests being served."),
    ("http_connection_timeouts_total", "Connections closed by READ_TIMEOUT, WRITE_TIMEOUT or IDLE_TIMEOUT, by kind."),
    ("cache_operations_total", "Cache operations by level, operation and result."),
    ("cache_hits_total", "Cache reads answered by L1 or L2."),
    ("cache_misses_total", "Cache reads that found nothing."),
    ("cache_l1_entries", "Entries in the in-process cache."),
    ("cache_invalidations_published_total", "Invalidation messages published to other instances."),
    ("cache_invalidations_received_total", "Invalidation messages received from other instances."),
    ("cache_pending_invalidations", "L2 writes and invalidations waiting for Redis."),
    ("circuit_breaker_state", "Circuit breaker state: 0 closed, 1 half-open, 2 open."),
    ("circuit_breaker_transitions_total", "Circuit breaker state changes."),
    ("redis_up", "1 when the last Redis call succeeded."),
    ("cache_jobs_enqueued_total", "Cache-warming jobs enqueued by type and queue."),
    ("cache_jobs_processed_total", "Cache-warming jobs completed by type and queue."),
    ("cache_jobs_failed_total", "Failed cache-warming job attempts by type and queue."),
    ("cache_jobs_retried_total", "Cache-warming jobs scheduled for another try."),
    ("cache_jobs_dead_lettered_total", "Cache-warming jobs moved to the dead-letter queue."),
    ("cache_jobs_lease_expired_total", "Job leases that expired and were reaped."),
    ("cache_jobs_queue_size", "Jobs waiting per queue."),
    ("cache_job_duration_seconds", "Cache-warming job execution time by type."),
    ("rate_limit_decisions_total", "Rate-limit decisions by class."),
    ("rate_limit_fallback_active", "1 while per-instance rate-limit buckets are in use."),
    ("db_pool_connections", "Database pool connections by state."),
    ("db_pool_max_connections", "Database pool size limit."),
    ("db_pool_acquire_duration_seconds", "Time to take a connection from the pool (sampled by the health check)."),
    ("db_errors_total", "Database errors by kind."),
    ("authz_decisions_total", "Authorization decisions by action and decision."),
    ("authz_evaluation_duration_seconds", "Policy evaluation time per decision."),
    ("audit_queue_depth", "Audit rows waiting to be written."),
    ("audit_rows_written_total", "Audit rows written."),
    ("audit_write_errors_total", "Failed audit writes: retried, or refused and isolated."),
    ("audit_rows_sanitized_total", "Audit rows the database refused, stored sanitised (context.sanitized)."),
    ("auth_logins_total", "Logins by result."),
    ("auth_token_refresh_total", "Refresh-token rotations by result."),
    ("auth_logouts_total", "Logouts."),
    ("auth_lockouts_total", "Login lockouts by kind."),
    ("events_streams_open", "Live-update streams open on this instance."),
    ("events_sent_total", "Live-update events sent to subscribers, by type."),
    ("events_dropped_total", "Live-update events lost: lagged subscribers (resynced) or Redis unavailable at publish."),
    ("taskify_build_info", "Build information (always 1)."),
    ("taskify_uptime_seconds", "Seconds since the instance started."),
    ("taskify_db_operations_total", "Store operations started (each one or more SQL statements)."),
];

/// Describes every metric and creates the counters that may legitimately stay at zero, so the
/// exposition names every metric of docs/operations.md#metrics from the start.
fn describe_metrics() {
    for (name, help) in DESCRIPTIONS {
        let (name, help) = (*name, *help);
        if name.ends_with("_total") {
            metrics::describe_counter!(name, help);
        } else if name.ends_with("_seconds") && name != "taskify_uptime_seconds" {
            metrics::describe_histogram!(name, metrics::Unit::Seconds, help);
        } else {
            metrics::describe_gauge!(name, help);
        }
    }
    for kind in ["connection", "query", "constraint"] {
        metrics::counter!("db_errors_total", "kind" => kind).absolute(0);
    }
    taskify_core::audit::register_metrics();
    taskify_jobs::telemetry::register();
    taskify_cache::telemetry::register_breaker("redis");
    taskify_core::events::register_metrics();
    register_event_metrics();
}

/// Zero-valued series of the metrics that are otherwise created by their first event, so the
/// first scrape names every metric (an alert on `rate(x[5m])` needs the series to exist) and a
/// dashboard shows 0 rather than "no data". `increment(0)` and a histogram handle register a
/// series without changing a value an event may already have recorded.
fn register_event_metrics() {
    use metrics::{counter, gauge, histogram};
    for result in ["success", "invalid_credentials", "disabled", "locked"] {
        counter!("auth_logins_total", "result" => result).increment(0);
    }
    for result in ["success", "invalid", "disabled", "reuse_detected"] {
        counter!("auth_token_refresh_total", "result" => result).increment(0);
    }
    for kind in ["account", "ip"] {
        counter!("auth_lockouts_total", "kind" => kind).increment(0);
    }
    counter!("auth_logouts_total").increment(0);
    for decision in ["allowed", "denied"] {
        counter!("authz_decisions_total", "action" => "task:read", "decision" => decision).increment(0);
    }
    let _ = histogram!("authz_evaluation_duration_seconds");
    for name in ["cache_hits_total", "cache_misses_total"] {
        counter!(name).increment(0);
    }
    for name in ["cache_invalidations_published_total", "cache_invalidations_received_total"] {
        counter!(name).increment(0);
    }
    for level in ["l1", "l2"] {
        for (op, result) in [("get", "hit"), ("get", "miss"), ("set", "ok"), ("delete", "ok")] {
            counter!("cache_operations_total", "level" => level, "op" => op, "result" => result).increment(0);
        }
    }
    gauge!("cache_l1_entries").increment(0.0);
    gauge!("redis_up").increment(0.0);
    for kind in taskify_jobs::JobType::ALL.map(taskify_jobs::JobType::as_str) {
        for queue in [taskify_jobs::Queue::Local, taskify_jobs::Queue::Redis] {
            counter!("cache_jobs_enqueued_total", "type" => kind, "queue" => queue.as_str()).increment(0);
            counter!("cache_jobs_processed_total", "type" => kind, "queue" => queue.as_str()).increment(0);
        }
        let _ = histogram!("cache_job_duration_seconds", "type" => kind);
    }
    for kind in ["read", "write", "idle"] {
        counter!("http_connection_timeouts_total", "kind" => kind).increment(0);
    }
    for class in ["auth", "refresh", "api"] {
        for decision in ["allowed", "limited"] {
            counter!("rate_limit_decisions_total", "class" => class, "decision" => decision).increment(0);
        }
    }
}

/// Metric descriptions, zero counters, and the gauges that exist from the start: build info,
/// the Redis breaker (0 until the cache reports otherwise) and the rate-limit fallback flag.
pub fn register_metrics(backend: &str, redis_enabled: bool) {
    describe_metrics();
    let redis = if redis_enabled { "enabled" } else { "disabled" };
    metrics::gauge!("taskify_build_info", "version" => env!("CARGO_PKG_VERSION"), "db_backend" => backend.to_owned(),
        "redis" => redis)
    .set(1.0);
    metrics::gauge!("circuit_breaker_state", "name" => "redis").set(0.0);
    // Without Redis every instance limits with its own buckets.
    metrics::gauge!("rate_limit_fallback_active").set(if redis_enabled { 0.0 } else { 1.0 });
}

/// Installs the tracing subscriber (binary only; tests bring their own or none).
pub fn init_logging(config: &Config) {
    // The configuration has already refused a LOG_LEVEL that does not parse.
    let filter = crate::config::values::log_filter(&config.log_level).unwrap_or_else(|| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let result = match config.log_format {
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(true).with_span_list(false).try_init(),
        LogFormat::Pretty => builder.try_init(),
    };
    if let Err(e) = result {
        eprintln!("logging was already initialised: {e}");
    }
}
