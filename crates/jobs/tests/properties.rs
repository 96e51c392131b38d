//! Property tests for the durations of the jobs API (Go-style strings and integer nanoseconds in,
//! Go's `Duration.String()` out): parsing never panics, whatever the text or the JSON value, and
//! every printed duration parses back to itself.

use std::time::Duration;

use proptest::prelude::*;
use serde_json::{Value, json};
use taskify_jobs::{DEFAULT_TTL, format_duration, parse_duration, parse_ttl};

fn config() -> ProptestConfig {
    ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn parsing_never_panics(text in any::<String>(), go_like in "[+-]?([0-9]{0,25}(\\.[0-9]{0,12})?(ns|us|µs|μs|ms|s|m|h|x)?){0,4}") {
        let _ = parse_duration(&text);
        let _ = parse_duration(&go_like);
    }

    #[test]
    fn ttl_values_never_panic(text in any::<String>(), n in any::<i64>(), f in any::<f64>()) {
        for value in [json!(text), json!(n), json!(f), Value::Null, json!(true), json!([n]), json!({ "ttl": n })] {
            let _ = parse_ttl(Some(&value), DEFAULT_TTL);
        }
    }

    #[test]
    fn printed_durations_parse_back(nanos in 0u64..=u64::MAX) {
        let d = Duration::from_nanos(nanos);
        let printed = format_duration(d);
        prop_assert_eq!(parse_duration(&printed), Ok(d), "{}", printed);
    }
}
