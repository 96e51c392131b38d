//! State and stats: what the health, readiness and stats endpoints read.

use std::sync::atomic::Ordering;
use std::time::Duration;

use super::{Cache, SubState, lock};
use crate::breaker::CircuitBreaker;
use crate::config::CacheConfig;
use crate::redis_handle::{CallKind, RedisHandle};
use crate::stats::{self, CacheStats, L1Stats, L2Info, L2Stats, OperationStats};

impl Cache {
    /// The breaker named `redis` (always present; it never sees a call without Redis).
    pub fn breaker(&self) -> &CircuitBreaker {
        &self.inner.breaker
    }

    /// The Redis handle, to run other commands and scripts through the same connection and
    /// breaker (rate limiting, throttles, jobs). `None` when Redis is not configured.
    pub fn redis(&self) -> Option<RedisHandle> {
        self.inner.redis.as_ref().map(|r| r.handle.clone())
    }

    /// Whether Redis is configured.
    pub fn redis_configured(&self) -> bool {
        self.inner.redis.is_some()
    }

    /// "Redis available" of docs/jobs.md#routing: configured and the breaker not open.
    pub fn redis_available(&self) -> bool {
        self.inner.redis.is_some() && self.inner.breaker.allows_calls()
    }

    /// Whether the last Redis call succeeded and the breaker is not open (`l2.connected`).
    pub fn redis_connected(&self) -> bool {
        self.inner.redis.as_ref().is_some_and(|r| r.handle.is_up()) && self.inner.breaker.allows_calls()
    }

    /// Whether the invalidation subscription is established.
    pub fn subscription_connected(&self) -> bool {
        self.inner.redis.as_ref().is_some_and(|r| r.sub_up.load(Ordering::Acquire))
    }

    /// Waits until the invalidation subscription is established, at most `timeout`.
    pub async fn wait_for_subscription(&self, timeout: Duration) -> bool {
        let Some(r) = &self.inner.redis else { return false };
        let mut rx = r.sub_state.subscribe();
        tokio::time::timeout(timeout, rx.wait_for(|s| *s == SubState::Up)).await.is_ok_and(|r| r.is_ok())
    }

    /// Whether L2 reads are enabled: Redis configured, and nothing lost since the last replay
    /// (no pending item, no breaker opening, no subscription drop not yet followed by an epoch
    /// bump).
    pub fn l2_reads_enabled(&self) -> bool {
        self.inner.redis.as_ref().is_some_and(|r| !r.needs_resync(&self.inner.breaker))
    }

    /// How many times this instance has recovered from a loss of Redis (epoch bumped, pending
    /// set replayed, `{"all":true}` published) since it started.
    pub fn recoveries(&self) -> u64 {
        self.inner.redis.as_ref().map_or(0, |r| r.replays.load(Ordering::Acquire))
    }

    /// Items in the pending set (docs/cache.md#redis-outages); 0 without Redis.
    pub fn pending_invalidations(&self) -> usize {
        self.inner.redis.as_ref().map_or(0, |r| lock(&r.pending).len())
    }

    /// Invalidation messages received from other instances and applied since start.
    pub fn invalidations_received(&self) -> u64 {
        self.inner.stats.received.load(Ordering::Relaxed)
    }

    /// This instance's id (the `origin` of its messages).
    pub fn instance_id(&self) -> &str {
        &self.inner.config.instance_id
    }

    /// The configuration.
    pub fn config(&self) -> &CacheConfig {
        &self.inner.config
    }

    /// The stats of docs/cache.md#stats without the `INFO` figures (no Redis call).
    pub fn stats(&self) -> CacheStats {
        let inner = &self.inner;
        let s = &inner.stats;
        let hits = s.hits.load(Ordering::Relaxed);
        let misses = s.misses.load(Ordering::Relaxed);
        CacheStats {
            l1: L1Stats {
                items: inner.l1.entry_count(),
                kind: "memory",
                capacity: inner.config.l1_max_entries,
                enabled: true,
            },
            metrics: OperationStats {
                hits,
                misses,
                errors: s.errors.load(Ordering::Relaxed),
                sets: s.sets.load(Ordering::Relaxed),
                deletes: s.deletes.load(Ordering::Relaxed),
                start_time: inner.start_time,
            },
            hit_rate_percent: stats::hit_rate(hits, misses),
            circuit_breaker: inner.breaker.snapshot(),
            l2: L2Stats {
                enabled: inner.redis.is_some(),
                connected: self.redis_connected(),
                info: None,
                pending_invalidations: inner.redis.as_ref().map(|_| self.pending_invalidations() as u64),
            },
        }
    }

    /// [`Cache::stats`] plus the `INFO` figures when Redis answers.
    pub async fn detailed_stats(&self) -> CacheStats {
        let info = self.l2_info().await;
        let mut stats = self.stats();
        stats.l2.info = info;
        if info.is_some() {
            stats.l2.connected = self.redis_connected();
        }
        stats
    }

    /// `used_memory`, `evicted_keys`, `keyspace_hits` and `keyspace_misses` from Redis `INFO`
    /// (through the breaker); `None` without Redis or when it does not answer.
    pub async fn l2_info(&self) -> Option<L2Info> {
        let r = self.inner.redis.as_ref()?;
        let text = r
            .handle
            .call(CallKind::Read, |mut c| async move {
                redis::cmd("INFO").arg("memory").arg("stats").query_async::<String>(&mut c).await
            })
            .await
            .ok()?;
        L2Info::parse(&text)
    }

    /// Stops the background tasks (subscriber, upkeep) and waits for them, at most 5 s.
    pub async fn shutdown(&self) {
        self.inner.cancel.cancel();
        self.inner.tasks.close();
        let _ = tokio::time::timeout(Duration::from_secs(5), self.inner.tasks.wait()).await;
    }
}
