//! End-to-end HTTP tests of Taskify against the contract in SPEC.md (§12 acceptance scenarios,
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
mod hardening_auth;
mod infrastructure;
mod jobs;
mod middleware;
mod observability;
mod outage;
mod profile;
mod security;
mod tasks;
