//! The L2 write helpers of `Inner`: failure accounting, the pending set, publishing and
//! SCAN + UNLINK.

use std::sync::atomic::Ordering;

use super::{Inner, RedisSide, lock};
use crate::bus::Invalidation;
use crate::glob::{self, Glob};
use crate::pending::Pending;
use crate::redis_handle::{CallKind, RedisCallError};
use crate::scripts::META_SUFFIX;
use crate::stats::Counters;
use crate::telemetry::{self, Level, Op, Outcome};

impl Inner {
    pub(super) fn l2_failed(&self, op: Op, e: &RedisCallError) {
        match e {
            RedisCallError::Skipped => telemetry::operation(Level::L2, op, Outcome::Skipped),
            RedisCallError::Command(err) => {
                Counters::add(&self.stats.errors, 1);
                telemetry::operation(Level::L2, op, Outcome::Error);
                tracing::error!(error = %err, "cache: Redis rejected a command");
            }
            other => {
                Counters::add(&self.stats.errors, 1);
                telemetry::operation(Level::L2, op, Outcome::Error);
                tracing::debug!(error = %other, "cache: Redis call failed");
            }
        }
    }

    pub(super) fn add_pending(&self, f: impl FnOnce(&mut Pending)) {
        let Some(r) = &self.redis else { return };
        let mut pending = lock(&r.pending);
        f(&mut pending);
        pending.normalize();
        if pending.collapse_if_over(self.config.pending_limit, &self.config.overflow_counters) {
            tracing::warn!(
                limit = self.config.pending_limit,
                "cache: too many pending invalidations; replaced by a full clear of the namespace"
            );
        }
        telemetry::pending(pending.len());
        r.losses.fetch_add(1, Ordering::AcqRel);
    }

    pub(super) async fn publish(&self, r: &RedisSide, message: &Invalidation) -> bool {
        let channel = r.channel.clone();
        let payload = message.to_json();
        let ok = r
            .handle
            .call(CallKind::Write, |mut c| async move {
                redis::cmd("PUBLISH").arg(channel).arg(payload).query_async::<u64>(&mut c).await
            })
            .await
            .is_ok();
        if ok {
            telemetry::published();
        }
        ok
    }

    /// SCAN MATCH `<prefix><pattern>` (all of the prefix for `None`), COUNT 1000, and UNLINK of
    /// the matching values and their metas, batch by batch. The epoch key is skipped. Returns
    /// the number of values deleted.
    pub(super) async fn scan_unlink(&self, r: &RedisSide, glob: Option<&Glob>) -> Result<u64, RedisCallError> {
        let prefix = self.config.key_prefix.as_bytes();
        let pattern = format!("{}{}", glob::escape(&self.config.key_prefix), glob.map_or("*", Glob::as_str));
        let mut cursor: u64 = 0;
        let mut deleted = 0;
        loop {
            let pattern = pattern.clone();
            let (next, batch) = r
                .handle
                .call(CallKind::Write, |mut c| async move {
                    redis::cmd("SCAN")
                        .arg(cursor)
                        .arg("MATCH")
                        .arg(pattern)
                        .arg("COUNT")
                        .arg(1000)
                        .query_async::<(u64, Vec<Vec<u8>>)>(&mut c)
                        .await
                })
                .await?;
            let mut values: Vec<Vec<u8>> = Vec::new();
            let mut metas: Vec<Vec<u8>> = Vec::new();
            for key in batch {
                if key == r.epoch_key.as_bytes() || !key.starts_with(prefix) {
                    continue;
                }
                let rest = &key[prefix.len()..];
                let (logical, is_meta) = match rest.strip_suffix(META_SUFFIX.as_bytes()) {
                    Some(l) => (l, true),
                    None => (rest, false),
                };
                if glob.is_some_and(|g| !g.matches_bytes(logical)) {
                    continue;
                }
                if is_meta {
                    metas.push(key);
                } else {
                    let mut meta = key.clone();
                    meta.extend_from_slice(META_SUFFIX.as_bytes());
                    metas.push(meta);
                    values.push(key);
                }
            }
            metas.sort_unstable();
            metas.dedup();
            if !values.is_empty() || !metas.is_empty() {
                let counts = r
                    .handle
                    .call(CallKind::Write, |mut c| {
                        let mut pipe = redis::pipe();
                        if !values.is_empty() {
                            pipe.cmd("UNLINK").arg(&values);
                        }
                        if !metas.is_empty() {
                            pipe.cmd("UNLINK").arg(&metas).ignore();
                        }
                        async move { pipe.query_async::<Vec<u64>>(&mut c).await }
                    })
                    .await?;
                deleted += counts.first().copied().unwrap_or(0);
            }
            cursor = next;
            if cursor == 0 {
                return Ok(deleted);
            }
        }
    }
}
