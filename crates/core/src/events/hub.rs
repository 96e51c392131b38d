//! The hub of one instance (docs/live-updates.md#transport): publishes changes to the shared
//! window (the Redis stream `<CACHE_KEY_PREFIX>events`, or the in-process ring without Redis)
//! and fans every entry out to the local subscribers through one bounded broadcast.
//!
//! With Redis, an instance's own changes reach its subscribers through the stream too, so every
//! subscriber sees every entry in the stream's order, whichever instance wrote it. While Redis is
//! down, publishes fail soft (counted in `events_dropped_total{reason="redis"}`, logged once per
//! outage) and the reader's reconnection sends every local subscriber a `resync`.

use super::id::{EventId, now_ms};
use super::ring::{Resume, Ring};
use super::{Change, Delivery, Entry, ResyncReason, TaskChangeKind, metric};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use taskify_cache::Cache;
use taskify_cache::stream::{EventLog, FollowEvent, follow};
use taskify_domain::{Attribute, Task};
use taskify_store::RevokedJti;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// Sizes of the window and of the fan-out.
#[derive(Debug, Clone)]
pub struct HubSettings {
    /// Resumption window by age.
    pub window: Duration,
    /// Resumption window by count (the stream's `MAXLEN ~`, the ring's capacity).
    pub max_entries: usize,
    /// Entries a subscriber may be behind before it gets `resync {"reason":"lagged"}`.
    pub buffer: usize,
    /// Most entries replayed after a `Last-Event-ID`; further behind is treated as expired.
    pub max_backlog: usize,
    /// One `XREAD BLOCK` of the reader.
    pub block: Duration,
}

impl Default for HubSettings {
    fn default() -> Self {
        Self {
            window: Duration::from_secs(300),
            max_entries: 10_000,
            buffer: 4_096,
            max_backlog: 2_000,
            block: Duration::from_secs(5),
        }
    }
}

enum Transport {
    Local(Mutex<Ring>),
    Redis { log: EventLog, outage_logged: AtomicBool },
}

struct Inner {
    transport: Transport,
    sender: broadcast::Sender<Delivery>,
    settings: HubSettings,
    /// The newest id fanned out (the position of a `resync`).
    newest: Mutex<EventId>,
    /// Cancelled at the start of a drain: every stream ends.
    closing: CancellationToken,
}

/// The live-update hub. Cheap to clone.
#[derive(Clone)]
pub struct EventHub {
    inner: Arc<Inner>,
}

