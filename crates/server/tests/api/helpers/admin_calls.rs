//! Client methods of the cache administration and job endpoints (docs/cache.md, docs/jobs.md).

use super::*;

impl ApiClient {
    pub async fn cache_stats(&self, token: &str) -> Response {
        send(self.authed(Method::GET, "/api/v1/cache/stats", token)).await
    }

    pub async fn cache_health(&self, token: &str) -> Response {
        send(self.authed(Method::GET, "/api/v1/cache/health", token)).await
    }

    pub async fn cache_clear(&self, token: &str) -> Response {
        send(self.authed(Method::DELETE, "/api/v1/cache/clear", token)).await
    }

    pub async fn cache_warm(&self, token: &str) -> Response {
        send(self.authed(Method::POST, "/api/v1/cache/warm", token)).await
    }

    /// `DELETE /cache/jobs/evict/{key}`, with `key` percent-encoded as one path segment.
    pub async fn cache_evict(&self, token: &str, key: &str) -> Response {
        let path = format!("/api/v1/cache/jobs/evict/{}", percent_encode_segment(key));
        send(self.authed(Method::DELETE, &path, token)).await
    }

    /// The `GET /cache/stats` body of an administrator, expecting 200.
    pub async fn cache_stats_body(&self, admin_token: &str) -> Value {
        json_body(self.cache_stats(admin_token).await, StatusCode::OK).await
    }

    /// The `GET /health` body, expecting 200.
    pub async fn health_body(&self) -> Value {
        json_body(self.get("/health").await, StatusCode::OK).await
    }
}

/// Percent-encodes everything but the unreserved characters of RFC 3986 and `:`.
pub fn percent_encode_segment(text: &str) -> String {
    let mut encoded = String::new();
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~:".contains(&byte) {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

// ---------------------------------------------------------------------------------------------
// Cache-warming jobs (docs/jobs.md#endpoints)
// ---------------------------------------------------------------------------------------------

impl ApiClient {
    /// `POST /cache/jobs/{kind}` (`warmup`, `batch`, `scheduled`, `validation` or `eviction`).
    pub async fn enqueue_job(&self, token: &str, kind: &str, body: &Value) -> Response {
        self.authed_json(Method::POST, &format!("/api/v1/cache/jobs/{kind}"), token, body).await
    }

    /// `GET /cache/jobs?query`: the queue inspection.
    pub async fn cache_jobs(&self, token: &str, query: Query<'_>) -> Response {
        self.get_with(token, "/api/v1/cache/jobs", query).await
    }

    /// `GET /cache/jobs/dlq?query`.
    pub async fn dlq(&self, token: &str, query: Query<'_>) -> Response {
        self.get_with(token, "/api/v1/cache/jobs/dlq", query).await
    }

    /// `POST /cache/jobs/dlq/retry` with `body`.
    pub async fn dlq_retry(&self, token: &str, body: &Value) -> Response {
        self.authed_json(Method::POST, "/api/v1/cache/jobs/dlq/retry", token, body).await
    }

    /// `DELETE /cache/jobs/dlq?query`.
    pub async fn dlq_purge(&self, token: &str, query: Query<'_>) -> Response {
        send(self.client.delete(self.url("/api/v1/cache/jobs/dlq", query)).bearer_auth(token)).await
    }

    /// Enqueues a job of `kind`, expecting 202, and returns the body.
    pub async fn enqueued_job(&self, admin_token: &str, kind: &str, body: &Value) -> Value {
        json_body(self.enqueue_job(admin_token, kind, body).await, StatusCode::ACCEPTED).await
    }

    /// The `GET /cache/jobs` body for `query`, expecting 200.
    pub async fn cache_jobs_body(&self, admin_token: &str, query: Query<'_>) -> Value {
        json_body(self.cache_jobs(admin_token, query).await, StatusCode::OK).await
    }

    /// The `GET /cache/jobs/dlq` body for `query`, expecting 200.
    pub async fn dlq_body(&self, admin_token: &str, query: Query<'_>) -> Value {
        json_body(self.dlq(admin_token, query).await, StatusCode::OK).await
    }
}
