//! Logging and the Prometheus recorder.

use crate::config::{Config, LogFormat};
use crate::http::state::AppState;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;
use taskify_domain::metric_names::{self as names, MetricKind};
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

/// How often histogram observations are folded into their buckets without a scrape.
const UPKEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// The recorder keeps every histogram observation until it is folded into the buckets, which a
/// scrape does. An instance nobody scrapes would grow by about 8 bytes per observation for ever
/// (60 MiB in 5 minutes of the mixed benchmark: BENCHMARKS.md, section 11), so this folds them
/// every 5 s, as the exporter's own `install()` would.
pub async fn metrics_upkeep(handle: PrometheusHandle, stop: tokio_util::sync::CancellationToken) {
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(UPKEEP_EVERY) => handle.run_upkeep(),
        }
    }
}

/// Sets the gauges that describe the process rather than events.
pub fn refresh_gauges(state: &AppState) {
    let store = &state.services.store;
    let pool = store.pool_stats();
    metrics::gauge!(names::DB_POOL_CONNECTIONS, "state" => "idle").set(f64::from(pool.idle));
    metrics::gauge!(names::DB_POOL_CONNECTIONS, "state" => "in_use")
        .set(f64::from(pool.size.saturating_sub(pool.idle)));
    metrics::gauge!(names::DB_POOL_MAX_CONNECTIONS).set(f64::from(pool.max));
    metrics::gauge!(names::TASKIFY_UPTIME_SECONDS).set(state.started.elapsed().as_secs_f64());
    metrics::counter!(names::TASKIFY_DB_OPERATIONS_TOTAL).absolute(taskify_store::operations());
    metrics::gauge!(names::AUDIT_QUEUE_DEPTH).set(state.services.access.audit().depth() as f64);
    state.metrics.run_upkeep();
}

/// Describes every metric of the one table (`taskify_domain::metric_names::ALL`, the metrics of
/// docs/operations.md#metrics), so the exposition carries `# HELP` lines (promtool's lint wants
/// them), and creates the counters that may legitimately stay at zero, so the exposition names
/// every metric from the start.
fn describe_metrics() {
    for metric in names::ALL {
        let (name, help) = (metric.name, metric.help);
        match metric.kind {
            MetricKind::Counter => metrics::describe_counter!(name, help),
            MetricKind::Histogram => metrics::describe_histogram!(name, metrics::Unit::Seconds, help),
            MetricKind::Gauge => metrics::describe_gauge!(name, help),
        }
    }
    for kind in ["connection", "query", "constraint"] {
        metrics::counter!(names::DB_ERRORS_TOTAL, "kind" => kind).absolute(0);
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
        counter!(names::AUTH_LOGINS_TOTAL, "result" => result).increment(0);
    }
    for result in ["success", "invalid", "disabled", "reuse_detected"] {
        counter!(names::AUTH_TOKEN_REFRESH_TOTAL, "result" => result).increment(0);
    }
    for kind in ["account", "ip"] {
        counter!(names::AUTH_LOCKOUTS_TOTAL, "kind" => kind).increment(0);
    }
    counter!(names::AUTH_LOGOUTS_TOTAL).increment(0);
    for decision in ["allowed", "denied"] {
        counter!(names::AUTHZ_DECISIONS_TOTAL, "action" => "task:read", "decision" => decision).increment(0);
    }
    let _ = histogram!(names::AUTHZ_EVALUATION_DURATION_SECONDS);
    for name in [names::CACHE_HITS_TOTAL, names::CACHE_MISSES_TOTAL] {
        counter!(name).increment(0);
    }
    for name in [names::CACHE_INVALIDATIONS_PUBLISHED_TOTAL, names::CACHE_INVALIDATIONS_RECEIVED_TOTAL] {
        counter!(name).increment(0);
    }
    for level in ["l1", "l2"] {
        for (op, result) in [("get", "hit"), ("get", "miss"), ("set", "ok"), ("delete", "ok")] {
            counter!(names::CACHE_OPERATIONS_TOTAL, "level" => level, "op" => op, "result" => result).increment(0);
        }
    }
    gauge!(names::CACHE_L1_ENTRIES).increment(0.0);
    gauge!(names::REDIS_UP).increment(0.0);
    for kind in taskify_jobs::JobType::ALL.map(taskify_jobs::JobType::as_str) {
        for queue in [taskify_jobs::Queue::Local, taskify_jobs::Queue::Redis] {
            counter!(names::CACHE_JOBS_ENQUEUED_TOTAL, "type" => kind, "queue" => queue.as_str()).increment(0);
            counter!(names::CACHE_JOBS_PROCESSED_TOTAL, "type" => kind, "queue" => queue.as_str()).increment(0);
        }
        let _ = histogram!(names::CACHE_JOB_DURATION_SECONDS, "type" => kind);
    }
    for kind in ["read", "write", "idle"] {
        counter!(names::HTTP_CONNECTION_TIMEOUTS_TOTAL, "kind" => kind).increment(0);
    }
    for class in ["auth", "refresh", "api"] {
        for decision in ["allowed", "limited"] {
            counter!(names::RATE_LIMIT_DECISIONS_TOTAL, "class" => class, "decision" => decision).increment(0);
        }
    }
}

/// Metric descriptions, zero counters, and the gauges that exist from the start: build info,
/// the Redis breaker (0 until the cache reports otherwise) and the rate-limit fallback flag.
pub fn register_metrics(backend: &str, redis_enabled: bool) {
    describe_metrics();
    let redis = if redis_enabled { "enabled" } else { "disabled" };
    metrics::gauge!(names::TASKIFY_BUILD_INFO, "version" => env!("CARGO_PKG_VERSION"), "db_backend" => backend.to_owned(),
        "redis" => redis)
    .set(1.0);
    metrics::gauge!(names::CIRCUIT_BREAKER_STATE, "name" => "redis").set(0.0);
    // Without Redis every instance limits with its own buckets.
    metrics::gauge!(names::RATE_LIMIT_FALLBACK_ACTIVE).set(if redis_enabled { 0.0 } else { 1.0 });
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
