//! The middleware of docs/http-contract.md#middleware-order that the router does not provide itself: access log and HTTP
//! metrics, security headers, `Cache-Control`, the handler deadline, the declared body size,
//! and panic recovery.

use super::extract::{ClientIp, RequestNotes};
use super::http_metrics;
use super::problem::{self, ApiError, Problem};
use super::request_id::RequestId;
use super::state::AppState;
use axum::body::HttpBody;
use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::net::SocketAddr;
use std::time::Instant;
use taskify_domain::metric_names as names;
use tracing::Instrument;

/// Security headers with their exact values (docs/http-contract.md#security-headers), on every response.
const SECURITY_HEADERS: [(&str, &str); 6] = [
    // tests/api/helpers/mod.rs keeps its own copy of this table on purpose: the tests check the served headers against
    // the contract, not against this constant.
    ("strict-transport-security", "max-age=63072000; includeSubDomains"),
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("x-xss-protection", "1; mode=block"),
    ("referrer-policy", "no-referrer"),
    ("content-security-policy", "default-src 'self'"),
];

/// Resolves the client IP, logs one `request completed` event per request and records the HTTP
/// metrics under the route template (never the raw path).
///
/// This layer wraps the whole router rather than each route (docs/performance.md, "Cached
/// read"), so the matched route and the user are not known when it starts: the routed part
/// writes them into the request's [`RequestNotes`] ([`note_route`], `extract::note_user`).
pub async fn observe(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    let peer = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
    let forwarded = request.headers().get("x-forwarded-for").and_then(|v| v.to_str().ok());
    let client_ip = peer.map(|p| super::client_ip::client_ip(p, forwarded, &state.config.trusted_proxies));
    if let Some(ip) = client_ip {
        request.extensions_mut().insert(ClientIp(ip));
    }
    let notes = RequestNotes::default();
    request.extensions_mut().insert(notes.clone());
    let method_label = method_label(request.method());
    // What only the access log needs is copied only when it is written (docs/performance.md,
    // "Cached read": these copies were a visible share of a cached read at LOG_LEVEL=warn).
    let logged = tracing::enabled!(target: "taskify::access", tracing::Level::INFO).then(|| AccessLogFields {
        method: request.method().clone(),
        path: request.uri().path().to_owned(),
        user_agent: request.headers().get(header::USER_AGENT).and_then(|v| v.to_str().ok()).map(str::to_owned),
    });
    let request_id = request.extensions().get::<RequestId>().map_or_else(|| "".into(), |r| r.0.clone());

    // One span per request: every event logged while serving it (handler errors, policy
    // errors, panics) carries these fields. `route` is filled in once the router has matched
    // one ([`note_route`]), `user_id` once a token is accepted (extract.rs); both stay absent
    // when that never happens.
    let span = tracing::info_span!(
        "request",
        request_id = %request_id,
        method = %request.method(),
        route = tracing::field::Empty,
        user_id = tracing::field::Empty,
    );
    let in_flight = metrics::gauge!(names::HTTP_REQUESTS_IN_FLIGHT);
    in_flight.increment(1.0);
    let response = next.run(request).instrument(span.clone()).await;
    in_flight.decrement(1.0);

    let status = response.status();
    let elapsed = started.elapsed();
    let route = notes.0.route.get().copied().unwrap_or("unmatched");
    http_metrics::record(method_label, route, status, elapsed);
    if let Some(fields) = logged {
        // Exact for every buffered body; a streamed (compressed) body reports its lower bound.
        let bytes_out = response.body().size_hint().lower();
        let _entered = span.enter();
        tracing::info!(
            target: "taskify::access",
            request_id = &*request_id,
            instance_id = %state.config.instance_id,
            method = %fields.method,
            route,
            path = fields.path,
            status = status.as_u16(),
            latency_ms = elapsed.as_secs_f64() * 1000.0,
            client_ip = client_ip.map(|ip| ip.to_string()),
            // Always present: tracing cannot write a JSON null, so an anonymous request logs "".
            user_id = notes.0.user.get().map(ToString::to_string).unwrap_or_default(),
            user_agent = fields.user_agent,
            bytes_out,
            "request completed"
        );
    }
    response
}

/// The one layer that runs per matched route (every route of the router, a wrong method's 405
/// included): notes the route template for [`observe`] and the request span.
pub async fn note_route(request: Request, next: Next) -> Response {
    if let (Some(notes), Some(matched)) =
        (request.extensions().get::<RequestNotes>(), request.extensions().get::<MatchedPath>())
    {
        let route = http_metrics::intern_route(matched.as_str());
        let _ = notes.0.route.set(route);
        tracing::Span::current().record("route", route);
    }
    next.run(request).await
}

/// The request facts only the access log reads.
struct AccessLogFields {
    method: Method,
    path: String,
    user_agent: Option<String>,
}

