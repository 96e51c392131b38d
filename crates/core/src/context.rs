//! What the use cases need to know about the HTTP request that caused them: for audit rows,
//! throttling and token bookkeeping. Built by the server once per request.

/// Request facts recorded in audit rows (docs/authorization.md#audit) and refresh-token rows.
#[derive(Debug, Clone, Default)]
pub struct RequestContext {
    // Plain request facts; the run of optional strings matches store's RefreshToken by shape only
    // (different data).
    pub request_id: String,
    /// The client IP after `TRUSTED_PROXIES` processing (docs/http-contract.md#rate-limits).
    pub client_ip: Option<String>,
    pub user_agent: Option<String>,
    pub method: String,
    pub path: String,
    /// The raw query string; decoded only when an audit row is written.
    pub raw_query: Option<String>,
}

impl RequestContext {
    /// The user agent truncated to the column width (512 characters).
    pub fn user_agent_truncated(&self) -> Option<String> {
        self.user_agent.as_ref().map(|ua| ua.chars().take(512).collect())
    }
}
