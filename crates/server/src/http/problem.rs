//! The one mapping from failures to RFC 9457 problem+json (docs/http-contract.md#errors).
//!
//! Handlers return [`ApiError`]; its response carries a [`Problem`] in the extensions and no
//! body. The response-finishing middleware (`layers::finish_response`), which knows the request id
//! and path, writes the body with [`render_problem`].
//! It also turns bodiless error responses produced by the framework (405, 413, …) into problems,
//! so every error, from every layer, has the same shape.

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use taskify_core::{AuthFailure, CoreError};
use taskify_domain::FieldError;

/// The content of a problem body, minus the request-specific members.
#[derive(Debug, Clone)]
pub struct Problem {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub errors: Vec<FieldError>,
    pub retry_after: Option<u64>,
}

impl Problem {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into(), errors: Vec::new(), retry_after: None }
    }
}

/// A handler failure: a use-case error, or one that only HTTP knows.
#[derive(Debug)]
pub enum ApiError {
    Core(CoreError),
    PayloadTooLarge(usize),
    UnsupportedMediaType,
    /// The caller holds `EVENTS_MAX_PER_USER` live-update streams on this instance.
    TooManyStreams {
        retry_after_secs: u64,
    },
    /// This instance holds `EVENTS_MAX_STREAMS` live-update streams, or is draining.
    StreamsUnavailable {
        retry_after_secs: u64,
    },
}

