//! What every handler shares.

use crate::config::Config;
use metrics_exporter_prometheus::PrometheusHandle;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Instant;
use taskify_core::Services;
use taskify_core::events::slots::StreamSlots;
use taskify_jobs::JobSystem;

use super::health_checks::HealthCache;
use super::rate_limit::RateLimiter;

/// The application state: services plus process-wide facts. Behind one `Arc`, because axum
/// clones the state for every layer and extractor of every request: one reference count instead
/// of one per service (measured at ~10 % of a cached read's CPU before).
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    pub fn new(shared: Shared) -> Self {
        Self(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// What [`AppState`] holds.
pub struct Shared {
    pub services: Services,
    // Plain field list, same shape as config/mod.rs `Config` (and store row structs): one field per shared handle;
    // nothing to share.
    pub config: Arc<Config>,
    pub metrics: PrometheusHandle,
    pub started: Instant,
    /// Set when a graceful shutdown begins: `/ready` answers 503 from then on.
    pub shutting_down: Arc<AtomicBool>,
    pub health: Arc<HealthCache>,
    pub rate_limiter: Arc<RateLimiter>,
    pub jobs: JobSystem,
    /// The live-update stream limits of this instance.
    pub event_slots: StreamSlots,
}
