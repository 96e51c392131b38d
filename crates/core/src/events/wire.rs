//! The bytes of the stream (docs/live-updates.md#wire-format): a `retry` line first, then events
//! `id: …\nevent: …\ndata: <one-line JSON>\n\n`, and heartbeat comments.

use super::{EventId, ResyncReason, TaskChangeKind};
use bytes::Bytes;
use serde_json::{Value, json};
use taskify_domain::Task;

/// The first bytes of every stream: clients wait 2 s before reconnecting.
pub const PREAMBLE: &[u8] = b"retry: 2000\n\n";

/// A heartbeat: a comment line, ignored by SSE parsers, that keeps proxies and the connection
/// timeouts from seeing an idle stream.
pub const HEARTBEAT: &[u8] = b": keep-alive\n\n";

/// One event. `serde_json` never writes a raw line break (they are escaped inside strings), so
/// `data` is always a single line.
pub fn event(id: EventId, event_type: &str, data: &Value) -> Bytes {
    Bytes::from(format!("id: {id}\nevent: {event_type}\ndata: {data}\n\n"))
}

/// The data of a task event: the id and version, plus the task as `GET /tasks/{id}` returns it
/// for a creation or an update.
pub fn task_data(kind: TaskChangeKind, task: &Task) -> Value {
    match kind {
        TaskChangeKind::Deleted => json!({ "id": task.id, "version": task.version }),
        TaskChangeKind::Created | TaskChangeKind::Updated => {
            json!({ "id": task.id, "version": task.version, "task": task })
        }
    }
}

/// A `resync` event at `position`.
pub fn resync(reason: ResyncReason, position: EventId) -> Bytes {
    event(position, "resync", &json!({ "reason": reason.as_str() }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_single_line_records() {
        let bytes = event(EventId::new(7, 1), "task.updated", &json!({ "title": "two\nlines" }));
        assert_eq!(&bytes[..], b"id: 7-1\nevent: task.updated\ndata: {\"title\":\"two\\nlines\"}\n\n");
        assert_eq!(
            &resync(ResyncReason::Lagged, EventId::new(3, 0))[..],
            b"id: 3-0\nevent: resync\ndata: {\"reason\":\"lagged\"}\n\n"
        );
    }
}
