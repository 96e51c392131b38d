//! Integration tests of the cache against a real Redis (127.0.0.1:6379, or
//! `TASKIFY_TEST_REDIS_URL`), plus private `redis-server` processes for the outage scenarios.
//! Every test works in its own namespace (key prefix, epoch and channel) and cleans up.

mod coherence;
mod counters;
mod eviction;
mod harness;
mod levels;
mod local;
mod outage;
mod stream;
mod telemetry;
