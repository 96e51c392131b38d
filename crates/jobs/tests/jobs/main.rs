//! Integration tests of the job system against a real Redis (127.0.0.1:6379, or
//! `TASKIFY_TEST_REDIS_URL`). Every test works in its own namespace: its cache prefix and its
//! queue keys live under `taskify-test:<uuid>:` (see `harness`), so tests run concurrently
//! and never touch the real `cache_jobs*` keys of a running server.

mod effects;
mod failures;
mod harness;
mod leases;
mod ordering;
mod routing;
mod telemetry;
