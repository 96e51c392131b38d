//! A bounded Redis stream of opaque payloads and the loop that follows it (docs/live-updates.md#transport).
//!
//! Appends and range reads run on the shared connection through [`RedisHandle::call`] (breaker
//! and timeouts); following the stream (`XREAD BLOCK`) runs on a dedicated connection of its own,
//! like the invalidation subscriber, because a blocking command would stall the multiplexed one.
//! Each entry holds one field, `d`, with the payload. Like the rest of this crate, nothing here
//! knows what a payload means.

use std::time::Duration;

use bytes::Bytes;
use redis::AsyncConnectionConfig;
use tokio_util::sync::CancellationToken;

use crate::redis_handle::{CallKind, RedisCallError, RedisHandle};

/// One stream entry: its id (`<ms>-<seq>`) and its payload.
pub type StreamEntry = (String, Bytes);

/// The raw shape of `XRANGE` and of one stream of `XREAD`: `[[id, [field, value, …]], …]`.
type RawEntries = Vec<(String, Vec<Vec<u8>>)>;

/// The field an entry's payload is stored under.
const FIELD: &str = "d";

fn entries(raw: RawEntries) -> Vec<StreamEntry> {
    raw.into_iter()
        .filter_map(|(id, fields)| {
            let mut fields = fields.into_iter();
            // Fields come as name, value pairs: the payload is the value after `d`.
            while let (Some(name), Some(value)) = (fields.next(), fields.next()) {
                if name == FIELD.as_bytes() {
                    return Some((id, Bytes::from(value)));
                }
            }
            None
        })
        .collect()
}

/// A Redis stream under one key, trimmed to about `max_len` entries.
#[derive(Clone, Debug)]
pub struct EventLog {
    redis: RedisHandle,
    key: String,
    max_len: usize,
}

impl EventLog {
    /// The stream `key` (the full Redis key, prefix included).
    pub fn new(redis: RedisHandle, key: String, max_len: usize) -> Self {
        Self { redis, key, max_len }
    }

    /// The Redis key.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// `XADD key MAXLEN ~ max_len * d payload`: the id Redis gave the entry.
    pub async fn append(&self, payload: &[u8]) -> Result<String, RedisCallError> {
        let (key, max_len) = (self.key.clone(), self.max_len);
        let payload = payload.to_vec();
        self.redis
            .call(CallKind::Write, |mut c| async move {
                redis::cmd("XADD")
                    .arg(&key)
                    .arg("MAXLEN")
                    .arg("~")
                    .arg(max_len)
                    .arg("*")
                    .arg(FIELD)
                    .arg(payload)
                    .query_async::<String>(&mut c)
                    .await
            })
            .await
    }

    /// Up to `count` entries after `after` (exclusive), oldest first.
    pub async fn after(&self, after: &str, count: usize) -> Result<Vec<StreamEntry>, RedisCallError> {
        let (key, start) = (self.key.clone(), format!("({after}"));
        let raw = self
            .redis
            .call(CallKind::Read, |mut c| async move {
                redis::cmd("XRANGE")
                    .arg(&key)
                    .arg(start)
                    .arg("+")
                    .arg("COUNT")
                    .arg(count)
                    .query_async::<RawEntries>(&mut c)
                    .await
            })
            .await?;
        Ok(entries(raw))
    }

    /// The id of the oldest entry still in the stream, `None` when it is empty or absent.
    pub async fn oldest_id(&self) -> Result<Option<String>, RedisCallError> {
        let key = self.key.clone();
        let raw = self
            .redis
            .call(CallKind::Read, |mut c| async move {
                redis::cmd("XRANGE")
                    .arg(&key)
                    .arg("-")
                    .arg("+")
                    .arg("COUNT")
                    .arg(1)
                    .query_async::<RawEntries>(&mut c)
                    .await
            })
            .await?;
        Ok(raw.into_iter().next().map(|(id, _)| id))
    }
}

/// What the follower reports.
#[derive(Debug, Clone)]
pub enum FollowEvent {
    /// Reading works, from after `newest`.
    Up {
        /// The newest entry at that moment, `None` for an empty stream.
        newest: Option<String>,
        /// A [`FollowEvent::Down`] came before: entries appended in between may have been missed.
        after_outage: bool,
    },
    /// Reading failed (or could not start); the follower reconnects with a backoff. Reported
    /// once per outage.
    Down,
    /// New entries, oldest first.
    Entries(Vec<StreamEntry>),
}

/// Follows `log` on a dedicated connection until `cancel` fires, starting after the newest entry
/// present when it (re)connects, and hands everything to `on_event` in order. `block` bounds one
/// `XREAD BLOCK` (it also bounds how long a dead connection goes unnoticed).
pub async fn follow(log: EventLog, block: Duration, cancel: CancellationToken, on_event: impl Fn(FollowEvent)) {
    let min_backoff = Duration::from_millis(100);
    let max_backoff = Duration::from_secs(2);
    let mut backoff = min_backoff;
    // `None` until the first connection attempt ends; then whether the last one got up.
    let mut up: Option<bool> = None;
    loop {
        let error = tokio::select! {
            _ = cancel.cancelled() => return,
            e = follow_once(&log, block, &on_event, &mut up) => e,
        };
        if up == Some(true) {
            backoff = min_backoff;
        }
        if up != Some(false) {
            up = Some(false);
            on_event(FollowEvent::Down);
        }
        tracing::debug!(%error, key = log.key(), "event stream reader: reconnecting");
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(max_backoff);
    }
}

/// One connection's worth of following: returns why the connection failed.
async fn follow_once(
    log: &EventLog,
    block: Duration,
    on_event: &impl Fn(FollowEvent),
    up: &mut Option<bool>,
) -> redis::RedisError {
    match follow_connection(log, block, on_event, up).await {
        Ok(never) => match never {},
        Err(e) => e,
    }
}

async fn follow_connection(
    log: &EventLog,
    block: Duration,
    on_event: &impl Fn(FollowEvent),
    up: &mut Option<bool>,
) -> Result<std::convert::Infallible, redis::RedisError> {
    let config = log.redis.config();
    let connection_config = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(config.dial_timeout))
        .set_response_timeout(Some(block + config.read_timeout));
    let mut connection = log.redis.client().get_multiplexed_async_connection_with_config(&connection_config).await?;
    let newest: RawEntries = redis::cmd("XREVRANGE")
        .arg(log.key())
        .arg("+")
        .arg("-")
        .arg("COUNT")
        .arg(1)
        .query_async(&mut connection)
        .await?;
    let newest = newest.into_iter().next().map(|(id, _)| id);
    let mut last = newest.clone().unwrap_or_else(|| "0-0".to_owned());
    let after_outage = *up == Some(false);
    *up = Some(true);
    on_event(FollowEvent::Up { newest, after_outage });
    let block_ms = u64::try_from(block.as_millis()).unwrap_or(u64::MAX).max(1);
    loop {
        let read: Option<Vec<(String, RawEntries)>> = redis::cmd("XREAD")
            .arg("COUNT")
            .arg(1000)
            .arg("BLOCK")
            .arg(block_ms)
            .arg("STREAMS")
            .arg(log.key())
            .arg(&last)
            .query_async(&mut connection)
            .await?;
        let fresh: Vec<StreamEntry> = read.into_iter().flatten().flat_map(|(_, raw)| entries(raw)).collect();
        if let Some((id, _)) = fresh.last() {
            last.clone_from(id);
            on_event(FollowEvent::Entries(fresh));
        }
    }
}
