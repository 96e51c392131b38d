//! Metric keys for label values chosen at run time, built once (docs/performance.md, "Cached
//! read").
//!
//! `metrics::counter!(name, "route" => route)` with a variable label value builds its key on
//! every update: a vector of labels, a hash of all the strings, and the recorder's retained copy
//! of both. On a cached read that was six updates and about a twentieth of its instructions.
//! Every label value of ours comes from a fixed set of `'static` strings (docs/operations.md,
//! "Metrics": no label takes client text), so a key can be built once per distinct set of values
//! and found again by the values' addresses.
//!
//! The update still goes through the current recorder each time (`metrics::with_recorder`), as
//! the macros do: a test's local recorder sees it, and only the key is remembered, never a
//! handle into one recorder.

use metrics::{Counter, Histogram, Key, Label, Level, Metadata};
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{OnceLock, RwLock};

/// The most labels a key of this kind has.
const MAX_LABELS: usize = 3;

static METADATA: Metadata<'static> = Metadata::new(module_path!(), Level::INFO, Some(module_path!()));

/// One metric with fixed label names whose values vary: `static` at the update site.
pub struct LabelledMetric {
    name: &'static str,
    label_names: &'static [&'static str],
    keys: OnceLock<RwLock<HashMap<Values, Key, BuildHasherDefault<AddressHasher>>>>,
}

/// The addresses and lengths of a set of `'static` label values: equal addresses mean equal
/// text, and unequal addresses with equal text only cost a second entry for the same key.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct Values([(usize, usize); MAX_LABELS]);

impl Values {
    fn of(values: &[&'static str]) -> Self {
        let mut ids = [(0, 0); MAX_LABELS];
        for (id, value) in ids.iter_mut().zip(values) {
            *id = (value.as_ptr() as usize, value.len());
        }
        Self(ids)
    }
}

/// Hashes [`Values`] (addresses and lengths of our own strings, never client data, so a keyed
/// hash buys nothing): a multiply-rotate per word, a tenth of the default SipHash's work.
#[derive(Default)]
struct AddressHasher(u64);

impl Hasher for AddressHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.write_usize(usize::from(byte));
        }
    }

    fn write_usize(&mut self, word: usize) {
        self.0 = (self.0.rotate_left(5) ^ word as u64).wrapping_mul(0x517c_c1b7_2722_0a95);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

impl LabelledMetric {
    /// A metric `name` with the labels `label_names` (at most three).
    pub const fn new(name: &'static str, label_names: &'static [&'static str]) -> Self {
        assert!(label_names.len() <= MAX_LABELS, "at most three labels");
        Self { name, label_names, keys: OnceLock::new() }
    }

    /// The counter with these label values (in the order of the names), from the current recorder.
    pub fn counter(&self, values: &[&'static str]) -> Counter {
        let key = self.key(values);
        metrics::with_recorder(|recorder| recorder.register_counter(&key, &METADATA))
    }

    /// The histogram with these label values (in the order of the names), from the current recorder.
    pub fn histogram(&self, values: &[&'static str]) -> Histogram {
        let key = self.key(values);
        metrics::with_recorder(|recorder| recorder.register_histogram(&key, &METADATA))
    }

    /// The key of these values, built on first use. Its labels are leaked once per distinct set
    /// of values: the sets are fixed and few, like the series the recorder keeps for them.
    fn key(&self, values: &[&'static str]) -> Key {
        debug_assert_eq!(values.len(), self.label_names.len(), "one value per label of {}", self.name);
        let id = Values::of(values);
        let keys = self.keys.get_or_init(Default::default);
        if let Some(key) = keys.read().ok().and_then(|keys| keys.get(&id).cloned()) {
            return key;
        }
        let labels: Vec<Label> =
            self.label_names.iter().zip(values).map(|(name, value)| Label::from_static_parts(name, value)).collect();
        let key = Key::from_static_parts(self.name, Box::leak(labels.into_boxed_slice()));
        if let Ok(mut keys) = keys.write() {
            keys.entry(id).or_insert_with(|| key.clone());
        }
        key
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use metrics::Recorder;

    static REQUESTS: LabelledMetric = LabelledMetric::new("test_requests_total", &["method", "status"]);

    #[test]
    fn keys_carry_the_name_and_the_values_in_label_order() {
        let key = REQUESTS.key(&["GET", "200"]);
        assert_eq!(key.name(), "test_requests_total");
        let labels: Vec<(&str, &str)> = key.labels().map(|l| (l.key(), l.value())).collect();
        assert_eq!(labels, [("method", "GET"), ("status", "200")]);
        // Built once: the same values give an equal key, other values another one.
        assert_eq!(REQUESTS.key(&["GET", "200"]), key);
        assert_ne!(REQUESTS.key(&["GET", "404"]), key);
    }

    #[test]
    fn updates_reach_the_current_recorder() {
        struct Counting(std::sync::Mutex<Vec<String>>);
        impl Recorder for Counting {
            fn describe_counter(&self, _: metrics::KeyName, _: Option<metrics::Unit>, _: metrics::SharedString) {}
            fn describe_gauge(&self, _: metrics::KeyName, _: Option<metrics::Unit>, _: metrics::SharedString) {}
            fn describe_histogram(&self, _: metrics::KeyName, _: Option<metrics::Unit>, _: metrics::SharedString) {}
            fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
                self.0.lock().expect("lock").push(format!("{key}"));
                Counter::noop()
            }
            fn register_gauge(&self, _: &Key, _: &Metadata<'_>) -> metrics::Gauge {
                metrics::Gauge::noop()
            }
            fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
                self.0.lock().expect("lock").push(format!("{key}"));
                Histogram::noop()
            }
        }
        for round in 0..2 {
            let recorder = Counting(Default::default());
            metrics::with_local_recorder(&recorder, || {
                REQUESTS.counter(&["PUT", "201"]).increment(1);
                REQUESTS.histogram(&["PUT", "201"]).record(1.0);
            });
            let seen = recorder.0.into_inner().expect("lock");
            assert_eq!(seen.len(), 2, "round {round}: both updates reach this round's recorder: {seen:?}");
            assert!(seen.iter().all(|k| k.contains("test_requests_total") && k.contains("201")), "{seen:?}");
        }
    }
}
