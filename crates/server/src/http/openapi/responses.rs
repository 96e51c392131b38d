//! The responses many operations share (`components.responses`): problems raised by the layers
//! in front of every handler (docs/http-contract.md#errors).

use super::headers::response_header;
use std::collections::BTreeMap;
use utoipa::openapi::Ref;
use utoipa::openapi::RefOr;
use utoipa::openapi::content::ContentBuilder;
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::schema::RefBuilder;
use utoipa::{IntoResponses, ToResponse};

/// A problem+json response with the named headers (besides `X-Request-Id`, which every response gets).
fn problem(description: &str, headers: &[&str]) -> RefOr<Response> {
    let content =
        ContentBuilder::new().schema(Some(RefBuilder::new().ref_location_from_schema_name("Problem"))).build();
    let mut response = ResponseBuilder::new().description(description).content("application/problem+json", content);
    for name in headers {
        if let Some(header) = response_header(name) {
            response = response.header(*name, header);
        }
    }
    response.build().into()
}

/// missing_token`, `invalid_token_format`, `invalid_token`, `expired_token`, `invalid_issuer` or `invalid_claims` (docs/authentication.md#access-tokens)..
pub struct Unauthorized;

impl<'r> ToResponse<'r> for Unauthorized {
    fn response() -> (&'r str, RefOr<Response>) {
        (
            "Unauthorized",
            problem(
                "`missing_token`, `invalid_token_format`, `invalid_token`, `expired_token`, `invalid_issuer` or `invalid_claims` (docs/authentication.md#access-tokens).",
                &["WWW-Authenticate"],
            ),
        )
    }
}

// One ToResponse per shared error response, same shape as the others in this file: each names its own code and status.
/// payload_too_large.
pub struct PayloadTooLarge;

impl<'r> ToResponse<'r> for PayloadTooLarge {
    fn response() -> (&'r str, RefOr<Response>) {
        ("PayloadTooLarge", problem("`payload_too_large`: the body exceeds `BODY_LIMIT_BYTES`.", &[]))
    }
}

/// unsupported_media_type.
pub struct UnsupportedMediaType;

impl<'r> ToResponse<'r> for UnsupportedMediaType {
    fn response() -> (&'r str, RefOr<Response>) {
        (
            "UnsupportedMediaType",
            problem(
                "`unsupported_media_type`: `Content-Type` is not JSON, or `Content-Encoding` is not `identity`.",
                &[],
            ),
        )
    }
}

/// rate_limited.
pub struct RateLimited;

impl<'r> ToResponse<'r> for RateLimited {
    fn response() -> (&'r str, RefOr<Response>) {
        (
            "RateLimited",
            problem(
                "`rate_limited`: the rate limit of this route's class is exhausted. Carries `retry_after`.",
                &["RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset", "RateLimit-Policy", "Retry-After"],
            ),
        )
    }
}

// Same ToResponse shape as PayloadTooLarge above: each names its own code and status.
/// internal_error.
pub struct InternalError;

impl<'r> ToResponse<'r> for InternalError {
    fn response() -> (&'r str, RefOr<Response>) {
        ("InternalError", problem("`internal_error`: an unexpected fault, including a panic.", &[]))
    }
}

/// database_unavailable.
pub struct ServiceUnavailable;

impl<'r> ToResponse<'r> for ServiceUnavailable {
    fn response() -> (&'r str, RefOr<Response>) {
        (
            "ServiceUnavailable",
            problem(
                "`database_unavailable`: the database cannot be reached; while it is known to be down every request that needs it answers this at once, with `Retry-After`. `service_unavailable`: another dependency is saturated (the password-hashing slots, the audit buffer), with `Retry-After`. `request_timeout`: `REQUEST_TIMEOUT` exceeded.",
                &["Retry-After"],
            ),
        )
    }
}

/// service_unavailable.
pub struct JobQueueUnavailable;

impl<'r> ToResponse<'r> for JobQueueUnavailable {
    fn response() -> (&'r str, RefOr<Response>) {
        (
            "JobQueueUnavailable",
            problem(
                "`service_unavailable`: the local job queue is at capacity (`JOB_LOCAL_QUEUE_CAPACITY`) while Redis is unavailable, so nothing was enqueued. `database_unavailable`: the database is unreachable (with `Retry-After`). `request_timeout`: `REQUEST_TIMEOUT` exceeded.",
                &["Retry-After"],
            ),
        )
    }
}

/// A reference to a shared response.
fn reference<'r, T: ToResponse<'r>>() -> RefOr<Response> {
    RefOr::Ref(Ref::from_response_name(T::response().0))
}

/// What the layers in front of every `/api/v1` handler can answer, with `unavailable` as the 503.
fn layer_failures(unavailable: RefOr<Response>) -> BTreeMap<String, RefOr<Response>> {
    BTreeMap::from([
        ("413".to_owned(), reference::<PayloadTooLarge>()),
        ("415".to_owned(), reference::<UnsupportedMediaType>()),
        ("429".to_owned(), reference::<RateLimited>()),
        ("500".to_owned(), reference::<InternalError>()),
        ("503".to_owned(), unavailable),
    ])
}

/// What the layers in front of a public `/api/v1` handler (no token) can answer.
pub struct PublicFailures;

impl IntoResponses for PublicFailures {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        layer_failures(reference::<ServiceUnavailable>())
    }
}

/// What the layers in front of an authenticated `/api/v1` handler can answer: token problems,
/// body size and type, the rate limit, a fault, an unavailable dependency.
pub struct AuthenticatedFailures;

impl IntoResponses for AuthenticatedFailures {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        let mut responses = layer_failures(reference::<ServiceUnavailable>());
        responses.insert("401".to_owned(), reference::<Unauthorized>());
        responses
    }
}

/// As `AuthenticatedFailures`, for the job enqueue routes, whose 503 also covers a full local queue.
pub struct JobFailures;

impl IntoResponses for JobFailures {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        let mut responses = layer_failures(reference::<JobQueueUnavailable>());
        responses.insert("401".to_owned(), reference::<Unauthorized>());
        responses
    }
}
