//! Writes: the writer path, invalidations, pattern deletes and clears.

use std::time::Duration;

use bytes::Bytes;

use super::{Cache, L2Outcome, SetOutcome, ttl_millis, verdict_of};
use crate::bus::Invalidation;
use crate::glob::{Glob, GlobError};
use crate::l1::{Change, Entry, WriteMode, Written};
use crate::redis_handle::{CallKind, RedisCallError};
use crate::stats::Counters;
use crate::telemetry::{self, Level, Op, Outcome};

impl Cache {
    /// The writer path (create and update, after the commit): stores `value` under `key` unless
    /// L2 holds an equal or higher `version` or a tombstone, atomically in one script, and
    /// publishes the invalidation before returning. L1 follows L2's verdict. Without Redis (or
    /// while it is unavailable) L1 applies the same rules; an unavailable L2 makes the key
    /// pending.
    pub async fn set_versioned(&self, key: &str, value: impl Into<Bytes>, version: i64, ttl: Duration) -> SetOutcome {
        self.write(key, value.into(), Some(version), ttl).await
    }

    /// An unconditional set through both levels plus an invalidation broadcast (the warm-up jobs
    /// of docs/jobs.md#job-document). It replaces a tombstone.
    pub async fn set(&self, key: &str, value: impl Into<Bytes>, ttl: Duration) -> SetOutcome {
        self.write(key, value.into(), None, ttl).await
    }

    async fn write(&self, key: &str, value: Bytes, version: Option<i64>, ttl: Duration) -> SetOutcome {
        let inner = &self.inner;
        if !inner.cacheable(key) {
            return SetOutcome::Rejected;
        }
        if value.len() > inner.config.max_value_bytes {
            self.invalidate(&[key]).await;
            return SetOutcome::TooLarge;
        }
        let keys = [key.to_owned()];
        let entry = Entry::value(value.clone(), version, inner.l1.cap_ttl(ttl));
        let outcome = match &inner.redis {
            None => {
                let mode = if version.is_some() { WriteMode::Versioned } else { WriteMode::Force };
                match inner.l1.write(key, entry, mode, None) {
                    Written::Stored => SetOutcome::Stored,
                    Written::KeptNewer | Written::Superseded => SetOutcome::KeptNewer,
                    Written::Tombstoned => SetOutcome::Tombstoned,
                }
            }
            Some(r) => {
                let ticket = inner.l1.ticket();
                let message = Invalidation::keys(&inner.config.instance_id, keys.to_vec()).to_json();
                let ttl_ms = ttl_millis(ttl);
                let (vkey, mkey) = inner.physical(key);
                let epoch_key = r.epoch_key.clone();
                let channel = r.channel.clone();
                let result = r
                    .handle
                    .call(CallKind::Write, |mut c| {
                        let mut inv = match version {
                            Some(_) => r.scripts.set_versioned.prepare_invoke(),
                            None => r.scripts.set_plain.prepare_invoke(),
                        };
                        inv.key(epoch_key).key(vkey).key(mkey).arg(value.as_ref()).arg(ttl_ms);
                        if let Some(v) = version {
                            inv.arg(v);
                        }
                        inv.arg(channel).arg(message);
                        // Same invoke-then-record tail as `invalidate` below: each write path runs
                        // its own Lua script and records its own Op, so the two stay separate.
                        async move { inv.invoke_async::<redis::Value>(&mut c).await }
                    })
                    .await;
                match result {
                    Ok(verdict) => {
                        telemetry::operation(Level::L2, Op::Set, Outcome::Ok);
                        telemetry::published();
                        match verdict_of(&verdict) {
                            'K' => {
                                inner.l1.record_and_apply(Change::Keys(&keys), None);
                                SetOutcome::KeptNewer
                            }
                            'T' => {
                                inner.l1.record_and_apply(Change::Keys(&keys), None);
                                SetOutcome::Tombstoned
                            }
                            _ => {
                                inner.l1.write(key, entry, WriteMode::Force, Some(ticket));
                                SetOutcome::Stored
                            }
                        }
                    }
                    Err(e) => {
                        inner.l2_failed(Op::Set, &e);
                        inner.add_pending(|p| {
                            p.keys.insert(key.to_owned());
                        });
                        let mode = if version.is_some() { WriteMode::Versioned } else { WriteMode::Force };
                        inner.l1.write(key, entry, mode, Some(ticket));
                        SetOutcome::Pending
                    }
                }
            }
        };
        inner.flights.forget_keys(&keys);
        telemetry::operation(Level::L1, Op::Set, Outcome::Ok);
        if matches!(outcome, SetOutcome::Stored | SetOutcome::Pending) {
            Counters::add(&inner.stats.sets, 1);
        }
        outcome
    }

