//! The per-instance stream limits (docs/live-updates.md#limits): at most `per_user` streams of
//! one user and `total` streams in all. The map is keyed by user id but bounded by `total`:
//! every key holds at least one slot.

use super::metric;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use uuid::Uuid;

/// Why a stream was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// This user holds `per_user` streams on this instance.
    TooManyForUser,
    /// The instance holds `total` streams.
    InstanceFull,
}

#[derive(Default)]
struct Counts {
    total: usize,
    per_user: HashMap<Uuid, usize>,
}

/// The stream slots of one instance. Cheap to clone.
#[derive(Clone)]
pub struct StreamSlots {
    counts: Arc<Mutex<Counts>>,
    per_user: usize,
    total: usize,
}

/// A held slot; dropping it (the stream ends) frees it.
pub struct Slot {
    counts: Arc<Mutex<Counts>>,
    user_id: Uuid,
}

impl StreamSlots {
    pub fn new(per_user: usize, total: usize) -> Self {
        Self { counts: Arc::default(), per_user, total }
    }

    /// Takes a slot for `user_id`, or says why not.
    pub fn acquire(&self, user_id: Uuid) -> Result<Slot, Refusal> {
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        if counts.total >= self.total {
            return Err(Refusal::InstanceFull);
        }
        let mine = counts.per_user.get(&user_id).copied().unwrap_or(0);
        if mine >= self.per_user {
            return Err(Refusal::TooManyForUser);
        }
        counts.per_user.insert(user_id, mine + 1);
        counts.total += 1;
        metrics::gauge!(metric::OPEN).set(counts.total as f64);
        Ok(Slot { counts: self.counts.clone(), user_id })
    }

    /// Streams open on this instance.
    pub fn open(&self) -> usize {
        self.counts.lock().unwrap_or_else(PoisonError::into_inner).total
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        counts.total = counts.total.saturating_sub(1);
        if let Some(n) = counts.per_user.get_mut(&self.user_id) {
            *n -= 1;
            if *n == 0 {
                counts.per_user.remove(&self.user_id);
            }
        }
        metrics::gauge!(metric::OPEN).set(counts.total as f64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_limited_per_user_and_per_instance_and_freed_on_drop() {
        let slots = StreamSlots::new(2, 3);
        let (a, b) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let first = slots.acquire(a).expect("first");
        let _second = slots.acquire(a).expect("second");
        assert_eq!(slots.acquire(a).err(), Some(Refusal::TooManyForUser));
        let _third = slots.acquire(b).expect("another user");
        assert_eq!(slots.acquire(b).err(), Some(Refusal::InstanceFull));
        drop(first);
        assert_eq!(slots.open(), 2);
        assert!(slots.acquire(a).is_ok(), "a freed slot can be taken again");
    }
}
