//! Every metric the code defines is in the first scrape of a fresh instance, zero-valued if
//! nothing happened yet: a dashboard or an alert on `rate(x[5m])` must not wait for the first
//! event. The names are read from the sources of every crate, so a new metric is checked too.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::helpers::{metric_samples, metrics_text};
use crate::sqlite_only;

/// `metrics::counter!`, `gauge!` and `histogram!` calls of every crate, by name, with their kind.
fn defined_metrics() -> BTreeMap<String, &'static str> {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    for entry in std::fs::read_dir(&crates).expect("the crates directory") {
        collect_rust_files(&entry.expect("a crate").path().join("src"), &mut files);
    }
    let mut names = BTreeMap::new();
    for file in files {
        let source = std::fs::read_to_string(&file).expect("a readable source file");
        for kind in ["counter", "gauge", "histogram"] {
            let call = format!("metrics::{kind}!(");
            for (at, _) in source.match_indices(&call) {
                let argument = source[at + call.len()..].trim_start();
                let name = if let Some(literal) = argument.strip_prefix('"') {
                    literal.split('"').next().map(str::to_owned)
                } else {
                    let ident: String = argument
                        .chars()
                        .take_while(|c| c.is_ascii_uppercase() || *c == '_' || c.is_ascii_digit())
                        .collect();
                    constant(&source, &ident)
                };
                if let Some(name) = name {
                    names.insert(name, kind);
                }
            }
        }
    }
    names
}

/// The value of `const IDENT: &str = "...";` in `source`, if `ident` is such a constant.
fn constant(source: &str, ident: &str) -> Option<String> {
    if ident.is_empty() {
        return None;
    }
    let declaration = format!("const {ident}: &str = \"");
    let start = source.find(&declaration)? + declaration.len();
    source[start..].split('"').next().map(str::to_owned)
}

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

sqlite_only!(the_first_scrape_names_every_metric_the_code_defines, |app| async move {
    let defined = defined_metrics();
    assert!(defined.len() > 30, "the metric names are found in the sources: {defined:?}");
    let text = metrics_text(&app.api).await;
    let exposed: Vec<String> = metric_samples(&text).into_iter().map(|s| s.name).collect();
    let missing: Vec<_> = defined
        .iter()
        .filter(|(name, kind)| {
            let wanted = if **kind == "histogram" { format!("{name}_count") } else { (*name).clone() };
            !exposed.contains(&wanted)
        })
        .collect();
    assert!(missing.is_empty(), "metrics absent from the first scrape: {missing:?}");
    let undescribed: Vec<_> = defined.keys().filter(|name| !text.contains(&format!("# HELP {name} "))).collect();
    assert!(undescribed.is_empty(), "metrics without # HELP: {undescribed:?}");
});
