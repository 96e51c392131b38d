//! The in-process resumption window used without Redis: the last `capacity` entries of at most
//! `window` age, with locally generated ids (docs/live-updates.md#transport).

use super::id::EventId;
use super::{Change, Entry};
use std::collections::VecDeque;
use std::sync::Arc;

pub(crate) struct Ring {
    entries: VecDeque<Arc<Entry>>,
    capacity: usize,
    window_ms: u64,
    /// The newest id handed out (at creation: the creation time, so that ids keep increasing
    /// across restarts of an instance whose clock moves on).
    last: EventId,
    /// The newest id no longer retained: resuming after an id before it may have lost entries.
    trimmed: EventId,
}

/// What resuming after an id gives.
#[derive(Debug)]
pub(crate) enum Resume {
    /// The entries after the id, oldest first (possibly none).
    Backlog(Vec<Arc<Entry>>),
    /// The id is unknown or older than the window.
    Expired,
}

impl Ring {
    pub fn new(capacity: usize, window_ms: u64, now_ms: u64) -> Self {
        let start = EventId::new(now_ms, 0);
        Self { entries: VecDeque::new(), capacity: capacity.max(1), window_ms, last: start, trimmed: start }
    }

    pub fn last(&self) -> EventId {
        self.last
    }

    /// Appends `change` with the next id.
    pub fn push(&mut self, change: Change, now_ms: u64) -> Arc<Entry> {
        self.last = self.last.next(now_ms);
        let entry = Arc::new(Entry::new(self.last, change));
        self.entries.push_back(entry.clone());
        self.trim(now_ms);
        entry
    }

    fn trim(&mut self, now_ms: u64) {
        let oldest_kept = now_ms.saturating_sub(self.window_ms);
        while let Some(front) = self.entries.front() {
            if self.entries.len() <= self.capacity && front.id.ms >= oldest_kept {
                break;
            }
            self.trimmed = front.id;
            self.entries.pop_front();
        }
    }

    /// The entries after `after`, at most `limit` of them (more is treated as expired: a client
    /// that far behind refetches instead).
    pub fn after(&mut self, after: EventId, now_ms: u64, limit: usize) -> Resume {
        self.trim(now_ms);
        if after < self.trimmed || after > self.last || after.ms < now_ms.saturating_sub(self.window_ms) {
            return Resume::Expired;
        }
        let start = self.entries.partition_point(|e| e.id <= after);
        if self.entries.len() - start > limit {
            return Resume::Expired;
        }
        Resume::Backlog(self.entries.iter().skip(start).cloned().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn control() -> Change {
        Change::Principal { user_id: Uuid::nil(), revoked_jtis: Vec::new() }
    }

    fn ids(resume: Resume) -> Vec<EventId> {
        match resume {
            Resume::Backlog(entries) => entries.iter().map(|e| e.id).collect(),
            Resume::Expired => panic!("expected a backlog"),
        }
    }

    #[test]
    fn resuming_gives_the_entries_after_the_id_and_refuses_what_was_trimmed() {
        let mut ring = Ring::new(3, 60_000, 1_000);
        let start = ring.last();
        let a = ring.push(control(), 1_000).id;
        let b = ring.push(control(), 1_001).id;
        let c = ring.push(control(), 1_001).id;
        assert!(a < b && b < c, "ids increase even within one millisecond");
        assert_eq!(ids(ring.after(start, 1_002, 100)), vec![a, b, c]);
        assert_eq!(ids(ring.after(a, 1_002, 100)), vec![b, c]);
        assert_eq!(ids(ring.after(c, 1_002, 100)), Vec::<EventId>::new());
        assert!(matches!(ring.after(start, 1_002, 2), Resume::Expired), "more than the limit is expired");
        let d = ring.push(control(), 1_003).id;
        assert!(matches!(ring.after(start, 1_003, 100), Resume::Expired), "a was trimmed by capacity");
        assert_eq!(ids(ring.after(a, 1_003, 100)), vec![b, c, d]);
        assert!(matches!(ring.after(EventId::new(9_999, 0), 1_003, 100), Resume::Expired), "a future id is unknown");
        assert!(matches!(ring.after(b, 70_000, 100), Resume::Expired), "older than the window");
    }
}
