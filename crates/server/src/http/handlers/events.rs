//! `GET /api/v1/events`: the live-update stream (docs/live-updates.md).
//!
//! Authentication is the Bearer header of every endpoint (no permission: a caller who may read
//! no task simply receives no task event). Then the per-instance limits: 429 `too_many_streams`
//! when the caller holds `EVENTS_MAX_PER_USER` streams here, 503 when the instance holds
//! `EVENTS_MAX_STREAMS` or is draining, both with `Retry-After`.

use crate::http::extract::{authenticate, request_context};
use crate::http::openapi as api;
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

#[utoipa::path(
    get,
    path = "/api/v1/events",
    operation_id = "streamEvents",
    tag = "Live updates",
    summary = "Stream the task changes the caller may read (Server-Sent Events)",
    description = "An endless `text/event-stream`. It starts with `retry: 2000`, then sends events as `id: <id>`, `event: <type>` and `data: <one-line JSON>` lines: `task.created` and `task.updated` (data `TaskEventData`), `task.deleted` (`TaskDeletedEventData`) and `resync` (`ResyncEventData`: refetch what is shown), plus a `: keep-alive` comment every `EVENTS_HEARTBEAT` (15 s). Only tasks the caller may read are sent, decided as `GET /api/v1/tasks/{id}` decides. The stream ends, without an error, when the session logs out or its token is revoked or expires, when the user is deactivated or deleted, and when the instance drains: reconnect with `Last-Event-ID`. Browsers read it with `fetch` and a stream reader, since `EventSource` cannot send `Authorization`.",
    params(api::LastEventIdHeader),
    responses(
        (status = 200, description = "The stream (not compressed, `Cache-Control: no-store`, `X-Accel-Buffering: no`).", content_type = "text/event-stream", body = String),
        (status = 403, description = "`account_disabled`: the caller is inactive.", body = api::Problem, content_type = "application/problem+json"),
        api::AuthenticatedFailures,
        (status = 429, description = "`too_many_streams`: the caller holds `EVENTS_MAX_PER_USER` streams on this instance; or `rate_limited`.", body = api::Problem, content_type = "application/problem+json", headers(("Retry-After" = i64))),
        (status = 503, description = "`service_unavailable`: the instance holds `EVENTS_MAX_STREAMS` streams or is draining (another replica will take the reconnect); or `database_unavailable`.", body = api::Problem, content_type = "application/problem+json", headers(("Retry-After" = i64))),
    ),
    extensions(("x-rate-limit-class" = json!("api"))),
)]
pub async fn stream(State(state): State<AppState>, parts: Parts) -> ApiResult<Response> {
    let (principal, claims) = authenticate(&parts, &state).await?;
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
