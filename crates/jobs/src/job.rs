//! The job document (docs/jobs.md#job-document) and the description of a job to enqueue.

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::duration::format_ttl;

/// The priority of a job when the request gives none (or 0).
pub const DEFAULT_PRIORITY: u8 = 5;
/// The most urgent priority.
pub const MOST_URGENT: u8 = 1;
/// The least urgent priority.
pub const LEAST_URGENT: u8 = 10;
/// The factor of the priority in a ready score: `priority × 10^13 + ready_at_ms` (docs/jobs.md#redis-structures).
pub const PRIORITY_FACTOR: i64 = 10_000_000_000_000;

/// Which queue a job was routed to: the `queue` of the 202 bodies and of the metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Queue {
    /// This instance's in-process queue.
    Local,
    /// The shared Redis queue.
    Redis,
}

impl Queue {
    /// `local` or `redis`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Local => "local",
            Self::Redis => "redis",
        }
    }
}

/// The five job types and their wire names (docs/jobs.md#job-document).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum JobType {
    /// `cache_warmup`: write `data` under `key` with `ttl`.
    #[serde(rename = "cache_warmup")]
    Warmup,
    /// `cache_scheduled`: a warmup that runs not before `process_at`.
    #[serde(rename = "cache_scheduled")]
    Scheduled,
    /// `cache_batch`: write `data` under every key of `keys`.
    #[serde(rename = "cache_batch")]
    Batch,
    /// `cache_validation`: compare `key` with `expected_data`, enqueue a correcting warmup.
    #[serde(rename = "cache_validation")]
    Validation,
    /// `cache_eviction`: evict `key`, or every key matching the glob `pattern`.
    #[serde(rename = "cache_eviction")]
    Eviction,
}

impl JobType {
    /// Every type, in the order of docs/jobs.md#job-document.
    pub const ALL: [JobType; 5] = [Self::Warmup, Self::Scheduled, Self::Batch, Self::Validation, Self::Eviction];

    /// The wire name (`cache_warmup`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Warmup => "cache_warmup",
            Self::Scheduled => "cache_scheduled",
            Self::Batch => "cache_batch",
            Self::Validation => "cache_validation",
            Self::Eviction => "cache_eviction",
        }
    }

    /// The type of a wire name; `None` for an unknown type.
    pub fn from_wire(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == name)
    }

    /// The `message` of the 202 body of the endpoint that enqueues this type (docs/jobs.md#endpoints).
    pub fn accepted_message(self) -> &'static str {
        match self {
            Self::Warmup => "Warmup job enqueued successfully",
            Self::Scheduled => "Scheduled job enqueued successfully",
            Self::Batch => "Batch job enqueued successfully",
            Self::Validation => "Validation job enqueued successfully",
            Self::Eviction => "Eviction job enqueued successfully",
        }
    }
}

impl fmt::Display for JobType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The metric label of a job type: its wire name, or `unknown` for a type this version does not
/// know (keeps label cardinality bounded whatever lands in a queue).
pub fn type_label(kind: &str) -> &'static str {
    JobType::from_wire(kind).map_or("unknown", JobType::as_str)
}

/// A job document, exactly as stored in the queues, returned by the inspection endpoints and kept
/// in the DLQ (docs/jobs.md#job-document):
///
/// ```json
/// {"id":"…","type":"cache_warmup","payload":{"key":"test:key","data":{"test":"data"},"ttl":"15m0s"},
///  "attempts":0,"max_tries":3,"priority":5,"created_at":"…Z","process_at":"…Z","last_error":null}
/// ```
///
/// `failed_at`, `worker_id` and `lease_expires_at` are written only when set. Timestamps are
/// written as RFC 3339 UTC with 6 fractional digits and read with any offset. Reading is lenient
/// for documents written by other tools: `attempts` defaults to 0, `max_tries` to 3, `priority`
/// to 5 (and is clamped to 1..=10), `payload` to `null`, `created_at` to now and `process_at` to
/// `created_at`. `id` and `type` are required.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "RawJob")]
pub struct Job {
    /// The job id (also used by the DLQ endpoints).
    pub id: Uuid,
    /// The wire type (`cache_warmup`, …); kept as text because a queue can hold unknown types,
    /// which fail with `unknown job type <type>`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The type's payload (docs/jobs.md#job-document table).
    pub payload: Value,
    /// How many times the job has started (incremented when a worker takes it).
    pub attempts: u32,
    /// Starts allowed before the job goes to the DLQ (`JOB_MAX_TRIES`).
    pub max_tries: u32,
    /// 1 (most urgent) ..= 10 (least urgent).
    pub priority: u8,
    /// When the job was created.
    #[serde(serialize_with = "timestamp::serialize")]
    pub created_at: DateTime<Utc>,
    /// Not before this time: the creation time, the scheduled time, or the retry time.
    #[serde(serialize_with = "timestamp::serialize")]
    pub process_at: DateTime<Utc>,
    /// The error of the last failed attempt (`null` until one fails).
    pub last_error: Option<String>,
    /// When the job went to the DLQ.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "timestamp::option")]
    pub failed_at: Option<DateTime<Utc>>,
    /// The worker holding the lease (jobs in `cache_jobs_processing` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker_id: Option<String>,
    /// When the lease ends (jobs in `cache_jobs_processing` only).
    #[serde(default, skip_serializing_if = "Option::is_none", with = "timestamp::option")]
    pub lease_expires_at: Option<DateTime<Utc>>,
}

