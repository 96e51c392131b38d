//! The HTTP surface: routes, extractors, middleware and the problem+json mapping.

pub mod api_doc;
pub mod bounded_map;
pub mod client_ip;
pub mod conditional;
pub mod cors;
pub mod extract;
pub mod handlers;
pub mod health;
pub mod health_checks;
pub mod http_metrics;
pub mod layers;
pub mod limit_layer;
pub mod listen;
pub mod openapi;
pub mod problem;
pub mod rate_limit;
pub mod request_id;
pub mod respond;
pub mod state;
pub mod static_files;

use axum::Router;
use axum::extract::Request;
use axum::middleware::{from_fn, from_fn_with_state};
use axum::response::Response;
use axum::routing::{MethodRouter, delete, get, post, put};
use handlers::{admin, auth, cache, events, jobs, profile, tasks};
use state::AppState;
use std::convert::Infallible;
use tower::{Service, ServiceBuilder};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::compression::predicate::{NotForContentType, Predicate, SizeAbove};

/// An API path: `/api/v1` and the path. The API's routes are written out in full rather than
/// nested under `/api/v1`: a nested router strips the prefix from every request's URI, a new
/// allocation per request (docs/performance.md, "Cached read").
macro_rules! api {
    ($path:literal) => {
        concat!("/api/v1", $path)
    };
}

