//! Reads: `get`, `get_or_load` and the warm-up fill.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;

use super::{Cache, Fill, FillOutcome, FillTicket, L2Fill, L2Read};
use crate::flight::{Flights, Role};
use crate::redis_handle::CallKind;

impl Cache {
    /// Reads a key: L1, then L2 (a hit is promoted to L1 with TTL = min(PTTL, `CACHE_L1_TTL`)).
    /// A tombstone, a value of an older epoch and any failure read as a miss.
    pub async fn get(&self, key: &str) -> Option<Bytes> {
        let inner = &self.inner;
        if !inner.cacheable(key) {
            return None;
        }
        if let Some(v) = inner.l1_lookup(key) {
            inner.count_read(true);
            return Some(v);
        }
        let ticket = inner.l1.ticket();
        let sent = Instant::now();
        match inner.l2_read(key).await {
            L2Read::Hit { data, pttl_ms, version } => {
                inner.promote(key, &data, pttl_ms, version, ticket, sent);
                inner.count_read(true);
                Some(data)
            }
            _ => {
                inner.count_read(false);
                None
            }
        }
    }

    /// Reads a key through both levels and, on a miss, loads it once per instance (single
    /// flight: concurrent callers for the same key wait for the first one's result, errors
    /// included) and fills the cache by the read-fill rules of docs/cache.md#levels:
    /// - L2 is written only if no current value or tombstone is there (SET NX semantics) and the
    ///   namespace epoch has not changed since the read;
    /// - L1 is filled only if L2 accepted the fill (or L2 is not in use) and no invalidation of
    ///   the key arrived since the load began.
    ///
    /// A loader returning `Ok(None)` ("not found") is not cached. Values above
    /// `CACHE_MAX_VALUE_BYTES` are returned but not cached. Keys that are not cacheable bypass
    /// the cache.
    pub async fn get_or_load<F, Fut, E>(&self, key: &str, load: F) -> Result<Option<Bytes>, Arc<E>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Option<Fill>, E>>,
        E: Send + Sync + 'static,
    {
        let inner = &self.inner;
        if !inner.cacheable(key) {
            return load().await.map(|o| o.map(|f| f.value)).map_err(Arc::new);
        }
        if let Some(v) = inner.l1_lookup(key) {
            inner.count_read(true);
            return Ok(Some(v));
        }
        self.load_after_l1_miss(key, load).await
    }

    /// [`Cache::get_or_load`], returning the value as `decode` reads it. On an L1 hit the
    /// decoded value kept beside the entry's bytes is shared, so a hit costs an `Arc` clone
    /// instead of a parse (docs/cache.md#decoded-values); the first reader of an entry decodes
    /// and keeps it. Which bytes are served, and when, is exactly as for `get_or_load`.
    ///
    /// `decode` must be a pure function of the bytes, and one key must always be decoded to
    /// the same type (another type is decoded again on every read, never confused).
    pub async fn get_or_load_decoded<T, D, F, Fut, E>(
        &self,
        key: &str,
        decode: D,
        load: F,
    ) -> Result<Option<Arc<T>>, Arc<E>>
    where
        T: Send + Sync + 'static,
        D: Fn(&[u8]) -> Result<T, E>,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Option<Fill>, E>>,
        E: Send + Sync + 'static,
    {
        let inner = &self.inner;
        let bytes = if !inner.cacheable(key) {
            load().await.map(|o| o.map(|f| f.value)).map_err(Arc::new)?
        } else if let Some((bytes, slot)) = inner.l1_lookup_entry(key) {
            inner.count_read(true);
            if let Some(value) = slot.get().and_then(|v| Arc::clone(v).downcast::<T>().ok()) {
                return Ok(Some(value));
            }
            let value = Arc::new(decode(&bytes).map_err(Arc::new)?);
            // A concurrent reader may have set it first: same bytes, so an equal value.
            let _ = slot.set(Arc::clone(&value) as Arc<dyn std::any::Any + Send + Sync>);
            return Ok(Some(value));
        } else {
            self.load_after_l1_miss(key, load).await?
        };
        bytes.map(|b| decode(&b).map(Arc::new).map_err(Arc::new)).transpose()
    }

    /// The rest of `get_or_load` once L1 has missed: single flight, L2, the loader.
    async fn load_after_l1_miss<F, Fut, E>(&self, key: &str, load: F) -> Result<Option<Bytes>, Arc<E>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Option<Fill>, E>>,
        E: Send + Sync + 'static,
    {
        let inner = &self.inner;
        let guard = loop {
            match inner.flights.join(key) {
                Role::Leader(guard) => break Some(guard),
                Role::Follower(slot) => match Flights::wait(slot).await {
                    Some(outcome) => match outcome.downcast_ref::<Result<Option<Bytes>, Arc<E>>>() {
                        Some(result) => {
                            inner.count_read(matches!(result, Ok(Some(_))));
                            return result.clone();
                        }
                        // Another call site loads this key with another error type: load alone.
                        None => break None,
                    },
                    // The leader was cancelled: try again (one of the waiters leads).
                    None => continue,
                },
            }
        };
        let result = inner.load_through(key, load).await;
        if let Some(guard) = guard {
            guard.complete(Arc::new(result.clone()));
        }
        result
    }

    /// Starts a warm-up fill: take the ticket *before* loading the data, then call
    /// [`Cache::fill`] for each key.
    pub async fn begin_fill(&self) -> FillTicket {
        let inner = &self.inner;
        let seq = inner.l1.ticket();
        let epoch = match &inner.redis {
            Some(r) if !r.needs_resync(&inner.breaker) => {
                let key = r.epoch_key.clone();
                r.handle
                    .call(CallKind::Read, |mut c| async move {
                        redis::cmd("GET").arg(key).query_async::<Option<String>>(&mut c).await
                    })
                    .await
                    .ok()
                    .map(|e| e.unwrap_or_else(|| "0".to_owned()))
            }
            _ => None,
        };
        FillTicket { seq, epoch }
    }

    /// A read fill outside a read (the built-in warm-up of docs/cache.md#administration-endpoints): `SET NX` semantics in L2,
    /// never over a newer value or a tombstone, and no L1 fill over an invalidation that arrived
    /// since the ticket.
    pub async fn fill(&self, ticket: &FillTicket, key: &str, fill: Fill) -> FillOutcome {
        let inner = &self.inner;
        if !inner.cacheable(key) || fill.value.len() > inner.config.max_value_bytes {
            return FillOutcome::NotCached;
        }
        match (&inner.redis, &ticket.epoch) {
            (Some(_), Some(epoch)) => match inner.l2_fill(key, &fill, epoch).await {
                L2Fill::Stored => {
                    inner.l1_fill(key, &fill, ticket.seq);
                    FillOutcome::Stored
                }
                L2Fill::Refused | L2Fill::Failed => FillOutcome::Refused,
            },
            _ => {
                if inner.l1_fill(key, &fill, ticket.seq) {
                    FillOutcome::L1Only
                } else {
                    FillOutcome::Refused
                }
            }
        }
    }
}
