//! The per-instance pending set of docs/cache.md#redis-outages: L2 writes and invalidations that could not be
//! applied (breaker open, transport error), counter increments, and "clear all".

use std::collections::{HashMap, HashSet};

#[derive(Debug, Default, Clone)]
pub(crate) struct Pending {
    pub keys: HashSet<String>,
    pub patterns: HashSet<String>,
    /// Counter key → increments not yet applied.
    pub counters: HashMap<String, u64>,
    pub clear_all: bool,
}

impl Pending {
    pub fn len(&self) -> usize {
        self.keys.len() + self.patterns.len() + self.counters.len() + usize::from(self.clear_all)
    }

    /// A pending "clear all" covers every pending key and pattern: drop them.
    pub fn normalize(&mut self) {
        if self.clear_all {
            self.keys.clear();
            self.patterns.clear();
        }
    }

    /// Removes what a successful replay of `done` applied (items added since stay).
    pub fn subtract(&mut self, done: &Pending) {
        for k in &done.keys {
            self.keys.remove(k);
        }
        for p in &done.patterns {
            self.patterns.remove(p);
        }
        for (k, n) in &done.counters {
            if let Some(left) = self.counters.get_mut(k) {
                *left = left.saturating_sub(*n);
                if *left == 0 {
                    self.counters.remove(k);
                }
            }
        }
        if done.clear_all {
            self.clear_all = false;
        }
    }

    /// Above `limit` items, replaces everything by "clear the namespace and bump
    /// `overflow_counters`" (the individual keys and patterns are covered by the clear, and the
    /// lists they guard by the bumped counters).
    pub fn collapse_if_over(&mut self, limit: usize, overflow_counters: &[String]) -> bool {
        if self.len() <= limit {
            return false;
        }
        self.keys.clear();
        self.patterns.clear();
        self.counters.clear();
        self.clear_all = true;
        for c in overflow_counters {
            self.counters.insert(c.clone(), 1);
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overflow_collapses_to_clear_all_and_the_overflow_counter() {
        let mut p = Pending::default();
        for i in 0..11 {
            p.keys.insert(format!("k{i}"));
        }
        p.counters.insert("taskify:gen:tasks:user:1".into(), 2);
        assert!(p.collapse_if_over(10, &["gall".to_owned()]));
        assert!(p.clear_all);
        assert!(p.keys.is_empty());
        assert_eq!(p.counters.len(), 1);
        assert_eq!(p.counters.get("gall"), Some(&1));
        assert_eq!(p.len(), 2);
        assert!(!p.collapse_if_over(10, &["gall".to_owned()]));
        p.keys.insert("k".into());
        p.normalize();
        assert_eq!(p.len(), 2, "a pending clear covers keys");
    }

    #[test]
    fn a_replay_removes_only_what_it_applied() {
        let mut p = Pending::default();
        p.keys.insert("a".into());
        p.counters.insert("g".into(), 2);
        let done = p.clone();
        p.keys.insert("b".into());
        *p.counters.entry("g".into()).or_default() += 1;
        p.subtract(&done);
        assert_eq!(p.keys.len(), 1);
        assert!(p.keys.contains("b"));
        assert_eq!(p.counters.get("g"), Some(&1));
    }
}
