//! The metrics a piece of code records (docs/operations.md#metrics), captured with a thread-local
//! debugging recorder instead of the global Prometheus one, so tests run in parallel without
//! seeing each other's values.

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
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    metrics::with_local_recorder(&recorder, work);
    Captured(snapshotter.snapshot().into_vec())
}
