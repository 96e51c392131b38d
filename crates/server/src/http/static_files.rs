//! `/metrics`, the API docs and the UI shell.

use super::problem::{ApiError, Problem};
use super::state::AppState;
use crate::http::openapi as api;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use taskify_core::CoreError;

fn with_type(body: impl Into<Body>, content_type: &'static str, cache: &'static str) -> Response {
    let mut response = Response::new(body.into());
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    response
}

fn not_found() -> Response {
    ApiError::Core(CoreError::NotFound("Route not found")).into_response()
}

/// Prometheus text format 0.0.4; 404 when `METRICS_ENABLED=false`.
#[utoipa::path(
    get,
    path = "/metrics",
    operation_id = "getMetrics",
    tag = "Infrastructure",
    summary = "Prometheus metrics",
    description = "Prometheus text format 0.0.4 (docs/operations.md#metrics). Not rate limited.",
    responses(
        (status = 200, description = "Prometheus exposition text.", body = String, content_type = "text/plain; version=0.0.4"),
        (status = 404, description = "`not_found`: `METRICS_ENABLED=false`.", body = api::Problem, content_type = "application/problem+json"),
    ),
    security(),
    extensions(("x-rate-limit-class" = json!("exempt"))),
)]
pub async fn metrics(State(state): State<AppState>) -> Response {
    if !state.config.metrics_enabled {
        return not_found();
    }
    crate::telemetry::refresh_gauges(&state);
    with_type(state.metrics.render(), "text/plain; version=0.0.4; charset=utf-8", "no-store")
}

const DOCS_HTML: &str = include_str!("../../assets/docs/index.html");
const DOCS_JS: &str = include_str!("../../assets/docs/docs.js");
const DOCS_CSS: &str = include_str!("../../assets/docs/docs.css");

pub async fn docs_page() -> Response {
    with_type(DOCS_HTML, "text/html; charset=utf-8", "no-cache")
}
pub async fn docs_js() -> Response {
    with_type(DOCS_JS, "text/javascript; charset=utf-8", "no-cache")
}
pub async fn docs_css() -> Response {
    with_type(DOCS_CSS, "text/css; charset=utf-8", "no-cache")
}

/// The built web UI (`web/dist`), embedded by build.rs.
mod embedded {
    include!(concat!(env!("OUT_DIR"), "/ui_assets.rs"));
}

/// Served at `/` when the binary was built without the UI (no Node.js on the build machine). It
/// obeys the CSP: no inline script or style.
const NO_UI_SHELL: &str = "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>Taskify</title>\
<link rel=\"stylesheet\" href=\"/api-docs/docs.css\"></head><body><main id=\"app\">\
<h1>Taskify</h1><p>This binary was built without the web interface, because Node.js was not \
available when it was compiled. To add it, install Node.js 20 or later and rebuild: \
<code>cargo build --release -p taskify-server</code> (or run <code>npm ci &amp;&amp; npm run build</code> \
in <code>web/</code> first). The API is live under <code>/api/v1</code>; see the \
<a href=\"/api-docs\">API documentation</a>.</p></main></body></html>\n";

/// The application shell, for every UI page: `no-cache`, so a new release is picked up at once.
pub async fn ui_shell(State(state): State<AppState>) -> Response {
    if !state.config.ui_enabled {
        return not_found();
    }
    match embedded::UI_SHELL {
        Some(shell) => with_type(shell, "text/html; charset=utf-8", "no-cache"),
        None => with_type(NO_UI_SHELL, "text/html; charset=utf-8", "no-cache"),
    }
}

/// `/assets/{name}`: content-hashed file names, so they are cacheable forever.
pub async fn hashed_asset(State(state): State<AppState>, uri: Uri) -> Response {
    let name = uri.path().strip_prefix("/assets/").unwrap_or_default();
    match embedded::UI_ASSETS.binary_search_by(|(file, _, _)| (*file).cmp(name)) {
        Ok(index) if state.config.ui_enabled => {
            let (_, content_type, bytes) = embedded::UI_ASSETS[index];
            let mut response = Response::new(Body::from(bytes));
            let headers = response.headers_mut();
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=31536000, immutable"));
            response
        }
        _ => not_found(),
    }
}

/// Every unknown path: a 404 problem.
pub async fn asset() -> Response {
    Problem::new(StatusCode::NOT_FOUND, "not_found", "Route not found").into_response()
}
