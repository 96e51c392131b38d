//! The Redis side of the queue (docs/jobs.md#redis-structures): the four structures and their operations. Every call
//! goes through the cache's [`RedisHandle`], so the circuit breaker named `redis` guards the
//! queue like every other Redis use, and only non-blocking commands are sent on the shared
//! multiplexed connection.

use std::collections::HashSet;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use taskify_cache::redis::{self, RedisError};
use taskify_cache::{CallKind, RedisCallError, RedisHandle};
use uuid::Uuid;

use crate::config::QueueKeys;
use crate::job::{Job, format_timestamp};
use crate::keys::DlqSelection;
use crate::scripts::Scripts;

/// Where an enqueued job landed in Redis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// `cache_jobs`: due now.
    Ready,
    /// `cache_jobs_delayed`: due at its `process_at`.
    Delayed,
}

/// A job taken by [`RedisQueue::claim`]. `document` is the member now in `cache_jobs_processing`:
/// the worker must hand exactly it to `ack`, `retry`, `renew` or `release`.
#[derive(Debug, Clone)]
pub struct Claimed {
    /// The claimed document (with `worker_id`, `lease_expires_at` and `attempts + 1`).
    pub document: String,
    /// The document as a [`Job`], or why it could not be read as one.
    pub job: Result<Job, String>,
}

/// The result of a claim.
// One claim per job run, consumed at once: boxing the large variant would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Claim {
    /// The ready set was empty.
    Empty,
    /// A job is now leased to the caller.
    Claimed(Claimed),
    /// The popped member was not a JSON object; it was removed and is returned for logging.
    Discarded(String),
}

/// What happens to a failed job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryDecision {
    /// Back to the delayed set, due at `process_at`.
    Delay {
        /// The new `process_at` (now + attempts × backoff).
        process_at: DateTime<Utc>,
    },
    /// To the DLQ, with `failed_at` = now.
    DeadLetter,
}

/// What one reap did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reaped {
    /// Expired leases moved back to ready.
    pub requeued: u64,
    /// Expired members that were not JSON objects, removed.
    pub discarded: u64,
    /// The `type` of every job moved to the DLQ (`attempts ≥ max_tries`).
    pub dead_lettered: Vec<String>,
}

impl Reaped {
    /// Leases that expired (requeued + dead-lettered).
    pub fn expired(&self) -> u64 {
        self.requeued + self.dead_lettered.len() as u64
    }
}

/// The sizes of the four structures.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RedisSizes {
    /// `ZCARD cache_jobs`.
    pub ready: u64,
    /// `ZCARD cache_jobs_delayed`.
    pub delayed: u64,
    // Plain counts; the run of fields up to `Peek` matches store's Credentials by shape only
    // (different data).
    /// `ZCARD cache_jobs_processing`.
    pub processing: u64,
    /// `LLEN cache_jobs_dlq`.
    pub dlq: u64,
}

/// The first entries of the three sorted sets, in execution order.
#[derive(Debug, Clone, Default)]
pub struct Peek {
    /// Ready jobs, most urgent first.
    pub ready: Vec<Job>,
    /// Delayed jobs, earliest `process_at` first.
    pub delayed: Vec<Job>,
    /// Leased jobs, earliest lease expiry first (with `worker_id` and `lease_expires_at`).
    pub processing: Vec<Job>,
}

/// The Redis queue: the structures named by [`QueueKeys`] and their atomic operations (one Lua
/// script each). Cheap to clone.
#[derive(Clone)]
pub struct RedisQueue {
    inner: Arc<QueueInner>,
}

struct QueueInner {
    handle: RedisHandle,
    keys: QueueKeys,
    scripts: Scripts,
    timeout: Duration,
}

fn js(text: &str) -> String {
    serde_json::Value::String(text.to_owned()).to_string()
}

fn decode_all(members: Vec<String>) -> Vec<Job> {
    members.iter().filter_map(|m| serde_json::from_str(m).ok()).collect()
}

impl RedisQueue {
    /// A queue on `keys` through `handle`; worker calls are bounded by `timeout`.
    pub fn new(handle: RedisHandle, keys: QueueKeys, timeout: Duration) -> Self {
        Self { inner: Arc::new(QueueInner { handle, keys, scripts: Scripts::new(), timeout }) }
    }

