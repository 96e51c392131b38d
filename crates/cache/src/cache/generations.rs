//! The generation counters (`taskify:gen:…`).

use super::{Cache, MAX_REMEMBERED_COUNTERS};
use crate::redis_handle::CallKind;
use crate::telemetry::Op;

impl Cache {
    /// Reads a generation counter (`taskify:gen:…`, outside the cache prefix, no TTL; a missing
    /// counter is 0). With Redis it is read from Redis on every call, never from L1; while Redis
    /// cannot be used, the last value seen plus this instance's unapplied increments. Without
    /// Redis, an in-process counter.
    pub async fn generation(&self, counter: &str) -> u64 {
        self.generations(&[counter]).await.first().copied().unwrap_or(0)
    }

    /// Reads several generation counters in one round trip (`MGET`).
    pub async fn generations(&self, counters: &[&str]) -> Vec<u64> {
        let inner = &self.inner;
        if counters.is_empty() {
            return Vec::new();
        }
        let read = match &inner.redis {
            None => None,
            Some(r) => {
                let keys: Vec<String> = counters.iter().map(|c| (*c).to_owned()).collect();
                r.handle
                    .call(CallKind::Read, |mut c| async move {
                        redis::cmd("MGET").arg(keys).query_async::<Vec<Option<u64>>>(&mut c).await
                    })
                    .await
                    .ok()
            }
        };
        let mut view = inner.counter_view();
        if read.is_some() && view.seen.len() > MAX_REMEMBERED_COUNTERS {
            // With Redis, `seen` is only the fallback for outages: bound it (one per user).
            view.seen.clear();
        }
        counters
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let base = match &read {
                    Some(values) => {
                        let v = values.get(i).copied().flatten().unwrap_or(0);
                        view.seen.insert((*c).to_owned(), v);
                        v
                    }
                    None => view.seen.get(*c).copied().unwrap_or(0),
                };
                base + view.unapplied.get(*c).copied().unwrap_or(0)
            })
            .collect()
    }

    /// Increments generation counters (`INCR`, one round trip). While Redis cannot be used, the
    /// increments are pending and the local view moves at once, so this instance reads its own
    /// writes.
    pub async fn bump(&self, counters: &[&str]) {
        let inner = &self.inner;
        if counters.is_empty() {
            return;
        }
        let Some(r) = &inner.redis else {
            let mut view = inner.counter_view();
            for c in counters {
                *view.seen.entry((*c).to_owned()).or_default() += 1;
            }
            return;
        };
        let keys: Vec<String> = counters.iter().map(|c| (*c).to_owned()).collect();
        let result = r
            .handle
            .call(CallKind::Write, |mut c| {
                let mut pipe = redis::pipe();
                for k in &keys {
                    pipe.cmd("INCR").arg(k);
                }
                async move { pipe.query_async::<Vec<u64>>(&mut c).await }
            })
            .await;
        match result {
            Ok(values) => {
                let mut view = inner.counter_view();
                for (k, v) in keys.iter().zip(values) {
                    view.seen.insert(k.clone(), v);
                }
            }
            Err(e) => {
                inner.l2_failed(Op::Set, &e);
                // Pending first: a replay finishing in between can only make the view count an
                // increment twice (a fresh list key), never miss it (a stale one).
                inner.add_pending(|p| {
                    for k in &keys {
                        *p.counters.entry(k.clone()).or_default() += 1;
                    }
                });
                let mut view = inner.counter_view();
                for k in &keys {
                    *view.unapplied.entry(k.clone()).or_default() += 1;
                }
            }
        }
    }
}
