//! The multi-instance deployment, tested on this machine: three `taskify serve` processes behind
//! Debian's nginx running the **shipped** `deploy/nginx/nginx.conf` (rendered for local ports by
//! `deploy/nginx/render-local.sh`), on a fresh PostgreSQL database and a private `redis-server`.
//! Every scenario starts its own cluster ([`harness::Cluster`]), runs a bounded load through nginx
//! ([`load::Load`]), breaks something, prints its counts and asserts what a client must see:
//!
//! - `coherence`: a write through one replica is read through every other one within 1 s, nginx
//!   spreads requests over all replicas, and the rate limit is one bucket for the whole cluster;
//! - `failover`: one replica SIGKILLed under load: no failed GET, and POSTs retried by the client
//!   with the same `Idempotency-Key` create exactly one task each;
//! - `rolling_restart`: every replica in turn gets SIGTERM (its `/ready` answers 503 during the
//!   drain delay while it still serves), exits and starts again, with no failed request;
//! - `live_updates`: a change through one replica reaches the live-update subscribers of every
//!   replica and of nginx; a Redis restart gives each of them a `resync`;
//! - `redis_restart`: Redis is killed under load and started again: no 5xx, no stale read beyond
//!   the bound of the cache's coherence contract.
//!
//! The scenarios skip (pass with a message) when nginx is missing and cannot be installed.
//! They need `redis-server`, `psql` and the PostgreSQL of `TEST_DATABASE_URL`, like the API tests.

#[allow(dead_code, unused_imports, unused_macros)]
#[path = "../api/helpers/mod.rs"]
mod helpers;

mod harness;
mod load;

mod coherence;
mod failover;
mod live_updates;
mod redis_restart;
mod rolling_restart;
