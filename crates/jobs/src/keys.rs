//! Cache keys and dead-letter selections as the job system takes them: the key rules every job
//! and job request obeys, and which DLQ entries a retry or purge applies to.

use uuid::Uuid;

/// The longest key, in Unicode scalar values.
pub const MAX_KEY_CHARS: usize = 512;
/// The application prefixes that warmup, batch, scheduled and validation jobs must not target.
pub const RESERVED_PREFIXES: [&str; 5] = ["task:", "tasks_paginated:", "principal:", "user:", "revoked:"];
/// The message of a key under a reserved prefix.
pub const RESERVED_PREFIX_MESSAGE: &str = "key uses a reserved prefix";

/// What a DLQ retry or purge applies to (docs/jobs.md#endpoints).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DlqSelection {
    /// Every entry (`{"all":true}`, `?all=true`).
    All,
    /// The entries with these ids (`{"job_ids":[…]}`, `?job_id=`); duplicates are ignored.
    Ids(Vec<Uuid>),
}

/// Checks a cache key: 1..=512 characters, no whitespace, no control characters, and, unless
/// `allow_reserved`, none of the [`RESERVED_PREFIXES`] (`key uses a reserved prefix`).
pub fn validate_key(key: &str, allow_reserved: bool) -> Result<(), String> {
    let chars = key.chars().count();
    if chars == 0 || chars > MAX_KEY_CHARS {
        return Err(format!("must be between 1 and {MAX_KEY_CHARS} characters"));
    }
    if key.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("must not contain whitespace or control characters".to_owned());
    }
    if !allow_reserved && RESERVED_PREFIXES.iter().any(|p| key.starts_with(p)) {
        return Err(RESERVED_PREFIX_MESSAGE.to_owned());
    }
    Ok(())
}
