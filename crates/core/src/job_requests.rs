//! The input rules of the job endpoints, parsed here with every other request (docs/jobs.md#endpoints): body members of the five enqueue endpoints,
//! the DLQ selections, and the `limit` / `offset` query parameters.
//!
//! Every function returns either the parsed value or a [`RequestError`] naming every failing
//! member. Its [`RequestErrorKind`] follows docs/http-contract.md#request-bodies-and-field-rules / docs/http-contract.md#order-of-checks: a member of the wrong JSON type is
//! `invalid_request`, a well-typed value that breaks a rule is `validation_failed`; when both
//! occur, only the `invalid_request` errors are reported (it is checked first).

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use taskify_cache::Glob;
use uuid::Uuid;

use taskify_domain::FieldError;
use taskify_jobs::{
    DEFAULT_LONG_TTL, DEFAULT_PRIORITY, DEFAULT_TTL, DlqSelection, JobType, NewJob, parse_ttl, validate_key,
};

/// The most keys a batch job takes.
pub const MAX_BATCH_KEYS: usize = 1000;
/// Which 400 code a [`RequestError`] maps to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestErrorKind {
    /// 400 `invalid_request`: a member of the wrong JSON type.
    InvalidRequest,
    /// 400 `validation_failed`: a value that breaks a rule.
    ValidationFailed,
}

/// A rejected request: the code and every failing member.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind:?}: {errors:?}")]
pub struct RequestError {
    /// `invalid_request` or `validation_failed`.
    pub kind: RequestErrorKind,
    /// Every failing member (never empty).
    pub errors: Vec<FieldError>,
}

/// Parses the body of the enqueue endpoint of `kind` (dispatches to [`warmup_request`], …).
pub fn job_request(kind: JobType, body: &Map<String, Value>) -> Result<NewJob, RequestError> {
    match kind {
        JobType::Warmup => warmup_request(body),
        JobType::Scheduled => scheduled_request(body),
        JobType::Batch => batch_request(body),
        JobType::Validation => validation_request(body),
        JobType::Eviction => eviction_request(body),
    }
}

/// `POST /cache/jobs/warmup`: `key` (required), `data` (any JSON, default `null`), `ttl`
/// (default 15 min), `priority` (0..=10, 0 or absent: 5).
pub fn warmup_request(body: &Map<String, Value>) -> Result<NewJob, RequestError> {
    let mut c = Collector::default();
    let key = c.key(body, "key", false);
    let data = data(body, "data");
    let ttl = c.ttl(body, DEFAULT_TTL);
    let priority = c.priority(body);
    c.finish()?;
    Ok(NewJob::warmup(key.unwrap_or_default(), data, ttl.unwrap_or(DEFAULT_TTL), priority.unwrap_or(DEFAULT_PRIORITY)))
}

/// `POST /cache/jobs/scheduled`: like warmup, plus `process_at` (required, RFC 3339 with an
/// offset; a past time means now).
pub fn scheduled_request(body: &Map<String, Value>) -> Result<NewJob, RequestError> {
    let mut c = Collector::default();
    let key = c.key(body, "key", false);
    let data = data(body, "data");
    let ttl = c.ttl(body, DEFAULT_TTL);
    let process_at = c.timestamp(body, "process_at");
    let priority = c.priority(body);
    c.finish()?;
    Ok(NewJob::scheduled(
        key.unwrap_or_default(),
        data,
        ttl.unwrap_or(DEFAULT_TTL),
        process_at.unwrap_or_else(Utc::now),
        priority.unwrap_or(DEFAULT_PRIORITY),
    ))
}

/// `POST /cache/jobs/batch`: `keys` (required array of 0..=1000 keys; `null` is rejected),
/// `data`, `ttl` (default 1 h), `priority`.
pub fn batch_request(body: &Map<String, Value>) -> Result<NewJob, RequestError> {
    let mut c = Collector::default();
    let keys = c.keys(body, "keys");
    let data = data(body, "data");
    let ttl = c.ttl(body, DEFAULT_LONG_TTL);
    let priority = c.priority(body);
    c.finish()?;
    Ok(NewJob::batch(
        keys.unwrap_or_default(),
        data,
        ttl.unwrap_or(DEFAULT_LONG_TTL),
        priority.unwrap_or(DEFAULT_PRIORITY),
    ))
}

/// `POST /cache/jobs/validation`: `key`, `expected_data` (required: any JSON, `null` included,
/// but the member must be present), `ttl` (used when re-warming; default 1 h), `priority`.
pub fn validation_request(body: &Map<String, Value>) -> Result<NewJob, RequestError> {
    let mut c = Collector::default();
    let key = c.key(body, "key", false);
    let expected = body.get("expected_data").cloned();
    if expected.is_none() {
        c.failed("expected_data", "is required");
    }
    let ttl = c.ttl(body, DEFAULT_LONG_TTL);
    let priority = c.priority(body);
    c.finish()?;
    Ok(NewJob::validation(
        key.unwrap_or_default(),
        expected.unwrap_or(Value::Null),
        ttl.unwrap_or(DEFAULT_LONG_TTL),
        priority.unwrap_or(DEFAULT_PRIORITY),
    ))
}

