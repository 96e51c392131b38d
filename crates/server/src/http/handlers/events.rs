//! `GET /api/v1/events`: the live-update stream (docs/live-updates.md).
//!
//! Authentication is the Bearer header of every endpoint (no permission: a caller who may read
//! no task simply receives no task event). Then the per-instance limits: 429 `too_many_streams`
//! when the caller holds `EVENTS_MAX_PER_USER` streams here, 503 when the instance holds
//! `EVENTS_MAX_STREAMS` or is draining, both with `Retry-After`.

use crate::http::extract::{header_str, note_user, request_context};
use crate::http::problem::{ApiError, ApiResult};
use crate::http::state::AppState;
use axum::body::Body;
use axum::extract::State;
use axum::http::request::Parts;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::Response;
use taskify_core::events::filter::Viewer;
use taskify_core::events::slots::Refusal;
use taskify_core::events::subscriber::Subscriber;

/// The route, as the deadline layer sees it (exempt: the response is meant to last).
pub const PATH: &str = "/api/v1/events";

/// How long a refused client should wait: a stream of the same user may end soon; a full
/// instance is better left alone a little longer (another replica will take the reconnect).
const RETRY_USER_SECS: u64 = 5;
const RETRY_FULL_SECS: u64 = 10;

pub async fn stream(State(state): State<AppState>, parts: Parts) -> ApiResult<Response> {
    let authorization = header_str(&parts.headers, header::AUTHORIZATION);
    let (principal, claims) = state.services.auth.authenticate_token(authorization).await?;
    note_user(&parts, principal.user_id);
    let hub = &state.services.events;
    if hub.closing().is_cancelled() {
        return Err(ApiError::StreamsUnavailable { retry_after_secs: RETRY_USER_SECS });
    }
    let slot = state.event_slots.acquire(principal.user_id).map_err(|refusal| match refusal {
        Refusal::TooManyForUser => ApiError::TooManyStreams { retry_after_secs: RETRY_USER_SECS },
        Refusal::InstanceFull => ApiError::StreamsUnavailable { retry_after_secs: RETRY_FULL_SECS },
    })?;
    // Free text from the client: anything that is not an id of ours gets a `resync`.
    let last_event_id = parts.headers.get("last-event-id").map(|v| v.to_str().unwrap_or("?"));
    let subscription = hub.subscribe(last_event_id).await;
    let viewer = Viewer {
        user_id: principal.user_id,
        jti: claims.jti,
        issued_at: claims.iat,
        expires_at: claims.exp,
        ctx: request_context(&parts),
    };
    let subscriber = Subscriber::new(
        viewer,
        state.services.event_filter.clone(),
        subscription,
        state.config.events.heartbeat,
        hub.closing().clone(),
        slot,
    );
    let mut response = Response::new(Body::from_stream(subscriber.into_stream()));
    *response.status_mut() = StatusCode::OK;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream; charset=utf-8"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(HeaderName::from_static("x-accel-buffering"), HeaderValue::from_static("no"));
    Ok(response)
}