/// Every route of the API, with the middleware of docs/http-contract.md#middleware-order (outermost first: request id,
/// access log and metrics, problem rendering, security headers, panic recovery, CORS, timeout,
/// compression, then per matched API route the declared body limit and the rate limit).
///
/// The middleware that every request passes wraps the router once, as one service, instead of
/// being layered onto each route with `Router::layer`: layered per route, each of the seven
/// layers boxed its own copy of the route's service stack and cloned it on every request,
/// about a tenth of a cached read's CPU (docs/performance.md, "Cached read"). Only two small
/// layers run per matched route: [`layers::note_route`] (for the access log and the metrics,
/// which now run outside the router) and, on API routes, the body-size and rate limit.
pub fn router(
    state: AppState,
) -> impl Service<Request, Response = Response, Error = Infallible, Future: Send + 'static> + Clone + Send + Sync + 'static
{
    // Per method, not per path: a wrong method is answered 405 by the path's method router, before
    // the body size (413) and the rate limit are looked at, and without RateLimit headers; an
    // unknown path is a 404 for the same reason. On a matched route the body size comes first,
    // then the rate limit.
    let guarded =
        |route: MethodRouter<AppState>| route.route_layer(from_fn_with_state(state.clone(), limit_layer::limit));
    let api = Router::new()
        // The route table: one `.route(path, guarded(method(handler)))` line per endpoint, same shape throughout
        // (docs/http-contract.md).
        .route(api!("/auth/register"), guarded(post(auth::register)))
        .route(api!("/auth/login"), guarded(post(auth::login)))
        .route(api!("/auth/refresh"), guarded(post(auth::refresh)))
        .route(api!("/auth/logout"), guarded(post(auth::logout)))
        .route(api!("/events"), guarded(get(events::stream)))
        .route(api!("/tasks"), guarded(get(tasks::list).post(tasks::create)))
        .route(api!("/tasks/{id}"), guarded(get(tasks::get).put(tasks::update).delete(tasks::delete)))
        .route(api!("/tasks/{id}/attributes"), guarded(get(tasks::attributes)))
        .route(api!("/tasks/{id}/attributes/{key}"), guarded(put(tasks::put_attribute).delete(tasks::delete_attribute)))
        .route(api!("/users/profile"), guarded(get(profile::own).put(profile::update)))
        .route(api!("/users/profile/{user_id}"), guarded(get(profile::of)))
        .route(api!("/users"), guarded(get(admin::list_users)))
        .route(api!("/users/{user_id}"), guarded(axum::routing::patch(admin::patch_user).delete(admin::delete_user)))
        .route(api!("/users/{user_id}/tasks"), guarded(get(tasks::of_user)))
        .route(api!("/users/{user_id}/roles"), guarded(post(admin::assign_role)))
        .route(api!("/users/{user_id}/roles/{role}"), guarded(delete(admin::revoke_role)))
        .route(api!("/users/{user_id}/attributes"), guarded(get(admin::attributes)))
        .route(
            api!("/users/{user_id}/attributes/{key}"),
            guarded(get(admin::attribute).put(admin::put_attribute).delete(admin::delete_attribute)),
        )
        .route(api!("/roles"), guarded(get(admin::roles)))
        .route(api!("/audit-logs"), guarded(get(admin::audit_logs)))
        .route(api!("/cache/stats"), guarded(get(cache::stats)))
        .route(api!("/cache/health"), guarded(get(cache::health)))
        .route(api!("/cache/jobs"), guarded(get(jobs::inspect)))
        // Same route-table shape as above: one line per endpoint.
        .route(api!("/cache/jobs/warmup"), guarded(post(jobs::warmup)))
        .route(api!("/cache/jobs/batch"), guarded(post(jobs::batch)))
        .route(api!("/cache/jobs/scheduled"), guarded(post(jobs::scheduled)))
        .route(api!("/cache/jobs/validation"), guarded(post(jobs::validation)))
        .route(api!("/cache/jobs/eviction"), guarded(post(jobs::eviction)))
        .route(api!("/cache/jobs/dlq"), guarded(get(jobs::dlq).delete(jobs::dlq_purge)))
        .route(api!("/cache/jobs/dlq/retry"), guarded(post(jobs::dlq_retry)))
        .route(api!("/cache/clear"), guarded(delete(cache::clear)))
        .route(api!("/cache/warm"), guarded(post(cache::warm)))
        .route(api!("/cache/jobs/evict/{*key}"), guarded(delete(cache::evict)));

    let mut app = api
        .route("/health", get(health::health))
        .route("/ready", get(health::ready))
        .route("/live", get(health::live))
        .route("/metrics", get(static_files::metrics))
        .route("/api-docs", get(static_files::docs_page))
        .route("/api-docs/openapi.json", get(api_doc::openapi))
        .route("/api-docs/docs.js", get(static_files::docs_js))
        .route("/api-docs/docs.css", get(static_files::docs_css))
        .route("/assets/{*path}", get(static_files::hashed_asset));
    for page in ["/", "/login", "/register", "/tasks", "/profile", "/admin", "/logout"] {
        app = app.route(page, get(static_files::ui_shell));
    }
    let app = app.route_layer(from_fn(layers::note_route)).fallback(static_files::asset).with_state(state.clone());

    let compress = SizeAbove::new(1024).and(NotForContentType::const_new("text/event-stream"));
    ServiceBuilder::new()
        .layer(from_fn(request_id::assign_request_id))
        .layer(from_fn_with_state(state.clone(), layers::observe))
        // Outside panic recovery (older designs put it inside; docs/http-contract.md#middleware-order), so a panic's 500 carries the
        // security headers too: docs/http-contract.md#security-headers wants them on every response.
        .layer(from_fn(layers::finish_response))
        .layer(CatchPanicLayer::custom(layers::panic_response))
        .layer(from_fn_with_state(state.clone(), cors::cors))
        .layer(from_fn_with_state(state, layers::deadline))
        .layer(CompressionLayer::new().compress_when(compress))
        .service(app)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::{Body, to_bytes};
    use axum::http::{Request, StatusCode};
    use tower::ServiceExt;

    /// G7: a panicking handler answers a 500 problem with the request id, and the router keeps
    /// serving. Uses the production layers in the production order.
    #[tokio::test]
    async fn a_panicking_handler_answers_a_500_problem_and_the_service_goes_on() {
        async fn boom() -> &'static str {
            panic!("deliberate test panic")
        }
        let app = Router::new()
            .route("/boom", get(boom))
            .route("/fine", get(|| async { "ok" }))
            .layer(CatchPanicLayer::custom(layers::panic_response))
            .layer(from_fn(layers::finish_response))
            .layer(from_fn(request_id::assign_request_id));

        let request = Request::get("/boom").header("x-request-id", "panic-1").body(Body::empty()).expect("request");
        let response = app.clone().oneshot(request).await.expect("a response");
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(response.headers()["content-type"], "application/problem+json");
        assert_eq!(response.headers()["x-request-id"], "panic-1");
        assert_eq!(response.headers()["x-content-type-options"], "nosniff");
        let body = to_bytes(response.into_body(), 1 << 16).await.expect("body");
        let problem: serde_json::Value = serde_json::from_slice(&body).expect("json");
        assert_eq!(problem["error"], "internal_error");
        assert_eq!(problem["message"], "internal server error");
        assert_eq!(problem["request_id"], "panic-1");
        assert!(!String::from_utf8_lossy(&body).contains("deliberate"), "the panic text never reaches the client");

        let fine = app.oneshot(Request::get("/fine").body(Body::empty()).expect("request")).await.expect("response");
        assert_eq!(fine.status(), StatusCode::OK);
    }
}
