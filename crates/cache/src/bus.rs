//! The invalidation bus (docs/cache.md#cross-instance-invalidation): the message format and the subscriber loop.
//!
//! The subscriber runs on its own connection (never the multiplexed one) with its own reconnect
//! loop. It pings that connection regularly so that a silent peer is noticed, and reports every
//! change of its state to the cache, which clears L1 at the moment of disconnection and again on
//! reconnection (docs/cache.md#redis-outages).

use std::time::Duration;

use futures::StreamExt;
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

/// One invalidation message: `{"origin":"<instance_id>","keys":[…],"patterns":[…],"all":false}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invalidation {
    /// The instance that published it; an instance ignores its own messages.
    pub origin: String,
    /// Logical keys to drop.
    #[serde(default)]
    pub keys: Vec<String>,
    /// Glob patterns over logical keys.
    #[serde(default)]
    pub patterns: Vec<String>,
    /// Drop everything.
    #[serde(default)]
    pub all: bool,
}

impl Invalidation {
    pub(crate) fn keys(origin: &str, keys: Vec<String>) -> Self {
        Self { origin: origin.to_owned(), keys, patterns: Vec::new(), all: false }
    }

    pub(crate) fn patterns(origin: &str, patterns: Vec<String>) -> Self {
        Self { origin: origin.to_owned(), keys: Vec::new(), patterns, all: false }
    }

    pub(crate) fn all(origin: &str) -> Self {
        Self { origin: origin.to_owned(), keys: Vec::new(), patterns: Vec::new(), all: true }
    }

    pub(crate) fn to_json(&self) -> String {
        // Serialising strings and bools cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// What the subscriber tells the cache.
pub(crate) trait BusListener: Send + Sync + 'static {
    /// The subscription is established (first time or again).
    fn subscription_up(&self);
    /// The subscription was lost (or could not be established).
    fn subscription_down(&self, was_up: bool);
    /// A message arrived on the channel.
    fn message(&self, payload: &[u8]);
}

pub(crate) struct SubscriberSettings {
    pub client: redis::Client,
    pub channel: String,
    pub dial_timeout: Duration,
    pub ping_interval: Duration,
}

/// Runs until `cancel` fires or the listener goes away (`listener` returns `None`).
pub(crate) async fn run_subscriber<L, F>(settings: SubscriberSettings, cancel: CancellationToken, listener: F)
where
    L: BusListener,
    F: Fn() -> Option<std::sync::Arc<L>>,
{
    let min_backoff = Duration::from_millis(100);
    let max_backoff = Duration::from_secs(2);
    let mut backoff = min_backoff;
    loop {
        if cancel.is_cancelled() {
            return;
        }
        let connected = tokio::select! {
            _ = cancel.cancelled() => return,
            r = connect(&settings) => r,
        };
        match connected {
            Ok(pubsub) => {
                backoff = min_backoff;
                let Some(l) = listener() else { return };
                l.subscription_up();
                drop(l);
                tracing::info!(channel = %settings.channel, "cache invalidation subscription established");
                let reason = pump(pubsub, &settings, &cancel, &listener).await;
                let Some(l) = listener() else { return };
                if cancel.is_cancelled() {
                    return;
                }
                l.subscription_down(true);
                tracing::warn!(reason, "cache invalidation subscription lost: L1 cleared, reconnecting");
            }
            Err(e) => {
                let Some(l) = listener() else { return };
                l.subscription_down(false);
                tracing::debug!(error = %e, "cache invalidation subscription: connect failed");
            }
        }
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(max_backoff);
    }
}

async fn connect(settings: &SubscriberSettings) -> Result<redis::aio::PubSub, String> {
    let attempt = async {
        let mut pubsub = settings.client.get_async_pubsub().await.map_err(|e| e.to_string())?;
        pubsub.subscribe(settings.channel.as_str()).await.map_err(|e| e.to_string())?;
        Ok::<_, String>(pubsub)
    };
    match tokio::time::timeout(settings.dial_timeout, attempt).await {
        Ok(r) => r,
        Err(_) => Err("timed out".to_owned()),
    }
}

/// Reads messages until the connection ends, a ping fails or `cancel` fires; returns why.
async fn pump<L, F>(
    pubsub: redis::aio::PubSub,
    settings: &SubscriberSettings,
    cancel: &CancellationToken,
    listener: &F,
) -> &'static str
where
    L: BusListener,
    F: Fn() -> Option<std::sync::Arc<L>>,
{
    let (sink, mut stream) = pubsub.split();
    let mut ping = tokio::time::interval(settings.ping_interval);
    ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ping.tick().await;
    // The ping runs concurrently with reading: the stream must keep being polled for the pong
    // to be delivered.
    let mut pending_ping: Option<std::pin::Pin<Box<dyn std::future::Future<Output = bool> + Send>>> = None;
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return "shutdown",
            msg = stream.next() => {
                let Some(msg) = msg else { return "connection closed" };
                let Some(l) = listener() else { return "cache dropped" };
                l.message(msg.get_payload_bytes());
            }
            ok = async { match pending_ping.as_mut() { Some(p) => p.await, None => std::future::pending().await } } => {
                pending_ping = None;
                if !ok {
                    return "ping failed";
                }
            }
            _ = ping.tick(), if pending_ping.is_none() => {
                let mut sink = sink.clone();
                let limit = settings.ping_interval.max(Duration::from_secs(1)) * 2;
                pending_ping = Some(Box::pin(async move {
                    matches!(tokio::time::timeout(limit, sink.ping::<redis::Value>()).await, Ok(Ok(_)))
                }));
            }
        }
    }
}
