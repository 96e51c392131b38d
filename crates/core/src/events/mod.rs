//! Live updates (docs/live-updates.md): task changes and principal changes published after
//! their commit, carried between instances over one Redis stream (or an in-process ring without
//! Redis), and fanned out to the local subscribers of `GET /api/v1/events`, each of which sees
//! only the tasks it may read.
//!
//! - [`EventHub`] owns the transport and the bounded broadcast of one instance;
//! - [`filter`] decides, per subscriber and per event, what a `GET /tasks/{id}` would decide;
//! - [`subscriber`] turns a subscription into the bytes of a `text/event-stream`;
//! - [`wire`] spells those bytes.

pub mod filter;
mod hub;
mod id;
mod ring;
pub mod slots;
pub mod subscriber;
pub mod wire;

pub use filter::EventFilter;
pub use hub::{EventHub, HubSettings, Subscription};
pub use id::EventId;

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use std::sync::{Arc, OnceLock};
use taskify_domain::{Attribute, Task};
use uuid::Uuid;

/// What happened to a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskChangeKind {
    Created,
    Updated,
    Deleted,
}

impl TaskChangeKind {
    /// The SSE event type.
    pub fn event_type(self) -> &'static str {
        match self {
            Self::Created => "task.created",
            Self::Updated => "task.updated",
            Self::Deleted => "task.deleted",
        }
    }
}

/// One entry of the change feed, as it travels between instances. Task entries carry what
/// authorization needs (the row and its attributes; the owner's facts are looked up when the
/// entry is judged, as `Caching::task` does). Principal entries are control entries: they make
/// every instance re-check the subscribers of that user at once and never reach a client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "k", rename_all = "snake_case")]
pub enum Change {
    Task {
        kind: TaskChangeKind,
        /// For a deletion, the last state.
        task: Task,
        #[serde(default)]
        attributes: Vec<Attribute>,
    },
    Principal {
        user_id: Uuid,
        /// Access tokens revoked by the change (logout, reuse, password change, deletion).
        #[serde(default)]
        revoked_jtis: Vec<Uuid>,
    },
}

/// A change with the id the feed gave it.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub id: EventId,
    pub change: Change,
    /// The bytes of its task event, encoded by the first subscriber allowed to see it and shared
    /// by the others: an entry is serialised once per instance, not once per subscriber.
    encoded: OnceLock<Bytes>,
}

impl Entry {
    pub fn new(id: EventId, change: Change) -> Self {
        Self { id, change, encoded: OnceLock::new() }
    }

    /// The `text/event-stream` bytes of a task entry (`None` for a control entry).
    pub fn task_event(&self) -> Option<Bytes> {
        let Change::Task { kind, task, .. } = &self.change else { return None };
        Some(
            self.encoded.get_or_init(|| wire::event(self.id, kind.event_type(), &wire::task_data(*kind, task))).clone(),
        )
    }
}

/// Why a subscriber must refetch what it shows (the `reason` of a `resync` event).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResyncReason {
    /// `Last-Event-ID` is older than the window, or unknown.
    Expired,
    /// The subscriber fell behind its bounded buffer.
    Lagged,
    /// The instance's Redis subscription came back after an outage.
    Reconnected,
}

impl ResyncReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Expired => "expired",
            Self::Lagged => "lagged",
            Self::Reconnected => "reconnected",
        }
    }
}

/// What the hub broadcasts to its local subscribers.
#[derive(Debug, Clone)]
pub enum Delivery {
    Entry(Arc<Entry>),
    /// Everyone must refetch; `position` is the newest id known at that moment (live entries up
    /// to it are covered by the refetch).
    Resync {
        reason: ResyncReason,
        position: EventId,
    },
}

/// The metrics the feed records (names from the one table, `taskify_domain::metric_names`) and
/// their bounded label values.
pub mod metric {
    pub use taskify_domain::metric_names::{
        EVENTS_DROPPED_TOTAL as DROPPED, EVENTS_SENT_TOTAL as SENT, EVENTS_STREAMS_OPEN as OPEN,
    };
    /// Every `type` label of [`SENT`].
    pub const TYPES: [&str; 4] = ["task.created", "task.updated", "task.deleted", "resync"];
    /// Every `reason` label of [`DROPPED`].
    pub const DROP_REASONS: [&str; 2] = ["lagged", "redis"];
}

/// Registers every series of the feed at zero, so the first scrape names them.
pub fn register_metrics() {
    use metric::{DROP_REASONS, DROPPED, OPEN, SENT, TYPES};
    for kind in TYPES {
        metrics::counter!(SENT, "type" => kind).increment(0);
    }
    for reason in DROP_REASONS {
        metrics::counter!(DROPPED, "reason" => reason).increment(0);
    }
    metrics::gauge!(OPEN).increment(0.0);
}
