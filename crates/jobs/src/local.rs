//! The in-process queue (docs/jobs.md#local-queue-retries-and-dead-letters): a priority queue of ready jobs (priority ascending, then
//! enqueue order), a delayed set (retries, and scheduled jobs while Redis is unavailable) and a
//! bounded dead-letter list. Everything lives in memory.

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::sync::{Mutex, MutexGuard};

use chrono::{DateTime, Utc};
use tokio::sync::Notify;
use uuid::Uuid;

use crate::job::Job;
use crate::keys::DlqSelection;

pub(crate) struct LocalQueue {
    state: Mutex<State>,
    /// One permit per job made ready: wakes the local workers.
    pub ready_signal: Notify,
    /// Wakes the delayed-set pump when a job is delayed (its next due time may be earlier).
    pub delayed_signal: Notify,
    capacity: usize,
    dlq_max: usize,
}

#[derive(Default)]
struct State {
    seq: u64,
    /// (priority, enqueue sequence) → job.
    ready: BTreeMap<(u8, u64), Job>,
    /// (process_at ms, sequence) → job.
    delayed: BTreeMap<(i64, u64), Job>,
    /// Newest first.
    dlq: VecDeque<Job>,
}

impl State {
    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    fn len(&self) -> usize {
        self.ready.len() + self.delayed.len()
    }
}

impl LocalQueue {
    pub fn new(capacity: usize, dlq_max: usize) -> Self {
        Self {
            state: Mutex::new(State::default()),
            ready_signal: Notify::new(),
            delayed_signal: Notify::new(),
            capacity,
            dlq_max: dlq_max.max(1),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // The state stays consistent across a panic (every mutation is a single map operation).
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Ready jobs waiting for a worker.
    pub fn waiting(&self) -> usize {
        self.state().ready.len()
    }

    /// Delayed jobs.
    pub fn delayed(&self) -> usize {
        self.state().delayed.len()
    }

    /// Ready plus delayed.
    pub fn len(&self) -> usize {
        self.state().len()
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Whether a new job would be refused.
    pub fn is_full(&self) -> bool {
        self.len() >= self.capacity
    }

    /// Accepts a new job unless the queue is at capacity (then `false`): ready, or delayed when
    /// it is due later.
    pub fn try_push(&self, job: Job) -> bool {
        let mut s = self.state();
        if s.len() >= self.capacity {
            return false;
        }
        self.insert(&mut s, job);
        true
    }

    /// Puts back a job that was already accepted (a retry, an interrupted job), whatever the
    /// capacity.
    pub fn push_back(&self, job: Job) {
        let mut s = self.state();
        self.insert(&mut s, job);
    }

    fn insert(&self, s: &mut State, job: Job) {
        let seq = s.next_seq();
        if job.process_at > Utc::now() {
            s.delayed.insert((job.process_at.timestamp_millis(), seq), job);
            self.delayed_signal.notify_one();
        } else {
            s.ready.insert((job.priority, seq), job);
            self.ready_signal.notify_one();
        }
    }

    /// Takes the most urgent ready job.
    pub fn pop(&self) -> Option<Job> {
        self.state().ready.pop_first().map(|(_, job)| job)
    }

    /// Moves every job due at `now` from delayed to ready, in due order. Returns how many moved.
    pub fn promote_due(&self, now: DateTime<Utc>) -> usize {
        let now_ms = now.timestamp_millis();
        let mut s = self.state();
        let mut moved = 0;
        while let Some(entry) = s.delayed.first_entry() {
            if entry.key().0 > now_ms {
                break;
            }
            let job = entry.remove();
            let seq = s.next_seq();
            s.ready.insert((job.priority, seq), job);
            moved += 1;
        }
        drop(s);
        for _ in 0..moved {
            self.ready_signal.notify_one();
        }
        moved
    }

    /// When the earliest delayed job is due.
    pub fn next_due(&self) -> Option<DateTime<Utc>> {
        self.state().delayed.first_key_value().map(|(_, job)| job.process_at)
    }

    /// The first `limit` ready jobs in execution order, then the first delayed ones by due time
    /// (at most `limit` in all).
    pub fn snapshot(&self, limit: usize) -> Vec<Job> {
        let s = self.state();
        s.ready.values().chain(s.delayed.values()).take(limit).cloned().collect()
    }

    /// Empties the queue (shutdown): every ready and delayed job.
    pub fn drain(&self) -> Vec<Job> {
        let mut s = self.state();
        let ready = std::mem::take(&mut s.ready);
        let delayed = std::mem::take(&mut s.delayed);
        ready.into_values().chain(delayed.into_values()).collect()
    }

    // ---------------------------------------------------------------- dead letters

    /// Adds a dead job (newest first), dropping the oldest beyond the bound.
    pub fn push_dlq(&self, job: Job) {
        let mut s = self.state();
        s.dlq.push_front(job);
        s.dlq.truncate(self.dlq_max);
    }

    /// Puts jobs back into the DLQ (oldest first in `jobs`).
    pub fn restore_dlq(&self, jobs: Vec<Job>) {
        for job in jobs {
            self.push_dlq(job);
        }
    }

    pub fn dlq_len(&self) -> usize {
        self.state().dlq.len()
    }

    /// A page of the DLQ, newest first, and its length.
    pub fn dlq_page(&self, offset: usize, limit: usize) -> (Vec<Job>, u64) {
        let s = self.state();
        (s.dlq.iter().skip(offset).take(limit).cloned().collect(), s.dlq.len() as u64)
    }

    /// Removes and returns every DLQ entry, oldest first.
    pub fn take_dlq(&self) -> Vec<Job> {
        let mut s = self.state();
        std::mem::take(&mut s.dlq).into_iter().rev().collect()
    }

    /// Removes the selected entries (one per id) and returns them, oldest first.
    pub fn dlq_take(&self, selection: &DlqSelection) -> Vec<Job> {
        let mut s = self.state();
        match selection {
            DlqSelection::All => std::mem::take(&mut s.dlq).into_iter().rev().collect(),
            DlqSelection::Ids(ids) => {
                let mut wanted: HashSet<Uuid> = ids.iter().copied().collect();
                let mut kept = VecDeque::with_capacity(s.dlq.len());
                let mut taken = Vec::new();
                for job in s.dlq.drain(..) {
                    if wanted.remove(&job.id) {
                        taken.push(job);
                    } else {
                        kept.push_back(job);
                    }
                }
                s.dlq = kept;
                taken.reverse();
                taken
            }
        }
    }
}