    /// The structure names.
    pub fn keys(&self) -> &QueueKeys {
        &self.inner.keys
    }

    /// Whether the breaker lets calls through (docs/jobs.md#routing "Redis available").
    pub fn is_available(&self) -> bool {
        self.inner.handle.is_available()
    }

    async fn run<T, F, Fut>(&self, kind: CallKind, f: F) -> Result<T, RedisCallError>
    where
        F: FnOnce(redis::aio::ConnectionManager) -> Fut,
        Fut: Future<Output = Result<T, RedisError>>,
    {
        self.inner.handle.call(kind, f).await
    }

    fn worker_call(&self) -> CallKind {
        CallKind::Custom(self.inner.timeout)
    }

    /// Adds a job: to delayed (scored by `process_at`) when it is due later, else to ready
    /// (scored `priority × 10^13 + process_at`). `kind` picks the timeout (enqueueing on a
    /// request path uses [`CallKind::Write`]).
    pub async fn push(&self, job: &Job, kind: CallKind) -> Result<Placement, RedisCallError> {
        let (key, score, placement) = if job.process_at > Utc::now() {
            (self.inner.keys.delayed.clone(), job.process_at.timestamp_millis(), Placement::Delayed)
        } else {
            (self.inner.keys.ready.clone(), job.ready_score(), Placement::Ready)
        };
        let doc = job.to_json();
        self.run(kind, |mut c| async move {
            redis::cmd("ZADD").arg(key).arg(score).arg(doc).query_async::<i64>(&mut c).await
        })
        .await?;
        Ok(placement)
    }

    /// Adds many jobs in one round trip (jobs handed over at shutdown): each as [`Self::push`]
    /// would place it.
    pub async fn push_many(&self, jobs: &[Job]) -> Result<(), RedisCallError> {
        if jobs.is_empty() {
            return Ok(());
        }
        let now = Utc::now();
        let mut pipe = redis::pipe();
        for job in jobs {
            if job.process_at > now {
                pipe.cmd("ZADD")
                    .arg(&self.inner.keys.delayed)
                    .arg(job.process_at.timestamp_millis())
                    .arg(job.to_json());
            } else {
                pipe.cmd("ZADD").arg(&self.inner.keys.ready).arg(job.ready_score()).arg(job.to_json());
            }
            pipe.ignore();
        }
        self.run(self.worker_call(), |mut c| async move { pipe.query_async::<()>(&mut c).await }).await
    }

    // The script operations below (promote, claim, renew, release, retry, ...) share one shape:
    // take the script, the keys and the time, invoke. They stay spelled out, one per operation,
    // because each line lists that script's KEYS and ARGV in the order its header in scripts.rs
    // documents; a generic helper would hide exactly what a reader must compare.

    /// promote: moves up to `limit` due jobs from delayed to ready. Returns how many moved.
    pub async fn promote(&self, limit: usize) -> Result<u64, RedisCallError> {
        // Same frame as every queue operation here (script, keys, now, `self.run` with one Lua
        // invocation): only each script's KEYS/ARGV differ, and those are the point of each method.
        let script = &self.inner.scripts.promote;
        let keys = &self.inner.keys;
        let now = Utc::now().timestamp_millis();
        self.run(self.worker_call(), |mut c| async move {
            let mut inv = script.prepare_invoke();
            inv.key(&keys.delayed).key(&keys.ready).arg(now).arg(limit);
            inv.invoke_async::<u64>(&mut c).await
        })
        .await
    }

