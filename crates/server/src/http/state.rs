//! What every handler shares.

use crate::config::Config;
use metrics_exporter_prometheus::PrometheusHandle;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Instant;
use taskify_core::Services;
use taskify_jobs::JobSystem;

use super::health::HealthCache;
use super::rate_limit::RateLimiter;

/// The application state: services plus process-wide facts. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub services: Services,
    pub config: Arc<Config>,
    pub metrics: PrometheusHandle,
    pub started: Instant,
    /// Set when a graceful shutdown begins: `/ready` answers 503 from then on.
    pub shutting_down: Arc<AtomicBool>,
    pub health: Arc<HealthCache>,
    pub rate_limiter: Arc<RateLimiter>,
    pub jobs: JobSystem,
}
