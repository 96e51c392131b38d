//! CORS (docs/http-contract.md#cors): exact origin allow-list, no credentials, preflights answered here (204, or
//! 403 `forbidden` for an origin that is not allowed), actual requests tagged for allowed origins.

use super::problem::Problem;
use super::state::AppState;
use crate::config::CorsPolicy;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// Headers a browser may read from our responses.
const EXPOSED: &str = "ETag, Location, X-Request-Id, Retry-After, Idempotency-Replayed, RateLimit-Limit, \
RateLimit-Remaining, RateLimit-Reset, RateLimit-Policy";
const MAX_AGE: &str = "43200";

impl CorsPolicy {
    fn allows(&self, origin: &str) -> bool {
        self.any_origin || self.origins.iter().any(|o| o == origin)
    }
}

fn set(headers: &mut HeaderMap, name: header::HeaderName, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        headers.insert(name, v);
    }
}

/// Answers preflights and adds the CORS headers to actual requests from allowed origins.
pub async fn cors(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let policy = &state.config.cors;
    let origin = request.headers().get(header::ORIGIN).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let is_preflight =
        request.method() == Method::OPTIONS && request.headers().contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    if is_preflight {
        let Some(origin) = origin.filter(|o| policy.allows(o)) else {
            return Problem::new(StatusCode::FORBIDDEN, "forbidden", "Origin not allowed").into_response();
        };
        let mut response = Response::new(Body::empty());
        *response.status_mut() = StatusCode::NO_CONTENT;
        let h = response.headers_mut();
        set(h, header::ACCESS_CONTROL_ALLOW_ORIGIN, &origin);
        set(h, header::ACCESS_CONTROL_ALLOW_METHODS, &policy.methods);
        set(h, header::ACCESS_CONTROL_ALLOW_HEADERS, &policy.headers);
        set(h, header::ACCESS_CONTROL_MAX_AGE, MAX_AGE);
        set(h, header::VARY, "Origin");
        return response;
    }
    let mut response = next.run(request).await;
    if let Some(origin) = origin.filter(|o| policy.allows(o)) {
        let h = response.headers_mut();
        set(h, header::ACCESS_CONTROL_ALLOW_ORIGIN, &origin);
        set(h, header::ACCESS_CONTROL_EXPOSE_HEADERS, EXPOSED);
        h.append(header::VARY, HeaderValue::from_static("Origin"));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::CorsPolicy;

    #[test]
    fn origins_match_exactly() {
        let p = CorsPolicy::new("http://localhost:3000, https://app.example", "GET,POST", "Authorization");
        assert!(p.allows("http://localhost:3000"));
        assert!(!p.allows("http://localhost:3000/"));
        assert!(!p.allows("http://evil.example"));
        assert!(CorsPolicy::new("*", "", "").allows("http://any.example"));
        assert_eq!(p.methods, "GET, POST");
    }
}
