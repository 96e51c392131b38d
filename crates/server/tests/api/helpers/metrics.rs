//! Prometheus text (docs/operations.md#metrics).

use super::*;

/// One sample of the Prometheus text format: `name{labels} value`.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: std::collections::BTreeMap<String, String>,
    pub value: f64,
}

/// The samples of a Prometheus text exposition (comment and blank lines skipped). Fails the test
/// on a line it cannot read.
pub fn metric_samples(text: &str) -> Vec<Sample> {
    text.lines().map(str::trim).filter(|line| !line.is_empty() && !line.starts_with('#')).map(parse_sample).collect()
}

fn parse_sample(line: &str) -> Sample {
    let name_end = line.find(['{', ' ']).unwrap_or_else(|| panic!("no value in metrics line {line:?}"));
    let name = line[..name_end].to_owned();
    let mut labels = std::collections::BTreeMap::new();
    let mut rest = &line[name_end..];
    if let Some(after_brace) = rest.strip_prefix('{') {
        let mut chars = after_brace.char_indices();
        let mut key = String::new();
        let mut end = None;
        while let Some((index, c)) = chars.next() {
            match c {
                '}' => {
                    end = Some(index + 1);
                    break;
                }
                ',' | ' ' => {}
                '=' => {
                    assert_eq!(chars.next().map(|(_, c)| c), Some('"'), "quoted label value in {line:?}");
                    let mut value = String::new();
                    loop {
                        match chars.next().map(|(_, c)| c) {
                            Some('\\') => match chars.next().map(|(_, c)| c) {
                                Some('n') => value.push('\n'),
                                Some(other) => value.push(other),
                                None => panic!("unterminated label value in {line:?}"),
                            },
                            Some('"') => break,
                            Some(other) => value.push(other),
                            None => panic!("unterminated label value in {line:?}"),
                        }
                    }
                    labels.insert(std::mem::take(&mut key), value);
                }
                other => key.push(other),
            }
        }
        let end = end.unwrap_or_else(|| panic!("unclosed labels in {line:?}"));
        rest = &after_brace[end..];
    }
    let value_text = rest.split_whitespace().next().unwrap_or_else(|| panic!("no value in metrics line {line:?}"));
    let value = match value_text {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        text => text.parse().unwrap_or_else(|_| panic!("bad sample value in {line:?}")),
    };
    Sample { name, labels, value }
}

/// The value of the first sample named `name` whose labels include `labels`.
pub fn metric_value(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    metric_samples(text)
        .into_iter()
        .find(|sample| {
            sample.name == name
                && labels.iter().all(|(key, value)| sample.labels.get(*key).is_some_and(|found| found == value))
        })
        .map(|sample| sample.value)
}

/// `GET /metrics`, expecting 200, as text.
pub async fn metrics_text(api: &ApiClient) -> String {
    body_text(api.get("/metrics").await, StatusCode::OK).await.1
}