impl From<CoreError> for ApiError {
    fn from(e: CoreError) -> Self {
        Self::Core(e)
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

fn auth_problem(failure: AuthFailure) -> Problem {
    let (code, message) = match failure {
        AuthFailure::MissingToken => ("missing_token", "Authorization header is required"),
        AuthFailure::InvalidTokenFormat => ("invalid_token_format", "Authorization header must use Bearer token"),
        AuthFailure::InvalidToken => ("invalid_token", "Token validation failed"),
        AuthFailure::RevokedToken => ("invalid_token", "Token has been revoked"),
        AuthFailure::InvalidRefreshToken => ("invalid_token", "Invalid or expired refresh token"),
        AuthFailure::ExpiredToken => ("expired_token", "Token has expired"),
        AuthFailure::InvalidIssuer => ("invalid_issuer", "Token issuer is invalid"),
        AuthFailure::InvalidClaims => ("invalid_claims", "Token claims are invalid"),
        AuthFailure::InvalidCredentials => ("invalid_credentials", "Invalid email or password"),
    };
    Problem::new(StatusCode::UNAUTHORIZED, code, message)
}

impl ApiError {
    /// The problem this error answers with.
    pub fn problem(&self) -> Problem {
        use StatusCode as S;
        match self {
            Self::PayloadTooLarge(limit) => {
                Problem::new(S::PAYLOAD_TOO_LARGE, "payload_too_large", format!("Request body exceeds {limit} bytes"))
            }
            Self::TooManyStreams { retry_after_secs } => Problem {
                retry_after: Some(*retry_after_secs),
                ..Problem::new(S::TOO_MANY_REQUESTS, "too_many_streams", "Too many open event streams for this user")
            },
            Self::StreamsUnavailable { retry_after_secs } => Problem {
                retry_after: Some(*retry_after_secs),
                ..Problem::new(S::SERVICE_UNAVAILABLE, "service_unavailable", "No event stream can be opened here now")
            },
            Self::UnsupportedMediaType => Problem::new(
                S::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "Content-Type must be application/json",
            ),
            Self::Core(e) => match e {
                CoreError::InvalidRequest { message, errors } => Problem {
                    errors: errors.clone(),
                    ..Problem::new(S::BAD_REQUEST, "invalid_request", message.clone())
                },
                CoreError::Validation(errors) => Problem {
                    errors: errors.clone(),
                    ..Problem::new(S::BAD_REQUEST, "validation_failed", "Request validation failed")
                },
                CoreError::Unauthenticated(f) => auth_problem(*f),
                CoreError::AccountDisabled => Problem::new(
                    S::FORBIDDEN,
                    "account_disabled",
                    "Your account has been disabled. Please contact support.",
                ),
                CoreError::InsufficientRole => {
                    Problem::new(S::FORBIDDEN, "insufficient_role", "Admin role required for this operation")
                }
                CoreError::MissingPermission(p) => Problem::new(
                    S::FORBIDDEN,
                    "missing_permission",
                    format!("User does not have required permission: {p}"),
                ),
                CoreError::Forbidden => Problem::new(S::FORBIDDEN, "forbidden", "Access denied"),
                CoreError::NotFound(m) => Problem::new(S::NOT_FOUND, "not_found", *m),
                CoreError::Conflict(m) => Problem::new(S::CONFLICT, "conflict", *m),
                CoreError::PreconditionFailed => Problem::new(
                    S::PRECONDITION_FAILED,
                    "precondition_failed",
                    "Resource version does not match If-Match",
                ),
                CoreError::IdempotencyKeyReused => Problem::new(
                    S::UNPROCESSABLE_ENTITY,
                    "idempotency_key_reused",
                    "Idempotency-Key was already used with a different request",
                ),
                CoreError::RateLimited { retry_after_secs, message } => Problem {
                    retry_after: Some(*retry_after_secs),
                    ..Problem::new(S::TOO_MANY_REQUESTS, "rate_limited", *message)
                },
                CoreError::Unavailable { retry_after_secs, .. } => Problem {
                    retry_after: *retry_after_secs,
                    ..Problem::new(S::SERVICE_UNAVAILABLE, "service_unavailable", "Service temporarily unavailable")
                },
                CoreError::DatabaseUnavailable { retry_after_secs, .. } => Problem {
                    retry_after: Some(*retry_after_secs),
                    ..Problem::new(S::SERVICE_UNAVAILABLE, "database_unavailable", "Database temporarily unavailable")
                },
                CoreError::Timeout => Problem::new(S::SERVICE_UNAVAILABLE, "request_timeout", "Request timed out"),
                CoreError::Internal(_) => {
                    Problem::new(S::INTERNAL_SERVER_ERROR, "internal_error", "internal server error")
                }
            },
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        // The cause goes to the log (with the request id of the span), never to the body.
        match &self {
            Self::Core(e @ (CoreError::Internal(_) | CoreError::Unavailable { .. })) => {
                tracing::error!(error = %e, "request failed");
            }
            // The store logs the database going down and coming back once each; one error line
            // per refused request would flood the log for the whole outage.
            Self::Core(e @ CoreError::DatabaseUnavailable { .. }) => {
                tracing::debug!(error = %e, "request failed: the database is unavailable");
            }
            _ => {}
        }
        self.problem().into_response()
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let mut response = Response::new(Body::empty());
        *response.status_mut() = self.status;
        response.extensions_mut().insert(self);
        response
    }
}

#[derive(Serialize)]
struct ProblemBody<'a> {
    #[serde(rename = "type")]
    kind: String,
    title: &'a str,
    status: u16,
    detail: &'a str,
    instance: &'a str,
    error: &'a str,
    message: &'a str,
    request_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    errors: Option<&'a [FieldError]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    retry_after: Option<u64>,
}

/// The problem for a bodiless framework error response, by status.
fn framework_problem(status: StatusCode) -> Option<Problem> {
    Some(match status {
        StatusCode::BAD_REQUEST => Problem::new(status, "invalid_request", "Invalid request format"),
        StatusCode::NOT_FOUND => Problem::new(status, "not_found", "Route not found"),
        StatusCode::METHOD_NOT_ALLOWED => Problem::new(status, "method_not_allowed", "Method not allowed"),
        StatusCode::PAYLOAD_TOO_LARGE => Problem::new(status, "payload_too_large", "Request body is too large"),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::UnsupportedMediaType.problem(),
        StatusCode::INTERNAL_SERVER_ERROR => Problem::new(status, "internal_error", "internal server error"),
        _ => return None,
    })
}

/// Writes the problem body of `response`, if it is a problem (see the module docs), naming the
/// request's `path` and `request_id`. Called by `layers::finish_response`.
pub fn render_problem(mut response: Response, path: &str, request_id: &str) -> Response {
    let problem = match response.extensions_mut().remove::<Problem>() {
        Some(p) => p,
        None if is_bare_error(&response) => match framework_problem(response.status()) {
            Some(p) => p,
            None => return response,
        },
        None => return response,
    };
    let title = problem.status.canonical_reason().unwrap_or("Error");
    let body = ProblemBody {
        kind: format!("urn:taskify:problem:{}", problem.code),
        title,
        status: problem.status.as_u16(),
        detail: &problem.message,
        instance: path,
        error: problem.code,
        message: &problem.message,
        request_id,
        // `validation_failed` always lists its fields; `invalid_request` only when one is known.
        errors: (problem.code == "validation_failed" || !problem.errors.is_empty())
            .then_some(problem.errors.as_slice()),
        // The `retry_after` member belongs to 429s (docs/http-contract.md#errors); a 503 sends only the header.
        retry_after: problem.retry_after.filter(|_| problem.status == StatusCode::TOO_MANY_REQUESTS),
    };
    let json = serde_json::to_vec(&body).unwrap_or_default();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
    headers.remove(header::CONTENT_LENGTH);
    headers.remove(header::CONTENT_ENCODING);
    if problem.status == StatusCode::UNAUTHORIZED {
        let value = if problem.code == "missing_token" { "Bearer" } else { "Bearer error=\"invalid_token\"" };
        headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(value));
    }
    if let Some(secs) = problem.retry_after {
        headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    *response.status_mut() = problem.status;
    *response.body_mut() = Body::from(json);
    response
}

/// An error status whose body was not written by us (no problem content type).
fn is_bare_error(response: &Response) -> bool {
    let status = response.status();
    (status.is_client_error() || status.is_server_error())
        && response.headers().get(header::CONTENT_TYPE).is_none_or(|ct| ct.as_bytes() != b"application/problem+json")
}
