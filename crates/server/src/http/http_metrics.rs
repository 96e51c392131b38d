//! The HTTP request metrics (`http_requests_total`, `http_request_duration_seconds`), recorded
//! with `'static` label values so a request allocates nothing for its labels.

use axum::http::StatusCode;
use std::collections::HashMap;
use std::sync::{OnceLock, RwLock};
use std::time::Duration;
use taskify_domain::metric_keys::LabelledMetric;
use taskify_domain::metric_names as names;

/// Route templates are a fixed set (the router's own), so each is leaked once and shared as a
/// `'static` label value; unknown paths never get here (they are `unmatched`).
pub fn intern_route(route: &str) -> &'static str {
    static ROUTES: OnceLock<RwLock<HashMap<Box<str>, &'static str>>> = OnceLock::new();
    let routes = ROUTES.get_or_init(Default::default);
    if let Some(interned) = routes.read().ok().and_then(|map| map.get(route).copied()) {
        return interned;
    }
    let Ok(mut map) = routes.write() else {
        return "unmatched";
    };
    map.entry(route.into()).or_insert_with(|| Box::leak(route.into()))
}

static REQUESTS: LabelledMetric = LabelledMetric::new(names::HTTP_REQUESTS_TOTAL, &["method", "route", "status"]);
static DURATION: LabelledMetric = LabelledMetric::new(names::HTTP_REQUEST_DURATION_SECONDS, &["method", "route"]);

/// Counts the request and records its duration.
pub fn record(method: &'static str, route: &'static str, status: StatusCode, elapsed: Duration) {
    REQUESTS.counter(&[method, route, status_label(status)]).increment(1);
    DURATION.histogram(&[method, route]).record(elapsed.as_secs_f64());
}

/// The status code as a `'static` label value (every code hyper can send is in 100..=999).
fn status_label(status: StatusCode) -> &'static str {
    static LABELS: OnceLock<Vec<String>> = OnceLock::new();
    let labels = LABELS.get_or_init(|| (100..1000).map(|code: u16| code.to_string()).collect());
    labels.get(usize::from(status.as_u16()).wrapping_sub(100)).map_or("other", String::as_str)
}

#[cfg(test)]
mod tests {
    use super::{intern_route, status_label};
    use axum::http::StatusCode;

    #[test]
    fn status_labels_are_the_numbers() {
        assert_eq!(status_label(StatusCode::OK), "200");
        assert_eq!(status_label(StatusCode::from_u16(999).expect("a valid code")), "999");
    }

    #[test]
    fn a_route_is_interned_once() {
        let first = intern_route("/api/v1/tasks/{id}");
        let second = intern_route(&String::from("/api/v1/tasks/{id}"));
        assert_eq!(first, "/api/v1/tasks/{id}");
        assert!(std::ptr::eq(first, second));
    }
}
