//! X-Request-Id (docs/http-contract.md#x-request-id): a valid incoming id is kept, anything else is replaced by a UUID;
//! every response carries it.

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use std::sync::Arc;
use uuid::Uuid;

pub static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The request's id, in the request extensions (shared: several layers keep a copy).
#[derive(Debug, Clone)]
pub struct RequestId(pub Arc<str>);

/// 1–128 characters from `[A-Za-z0-9._:-]`.
fn is_valid(id: &str) -> bool {
    (1..=128).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b"._:-".contains(&b))
}

/// Assigns the id before anything else runs and echoes it on the response.
pub async fn assign_request_id(mut request: Request, next: Next) -> Response {
    let id =
        request.headers().get(&X_REQUEST_ID).and_then(|v| v.to_str().ok()).filter(|v| is_valid(v)).map_or_else(
            || Arc::from(&*Uuid::new_v4().hyphenated().encode_lower(&mut Uuid::encode_buffer())),
            Arc::from,
        );
    // One allocation, shared by every layer that keeps the id.
    request.extensions_mut().insert(RequestId(Arc::clone(&id)));
    let mut response = next.run(request).await;
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(X_REQUEST_ID.clone(), value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::is_valid;

    #[test]
    fn ids_are_validated() {
        assert!(is_valid("abc-123"));
        assert!(!is_valid("bad id!"));
        assert!(!is_valid(&"a".repeat(129)));
        assert!(!is_valid(""));
    }
}
