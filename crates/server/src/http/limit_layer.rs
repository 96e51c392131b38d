//! The rate-limiting middleware of matched API routes: picks the class and the key (the user for
//! class `api`, the client IP otherwise), asks the [`RateLimiter`] and answers 429 or adds the
//! RateLimit headers (docs/http-contract.md#rate-limits).

use super::extract::{ClientIp, VerifiedToken};
use super::problem::Problem;
use super::state::AppState;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use taskify_core::auth::throttle::ip_key;
use taskify_domain::metric_keys::LabelledMetric;
use taskify_domain::metric_names as names;

/// The middleware of matched API routes: the declared body size first (413, without RateLimit
/// headers), then the rate limit.
pub async fn limit(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    if let Some(too_large) = super::layers::refuse_declared_body(&request, state.config.body_limit_bytes) {
        return too_large;
    }
    let limits = &state.config.rate_limits;
    if !limits.enabled {
        return next.run(request).await;
    }
    let route = request.extensions().get::<MatchedPath>().map_or("", |m| m.as_str());
    let class = limits.class_of(route);
    let authorization = request.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    let verified = state.services.auth.verify_access_token(authorization);
    request.extensions_mut().insert(VerifiedToken(verified));
    let key = match verified {
        Ok(claims) if class.name == "api" => format!("user:{}", claims.user_id),
        _ => {
            let ip = request.extensions().get::<ClientIp>().map(|ip| ip.0.to_string()).unwrap_or_default();
            format!("ip:{}", ip_key(&ip))
        }
    };
    let verdict = state.rate_limiter.check(class, &key).await;
    let decision = if verdict.allowed { "allowed" } else { "limited" };
    static DECISIONS: LabelledMetric = LabelledMetric::new(names::RATE_LIMIT_DECISIONS_TOTAL, &["class", "decision"]);
    DECISIONS.counter(&[class.name, decision]).increment(1);
    let mut response = if verdict.allowed {
        next.run(request).await
    } else {
        Problem {
            retry_after: Some(verdict.retry_after_secs),
            ..Problem::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", "rate limit exceeded")
        }
        .into_response()
    };
    let h = response.headers_mut();
    h.insert(HeaderName::from_static("ratelimit-limit"), HeaderValue::from(class.burst));
    h.insert(HeaderName::from_static("ratelimit-remaining"), HeaderValue::from(verdict.remaining));
    h.insert(HeaderName::from_static("ratelimit-reset"), HeaderValue::from(verdict.reset_secs));
    let policy = format!("{};w={};name=\"{}\"", class.burst, class.window_secs(), class.name);
    if let Ok(v) = HeaderValue::from_str(&policy) {
        h.insert(HeaderName::from_static("ratelimit-policy"), v);
    }
    response
}
