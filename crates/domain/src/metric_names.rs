//! The one table of metric names (docs/operations.md#metrics): every crate that records a metric
//! uses the constant of this module, and the server describes every metric from [`ALL`]. The table
//! of docs/operations.md lists the same names, kinds and labels (a test of this crate compares
//! them), and the Grafana dashboard is checked against that table.
//!
//! A metric is never renamed: dashboards and alerts in operators' hands name it.

/// How a metric is exposed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricKind {
    Counter,
    Gauge,
    /// Always in seconds, with the buckets of docs/operations.md#metrics.
    Histogram,
}

impl MetricKind {
    /// The word docs/operations.md uses.
    pub fn as_str(self) -> &'static str {
        match self {
            MetricKind::Counter => "counter",
            MetricKind::Gauge => "gauge",
            MetricKind::Histogram => "histogram",
        }
    }
}

/// One row of the table.
#[derive(Debug, Clone, Copy)]
pub struct Metric {
    pub name: &'static str,
    pub kind: MetricKind,
    /// The `# HELP` text.
    pub help: &'static str,
    /// The label names every series of the metric carries (bounded values, docs/operations.md#metrics).
    pub labels: &'static [&'static str],
}

/// Declares one constant per metric and [`ALL`], so that a name is spelled exactly once.
macro_rules! metric_table {
    ($($(#[$doc:meta])* $constant:ident = $name:literal, $kind:ident, [$($label:literal),*], $help:literal;)*) => {
        $(
            $(#[$doc])*
            pub const $constant: &str = $name;
        )*

        /// Every metric Taskify exposes, in the order of docs/operations.md#metrics.
        pub const ALL: &[Metric] = &[
            $(Metric { name: $constant, kind: MetricKind::$kind, help: $help, labels: &[$($label),*] },)*
        ];
    };
}

// One row per metric (constant = name, kind, labels, help). The rows repeat one shape on purpose:
// this is the table, and the macro keeps each name to one spelling.
metric_table! {
    HTTP_REQUESTS_TOTAL = "http_requests_total", Counter, ["method", "route", "status"],
        "HTTP requests by method, route template and status.";
    HTTP_REQUEST_DURATION_SECONDS = "http_request_duration_seconds", Histogram, ["method", "route"],
        "HTTP request latency by method and route template.";
    HTTP_REQUESTS_IN_FLIGHT = "http_requests_in_flight", Gauge, [],
        "HTTP requests being served.";
    HTTP_CONNECTION_TIMEOUTS_TOTAL = "http_connection_timeouts_total", Counter, ["kind"],
        "Connections closed by READ_TIMEOUT, WRITE_TIMEOUT or IDLE_TIMEOUT, by kind.";
    CACHE_OPERATIONS_TOTAL = "cache_operations_total", Counter, ["level", "op", "result"],
        "Cache operations by level, operation and result.";
    /// Overall result of a cache read.
    CACHE_HITS_TOTAL = "cache_hits_total", Counter, [],
        "Cache reads answered by L1 or L2.";
    /// Overall result of a cache read.
    CACHE_MISSES_TOTAL = "cache_misses_total", Counter, [],
        "Cache reads that found nothing.";
    CACHE_L1_ENTRIES = "cache_l1_entries", Gauge, [],
        "Entries in the in-process cache.";
    CACHE_INVALIDATIONS_PUBLISHED_TOTAL = "cache_invalidations_published_total", Counter, [],
        "Invalidation messages published to other instances.";
    CACHE_INVALIDATIONS_RECEIVED_TOTAL = "cache_invalidations_received_total", Counter, [],
        "Invalidation messages received from other instances.";
    CACHE_PENDING_INVALIDATIONS = "cache_pending_invalidations", Gauge, [],
        "L2 writes and invalidations waiting for Redis.";
    /// 0 closed, 1 half-open, 2 open.
    CIRCUIT_BREAKER_STATE = "circuit_breaker_state", Gauge, ["name"],
        "Circuit breaker state: 0 closed, 1 half-open, 2 open.";
    CIRCUIT_BREAKER_TRANSITIONS_TOTAL = "circuit_breaker_transitions_total", Counter, ["name", "from", "to"],
        "Circuit breaker state changes.";
    /// 0 when Redis is disabled or unreachable.
    REDIS_UP = "redis_up", Gauge, [],
        "1 when the last Redis call succeeded.";
    CACHE_JOBS_ENQUEUED_TOTAL = "cache_jobs_enqueued_total", Counter, ["type", "queue"],
        "Cache-warming jobs enqueued by type and queue.";
    /// Successful executions.
    CACHE_JOBS_PROCESSED_TOTAL = "cache_jobs_processed_total", Counter, ["type", "queue"],
        "Cache-warming jobs completed by type and queue.";
    // Rows of the metric table share one shape by design (name, kind, labels, help; see the module
    // doc).
    /// Failed executions (each attempt).
    CACHE_JOBS_FAILED_TOTAL = "cache_jobs_failed_total", Counter, ["type", "queue"],
        "Failed cache-warming job attempts by type and queue.";
    /// Failed jobs re-queued for another attempt.
    CACHE_JOBS_RETRIED_TOTAL = "cache_jobs_retried_total", Counter, ["type"],
        "Cache-warming jobs scheduled for another try.";
    /// Jobs moved to a DLQ (failures and expired leases).
    CACHE_JOBS_DEAD_LETTERED_TOTAL = "cache_jobs_dead_lettered_total", Counter, ["type"],
        "Cache-warming jobs moved to the dead-letter queue.";
    /// Leases found expired by this instance's reaper.
    CACHE_JOBS_LEASE_EXPIRED_TOTAL = "cache_jobs_lease_expired_total", Counter, [],
        "Job leases that expired and were reaped.";
    CACHE_JOBS_QUEUE_SIZE = "cache_jobs_queue_size", Gauge, ["queue"],
        "Jobs waiting per queue.";
    CACHE_JOB_DURATION_SECONDS = "cache_job_duration_seconds", Histogram, ["type"],
        "Cache-warming job execution time by type.";
    RATE_LIMIT_DECISIONS_TOTAL = "rate_limit_decisions_total", Counter, ["class", "decision"],
        "Rate-limit decisions by class.";
    RATE_LIMIT_FALLBACK_ACTIVE = "rate_limit_fallback_active", Gauge, [],
        "1 while per-instance rate-limit buckets are in use.";
    DB_POOL_CONNECTIONS = "db_pool_connections", Gauge, ["state"],
        "Database pool connections by state.";
    DB_POOL_MAX_CONNECTIONS = "db_pool_max_connections", Gauge, [],
        "Database pool size limit.";
    DB_POOL_ACQUIRE_DURATION_SECONDS = "db_pool_acquire_duration_seconds", Histogram, [],
        "Time to take a connection from the pool (sampled by the health check).";
    DB_ERRORS_TOTAL = "db_errors_total", Counter, ["kind"],
        "Database errors by kind.";
    AUTHZ_DECISIONS_TOTAL = "authz_decisions_total", Counter, ["action", "decision"],
        "Authorization decisions by action and decision.";
    AUTHZ_EVALUATION_DURATION_SECONDS = "authz_evaluation_duration_seconds", Histogram, [],
        "Policy evaluation time per decision.";
    AUDIT_QUEUE_DEPTH = "audit_queue_depth", Gauge, [],
        "Audit rows waiting to be written.";
    /// Each row once, sanitised ones included.
    AUDIT_ROWS_WRITTEN_TOTAL = "audit_rows_written_total", Counter, [],
        "Audit rows written.";
    /// Failed audit INSERTs: retried ones and refused ones.
    AUDIT_WRITE_ERRORS_TOTAL = "audit_write_errors_total", Counter, [],
        "Failed audit writes: retried, or refused and isolated.";
    // Same row shape as every metric of this table (see the module doc).
    /// Rows the database refused, stored in their sanitised form instead.
    AUDIT_ROWS_SANITIZED_TOTAL = "audit_rows_sanitized_total", Counter, [],
        "Audit rows the database refused, stored sanitised (context.sanitized).";
    AUTH_LOGINS_TOTAL = "auth_logins_total", Counter, ["result"],
        "Logins by result.";
    AUTH_TOKEN_REFRESH_TOTAL = "auth_token_refresh_total", Counter, ["result"],
        "Refresh-token rotations by result.";
    AUTH_LOGOUTS_TOTAL = "auth_logouts_total", Counter, [],
        "Logouts.";
    AUTH_LOCKOUTS_TOTAL = "auth_lockouts_total", Counter, ["kind"],
        "Login lockouts by kind.";
    /// Always 1; the labels say what runs.
    EVENTS_STREAMS_OPEN = "events_streams_open", Gauge, [],
        "Live-update streams open on this instance.";
    EVENTS_SENT_TOTAL = "events_sent_total", Counter, ["type"],
        "Live-update events sent to subscribers, by type.";
    EVENTS_DROPPED_TOTAL = "events_dropped_total", Counter, ["reason"],
        "Live-update events lost: lagged subscribers (resynced) or Redis unavailable at publish.";
    TASKIFY_BUILD_INFO = "taskify_build_info", Gauge, ["version", "db_backend", "redis"],
        "Build information (always 1).";
    TASKIFY_UPTIME_SECONDS = "taskify_uptime_seconds", Gauge, [],
        "Seconds since the instance started.";
    /// Shows that a cached read touches no database.
    TASKIFY_DB_OPERATIONS_TOTAL = "taskify_db_operations_total", Counter, [],
        "Store operations started (each one or more SQL statements).";
}

/// The row of `name`, if Taskify exposes such a metric.
pub fn find(name: &str) -> Option<&'static Metric> {
    ALL.iter().find(|metric| metric.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_follow_the_prometheus_conventions() {
        let mut names: Vec<&str> = ALL.iter().map(|metric| metric.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ALL.len(), "a name is listed twice");
        for metric in ALL {
            let name = metric.name;
            assert!(name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'), "{name}");
            assert_eq!(metric.kind == MetricKind::Counter, name.ends_with("_total"), "{name}: counters end in _total");
            if metric.kind == MetricKind::Histogram {
                assert!(name.ends_with("_seconds"), "{name}: histograms are in seconds");
            }
            assert!(!metric.help.is_empty(), "{name} has a help text");
        }
    }

    #[test]
    fn find_returns_the_row_of_a_name() {
        assert_eq!(find(HTTP_REQUESTS_TOTAL).map(|metric| metric.labels), Some(&["method", "route", "status"][..]));
        assert!(find("http_requests").is_none());
    }
}
