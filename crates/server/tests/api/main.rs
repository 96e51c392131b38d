//! End-to-end HTTP tests of Taskify against the contract described in docs/README.md (docs/testing.md acceptance scenarios,
//! plus bad-input and security checks). Every module compiles into this one test binary; every
//! scenario gets its own server and database, and most run on both SQLite and PostgreSQL.

mod helpers;
mod raw_http;
mod redis;
mod server_process;
mod tokens;

mod administration;
mod audit;
mod authentication;
mod authorization;
mod bad_input;
mod binary;
mod cache;
mod coherence;
mod connection_timeouts;
mod database_outage;
mod events;
mod events_filtering;
mod hardening_audit;
mod hardening_auth;
mod infrastructure;
mod jobs;
mod metric_names;
mod middleware;
mod observability;
mod outage;
mod profile;
mod rate_limit_leases;
mod request_bounds;
mod security;
mod shutdown_drain;
mod task_totals;
mod tasks;
