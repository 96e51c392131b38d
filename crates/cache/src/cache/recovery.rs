//! Outages and recovery: periodic upkeep, the replay after a loss of Redis, and the
//! invalidation bus listener.

use std::sync::atomic::Ordering;

use super::{Inner, RedisSide, SubState, lock};
use crate::breaker_state::BreakerState;
use crate::bus::{BusListener, Invalidation};
use crate::glob::Glob;
use crate::l1::Change;
use crate::redis_handle::{CallKind, RedisCallError};
use crate::stats::Counters;
use crate::telemetry;

impl Inner {
    /// Periodic upkeep: prune the invalidation log, refresh gauges, ping Redis (this is what
    /// moves an idle breaker through half-open), and replay pending work.
    pub(super) async fn upkeep(&self) {
        self.l1.prune();
        telemetry::l1_entries(self.l1.entry_count());
        // Re-exported every round: the metrics recorder may be installed after the cache.
        let state = self.breaker.state();
        telemetry::breaker_state(self.breaker.name(), state);
        let Some(r) = &self.redis else { return };
        telemetry::redis_up(r.handle.is_up());
        if state != BreakerState::Open && r.handle.ping().await.is_err() {
            tracing::debug!("cache: Redis ping failed");
        }
        if r.needs_resync(&self.breaker) && self.breaker.state() != BreakerState::Open {
            self.resync(r).await;
        }
        telemetry::pending(lock(&r.pending).len());
    }

    /// Replays the pending set after a loss (docs/cache.md#redis-outages): bump the namespace epoch (hides every
    /// value written before, including those changed during the outage), apply the unapplied
    /// counter increments, redo a pending clear, publish `{"all":true}`, and clear this L1.
    /// Only then are L2 reads enabled again.
    async fn resync(&self, r: &RedisSide) {
        let Ok(_guard) = r.resync_lock.try_lock() else { return };
        let mark = r.loss_mark(&self.breaker);
        // Replay a copy: the pending set stays visible (stats) until the replay succeeded.
        let snapshot = lock(&r.pending).clone();
        let result = async {
            let epoch_key = r.epoch_key.clone();
            let epoch = r
                .handle
                .call(CallKind::Write, |mut c| {
                    let mut inv = r.scripts.bump_epoch.prepare_invoke();
                    inv.key(epoch_key);
                    async move { inv.invoke_async::<i64>(&mut c).await }
                })
                .await?;
            if !snapshot.counters.is_empty() {
                let counters: Vec<(String, u64)> = snapshot.counters.iter().map(|(k, n)| (k.clone(), *n)).collect();
                r.handle
                    .call(CallKind::Write, |mut c| {
                        let mut pipe = redis::pipe();
                        for (k, n) in &counters {
                            pipe.cmd("INCRBY").arg(k).arg(*n).ignore();
                        }
                        async move { pipe.query_async::<()>(&mut c).await }
                    })
                    .await?;
            }
            if snapshot.clear_all {
                self.scan_unlink(r, None).await?;
            }
            let payload = Invalidation::all(&self.config.instance_id).to_json();
            let channel = r.channel.clone();
            r.handle
                .call(CallKind::Write, |mut c| async move {
                    redis::cmd("PUBLISH").arg(channel).arg(payload).query_async::<u64>(&mut c).await
                })
                .await?;
            Ok::<_, RedisCallError>(epoch)
        }
        .await;
        match result {
            Ok(epoch) => {
                telemetry::published();
                self.l1.record_and_apply(Change::All, None);
                self.flights.forget_all();
                let still_pending = {
                    let mut pending = lock(&r.pending);
                    pending.subtract(&snapshot);
                    telemetry::pending(pending.len());
                    pending.counters.clone()
                };
                {
                    // The local view now adds only what is still pending. Increments dropped by
                    // a collapse are gone from the view too: this L1 was just cleared and every
                    // older L2 value hidden by the epoch, so going back cannot serve stale lists.
                    let mut view = self.counter_view();
                    for (k, n) in &snapshot.counters {
                        *view.seen.entry(k.clone()).or_default() += n;
                    }
                    view.unapplied = still_pending;
                }
                r.resynced.store(mark, Ordering::Release);
                r.replays.fetch_add(1, Ordering::AcqRel);
                tracing::info!(
                    epoch,
                    replayed_items = snapshot.len(),
                    "cache: Redis is back; namespace epoch bumped, pending invalidations replayed"
                );
            }
            Err(e) if e.is_unavailable() => {
                tracing::debug!(error = %e, "cache: replay of pending invalidations failed; will retry");
            }
            Err(e) => {
                tracing::error!(error = %e, "cache: Redis rejected the replay of pending invalidations; will retry");
            }
        }
    }

    fn apply_remote(&self, message: Invalidation) {
        telemetry::received();
        Counters::add(&self.stats.received, 1);
        if message.all {
            self.l1.record_and_apply(Change::All, None);
            self.flights.forget_all();
            return;
        }
        if !message.keys.is_empty() {
            self.l1.record_and_apply(Change::Keys(&message.keys), None);
            self.flights.forget_keys(&message.keys);
        }
        if !message.patterns.is_empty() {
            let globs: Vec<Glob> = message.patterns.iter().map(|p| Glob::lenient(p)).collect();
            self.l1.record_and_apply(Change::Patterns(&globs), None);
            self.flights.forget_matching(&globs);
        }
    }
}

impl BusListener for Inner {
    fn subscription_up(&self) {
        let Some(r) = &self.redis else { return };
        // Messages may have been missed while disconnected.
        self.l1.record_and_apply(Change::All, None);
        self.flights.forget_all();
        r.sub_up.store(true, Ordering::Release);
        r.sub_state.send_replace(SubState::Up);
    }

    fn subscription_down(&self, was_up: bool) {
        let Some(r) = &self.redis else { return };
        if was_up {
            r.sub_up.store(false, Ordering::Release);
            self.l1.record_and_apply(Change::All, None);
            self.flights.forget_all();
            r.losses.fetch_add(1, Ordering::AcqRel);
        }
        r.sub_state.send_replace(SubState::Down);
    }

    fn message(&self, payload: &[u8]) {
        match serde_json::from_slice::<Invalidation>(payload) {
            Ok(m) if m.origin == self.config.instance_id => {}
            Ok(m) => self.apply_remote(m),
            Err(e) => tracing::warn!(error = %e, "cache: ignoring a malformed invalidation message"),
        }
    }
}