    /// Invalidates single keys (a task delete, an attribute change, and every DEL of docs/cache.md#what-writes-do):
    /// each key gets a tombstone in L2 that lives `tombstone_ttl` (60 s): the value is deleted,
    /// reads miss, and neither read fills nor writer sets land while it lives. L1 drops the keys
    /// and one message is published before this returns. Unavailable Redis makes the keys
    /// pending.
    pub async fn invalidate(&self, keys: &[&str]) -> L2Outcome {
        let inner = &self.inner;
        let keys: Vec<String> = keys.iter().filter(|k| inner.cacheable(k)).map(|k| (*k).to_owned()).collect();
        if keys.is_empty() {
            return if inner.redis.is_some() { L2Outcome::Applied } else { L2Outcome::Local };
        }
        let outcome = match &inner.redis {
            None => L2Outcome::Local,
            Some(r) => {
                let message = Invalidation::keys(&inner.config.instance_id, keys.clone()).to_json();
                let tomb_ms = ttl_millis(inner.config.tombstone_ttl);
                let result = r
                    .handle
                    .call(CallKind::Write, |mut c| {
                        let mut inv = r.scripts.tombstone.prepare_invoke();
                        inv.key(r.epoch_key.as_str());
                        for k in &keys {
                            let (v, m) = inner.physical(k);
                            inv.key(v).key(m);
                        }
                        inv.arg(tomb_ms).arg(r.channel.as_str()).arg(message);
                        // Same invoke-then-record tail as `write` above, with Op::Delete (see
                        // there).
                        async move { inv.invoke_async::<redis::Value>(&mut c).await }
                    })
                    .await;
                match result {
                    Ok(_) => {
                        telemetry::operation(Level::L2, Op::Delete, Outcome::Ok);
                        telemetry::published();
                        L2Outcome::Applied
                    }
                    Err(e) => {
                        inner.l2_failed(Op::Delete, &e);
                        inner.add_pending(|p| p.keys.extend(keys.iter().cloned()));
                        L2Outcome::Pending
                    }
                }
            }
        };
        // L2 first, then L1: a local reader that read the old L2 value before the tombstone took
        // its ticket before this change, so its promotion is discarded.
        inner.l1.record_and_apply(Change::Keys(&keys), Some(inner.config.tombstone_ttl));
        inner.flights.forget_keys(&keys);
        telemetry::operation(Level::L1, Op::Delete, Outcome::Ok);
        Counters::add(&inner.stats.deletes, keys.len() as u64);
        outcome
    }

    /// Evicts every key matching a glob (`*`, `?`, `[…]`, Redis semantics) in L2 (`SCAN MATCH
    /// <prefix><pattern> COUNT 1000` + `UNLINK` in batches; never `KEYS`), in this L1, and in the
    /// L1 of every instance (published before returning). Returns the number of L2 values
    /// deleted, or `None` when L2 was not reached (pending) or is not configured.
    pub async fn delete_pattern(&self, pattern: &str) -> Result<Option<u64>, GlobError> {
        let inner = &self.inner;
        let glob = Glob::new(pattern)?;
        let deleted = match &inner.redis {
            None => None,
            Some(r) => match inner.scan_unlink(r, Some(&glob)).await {
                Ok(n) => {
                    telemetry::operation(Level::L2, Op::DeletePattern, Outcome::Ok);
                    Some(n)
                }
                Err(e) => {
                    inner.l2_failed(Op::DeletePattern, &e);
                    inner.add_pending(|p| {
                        p.patterns.insert(pattern.to_owned());
                    });
                    None
                }
            },
        };
        let globs = [glob];
        inner.l1.record_and_apply(Change::Patterns(&globs), None);
        inner.flights.forget_matching(&globs);
        telemetry::operation(Level::L1, Op::DeletePattern, Outcome::Ok);
        Counters::add(&inner.stats.deletes, 1);
        if let Some(r) = &inner.redis
            && deleted.is_some()
        {
            let message = Invalidation::patterns(&inner.config.instance_id, vec![pattern.to_owned()]);
            if !inner.publish(r, &message).await {
                inner.add_pending(|p| {
                    p.patterns.insert(pattern.to_owned());
                });
                return Ok(None);
            }
        }
        Ok(deleted)
    }

    /// Clears the cache: every L2 key under the prefix (SCAN + UNLINK, the epoch key included;
    /// never the job queues, counters, rate-limit or throttle keys, which live outside the
    /// prefix), this L1, and the L1 of every instance. Returns the number of L2 values deleted,
    /// or `None` when Redis is disabled or unreachable (then the L2 clear stays pending).
    pub async fn clear(&self) -> Option<u64> {
        let inner = &self.inner;
        let deleted = match &inner.redis {
            None => None,
            Some(r) => {
                let result = async {
                    let n = inner.scan_unlink(r, None).await?;
                    // Deleting the epoch is safe: it only grows (see the bump script), so no
                    // older epoch can become current again.
                    let epoch_key = r.epoch_key.clone();
                    r.handle
                        .call(CallKind::Write, |mut c| async move {
                            redis::cmd("UNLINK").arg(epoch_key).query_async::<u64>(&mut c).await
                        })
                        .await?;
                    Ok::<_, RedisCallError>(n)
                }
                .await;
                match result {
                    Ok(n) => {
                        telemetry::operation(Level::L2, Op::DeletePattern, Outcome::Ok);
                        Some(n)
                    }
                    Err(e) => {
                        inner.l2_failed(Op::DeletePattern, &e);
                        inner.add_pending(|p| p.clear_all = true);
                        None
                    }
                }
            }
        };
        inner.l1.record_and_apply(Change::All, None);
        inner.flights.forget_all();
        telemetry::operation(Level::L1, Op::DeletePattern, Outcome::Ok);
        Counters::add(&inner.stats.deletes, 1);
        if let Some(r) = &inner.redis
            && deleted.is_some()
            && !inner.publish(r, &Invalidation::all(&inner.config.instance_id)).await
        {
            inner.add_pending(|p| p.clear_all = true);
            return None;
        }
        deleted
    }
}