/// A new subscriber's start: entries to replay (or a resync), then the live receiver.
pub struct Subscription {
    pub receiver: broadcast::Receiver<Delivery>,
    pub backlog: VecDeque<Arc<Entry>>,
    /// Set when `Last-Event-ID` could not be resumed: send it first.
    pub resync: Option<(ResyncReason, EventId)>,
    /// Live entries up to this id were already replayed (or were before the client's id).
    pub seen: EventId,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl EventHub {
    /// A hub over the cache's Redis (stream `<prefix>events`) or, without Redis, over a ring.
    pub fn new(cache: &Cache, settings: HubSettings) -> Self {
        let transport = match cache.redis() {
            Some(redis) => {
                let key = format!("{}events", cache.config().key_prefix);
                Transport::Redis { log: EventLog::new(redis, key, settings.max_entries), outage_logged: false.into() }
            }
            None => Transport::Local(Mutex::new(Ring::new(
                settings.max_entries,
                u64::try_from(settings.window.as_millis()).unwrap_or(u64::MAX),
                now_ms(),
            ))),
        };
        let (sender, _) = broadcast::channel(settings.buffer.max(1));
        let newest = Mutex::new(EventId::new(now_ms(), 0));
        Self { inner: Arc::new(Inner { transport, sender, settings, newest, closing: CancellationToken::new() }) }
    }

    /// Starts the Redis reader (nothing to do without Redis); it stops when `stop` fires.
    pub fn start(&self, stop: CancellationToken) {
        let Transport::Redis { log, .. } = &self.inner.transport else { return };
        let (log, hub, block) = (log.clone(), self.clone(), self.inner.settings.block);
        tokio::spawn(async move { follow(log, block, stop, move |event| hub.on_follow(event)).await });
    }

    /// Ends every stream (the start of a drain); new subscriptions end at once too.
    pub fn close_all(&self) {
        self.inner.closing.cancel();
    }

    /// Fires when the streams must end.
    pub fn closing(&self) -> &CancellationToken {
        &self.inner.closing
    }

    /// Publishes a change after its commit. Never fails: without a reachable Redis the change is
    /// counted as dropped and the subscribers get a `resync` once Redis is back.
    pub async fn publish(&self, change: Change) {
        match &self.inner.transport {
            Transport::Local(ring) => {
                let mut ring = lock(ring);
                let entry = ring.push(change, now_ms());
                // Sent under the ring's lock, so a subscriber that copies the backlog under the
                // same lock sees every entry exactly once.
                self.fan_out(entry);
            }
            Transport::Redis { log, outage_logged } => {
                let payload = match serde_json::to_vec(&change) {
                    Ok(p) => p,
                    Err(error) => return tracing::error!(%error, "event could not be encoded"),
                };
                match log.append(&payload).await {
                    Ok(_) => outage_logged.store(false, Ordering::Relaxed),
                    Err(error) => {
                        metrics::counter!(metric::DROPPED, "reason" => "redis").increment(1);
                        if !outage_logged.swap(true, Ordering::Relaxed) {
                            tracing::warn!(%error, "live-update events are dropped while Redis is unavailable");
                        }
                    }
                }
            }
        }
    }

    /// A task was created, updated or (with its last state) deleted.
    pub async fn task_changed(&self, kind: TaskChangeKind, task: &Task, attributes: &[Attribute]) {
        self.publish(Change::Task { kind, task: task.clone(), attributes: attributes.to_vec() }).await;
    }

    /// A user's roles, attributes, activation or existence changed: its streams are re-checked.
    pub async fn principal_changed(&self, user_id: Uuid) {
        self.publish(Change::Principal { user_id, revoked_jtis: Vec::new() }).await;
    }

    /// Access tokens were revoked: the streams they opened end (one control entry per user).
    pub async fn revoked(&self, revoked: &[RevokedJti]) {
        let mut users: Vec<Uuid> = revoked.iter().map(|r| r.user_id).collect();
        users.sort_unstable();
        users.dedup();
        for user_id in users {
            let revoked_jtis = revoked.iter().filter(|r| r.user_id == user_id).map(|r| r.jti).collect();
            self.publish(Change::Principal { user_id, revoked_jtis }).await;
        }
    }

    fn fan_out(&self, entry: Arc<Entry>) {
        *lock(&self.inner.newest) = entry.id;
        // No receiver is not an error: nobody listens on this instance.
        let _ = self.inner.sender.send(Delivery::Entry(entry));
    }

    fn on_follow(&self, event: FollowEvent) {
        match event {
            FollowEvent::Up { newest, after_outage } => {
                if let Some(id) = newest.as_deref().and_then(|id| id.parse().ok()) {
                    let mut current = lock(&self.inner.newest);
                    *current = (*current).max(id);
                }
                if after_outage {
                    let position = *lock(&self.inner.newest);
                    tracing::info!("live-update stream reader reconnected: every subscriber resyncs");
                    let _ = self.inner.sender.send(Delivery::Resync { reason: ResyncReason::Reconnected, position });
                }
            }
            FollowEvent::Down => tracing::warn!("live-update stream reader lost Redis; reconnecting"),
            FollowEvent::Entries(entries) => {
                for (id, payload) in entries {
                    let (Ok(id), Ok(change)) = (id.parse::<EventId>(), serde_json::from_slice::<Change>(&payload))
                    else {
                        tracing::warn!(%id, "unreadable live-update entry skipped");
                        continue;
                    };
                    self.fan_out(Arc::new(Entry::new(id, change)));
                }
            }
        }
    }

    /// A new subscriber, resuming after `last_event_id` when given.
    pub async fn subscribe(&self, last_event_id: Option<&str>) -> Subscription {
        let max_backlog = self.inner.settings.max_backlog;
        let expired = |receiver, position| Subscription {
            receiver,
            backlog: VecDeque::new(),
            resync: Some((ResyncReason::Expired, position)),
            seen: position,
        };
        let requested = last_event_id.map(|raw| raw.parse::<EventId>());
        match &self.inner.transport {
            Transport::Local(ring) => {
                let mut ring = lock(ring);
                let receiver = self.inner.sender.subscribe();
                let last = ring.last();
                match requested {
                    None => Subscription { receiver, backlog: VecDeque::new(), resync: None, seen: last },
                    Some(Err(())) => expired(receiver, last),
                    Some(Ok(after)) => match ring.after(after, now_ms(), max_backlog) {
                        Resume::Expired => expired(receiver, last),
                        Resume::Backlog(entries) => {
                            Subscription { receiver, backlog: entries.into(), resync: None, seen: last }
                        }
                    },
                }
            }
            Transport::Redis { log, .. } => {
                // Subscribed before reading the range: an entry is then either in the range or
                // live (or both, and `seen` drops the copy).
                let receiver = self.inner.sender.subscribe();
                let newest = *lock(&self.inner.newest);
                let after = match requested {
                    None => {
                        return Subscription { receiver, backlog: VecDeque::new(), resync: None, seen: EventId::ZERO };
                    }
                    Some(Err(())) => return expired(receiver, newest),
                    Some(Ok(after)) => after,
                };
                let window_ms = u64::try_from(self.inner.settings.window.as_millis()).unwrap_or(u64::MAX);
                if after.ms < now_ms().saturating_sub(window_ms) {
                    return expired(receiver, newest);
                }
                let oldest = log.oldest_id().await.ok().flatten().and_then(|id| id.parse::<EventId>().ok());
                if oldest.is_none_or(|oldest| after < oldest) {
                    return expired(receiver, newest);
                }
                match log.after(&after.to_string(), max_backlog + 1).await {
                    Ok(entries) if entries.len() <= max_backlog => {
                        let backlog: VecDeque<Arc<Entry>> = entries
                            .into_iter()
                            .filter_map(|(id, payload)| {
                                let change = serde_json::from_slice::<Change>(&payload).ok()?;
                                Some(Arc::new(Entry::new(id.parse().ok()?, change)))
                            })
                            .collect();
                        let seen = backlog.back().map_or(after, |e| e.id);
                        Subscription { receiver, backlog, resync: None, seen }
                    }
                    _ => expired(receiver, newest),
                }
            }
        }
    }
}
