//! Logging and the Prometheus recorder.

use crate::config::{Config, LogFormat};
use crate::http::state::AppState;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;
use tracing_subscriber::EnvFilter;

/// Histogram buckets of SPEC §8.1, in seconds.
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

/// Gauges that exist from the start: build info, the Redis breaker (0 until the cache reports
/// otherwise) and the rate-limit fallback flag.
pub fn register_static_gauges(backend: &str, redis_enabled: bool) {
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
    let filter = EnvFilter::try_new(&config.log_level).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let result = match config.log_format {
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(false).try_init(),
        LogFormat::Pretty => builder.try_init(),
    };
    if let Err(e) = result {
        eprintln!("logging was already initialised: {e}");
    }
}