/// `POST /cache/jobs/eviction`: exactly one of `key` (any key, reserved prefixes included) or
/// `pattern` (a valid glob); `priority`. A `null` member counts as absent.
pub fn eviction_request(body: &Map<String, Value>) -> Result<NewJob, RequestError> {
    let mut c = Collector::default();
    let has_key = present(body, "key");
    let has_pattern = present(body, "pattern");
    let priority = c.priority(body);
    let job = match (has_key, has_pattern) {
        (true, true) => {
            c.failed("pattern", "exactly one of key or pattern must be given");
            None
        }
        (false, false) => {
            c.failed("key", "exactly one of key or pattern must be given");
            None
        }
        (true, false) => c.key(body, "key", true).map(|k| NewJob::evict_key(k, DEFAULT_PRIORITY)),
        (false, true) => {
            let pattern = c.key(body, "pattern", true);
            if let Some(p) = &pattern
                && let Err(e) = Glob::new(p)
            {
                c.failed("pattern", format!("must be a valid glob pattern: {e}"));
            }
            pattern.map(|p| NewJob::evict_pattern(p, DEFAULT_PRIORITY))
        }
    };
    c.finish()?;
    let mut job = job.unwrap_or_else(|| NewJob::evict_key(String::new(), DEFAULT_PRIORITY));
    job.priority = priority.unwrap_or(DEFAULT_PRIORITY);
    Ok(job)
}

/// `POST /cache/jobs/dlq/retry`: exactly one of `{"job_ids":[uuid…]}` or `{"all":true}`.
/// `{"all":false}`, both members, neither member, or a malformed id answer 400.
pub fn dlq_retry_request(body: &Map<String, Value>) -> Result<DlqSelection, RequestError> {
    let mut c = Collector::default();
    let selection = match (present(body, "job_ids"), present(body, "all")) {
        (true, true) | (false, false) => {
            c.failed("job_ids", "exactly one of job_ids or all must be given");
            None
        }
        (false, true) => match body.get("all") {
            Some(Value::Bool(true)) => Some(DlqSelection::All),
            Some(Value::Bool(false)) => {
                c.failed("all", "must be true");
                None
            }
            _ => {
                c.invalid("all", "must be a boolean");
                None
            }
        },
        (true, false) => match body.get("job_ids") {
            Some(Value::Array(items)) => {
                let mut ids = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    match item {
                        Value::String(s) => match Uuid::parse_str(s) {
                            Ok(id) => ids.push(id),
                            Err(_) => c.failed(format!("job_ids[{i}]"), "must be a UUID"),
                        },
                        _ => c.invalid(format!("job_ids[{i}]"), "must be a string"),
                    }
                }
                Some(DlqSelection::Ids(dedup(ids)))
            }
            _ => {
                c.invalid("job_ids", "must be an array of UUIDs");
                None
            }
        },
    };
    c.finish()?;
    Ok(selection.unwrap_or(DlqSelection::Ids(Vec::new())))
}

/// `DELETE /cache/jobs/dlq`: exactly one of `?job_id=<uuid>` or `?all=true` (raw query values).
pub fn dlq_purge_request(job_id: Option<&str>, all: Option<&str>) -> Result<DlqSelection, RequestError> {
    let fail = |field: &str, message: &str| RequestError {
        kind: RequestErrorKind::ValidationFailed,
        errors: vec![FieldError::new(field, message)],
    };
    match (job_id, all) {
        (Some(_), Some(_)) | (None, None) => Err(fail("job_id", "exactly one of job_id or all must be given")),
        (None, Some("true")) => Ok(DlqSelection::All),
        (None, Some(_)) => Err(fail("all", "must be true")),
        (Some(id), None) => {
            Uuid::parse_str(id).map(|id| DlqSelection::Ids(vec![id])).map_err(|_| fail("job_id", "must be a UUID"))
        }
    }
}

/// A `limit` query parameter: an integer in 1..=`max`, `default` when absent. Anything else,
/// an empty value included, is 400 `validation_failed`. (Jobs list: default 20, max 200; DLQ:
/// default 50, max 500.)
pub fn parse_limit(raw: Option<&str>, default: usize, max: usize) -> Result<usize, RequestError> {
    match raw {
        None => Ok(default),
        Some(text) => match text.parse::<usize>() {
            Ok(n) if (1..=max).contains(&n) => Ok(n),
            _ => Err(RequestError {
                kind: RequestErrorKind::ValidationFailed,
                errors: vec![FieldError::new("limit", format!("must be an integer between 1 and {max}"))],
            }),
        },
    }
}

