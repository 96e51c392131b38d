//! The metrics a piece of code records (docs/operations.md#metrics), captured with a thread-local
//! debugging recorder instead of the global Prometheus one, so tests run in parallel without
//! seeing each other's values.

use std::cell::RefCell;

use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use metrics_util::{CompositeKey, MetricKind};

type Entry = (CompositeKey, Option<metrics::Unit>, Option<metrics::SharedString>, DebugValue);

/// The value of one captured metric (histograms only say that they were recorded).
#[derive(Debug, PartialEq)]
pub enum MetricValue {
    Counter(u64),
    Gauge(f64),
    Histogram,
}

/// Everything recorded while [`capture`] ran `work`.
pub struct Captured(Vec<Entry>);

impl Captured {
    /// The metric of `kind` named `name` whose labels include `labels`.
    pub fn find(&self, kind: MetricKind, name: &str, labels: &[(&str, &str)]) -> Option<MetricValue> {
        self.0.iter().find_map(|(key, _, _, value)| {
            let k = key.key();
            let matches = key.kind() == kind
                && k.name() == name
                && labels.iter().all(|(n, v)| k.labels().any(|l| l.key() == *n && l.value() == *v));
            matches.then(|| match value {
                DebugValue::Counter(n) => MetricValue::Counter(*n),
                DebugValue::Gauge(g) => MetricValue::Gauge(g.into_inner()),
                DebugValue::Histogram(_) => MetricValue::Histogram,
            })
        })
    }

    /// The counter `name` with `labels`, 0 when it was never incremented.
    pub fn counter(&self, name: &str, labels: &[(&str, &str)]) -> u64 {
        match self.find(MetricKind::Counter, name, labels) {
            Some(MetricValue::Counter(n)) => n,
            _ => 0,
        }
    }
}

/// Runs `work` with a debugging recorder installed on this thread and returns what it recorded.
/// Async code must run on a current-thread runtime built inside `work`, so that its background
/// tasks record on this thread too.
pub fn capture(work: impl FnOnce()) -> Captured {
    capture_polling(|_| work())
}

/// As [`capture`], and `work` gets `peek`, which returns what was recorded so far: a test polls it
/// with a deadline for a value that background work records later, instead of sleeping.
///
/// A snapshot of the debugging recorder drains its counters, so every snapshot is folded into one
/// running total (counters added, gauges replaced) and the result covers the whole run.
pub fn capture_polling(work: impl FnOnce(&dyn Fn() -> Captured)) -> Captured {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let total = RefCell::new(Vec::<Entry>::new());
    let fold = || {
        let mut total = total.borrow_mut();
        for entry in snapshotter.snapshot().into_vec() {
            match total.iter_mut().find(|seen| seen.0 == entry.0) {
                Some(seen) => match (&mut seen.3, entry.3) {
                    (DebugValue::Counter(sum), DebugValue::Counter(n)) => *sum += n,
                    (value, new) => *value = new,
                },
                None => total.push(entry),
            }
        }
        Captured(total.iter().map(copy_entry).collect())
    };
    metrics::with_local_recorder(&recorder, || work(&fold));
    fold()
}

/// A copy of one captured entry (`DebugValue` is not `Clone`).
fn copy_entry((key, unit, help, value): &Entry) -> Entry {
    let value = match value {
        DebugValue::Counter(n) => DebugValue::Counter(*n),
        DebugValue::Gauge(g) => DebugValue::Gauge(*g),
        DebugValue::Histogram(h) => DebugValue::Histogram(h.clone()),
    };
    (key.clone(), *unit, help.clone(), value)
}
