//! Response helpers: JSON with the documented media type, and canonical JSON for fingerprints.

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::Value;
use taskify_domain::Paged;

/// `application/json; charset=utf-8` with `status`.
pub fn json<T: Serialize>(status: StatusCode, value: &T) -> Response {
    match serde_json::to_vec(value) {
        Ok(bytes) => raw_json(status, bytes),
        Err(e) => {
            tracing::error!(error = %e, "response serialisation failed");
            super::problem::Problem::new(StatusCode::INTERNAL_SERVER_ERROR, "internal_error", "internal server error")
                .into_response()
        }
    }
}

/// 200 with the list body of docs/http-contract.md#pagination: the items under `items_key`,
/// the totals, and `total_capped: true` when the count stopped at its cap.
pub fn page_json<T: Serialize>(items_key: &str, page: &Paged<T>) -> Response {
    let mut body = serde_json::json!({ items_key: page.items, "total": page.total, "page": page.page,
                                       "page_size": page.page_size, "total_pages": page.total_pages() });
    if page.total_capped {
        body["total_capped"] = Value::Bool(true);
    }
    json(StatusCode::OK, &body)
}

/// A JSON body that is already serialised.
pub fn raw_json(status: StatusCode, bytes: Vec<u8>) -> Response {
    let mut response = Response::new(Body::from(bytes));
    *response.status_mut() = status;
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json; charset=utf-8"));
    response
}

/// 204 with no body.
pub fn no_content() -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::NO_CONTENT;
    response
}

/// Serialises with object keys sorted at every level and no insignificant whitespace: the
/// canonical form whose SHA-256 is the idempotency fingerprint (docs/http-contract.md#idempotency).
pub fn canonical_json(value: &Value) -> String {
    fn write(value: &Value, out: &mut String) {
        match value {
            Value::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                out.push('{');
                for (i, key) in keys.into_iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&Value::String(key.clone()).to_string());
                    out.push(':');
                    write(&map[key], out);
                }
                out.push('}');
            }
            Value::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write(item, out);
                }
                out.push(']');
            }
            scalar => out.push_str(&scalar.to_string()),
        }
    }
    let mut out = String::new();
    write(value, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::canonical_json;
    use serde_json::json;

    #[test]
    fn canonical_json_sorts_keys_recursively() {
        assert_eq!(
            canonical_json(&json!({"b": 1, "a": {"d": [2, {"z": 0, "y": 1}], "c": null}})),
            r#"{"a":{"c":null,"d":[2,{"y":1,"z":0}]},"b":1}"#
        );
    }
}
