//! What each job type does (docs/jobs.md#job-document). Local and Redis workers run exactly this code.

use std::future::Future;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use taskify_cache::{Cache, SetOutcome};

use crate::duration::{DEFAULT_LONG_TTL, DEFAULT_TTL, parse_ttl};
use crate::job::{Job, JobType, NewJob};
use crate::keys::validate_key;

/// How many keys of a batch are written concurrently.
const BATCH_CONCURRENCY: usize = 16;

#[derive(Deserialize)]
struct WritePayload {
    key: String,
    #[serde(default)]
    data: Value,
    #[serde(default)]
    ttl: Option<Value>,
}

#[derive(Deserialize)]
struct BatchPayload {
    keys: Vec<String>,
    #[serde(default)]
    data: Value,
    #[serde(default)]
    ttl: Option<Value>,
}

#[derive(Deserialize)]
struct ValidationPayload {
    key: String,
    #[serde(default)]
    expected_data: Value,
    #[serde(default)]
    ttl: Option<Value>,
}

#[derive(Deserialize)]
struct EvictionPayload {
    #[serde(default)]
    key: Option<String>,
    #[serde(default)]
    pattern: Option<String>,
}

fn payload<T: DeserializeOwned>(job: &Job) -> Result<T, String> {
    serde_json::from_value(job.payload.clone()).map_err(|e| format!("invalid payload: {e}"))
}

fn ttl(value: Option<&Value>, default: Duration) -> Result<Duration, String> {
    parse_ttl(value, default).map_err(|e| format!("invalid ttl: {e}"))
}

/// Runs the effect of `job` on `cache`. `enqueue` routes a new job (the correcting warmup of a
/// validation job) and is given by the caller, so this module does not depend on the job system.
/// An error is the job's `last_error`.
pub(crate) async fn perform<F, Fut>(cache: &Cache, job: &Job, enqueue: F) -> Result<(), String>
where
    F: FnOnce(NewJob) -> Fut,
    Fut: Future<Output = Result<(), String>>,
{
    let Some(kind) = job.job_type() else { return Err(format!("unknown job type {}", job.kind)) };
    match kind {
        JobType::Warmup | JobType::Scheduled => {
            let p: WritePayload = payload(job)?;
            let ttl = ttl(p.ttl.as_ref(), DEFAULT_TTL)?;
            write(cache, &p.key, encode(&p.data)?, ttl).await
        }
        JobType::Batch => {
            let p: BatchPayload = payload(job)?;
            let ttl = ttl(p.ttl.as_ref(), DEFAULT_LONG_TTL)?;
            let value = encode(&p.data)?;
            let total = p.keys.len();
            // Best effort: every key is written even when one fails; a retry rewrites them all.
            // Owned futures: a stream of futures borrowing the keys trips the `Send` inference
            // of `tokio::spawn` (higher-ranked lifetimes).
            let writes = p.keys.into_iter().map(|key| {
                let (cache, value) = (cache.clone(), value.clone());
                async move { write(&cache, &key, value, ttl).await }
            });
            let results: Vec<Result<(), String>> =
                futures::stream::iter(writes).buffer_unordered(BATCH_CONCURRENCY).collect().await;
            let failures: Vec<String> = results.into_iter().filter_map(Result::err).collect();
            match failures.first() {
                None => Ok(()),
                Some(first) => Err(format!("{} of {total} keys failed; first error: {first}", failures.len())),
            }
        }
        JobType::Validation => {
            let p: ValidationPayload = payload(job)?;
            validate_key(&p.key, false).map_err(|e| format!("key {e}"))?;
            let ttl = ttl(p.ttl.as_ref(), DEFAULT_LONG_TTL)?;
            let current = cache.get(&p.key).await;
            let matches = current
                .as_deref()
                .and_then(|bytes| serde_json::from_slice::<Value>(bytes).ok())
                .is_some_and(|value| json_equal(&value, &p.expected_data));
            if !matches {
                enqueue(NewJob::warmup(p.key, p.expected_data, ttl, job.priority))
                    .await
                    .map_err(|e| format!("could not enqueue the correcting warmup: {e}"))?;
            }
            Ok(())
        }
        JobType::Eviction => {
            let p: EvictionPayload = payload(job)?;
            match (p.key, p.pattern) {
                (Some(key), None) => {
                    validate_key(&key, true).map_err(|e| format!("key {e}"))?;
                    // A pending L2 part is replayed by the cache's own recovery (docs/cache.md#redis-outages).
                    cache.invalidate(&[&key]).await;
                    Ok(())
                }
                (None, Some(pattern)) => {
                    cache.delete_pattern(&pattern).await.map(|_| ()).map_err(|e| format!("invalid pattern: {e}"))
                }
                _ => Err("invalid payload: exactly one of key or pattern is required".to_owned()),
            }
        }
    }
}

fn encode(data: &Value) -> Result<Bytes, String> {
    serde_json::to_vec(data).map(Bytes::from).map_err(|e| format!("invalid data: {e}"))
}

/// Writes through both levels with an invalidation broadcast. A write that reached L1 only
/// (Redis unavailable) is a failure: the job is retried, and the retry rewrites the key.
async fn write(cache: &Cache, key: &str, value: Bytes, ttl: Duration) -> Result<(), String> {
    validate_key(key, false).map_err(|e| format!("key {key:?}: {e}"))?;
    match cache.set(key, value, ttl).await {
        SetOutcome::Stored | SetOutcome::KeptNewer | SetOutcome::Tombstoned => Ok(()),
        SetOutcome::Pending => Err(format!("key {key:?}: Redis unavailable, the value reached L1 only")),
        SetOutcome::TooLarge => Err(format!("key {key:?}: the value exceeds the largest cacheable size")),
        SetOutcome::Rejected => Err(format!("key {key:?}: not a cacheable key")),
    }
}

/// Deep JSON equality with numbers compared by value (`1 == 1.0`), as validation jobs compare
/// (docs/jobs.md#job-document). Object member order does not matter; array order does.
pub fn json_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64(), x.as_u64(), y.as_u64()) {
            (Some(x), Some(y), _, _) => x == y,
            (_, _, Some(x), Some(y)) => x == y,
            _ => x.as_f64() == y.as_f64(),
        },
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(x, y)| json_equal(x, y)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| json_equal(v, w)))
        }
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::json_equal;
    use serde_json::json;

    #[test]
    fn numbers_compare_by_value() {
        assert!(json_equal(&json!({"v": 1, "w": [1.0, 2]}), &json!({"w": [1, 2.0], "v": 1.0})));
        assert!(!json_equal(&json!({"v": 1}), &json!({"v": 2})));
        assert!(!json_equal(&json!({"v": 1}), &json!({"v": 1, "x": null})));
        assert!(!json_equal(&json!([1, 2]), &json!([2, 1])));
        assert!(json_equal(&json!(null), &json!(null)));
        assert!(!json_equal(&json!("1"), &json!(1)));
        assert!(json_equal(&json!(u64::MAX), &json!(u64::MAX)));
        assert!(!json_equal(&json!(-1), &json!(u64::MAX)));
    }
}