/// The `method` label: hyper accepts any token as a method, and every label value is a series
/// kept for the life of the process, so methods outside the standard set share `other`. (The
/// `route` label is the matched template or `unmatched`, the status a number: both bounded.)
pub fn method_label(method: &Method) -> &'static str {
    static STANDARD: [Method; 9] = [
        Method::GET,
        Method::POST,
        Method::PUT,
        Method::DELETE,
        Method::PATCH,
        Method::HEAD,
        Method::OPTIONS,
        Method::CONNECT,
        Method::TRACE,
    ];
    STANDARD.iter().find(|m| *m == method).map_or("other", Method::as_str)
}

/// Finishes every response: adds the security headers, and `Cache-Control: no-store` to API
/// answers that set none, then writes the body of a problem ([`problem::render_problem`]). One
/// layer for both: each layer costs a boxed future and a clone of the inner service per request
/// (docs/performance.md, "Cached read").
pub async fn finish_response(request: Request, next: Next) -> Response {
    // Shared copies (no allocation): most responses are not problems.
    let uri = request.uri().clone();
    let request_id = request.extensions().get::<RequestId>().map_or_else(|| "".into(), |r| r.0.clone());
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    for (name, value) in SECURITY_HEADERS {
        headers.insert(HeaderName::from_static(name), HeaderValue::from_static(value));
    }
    if uri.path().starts_with("/api/") && !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    problem::render_problem(response, uri.path(), &request_id)
}

/// The handler deadline (`REQUEST_TIMEOUT`): past it the answer is 503 `request_timeout`.
/// The live-update stream is exempt (docs/live-updates.md#limits): its response is meant to last.
pub async fn deadline(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    // Done here rather than in a layer of its own: every layer costs a boxed future and a clone
    // of the inner service per request (docs/performance.md, "Cached read").
    drop_unsatisfiable_accept_encoding(&mut request);
    if request.uri().path() == super::handlers::events::PATH {
        return next.run(request).await;
    }
    match tokio::time::timeout(state.config.request_timeout, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::Core(taskify_core::CoreError::Timeout).into_response(),
    }
}

/// Step 2 of docs/http-contract.md#order-of-checks: a declared `Content-Length` above the limit answers 413 before anything
/// else (authentication included) looks at the request. Chunked bodies are counted when read.
/// Run by the rate-limiting layer before it looks at anything (one layer for both: each layer
/// costs a boxed future and a clone of the inner service per request).
pub fn refuse_declared_body(request: &Request, limit: usize) -> Option<Response> {
    let declared =
        request.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    declared.is_some_and(|n| n > limit as u64).then(|| ApiError::PayloadTooLarge(limit).into_response())
}

/// Removes an `Accept-Encoding` that accepts no coding this server produces (gzip), such as
/// `*;q=0` or `identity;q=0`. The compression layer would answer those with a 406 and no body;
/// RFC 9110 (12.5.3) lets the server send the answer without a content coding instead, which
/// is what a client that refuses every coding can still use.
fn drop_unsatisfiable_accept_encoding(request: &mut Request) {
    let headers = request.headers();
    if headers.contains_key(header::ACCEPT_ENCODING)
        && !headers.get_all(header::ACCEPT_ENCODING).iter().any(|v| v.to_str().is_ok_and(accepts_gzip))
    {
        request.headers_mut().remove(header::ACCEPT_ENCODING);
    }
}

/// Whether an `Accept-Encoding` value lets gzip through (explicitly, or through `*` when gzip is
/// not named) with a quality above zero.
fn accepts_gzip(value: &str) -> bool {
    let mut gzip = None;
    let mut any = None;
    for item in value.split(',') {
        let mut parts = item.split(';');
        let coding = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
        let quality = parts
            .filter_map(|p| p.trim().strip_prefix("q=").or_else(|| p.trim().strip_prefix("Q=")))
            .find_map(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        match coding.as_str() {
            "gzip" | "x-gzip" => gzip = Some(quality > 0.0),
            "*" => any = Some(quality > 0.0),
            _ => {}
        }
    }
    gzip.or(any).unwrap_or(false)
}

/// Panic recovery: the panic becomes a 500 problem and is logged with a backtrace.
pub fn panic_response(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let detail = panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_else(|| "unknown panic".into());
    let backtrace = std::backtrace::Backtrace::force_capture();
    tracing::error!(panic = %detail, %backtrace, "handler panicked");
    Problem::new(StatusCode::INTERNAL_SERVER_ERROR, "internal_error", "internal server error").into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gzip_is_accepted_only_with_a_positive_quality() {
        for yes in ["gzip", "gzip, deflate, br", "*", "br;q=1, *;q=0.5", "GZIP;q=0.1", "*;q=0, gzip"] {
            assert!(accepts_gzip(yes), "{yes}");
        }
        for no in ["*;q=0", "identity;q=0", "gzip;q=0", "br", "", "gzip;q=0, *", "identity"] {
            assert!(!accepts_gzip(no), "{no}");
        }
    }
}
