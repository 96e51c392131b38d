//! The L1 and L2 read helpers of `Inner`: lookups, fills, promotion and the miss path.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::{Fill, Inner, L2Fill, L2Read, TOMBSTONE_AGE_MARGIN, ttl_millis, verdict_of};
use crate::breaker_state::BreakerState;
use crate::l1::{DecodedSlot, Entry};
use crate::redis_handle::CallKind;
use crate::stats::Counters;
use crate::telemetry::{self, Level, Op, Outcome};

impl Inner {
    /// While the subscription is down or the breaker open, L1 entries older than
    /// `CACHE_L1_OUTAGE_TTL` are not served (docs/cache.md#redis-outages).
    fn outage_mode(&self) -> bool {
        match &self.redis {
            None => false,
            Some(r) => !r.sub_up.load(Ordering::Acquire) || self.breaker.state_fast() == BreakerState::Open,
        }
    }

    pub(super) fn l1_lookup(&self, key: &str) -> Option<Bytes> {
        self.l1_lookup_entry(key).map(|(data, _)| data)
    }

    /// An L1 hit with the slot for its decoded form (docs/cache.md#decoded-values).
    pub(super) fn l1_lookup_entry(&self, key: &str) -> Option<(Bytes, DecodedSlot)> {
        let found = self.l1.get(key).and_then(|e| {
            let data = e.data?;
            if self.outage_mode() && e.filled_at.elapsed() >= self.config.l1_outage_ttl {
                return None;
            }
            Some((data, e.decoded))
        });
        telemetry::operation(Level::L1, Op::Get, if found.is_some() { Outcome::Hit } else { Outcome::Miss });
        found
    }

    pub(super) fn l1_fill(&self, key: &str, fill: &Fill, ticket: u64) -> bool {
        let entry = Entry::value(fill.value.clone(), fill.version, self.l1.cap_ttl(fill.ttl));
        let stored = self.l1.fill(key, entry, ticket);
        if stored {
            Counters::add(&self.stats.sets, 1);
            telemetry::operation(Level::L1, Op::Set, Outcome::Ok);
        }
        stored
    }

    /// Promotes an L2 hit read by a call sent at `sent`. The PTTL is counted from `sent`, so the
    /// L1 copy never outlives the L2 one (the reply's transit time is taken off).
    pub(super) fn promote(
        &self,
        key: &str,
        data: &Bytes,
        pttl_ms: i64,
        version: Option<i64>,
        ticket: u64,
        sent: Instant,
    ) {
        let ttl = match pttl_ms {
            -1 => self.config.l1_ttl,
            ms if ms > 0 => Duration::from_millis(ms as u64).saturating_sub(sent.elapsed()),
            _ => return,
        };
        if ttl.is_zero() {
            return;
        }
        let entry = Entry::value(data.clone(), version, self.l1.cap_ttl(ttl));
        self.l1.fill(key, entry, ticket);
    }

    /// The miss path of `get_or_load` (run by the flight's leader).
    pub(super) async fn load_through<F, Fut, E>(&self, key: &str, load: F) -> Result<Option<Bytes>, Arc<E>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Option<Fill>, E>>,
    {
        let ticket = self.l1.ticket();
        let started = Instant::now();
        let l2 = self.l2_read(key).await;
        let since_ticket = started.elapsed();
        if let L2Read::Hit { data, pttl_ms, version } = &l2 {
            self.promote(key, data, *pttl_ms, *version, ticket, started);
            self.count_read(true);
            return Ok(Some(data.clone()));
        }
        self.count_read(false);
        let Some(fill) = load().await.map_err(Arc::new)? else { return Ok(None) };
        if fill.value.len() > self.config.max_value_bytes {
            return Ok(Some(fill.value));
        }
        let l1_allowed = match &l2 {
            L2Read::Miss { epoch } => matches!(self.l2_fill(key, &fill, epoch).await, L2Fill::Stored),
            // The fill would be refused. L1 may still take it when the tombstone is older than
            // the ticket: the load then began after the change that wrote it.
            L2Read::Tombstone { pttl_ms, .. } => {
                let age = self.config.tombstone_ttl.saturating_sub(Duration::from_millis((*pttl_ms).max(0) as u64));
                age > since_ticket + TOMBSTONE_AGE_MARGIN
            }
            L2Read::Unavailable | L2Read::Disabled => true,
            L2Read::Hit { .. } => false,
        };
        if l1_allowed {
            self.l1_fill(key, &fill, ticket);
        }
        Ok(Some(fill.value))
    }

    pub(super) async fn l2_read(&self, key: &str) -> L2Read {
        let Some(r) = &self.redis else { return L2Read::Disabled };
        if r.needs_resync(&self.breaker) {
            telemetry::operation(Level::L2, Op::Get, Outcome::Skipped);
            return L2Read::Unavailable;
        }
        let (vkey, mkey) = self.physical(key);
        let result = r
            .handle
            .call(CallKind::Read, |mut c| {
                let mut inv = r.scripts.read.prepare_invoke();
                inv.key(r.epoch_key.as_str()).key(vkey).key(mkey);
                async move { inv.invoke_async::<(String, String, i64, String, Vec<u8>)>(&mut c).await }
            })
            .await;
        match result {
            Ok((kind, epoch, pttl_ms, version, value)) => match kind.as_str() {
                "V" => {
                    telemetry::operation(Level::L2, Op::Get, Outcome::Hit);
                    L2Read::Hit { data: Bytes::from(value), pttl_ms, version: version.parse().ok() }
                }
                "T" => {
                    telemetry::operation(Level::L2, Op::Get, Outcome::Miss);
                    L2Read::Tombstone { pttl_ms }
                }
                _ => {
                    telemetry::operation(Level::L2, Op::Get, Outcome::Miss);
                    L2Read::Miss { epoch }
                }
            },
            Err(e) => {
                self.l2_failed(Op::Get, &e);
                L2Read::Unavailable
            }
        }
    }

    pub(super) async fn l2_fill(&self, key: &str, fill: &Fill, epoch: &str) -> L2Fill {
        let Some(r) = &self.redis else { return L2Fill::Failed };
        let (vkey, mkey) = self.physical(key);
        let version = fill.version.map(|v| v.to_string()).unwrap_or_default();
        let result = r
            .handle
            .call(CallKind::Write, |mut c| {
                let mut inv = r.scripts.fill.prepare_invoke();
                inv.key(r.epoch_key.as_str())
                    .key(vkey)
                    .key(mkey)
                    .arg(epoch)
                    .arg(fill.value.as_ref())
                    .arg(ttl_millis(fill.ttl))
                    .arg(version);
                async move { inv.invoke_async::<redis::Value>(&mut c).await }
            })
            .await;
        match result {
            Ok(v) => {
                telemetry::operation(Level::L2, Op::Set, Outcome::Ok);
                if verdict_of(&v) == 'S' {
                    Counters::add(&self.stats.sets, 1);
                    L2Fill::Stored
                } else {
                    L2Fill::Refused
                }
            }
            Err(e) => {
                self.l2_failed(Op::Set, &e);
                L2Fill::Failed
            }
        }
    }
}
