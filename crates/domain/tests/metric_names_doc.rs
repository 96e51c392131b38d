//! The table of metric names in the code (`taskify_domain::metric_names::ALL`) and the table of
//! docs/operations.md#metrics list the same metrics, with the same kinds, and the document names
//! every label of a metric. The Grafana dashboard is checked against the document
//! (`scripts/check-dashboard.py`), so through it against the code.

use std::collections::BTreeMap;
use std::path::Path;

use taskify_domain::metric_names::{ALL, find};

/// One row of the document's table per metric: (kind, labels cell).
fn documented() -> BTreeMap<String, (String, String)> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/operations.md");
    let text = std::fs::read_to_string(&path).expect("docs/operations.md is readable");
    let section = text.split("\n## Metrics\n").nth(1).expect("docs/operations.md has a ## Metrics section");
    let mut rows = BTreeMap::new();
    for line in section.lines().skip_while(|line| !line.starts_with("| Metric |")).skip(2) {
        let Some(row) = line.strip_prefix('|') else { break };
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        assert!(cells.len() >= 3, "a metric row has three cells: {line}");
        for name in cells[0].split(',').map(|name| name.trim().trim_matches('`')) {
            let previous = rows.insert(name.to_owned(), (cells[1].to_owned(), cells[2].to_owned()));
            assert!(previous.is_none(), "{name} is listed twice in docs/operations.md");
        }
    }
    assert!(!rows.is_empty(), "the metrics table of docs/operations.md is found");
    rows
}

#[test]
fn every_metric_of_the_code_is_documented_with_its_kind_and_labels() {
    let documented = documented();
    for metric in ALL {
        let (kind, labels) = documented
            .get(metric.name)
            .unwrap_or_else(|| panic!("{} is missing from docs/operations.md#metrics", metric.name));
        assert_eq!(kind, metric.kind.as_str(), "the kind of {} in docs/operations.md", metric.name);
        let words: Vec<&str> = labels.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).collect();
        for label in metric.labels {
            assert!(words.contains(label), "docs/operations.md does not name the label {label} of {}", metric.name);
        }
    }
}

#[test]
fn every_documented_metric_is_in_the_table_of_the_code() {
    let unknown: Vec<String> = documented().into_keys().filter(|name| find(name).is_none()).collect();
    assert!(unknown.is_empty(), "documented but not in taskify_domain::metric_names::ALL: {unknown:?}");
}
