//! The `data` of the live-update events (docs/live-updates.md#wire-format). The stream itself is
//! `text/event-stream`, which OpenAPI can only call a string; these schemas say what each event's
//! one-line JSON holds.

use super::tasks::Task;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

/// `task.created` and `task.updated`: the task exactly as `GET /api/v1/tasks/{id}` returns it.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct TaskEventData {
    id: Uuid,
    /// The task's version after the change (its `ETag`).
    version: i64,
    task: Task,
}

/// `task.deleted`: the task is gone; `version` is its last version.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct TaskDeletedEventData {
    id: Uuid,
    version: i64,
}

/// Why the client must refetch what it shows.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)]
pub enum ResyncReason {
    /// `Last-Event-ID` is unknown, or older than the shared window (5 minutes or 10 000 events).
    Expired,
    /// The subscriber fell behind its bounded buffer; the stream goes on live.
    Lagged,
    /// This instance's Redis connection came back after an outage.
    Reconnected,
}

/// `resync`: refetch everything shown, then carry on with the stream.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct ResyncEventData {
    reason: ResyncReason,
}