    /// claim: takes the most urgent ready job, increments `attempts`, and leases it to
    /// `worker_id` for `lease` (the job moves to processing, scored by the lease expiry).
    pub async fn claim(&self, worker_id: &str, lease: Duration) -> Result<Claim, RedisCallError> {
        let script = &self.inner.scripts.claim;
        let keys = &self.inner.keys;
        let expires = Utc::now() + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::seconds(30));
        let worker = js(worker_id);
        let expires_text = js(&format_timestamp(expires));
        let expires_ms = expires.timestamp_millis();
        let reply = self
            .run(self.worker_call(), |mut c| async move {
                let mut inv = script.prepare_invoke();
                inv.key(&keys.ready).key(&keys.processing).arg(worker).arg(expires_text).arg(expires_ms);
                inv.invoke_async::<Option<(String, String)>>(&mut c).await
            })
            .await?;
        Ok(match reply {
            None => Claim::Empty,
            Some((tag, document)) if tag == "claimed" => {
                let job = serde_json::from_str::<Job>(&document).map_err(|e| format!("invalid job document: {e}"));
                Claim::Claimed(Claimed { document, job })
            }
            Some((_, member)) => Claim::Discarded(member),
        })
    }

    /// ack: removes the lease. `false` when the lease is no longer this document's (a no-op).
    pub async fn ack(&self, document: &str) -> Result<bool, RedisCallError> {
        let script = &self.inner.scripts.ack;
        let keys = &self.inner.keys;
        self.run(self.worker_call(), |mut c| async move {
            let mut inv = script.prepare_invoke();
            inv.key(&keys.processing).arg(document);
            inv.invoke_async::<i64>(&mut c).await
        })
        .await
        .map(|n| n == 1)
    }

    /// retry: removes the lease and delays the job or dead-letters it (with `last_error`, and
    /// `failed_at` for the DLQ, trimmed to `dlq_max`). `false` when the lease is no longer this
    /// document's (a no-op).
    pub async fn retry(
        &self,
        document: &str,
        decision: RetryDecision,
        last_error: &str,
        dlq_max: usize,
    ) -> Result<bool, RedisCallError> {
        let script = &self.inner.scripts.retry;
        let keys = &self.inner.keys;
        let now = Utc::now();
        let (mode, score, process_at) = match decision {
            RetryDecision::Delay { process_at } => ("delay", process_at.timestamp_millis(), process_at),
            RetryDecision::DeadLetter => ("dead", 0, now),
        };
        let process_at = js(&format_timestamp(process_at));
        let last_error = js(last_error);
        let failed_at = js(&format_timestamp(now));
        self.run(self.worker_call(), |mut c| async move {
            let mut inv = script.prepare_invoke();
            inv.key(&keys.processing).key(&keys.delayed).key(&keys.dlq);
            inv.arg(document).arg(mode).arg(score).arg(process_at).arg(last_error).arg(failed_at).arg(dlq_max.max(1));
            inv.invoke_async::<i64>(&mut c).await
        })
        .await
        .map(|n| n == 1)
    }

    /// renew: extends the lease to now + `lease`. Returns the new document (to use from now on),
    /// or `None` when the lease is no longer this document's.
    pub async fn renew(&self, document: &str, lease: Duration) -> Result<Option<String>, RedisCallError> {
        let script = &self.inner.scripts.renew;
        let keys = &self.inner.keys;
        let expires = Utc::now() + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::seconds(30));
        let expires_ms = expires.timestamp_millis();
        let expires_text = js(&format_timestamp(expires));
        self.run(self.worker_call(), |mut c| async move {
            let mut inv = script.prepare_invoke();
            inv.key(&keys.processing).arg(document).arg(expires_ms).arg(expires_text);
            inv.invoke_async::<Option<String>>(&mut c).await
        })
        .await
    }

    /// release: hands an interrupted job back to ready (lease removed, the started attempt given
    /// back). `false` when the lease is no longer this document's.
    pub async fn release(&self, document: &str) -> Result<bool, RedisCallError> {
        // The per-operation script frame again (see `promote`).
        let script = &self.inner.scripts.release;
        let keys = &self.inner.keys;
        let now = Utc::now().timestamp_millis();
        self.run(self.worker_call(), |mut c| async move {
            let mut inv = script.prepare_invoke();
            inv.key(&keys.processing).key(&keys.ready).arg(document).arg(now);
            inv.invoke_async::<i64>(&mut c).await
        })
        .await
        .map(|n| n == 1)
    }

    /// reap: moves up to `limit` expired leases back to ready, or to the DLQ (`lease expired`)
    /// when `attempts ≥ max_tries` (`default_max_tries` for documents without one).
    pub async fn reap(&self, dlq_max: usize, default_max_tries: u32, limit: usize) -> Result<Reaped, RedisCallError> {
        let script = &self.inner.scripts.reap;
        let keys = &self.inner.keys;
        let now = Utc::now();
        let now_ms = now.timestamp_millis();
        let failed_at = js(&format_timestamp(now));
        let (requeued, discarded, dead) = self
            .run(self.worker_call(), |mut c| async move {
                let mut inv = script.prepare_invoke();
                inv.key(&keys.processing).key(&keys.ready).key(&keys.dlq);
                inv.arg(now_ms).arg(failed_at).arg(dlq_max.max(1)).arg(limit).arg(default_max_tries);
                inv.invoke_async::<(u64, u64, Vec<String>)>(&mut c).await
            })
            .await?;
        let dead_lettered = dead.iter().map(|t| serde_json::from_str::<String>(t).unwrap_or_default()).collect();
        Ok(Reaped { requeued, discarded, dead_lettered })
    }

    /// The sizes of the four structures, in one round trip (`kind` picks the timeout).
    pub async fn sizes(&self, kind: CallKind) -> Result<RedisSizes, RedisCallError> {
        let k = self.inner.keys.clone();
        let (ready, delayed, processing, dlq) = self
            .run(kind, |mut c| async move {
                redis::pipe()
                    .cmd("ZCARD")
                    .arg(&k.ready)
                    .cmd("ZCARD")
                    .arg(&k.delayed)
                    .cmd("ZCARD")
                    .arg(&k.processing)
                    .cmd("LLEN")
                    .arg(&k.dlq)
                    .query_async::<(u64, u64, u64, u64)>(&mut c)
                    .await
            })
            .await?;
        Ok(RedisSizes { ready, delayed, processing, dlq })
    }

    /// The first `limit` jobs of ready, delayed and processing, in execution order, plus the
    /// sizes, in one round trip. A processing member without `lease_expires_at` (written by
    /// hand) gets it from its score. Members that are not job documents are left out.
    pub async fn peek(&self, limit: usize) -> Result<(Peek, RedisSizes), RedisCallError> {
        let k = self.inner.keys.clone();
        let stop = limit.max(1) as isize - 1;
        type Reply = (Vec<String>, Vec<String>, Vec<(String, f64)>, u64, u64, u64, u64);
        let (ready, delayed, processing, r, d, p, q): Reply = self
            .run(CallKind::Read, |mut c| async move {
                redis::pipe()
                    .cmd("ZRANGE")
                    .arg(&k.ready)
                    .arg(0)
                    .arg(stop)
                    .cmd("ZRANGE")
                    .arg(&k.delayed)
                    .arg(0)
                    .arg(stop)
                    .cmd("ZRANGE")
                    .arg(&k.processing)
                    .arg(0)
                    .arg(stop)
                    .arg("WITHSCORES")
                    .cmd("ZCARD")
                    .arg(&k.ready)
                    .cmd("ZCARD")
                    .arg(&k.delayed)
                    .cmd("ZCARD")
                    .arg(&k.processing)
                    .cmd("LLEN")
                    .arg(&k.dlq)
                    .query_async(&mut c)
                    .await
            })
            .await?;
        let processing = processing
            .into_iter()
            .filter_map(|(m, score)| {
                let mut job: Job = serde_json::from_str(&m).ok()?;
                if job.lease_expires_at.is_none() {
                    job.lease_expires_at = DateTime::from_timestamp_millis(score as i64);
                }
                Some(job)
            })
            .collect();
        let peek = Peek { ready: decode_all(ready), delayed: decode_all(delayed), processing };
        Ok((peek, RedisSizes { ready: r, delayed: d, processing: p, dlq: q }))
    }

    /// A page of the DLQ, newest first, and its total length.
    pub async fn dlq_page(&self, offset: usize, limit: usize) -> Result<(Vec<Job>, u64), RedisCallError> {
        let key = self.inner.keys.dlq.clone();
        let start = offset as isize;
        let stop = (offset + limit.max(1)) as isize - 1;
        let (total, members) = self
            .run(CallKind::Read, |mut c| async move {
                redis::pipe()
                    .cmd("LLEN")
                    .arg(&key)
                    .cmd("LRANGE")
                    .arg(&key)
                    .arg(start)
                    .arg(stop)
                    .query_async::<(u64, Vec<String>)>(&mut c)
                    .await
            })
            .await?;
        Ok((decode_all(members), total))
    }

    /// Pushes jobs onto the DLQ (each `LPUSH`, so the last one given ends up first), trimmed to
    /// `dlq_max`.
    pub async fn push_dlq(&self, jobs: &[Job], dlq_max: usize, kind: CallKind) -> Result<(), RedisCallError> {
        if jobs.is_empty() {
            return Ok(());
        }
        let key = self.inner.keys.dlq.clone();
        let mut pipe = redis::pipe();
        for job in jobs {
            pipe.cmd("LPUSH").arg(&key).arg(job.to_json()).ignore();
        }
        pipe.cmd("LTRIM").arg(&key).arg(0).arg(dlq_max.max(1) as isize - 1).ignore();
        self.run(kind, |mut c| async move { pipe.query_async::<()>(&mut c).await }).await
    }

    /// Removes the selected entries from the DLQ and returns them, oldest first. With
    /// [`DlqSelection::All`] the list is taken atomically (entries that are not job documents
    /// are put back); with ids, each entry is removed with `LREM`, so of two instances taking
    /// the same entry only one gets it.
    pub async fn dlq_take(&self, selection: &DlqSelection) -> Result<Vec<Job>, RedisCallError> {
        let key = self.inner.keys.dlq.clone();
        match selection {
            DlqSelection::All => {
                let k = key.clone();
                let (members, _): (Vec<String>, u64) = self
                    .run(self.worker_call(), |mut c| async move {
                        redis::pipe()
                            .atomic()
                            .cmd("LRANGE")
                            .arg(&k)
                            .arg(0)
                            .arg(-1)
                            .cmd("DEL")
                            .arg(&k)
                            .query_async(&mut c)
                            .await
                    })
                    .await?;
                let mut jobs = Vec::with_capacity(members.len());
                let mut foreign = Vec::new();
                for m in members.into_iter().rev() {
                    match serde_json::from_str::<Job>(&m) {
                        Ok(job) => jobs.push(job),
                        Err(_) => foreign.push(m),
                    }
                }
                if !foreign.is_empty() {
                    self.run(self.worker_call(), |mut c| async move {
                        redis::cmd("LPUSH").arg(&key).arg(foreign).query_async::<u64>(&mut c).await
                    })
                    .await?;
                }
                Ok(jobs)
            }
            DlqSelection::Ids(ids) => {
                let mut taken = Vec::new();
                for (member, job) in self.dlq_matching(ids).await? {
                    let k = key.clone();
                    let removed = self
                        .run(self.worker_call(), |mut c| async move {
                            redis::cmd("LREM").arg(&k).arg(1).arg(member).query_async::<u64>(&mut c).await
                        })
                        .await?;
                    if removed == 1 {
                        taken.push(job);
                    }
                }
                taken.reverse();
                Ok(taken)
            }
        }
    }

    /// Deletes the selected entries from the DLQ; returns how many were deleted.
    pub async fn dlq_purge(&self, selection: &DlqSelection) -> Result<u64, RedisCallError> {
        let key = self.inner.keys.dlq.clone();
        match selection {
            DlqSelection::All => {
                let (len, _): (u64, u64) = self
                    .run(self.worker_call(), |mut c| async move {
                        redis::pipe().atomic().cmd("LLEN").arg(&key).cmd("DEL").arg(&key).query_async(&mut c).await
                    })
                    .await?;
                Ok(len)
            }
            DlqSelection::Ids(ids) => {
                let mut purged = 0;
                for (member, _) in self.dlq_matching(ids).await? {
                    let k = key.clone();
                    purged += self
                        .run(self.worker_call(), |mut c| async move {
                            redis::cmd("LREM").arg(&k).arg(1).arg(member).query_async::<u64>(&mut c).await
                        })
                        .await?;
                }
                Ok(purged)
            }
        }
    }

    /// The DLQ entries (newest first) whose id is in `ids`, one per id.
    async fn dlq_matching(&self, ids: &[Uuid]) -> Result<Vec<(String, Job)>, RedisCallError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let key = self.inner.keys.dlq.clone();
        let members: Vec<String> = self
            .run(self.worker_call(), |mut c| async move {
                redis::cmd("LRANGE").arg(&key).arg(0).arg(-1).query_async(&mut c).await
            })
            .await?;
        let mut wanted: HashSet<Uuid> = ids.iter().copied().collect();
        let mut found = Vec::new();
        for m in members {
            let Ok(job) = serde_json::from_str::<Job>(&m) else { continue };
            if wanted.remove(&job.id) {
                found.push((m, job));
            }
        }
        Ok(found)
    }
}

impl std::fmt::Debug for RedisQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisQueue").field("keys", &self.inner.keys).finish()
    }
}
