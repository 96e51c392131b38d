//! The one table of metric names (`taskify_domain::metric_names`, docs/operations.md#metrics) is
//! what the code records and what a fresh instance exposes: every metric of the table is in the
//! first scrape, zero-valued if nothing happened yet (a dashboard or an alert on `rate(x[5m])`
//! must not wait for the first event), with its help text and exactly the labels of the table;
//! and no source file spells a metric name of its own.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use taskify_domain::metric_names::{ALL, MetricKind};

use crate::helpers::{metric_samples, metrics_text};
use crate::sqlite_only;

fn collect_rust_files(dir: &PathBuf, files: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect_rust_files(&path, files);
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
}

#[test]
fn metrics_are_recorded_and_described_only_under_names_of_the_table() {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    for entry in std::fs::read_dir(&crates).expect("the crates directory") {
        collect_rust_files(&entry.expect("a crate").path().join("src"), &mut files);
    }
    assert!(files.len() > 50, "the sources are found: {}", files.len());
    let mut spelled = Vec::new();
    for file in files {
        let source = std::fs::read_to_string(&file).expect("a readable source file");
        for macro_name in ["counter", "gauge", "histogram", "describe_counter", "describe_gauge", "describe_histogram"]
        {
            let call = format!("{macro_name}!(");
            for (at, _) in source.match_indices(&call) {
                let whole_word = !source[..at].ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_');
                if whole_word && source[at + call.len()..].trim_start().starts_with('"') {
                    spelled.push(format!("{}: {}", file.display(), source[at..].lines().next().unwrap_or_default()));
                }
            }
        }
    }
    assert!(spelled.is_empty(), "metric names spelled outside taskify_domain::metric_names: {spelled:#?}");
}

sqlite_only!(the_first_scrape_names_every_metric_of_the_table_with_its_labels, |app| async move {
    assert!(ALL.len() > 30, "the table lists the metrics: {}", ALL.len());
    let text = metrics_text(&app.api).await;
    let samples = metric_samples(&text);
    for metric in ALL {
        let series: Vec<_> = samples
            .iter()
            .filter(|sample| match metric.kind {
                MetricKind::Histogram => ["_bucket", "_sum", "_count"]
                    .iter()
                    .any(|suffix| sample.name.strip_suffix(suffix) == Some(metric.name)),
                MetricKind::Counter | MetricKind::Gauge => sample.name == metric.name,
            })
            .collect();
        assert!(!series.is_empty(), "{} is absent from the first scrape", metric.name);
        let wanted: BTreeSet<&str> = metric.labels.iter().copied().collect();
        for sample in series {
            let labels: BTreeSet<&str> =
                sample.labels.keys().map(String::as_str).filter(|label| *label != "le").collect();
            assert_eq!(labels, wanted, "the labels of {} in the first scrape", sample.name);
        }
        assert!(
            text.contains(&format!("# HELP {} {}\n", metric.name, metric.help)),
            "the help text of {}",
            metric.name
        );
        assert!(
            text.contains(&format!("# TYPE {} {}\n", metric.name, metric.kind.as_str())),
            "the type of {}",
            metric.name
        );
    }
});