impl Job {
    /// The job's type, or `None` for an unknown type.
    pub fn job_type(&self) -> Option<JobType> {
        JobType::from_wire(&self.kind)
    }

    /// The score of this job in the ready set: `priority × 10^13 + process_at` in unix ms
    /// (docs/jobs.md#redis-structures), so that the lowest score is the most urgent, then the oldest.
    pub fn ready_score(&self) -> i64 {
        ready_score(self.priority, self.process_at)
    }

    /// The document as JSON text.
    pub fn to_json(&self) -> String {
        // A `Job` always serialises: every field is a plain value.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Makes the job fresh again for a DLQ retry (docs/jobs.md#endpoints): `attempts` 0, due now, no failure
    /// time, no lease. `last_error` is kept as history until the next failure replaces it.
    pub fn reset_for_retry(&mut self, now: DateTime<Utc>) {
        self.attempts = 0;
        self.process_at = now;
        self.failed_at = None;
        self.worker_id = None;
        self.lease_expires_at = None;
    }
}

/// `priority × 10^13 + at` in unix ms, with the priority clamped to 1..=10.
pub fn ready_score(priority: u8, at: DateTime<Utc>) -> i64 {
    i64::from(priority.clamp(MOST_URGENT, LEAST_URGENT)) * PRIORITY_FACTOR + at.timestamp_millis()
}

/// Formats a timestamp as the API does (docs/http-contract.md#times-identifiers-and-durations): RFC 3339 UTC, `Z`, 6 fractional digits.
pub fn format_timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Normalises a priority from a queue document: 0 (or absent) means 5, and the rest is clamped
/// to 1..=10.
fn normalise_priority(p: Option<i64>) -> u8 {
    match p {
        None | Some(0) => DEFAULT_PRIORITY,
        Some(p) => p.clamp(i64::from(MOST_URGENT), i64::from(LEAST_URGENT)) as u8,
    }
}

/// The lenient reading of a job document.
#[derive(Deserialize)]
struct RawJob {
    id: Uuid,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    payload: Value,
    #[serde(default)]
    attempts: Option<u64>,
    #[serde(default)]
    max_tries: Option<u64>,
    #[serde(default)]
    priority: Option<i64>,
    #[serde(default, with = "timestamp::option")]
    created_at: Option<DateTime<Utc>>,
    #[serde(default, with = "timestamp::option")]
    process_at: Option<DateTime<Utc>>,
    #[serde(default)]
    last_error: Option<String>,
    #[serde(default, with = "timestamp::option")]
    failed_at: Option<DateTime<Utc>>,
    #[serde(default)]
    worker_id: Option<String>,
    #[serde(default, with = "timestamp::option")]
    lease_expires_at: Option<DateTime<Utc>>,
}

/// `max_tries` of a document that does not say (`JOB_MAX_TRIES` default).
pub(crate) const FALLBACK_MAX_TRIES: u32 = 3;

impl From<RawJob> for Job {
    fn from(raw: RawJob) -> Self {
        let created_at = raw.created_at.unwrap_or_else(Utc::now);
        Self {
            id: raw.id,
            kind: raw.kind,
            payload: raw.payload,
            attempts: raw.attempts.map_or(0, |a| u32::try_from(a).unwrap_or(u32::MAX)),
            max_tries: raw.max_tries.map_or(FALLBACK_MAX_TRIES, |m| u32::try_from(m).unwrap_or(u32::MAX)),
            priority: normalise_priority(raw.priority),
            created_at,
            process_at: raw.process_at.unwrap_or(created_at),
            last_error: raw.last_error,
            failed_at: raw.failed_at,
            worker_id: raw.worker_id,
            lease_expires_at: raw.lease_expires_at,
        }
    }
}

/// A job to enqueue: what a request (or a validation job) asks for. [`crate::JobSystem::enqueue`]
/// turns it into a [`Job`] (id, timestamps, `max_tries`) and routes it.
#[derive(Debug, Clone, PartialEq)]
pub struct NewJob {
    /// The type.
    pub kind: JobType,
    /// The payload, in the shape of docs/jobs.md#job-document (`ttl` already rendered as text).
    pub payload: Value,
    /// 1..=10 (0 is read as 5, larger values as 10).
    pub priority: u8,
    /// Not before this time (scheduled jobs); a past time, or `None`, means now.
    pub process_at: Option<DateTime<Utc>>,
}

impl NewJob {
    /// A `cache_warmup` of `data` under `key`.
    pub fn warmup(key: impl Into<String>, data: Value, ttl: Duration, priority: u8) -> Self {
        Self::write(JobType::Warmup, key.into(), data, ttl, priority, None)
    }

