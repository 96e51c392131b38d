//! The built-in cache warm-up, on demand (`POST /cache/warm`) and every `CACHE_WARM_INTERVAL`.

use std::time::Duration;
use taskify_core::Services;
use tokio_util::sync::CancellationToken;

/// Runs one warm-up in the background; failures are logged, never surfaced to a request.
pub fn trigger(services: &Services) {
    let services = services.clone();
    tokio::spawn(async move { warm(&services).await });
}

async fn warm(services: &Services) {
    match services.caching.warm_recent_tasks(&services.store).await {
        Ok(stored) => tracing::debug!(stored, "cache warm-up done"),
        Err(e) => tracing::warn!(error = %e, "cache warm-up failed"),
    }
}

/// Warms every `every` until `stop` is cancelled.
pub async fn periodically(services: Services, every: Duration, stop: CancellationToken) {
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(every) => warm(&services).await,
        }
    }
}
