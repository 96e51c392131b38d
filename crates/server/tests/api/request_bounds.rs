//! What a request controls stays bounded: metric labels (a thousand invented methods add no
//! series), the order of the early checks (routing, then the body limit, then the rate limit) and
//! an `Accept-Encoding` that refuses every coding.

use std::collections::BTreeSet;

use reqwest::{Method, StatusCode};

use crate::helpers::{metric_samples, metrics_text};
use crate::raw_http::{Framing, post_raw};
use crate::sqlite_only;

const STANDARD_METHODS: [&str; 9] = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "CONNECT", "TRACE"];

sqlite_only!(a_thousand_invented_methods_add_no_metric_series, |app| async move {
    for i in 0..1_000 {
        let method = Method::from_bytes(format!("M{i:04}").as_bytes()).expect("a valid method token");
        let response = app.request(method, "/api/v1/tasks").send().await.expect("the server answers");
        assert!(response.status().is_client_error(), "an invented method is refused, not a server error");
    }
    let text = metrics_text(&app.api).await;
    let samples: Vec<_> = metric_samples(&text)
        .into_iter()
        .filter(|s| s.name == "http_requests_total" || s.name.starts_with("http_request_duration_seconds"))
        .collect();
    let methods: BTreeSet<&str> = samples.iter().filter_map(|s| s.labels.get("method")).map(String::as_str).collect();
    for method in &methods {
        assert!(STANDARD_METHODS.contains(method) || *method == "other", "unexpected method label {method:?}");
    }
    let requests: BTreeSet<_> = samples.iter().filter(|s| s.name == "http_requests_total").map(|s| &s.labels).collect();
    assert!(requests.len() < 20, "{} http_requests_total series after 1000 methods", requests.len());
    let other: f64 = samples
        .iter()
        .filter(|s| s.name == "http_requests_total" && s.labels.get("method").is_some_and(|m| m == "other"))
        .map(|s| s.value)
        .sum();
    assert!(other >= 1_000.0, "the invented methods are counted under `other` ({other})");
});

fn has_rate_limit_headers(headers: &std::collections::HashMap<String, String>) -> bool {
    headers.keys().any(|name| name.starts_with("ratelimit"))
}

sqlite_only!(
    routing_is_decided_before_the_body_limit_and_only_matched_routes_are_rate_limited,
    overrides = &[("RATE_LIMIT_ENABLED", "true"), ("BODY_LIMIT_BYTES", "1024")],
    |app| async move {
        let oversize = vec![b' '; 4096];
        let missing = post_raw(app.port, "/api/v1/no-such-route", &[], oversize.clone(), Framing::ContentLength).await;
        assert_eq!(missing.status, 404, "an unknown route is a 404 whatever the body size: {missing:?}");
        assert!(!has_rate_limit_headers(&missing.headers), "a 404 carries no RateLimit headers: {missing:?}");

        // `/api/v1/roles` answers GET only.
        let wrong_method = post_raw(app.port, "/api/v1/roles", &[], oversize.clone(), Framing::ContentLength).await;
        assert_eq!(wrong_method.status, 405, "a wrong method is a 405 whatever the body size: {wrong_method:?}");
        assert!(!has_rate_limit_headers(&wrong_method.headers), "a 405 carries no RateLimit headers: {wrong_method:?}");

        let too_large = post_raw(app.port, "/api/v1/tasks", &[], oversize, Framing::ContentLength).await;
        assert_eq!(too_large.status, 413, "a matched route still enforces the body limit: {too_large:?}");

        let limited = app.get("/api/v1/tasks").await;
        assert_eq!(limited.status(), StatusCode::UNAUTHORIZED);
        assert!(limited.headers().contains_key("ratelimit-limit"), "a matched API route carries RateLimit headers");
    }
);

sqlite_only!(an_accept_encoding_that_refuses_every_coding_gets_an_uncompressed_answer, |app| async move {
    for refusal in ["*;q=0", "identity;q=0", "gzip;q=0, *", "br"] {
        let response = app
            .request(Method::GET, "/api-docs/openapi.json")
            .header("accept-encoding", refusal)
            .send()
            .await
            .expect("the server answers");
        assert_eq!(response.status(), StatusCode::OK, "Accept-Encoding: {refusal}");
        assert!(response.headers().get("content-encoding").is_none(), "Accept-Encoding: {refusal}: not compressed");
        let body: serde_json::Value = response.json().await.expect("the whole document, as JSON");
        assert!(body["paths"].is_object(), "Accept-Encoding: {refusal}: the document");
    }
    let compressed = app
        .request(Method::GET, "/api-docs/openapi.json")
        .header("accept-encoding", "*;q=0, gzip")
        .send()
        .await
        .expect("the server answers");
    assert_eq!(compressed.headers().get("content-encoding").map(|v| v.as_bytes()), Some(&b"gzip"[..]));
});
