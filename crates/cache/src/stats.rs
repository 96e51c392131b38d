//! The `cache` object of the stats body (docs/cache.md#stats) and the parsed Redis `INFO` figures.

use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

use crate::breaker::BreakerSnapshot;

/// Per-instance counters since the instance started.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub hits: AtomicU64,
    pub misses: AtomicU64,
    pub errors: AtomicU64,
    pub sets: AtomicU64,
    pub deletes: AtomicU64,
    pub received: AtomicU64,
}

impl Counters {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}

/// The `cache` object of `GET /api/v1/cache/stats`. Serialises to the exact shape of docs/cache.md#stats;
/// the `l2` figures from `INFO` are present only when [`crate::Cache::detailed_stats`] could read
/// them.
#[derive(Debug, Clone, Serialize)]
pub struct CacheStats {
    /// L1 figures.
    pub l1: L1Stats,
    /// Read and write counters since the instance started.
    pub metrics: OperationStats,
    /// `hits / (hits + misses) × 100`, 0 without data.
    pub hit_rate_percent: f64,
    /// The breaker named `redis`.
    pub circuit_breaker: BreakerSnapshot,
    /// L2 figures.
    pub l2: L2Stats,
}

/// `l1` of the stats body.
#[derive(Debug, Clone, Serialize)]
pub struct L1Stats {
    /// Entries currently held (tombstones included).
    pub items: u64,
    /// Always `memory`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// `CACHE_L1_MAX_ENTRIES`.
    pub capacity: u64,
    /// Always true.
    pub enabled: bool,
}

/// `metrics` of the stats body.
#[derive(Debug, Clone, Serialize)]
pub struct OperationStats {
    /// Reads answered by L1 or L2.
    pub hits: u64,
    /// Reads that had to load (or found nothing).
    pub misses: u64,
    /// L2 calls that failed (timeouts, connection errors, error replies).
    pub errors: u64,
    /// Values written (fills, writer sets, plain sets).
    pub sets: u64,
    /// Keys invalidated, patterns evicted and clears.
    pub deletes: u64,
    /// Instance start, unix seconds.
    pub start_time: u64,
}

/// `l2` of the stats body. Without Redis it serialises as `{"enabled":false,"connected":false}`.
#[derive(Debug, Clone, Serialize)]
pub struct L2Stats {
    /// Redis is configured.
    pub enabled: bool,
    /// The last call reached Redis and the breaker is not open.
    pub connected: bool,
    /// Parsed from `INFO` when available.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub info: Option<L2Info>,
    /// Items waiting for replay (docs/cache.md#redis-outages); absent without Redis.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pending_invalidations: Option<u64>,
}

/// The few Redis `INFO` figures the stats body shows. Raw `INFO` text is never exposed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct L2Info {
    /// `used_memory`.
    pub used_memory_bytes: u64,
    /// `evicted_keys`.
    pub evicted_keys: u64,
    /// `keyspace_hits`.
    pub keyspace_hits: u64,
    /// `keyspace_misses`.
    pub keyspace_misses: u64,
}

impl L2Info {
    /// Extracts the figures from `INFO` text; `None` when one is missing.
    pub fn parse(info: &str) -> Option<Self> {
        let field = |name: &str| {
            info.lines().find_map(|line| {
                let (k, v) = line.trim().split_once(':')?;
                (k == name).then(|| v.trim().parse::<u64>().ok()).flatten()
            })
        };
        Some(Self {
            used_memory_bytes: field("used_memory")?,
            evicted_keys: field("evicted_keys")?,
            keyspace_hits: field("keyspace_hits")?,
            keyspace_misses: field("keyspace_misses")?,
        })
    }
}

/// `hits / (hits + misses) × 100`, 0 when there is no data.
pub(crate) fn hit_rate(hits: u64, misses: u64) -> f64 {
    let total = hits + misses;
    if total == 0 { 0.0 } else { hits as f64 * 100.0 / total as f64 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_is_parsed_and_never_kept_raw() {
        let text = "# Memory\r\nused_memory:1048576\r\nused_memory_human:1.00M\r\n# Stats\r\nkeyspace_hits:900\r\nkeyspace_misses:100\r\nevicted_keys:0\r\n";
        assert_eq!(
            L2Info::parse(text),
            Some(L2Info { used_memory_bytes: 1_048_576, evicted_keys: 0, keyspace_hits: 900, keyspace_misses: 100 })
        );
        assert_eq!(L2Info::parse("used_memory:1\r\n"), None);
    }

    #[test]
    fn hit_rate_is_zero_without_data() {
        assert_eq!(hit_rate(0, 0), 0.0);
        assert_eq!(hit_rate(80, 20), 80.0);
    }
}
