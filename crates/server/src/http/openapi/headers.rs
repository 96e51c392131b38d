//! The response headers of the OpenAPI document, defined once: the contract modifier
//! (`crate::http::api_doc`) puts them on the responses that carry them.

use serde_json::json;
use utoipa::openapi::header::{Header, HeaderBuilder};
use utoipa::openapi::schema::{ObjectBuilder, Type};

/// Headers every response under `/api/v1` answered with a 2xx carries (docs/http-contract.md#rate-limits).
pub const RATE_LIMITED_ROUTE: [&str; 5] =
    ["RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset", "RateLimit-Policy", "Cache-Control"];

/// Every response carries it (docs/http-contract.md#x-request-id).
pub const REQUEST_ID: &str = "X-Request-Id";

/// The definition of a response header, by name; `None` for a header the document does not describe.
pub fn response_header(name: &str) -> Option<Header> {
    let (description, schema) = match name {
        "X-Request-Id" => (
            "The request id (the client's valid value, or a generated UUID).",
            ObjectBuilder::new().schema_type(Type::String),
        ),
        "ETag" => (
            "Strong entity tag: the task version in quotes.",
            ObjectBuilder::new().schema_type(Type::String).examples([json!("\"3\"")]),
        ),
        "Location" => (
            "The URL of the created task.",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .examples([json!("/api/v1/tasks/01936f3e-7a4b-7c3d-9e2f-1a2b3c4d5e6f")]),
        ),
        "Idempotency-Replayed" => (
            "`true` on a replayed response (docs/http-contract.md#idempotency).",
            ObjectBuilder::new().schema_type(Type::String).enum_values(Some([json!("true")])),
        ),
        "Cache-Control" => (
            "`private, no-cache` on `GET /api/v1/tasks/{id}`; `no-store` on every other `/api/v1` response.",
            ObjectBuilder::new().schema_type(Type::String),
        ),
        "RateLimit-Limit" => (
            "Bucket capacity (the burst). The `RateLimit-*` headers are sent on every response of a rate-limited route, errors included.",
            ObjectBuilder::new().schema_type(Type::Integer),
        ),
        "RateLimit-Remaining" => {
            ("Whole tokens left after this request.", ObjectBuilder::new().schema_type(Type::Integer))
        }
        "RateLimit-Reset" => {
            ("Seconds until the bucket is full again, rounded up.", ObjectBuilder::new().schema_type(Type::Integer))
        }
        "RateLimit-Policy" => (
            "`<burst>;w=<refill seconds>;name=\"<class>\"`.",
            ObjectBuilder::new().schema_type(Type::String).examples([json!("10;w=6;name=\"api\"")]),
        ),
        "Retry-After" => (
            "Whole seconds (at least 1): on 429, until the next token or the end of a login lockout; on 503, when a retry is worth trying (the database probe runs every 500 ms).",
            ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(1)),
        ),
        "WWW-Authenticate" => (
            "`Bearer`, with `error=\"invalid_token\"` except on `missing_token`.",
            ObjectBuilder::new().schema_type(Type::String),
        ),
        _ => return None,
    };
    Some(HeaderBuilder::new().description(Some(description)).schema(schema).build())
}