/// An `offset` query parameter: an integer ≥ 0, 0 when absent.
pub fn parse_offset(raw: Option<&str>) -> Result<usize, RequestError> {
    match raw {
        None => Ok(0),
        Some(text) => text.parse::<usize>().map_err(|_| RequestError {
            kind: RequestErrorKind::ValidationFailed,
            errors: vec![FieldError::new("offset", "must be an integer greater than or equal to 0")],
        }),
    }
}

fn dedup(ids: Vec<Uuid>) -> Vec<Uuid> {
    let mut seen = std::collections::HashSet::new();
    ids.into_iter().filter(|id| seen.insert(*id)).collect()
}

/// Whether a member is present and not `null`.
fn present(body: &Map<String, Value>, name: &str) -> bool {
    body.get(name).is_some_and(|v| !v.is_null())
}

fn data(body: &Map<String, Value>, name: &str) -> Value {
    body.get(name).cloned().unwrap_or(Value::Null)
}

/// Collects the errors of one body, split by kind.
#[derive(Default)]
struct Collector {
    invalid: Vec<FieldError>,
    failed: Vec<FieldError>,
}

impl Collector {
    fn invalid(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.invalid.push(FieldError::new(field, message));
    }

    fn failed(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.failed.push(FieldError::new(field, message));
    }

    fn finish(self) -> Result<(), RequestError> {
        if !self.invalid.is_empty() {
            Err(RequestError { kind: RequestErrorKind::InvalidRequest, errors: self.invalid })
        } else if !self.failed.is_empty() {
            Err(RequestError { kind: RequestErrorKind::ValidationFailed, errors: self.failed })
        } else {
            Ok(())
        }
    }

    /// A required key member.
    fn key(&mut self, body: &Map<String, Value>, name: &str, allow_reserved: bool) -> Option<String> {
        match body.get(name) {
            None | Some(Value::Null) => {
                self.failed(name, "is required");
                None
            }
            Some(Value::String(s)) => match validate_key(s, allow_reserved) {
                Ok(()) => Some(s.clone()),
                Err(m) => {
                    self.failed(name, m);
                    None
                }
            },
            Some(_) => {
                self.invalid(name, "must be a string");
                None
            }
        }
    }

    /// The required `keys` array of a batch.
    fn keys(&mut self, body: &Map<String, Value>, name: &str) -> Option<Vec<String>> {
        let items = match body.get(name) {
            None | Some(Value::Null) => {
                self.failed(name, "is required");
                return None;
            }
            Some(Value::Array(items)) => items,
            Some(_) => {
                self.invalid(name, "must be an array of strings");
                return None;
            }
        };
        if items.len() > MAX_BATCH_KEYS {
            self.failed(name, format!("must contain at most {MAX_BATCH_KEYS} keys"));
            return None;
        }
        let mut keys = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            match item {
                Value::String(s) => match validate_key(s, false) {
                    Ok(()) => keys.push(s.clone()),
                    Err(m) => self.failed(format!("{name}[{i}]"), m),
                },
                _ => self.invalid(format!("{name}[{i}]"), "must be a string"),
            }
        }
        Some(keys)
    }

    fn ttl(&mut self, body: &Map<String, Value>, default: std::time::Duration) -> Option<std::time::Duration> {
        let value = body.get("ttl");
        if matches!(value, Some(Value::Bool(_) | Value::Array(_) | Value::Object(_))) {
            self.invalid("ttl", "must be an integer number of nanoseconds or a duration string");
            return None;
        }
        match parse_ttl(value, default) {
            Ok(ttl) => Some(ttl),
            Err(m) => {
                self.failed("ttl", m);
                None
            }
        }
    }

    /// `priority`: an integer 0..=10; 0, `null` or absent mean 5.
    fn priority(&mut self, body: &Map<String, Value>) -> Option<u8> {
        match body.get("priority") {
            None | Some(Value::Null) => Some(DEFAULT_PRIORITY),
            Some(Value::Number(n)) => match n.as_u64() {
                Some(0) => Some(DEFAULT_PRIORITY),
                Some(p @ 1..=10) => Some(p as u8),
                _ => {
                    self.failed("priority", "must be an integer between 0 and 10");
                    None
                }
            },
            Some(_) => {
                self.invalid("priority", "must be an integer");
                None
            }
        }
    }

    fn timestamp(&mut self, body: &Map<String, Value>, name: &str) -> Option<DateTime<Utc>> {
        match body.get(name) {
            None | Some(Value::Null) => {
                self.failed(name, "is required");
                None
            }
            Some(Value::String(s)) => match DateTime::parse_from_rfc3339(s) {
                Ok(t) => Some(t.with_timezone(&Utc)),
                Err(_) => {
                    self.failed(name, "must be an RFC 3339 date-time with an offset");
                    None
                }
            },
            Some(_) => {
                self.invalid(name, "must be a string");
                None
            }
        }
    }
}
