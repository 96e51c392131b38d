//! One stream (docs/live-updates.md#wire-format): the preamble, a `resync` or the replayed
//! backlog, then live entries judged one by one, with heartbeats. It ends, without an error
//! chunk, when its token is revoked or expires, its user is deactivated or deleted, or the
//! instance starts draining; and when the client goes away, by being dropped.

use super::filter::{EventFilter, Verdict, Viewer};
use super::slots::Slot;
use super::{Delivery, Entry, EventId, ResyncReason, Subscription, metric, wire};
use bytes::Bytes;
use futures::Stream;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;
use tokio::time::{Instant, Interval, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

/// The state of one stream.
pub struct Subscriber {
    viewer: Viewer,
    filter: EventFilter,
    subscription: Subscription,
    heartbeat: Interval,
    /// When the access token expires: the client reconnects with a fresh one.
    expires: Instant,
    closing: CancellationToken,
    started: bool,
    _slot: Slot,
}

fn sent(event_type: &'static str) {
    metrics::counter!(metric::SENT, "type" => event_type).increment(1);
}

impl Subscriber {
    /// A stream for `viewer` over `subscription`, holding `slot` until it ends.
    pub fn new(
        viewer: Viewer,
        filter: EventFilter,
        subscription: Subscription,
        heartbeat: Duration,
        closing: CancellationToken,
        slot: Slot,
    ) -> Self {
        let mut heartbeat = tokio::time::interval_at(Instant::now() + heartbeat, heartbeat);
        heartbeat.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let left = u64::try_from(viewer.expires_at - taskify_domain::time::now().timestamp()).unwrap_or(0);
        let expires = Instant::now() + Duration::from_secs(left);
        Self { viewer, filter, subscription, heartbeat, expires, closing, started: false, _slot: slot }
    }

    /// The next bytes to send, `None` when the stream ends.
    pub async fn next_chunk(&mut self) -> Option<Bytes> {
        if !self.started {
            self.started = true;
            return Some(Bytes::from_static(wire::PREAMBLE));
        }
        if let Some((reason, position)) = self.subscription.resync.take() {
            sent("resync");
            return Some(wire::resync(reason, position));
        }
        loop {
            if self.closing.is_cancelled() {
                return None;
            }
            if let Some(entry) = self.subscription.backlog.pop_front() {
                match self.verdict(&entry).await {
                    Step::Send(bytes) => return Some(bytes),
                    Step::Next => continue,
                    Step::End => return None,
                }
            }
            let delivery = tokio::select! {
                biased;
                () = self.closing.cancelled() => return None,
                () = tokio::time::sleep_until(self.expires) => return None,
                _ = self.heartbeat.tick() => {
                    if !self.filter.still_valid(&self.viewer).await {
                        return None;
                    }
                    return Some(Bytes::from_static(wire::HEARTBEAT));
                }
                received = self.subscription.receiver.recv() => received,
            };
            match delivery {
                Ok(Delivery::Entry(entry)) => {
                    if entry.id <= self.subscription.seen {
                        continue;
                    }
                    self.subscription.seen = entry.id;
                    match self.verdict(&entry).await {
                        Step::Send(bytes) => return Some(bytes),
                        Step::Next => {}
                        Step::End => return None,
                    }
                }
                Ok(Delivery::Resync { reason, position }) => return Some(self.resync(reason, position)),
                Err(RecvError::Lagged(missed)) => {
                    metrics::counter!(metric::DROPPED, "reason" => "lagged").increment(missed);
                    return Some(self.resync(ResyncReason::Lagged, self.subscription.seen));
                }
                Err(RecvError::Closed) => return None,
            }
        }
    }

    /// A resync: entries up to `position` are covered by the refetch it asks for.
    fn resync(&mut self, reason: ResyncReason, position: EventId) -> Bytes {
        self.subscription.seen = self.subscription.seen.max(position);
        self.subscription.backlog.clear();
        sent("resync");
        wire::resync(reason, position)
    }

    async fn verdict(&mut self, entry: &Arc<Entry>) -> Step {
        match self.filter.judge(&self.viewer, entry).await {
            Verdict::Send(bytes) => {
                if let super::Change::Task { kind, .. } = &entry.change {
                    sent(kind.event_type());
                }
                Step::Send(bytes)
            }
            Verdict::Skip => Step::Next,
            Verdict::Resync(reason) => Step::Send(self.resync(reason, entry.id)),
            Verdict::Close => Step::End,
        }
    }

    /// The stream of chunks, for a response body.
    pub fn into_stream(self) -> impl Stream<Item = Result<Bytes, Infallible>> + Send {
        futures::stream::unfold(self, |mut s| async move { s.next_chunk().await.map(|b| (Ok(b), s)) })
    }
}

enum Step {
    Send(Bytes),
    Next,
    End,
}