    /// A `cache_scheduled` warmup of `data` under `key`, not before `process_at`.
    pub fn scheduled(
        key: impl Into<String>,
        data: Value,
        ttl: Duration,
        process_at: DateTime<Utc>,
        priority: u8,
    ) -> Self {
        Self::write(JobType::Scheduled, key.into(), data, ttl, priority, Some(process_at))
    }

    /// A `cache_batch` writing `data` under every key.
    pub fn batch(keys: Vec<String>, data: Value, ttl: Duration, priority: u8) -> Self {
        Self {
            kind: JobType::Batch,
            payload: json!({"keys": keys, "data": data, "ttl": format_ttl(ttl)}),
            priority,
            process_at: None,
        }
    }

    /// A `cache_validation` of `key` against `expected_data`; `ttl` is used when re-warming.
    pub fn validation(key: impl Into<String>, expected_data: Value, ttl: Duration, priority: u8) -> Self {
        Self {
            kind: JobType::Validation,
            payload: json!({"key": key.into(), "expected_data": expected_data, "ttl": format_ttl(ttl)}),
            priority,
            process_at: None,
        }
    }

    /// A `cache_eviction` of one key.
    pub fn evict_key(key: impl Into<String>, priority: u8) -> Self {
        Self { kind: JobType::Eviction, payload: json!({"key": key.into()}), priority, process_at: None }
    }

    /// A `cache_eviction` of every key matching a glob.
    pub fn evict_pattern(pattern: impl Into<String>, priority: u8) -> Self {
        Self { kind: JobType::Eviction, payload: json!({"pattern": pattern.into()}), priority, process_at: None }
    }

    fn write(
        kind: JobType,
        key: String,
        data: Value,
        ttl: Duration,
        priority: u8,
        process_at: Option<DateTime<Utc>>,
    ) -> Self {
        Self { kind, payload: json!({"key": key, "data": data, "ttl": format_ttl(ttl)}), priority, process_at }
    }
}

/// Serde for timestamps: written as [`format_timestamp`], read as any RFC 3339 date-time.
pub(crate) mod timestamp {
    use chrono::{DateTime, Utc};
    use serde::Serializer;

    pub fn serialize<S: Serializer>(at: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::format_timestamp(*at))
    }

    pub mod option {
        use chrono::{DateTime, Utc};
        use serde::{Deserialize, Deserializer, Serializer};

        pub fn serialize<S: Serializer>(at: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
            match at {
                Some(at) => super::serialize(at, s),
                None => s.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
            match Option::<String>::deserialize(d)? {
                None => Ok(None),
                Some(text) => DateTime::parse_from_rfc3339(&text)
                    .map(|t| Some(t.with_timezone(&Utc)))
                    .map_err(serde::de::Error::custom),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_round_trip_with_optional_fields_only_when_set() {
        let now = DateTime::parse_from_rfc3339("2025-11-17T10:11:12.345678Z").expect("ts").with_timezone(&Utc);
        let job = Job {
            id: Uuid::nil(),
            kind: "cache_warmup".to_owned(),
            // Members in sorted order: serde_json keeps insertion order when another crate of the
            // build enables its `preserve_order` feature, and sorts them otherwise.
            payload: json!({"data": null, "key": "k", "ttl": "15m0s"}),
            attempts: 0,
            max_tries: 3,
            priority: 5,
            created_at: now,
            process_at: now,
            last_error: None,
            failed_at: None,
            worker_id: None,
            lease_expires_at: None,
        };
        let text = job.to_json();
        assert_eq!(
            text,
            r#"{"id":"00000000-0000-0000-0000-000000000000","type":"cache_warmup","payload":{"data":null,"key":"k","ttl":"15m0s"},"attempts":0,"max_tries":3,"priority":5,"created_at":"2025-11-17T10:11:12.345678Z","process_at":"2025-11-17T10:11:12.345678Z","last_error":null}"#
        );
        assert_eq!(serde_json::from_str::<Job>(&text).expect("parse"), job);
    }

    #[test]
    fn lenient_reading_fills_defaults() {
        let job: Job = serde_json::from_str(
            r#"{"id":"00000000-0000-0000-0000-000000000001","type":"bogus","priority":0,"created_at":"2025-01-01T00:00:00+02:00"}"#,
        )
        .expect("parse");
        assert_eq!((job.attempts, job.max_tries, job.priority), (0, 3, 5));
        assert_eq!(job.process_at, job.created_at);
        assert_eq!(format_timestamp(job.created_at), "2024-12-31T22:00:00.000000Z");
        assert_eq!(job.job_type(), None);
    }

    #[test]
    fn ready_scores_order_by_priority_then_time() {
        let t = Utc::now();
        assert!(ready_score(1, t + chrono::Duration::days(1)) < ready_score(2, t));
        assert!(ready_score(5, t) < ready_score(5, t + chrono::Duration::milliseconds(1)));
        assert_eq!(ready_score(10, t), 10 * PRIORITY_FACTOR + t.timestamp_millis());
    }
}
