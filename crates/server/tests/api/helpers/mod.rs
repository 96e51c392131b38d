//! The test harness: an isolated Taskify instance per test (`spawn_app`), a typed client with one
//! method per endpoint, the fixtures of docs/testing.md#fixtures, and the assertions every scenario shares.

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::header::HeaderMap;
use reqwest::{Client, Method, RequestBuilder, Response, StatusCode, Url};
use serde_json::{Value, json};
use tokio::sync::oneshot;

pub const ADMIN_EMAIL: &str = "admin@example.com";
pub const ADMIN_PASSWORD: &str = "Admin@12345";
/// The password of every fixture user (docs/testing.md#fixtures).
pub const USER_PASSWORD: &str = "Test@123456";
/// The HS256 secret the test instances sign with.
pub const JWT_SECRET: &str = "taskify-api-tests-secret-0123456789abcde";
const _: () = assert!(JWT_SECRET.len() == 40);

/// How long a test instance may take to answer 200 on `/ready`.
pub const READY_DEADLINE: Duration = Duration::from_secs(30);

/// The sorted `resource:action` strings of the role `user` (docs/data-model.md#seed-data).
pub const USER_PERMISSIONS: [&str; 6] =
    ["profile:read", "profile:update", "task:create", "task:delete", "task:read", "task:update"];

/// The 17 distinct `resource:action` strings of the role `admin` (docs/data-model.md#seed-data).
pub const ADMIN_PERMISSIONS: [&str; 17] = [
    "audit:read",
    "profile:delete",
    "profile:read",
    "profile:update",
    "role:manage",
    "system:admin",
    "task:assign",
    "task:create",
    "task:delete",
    "task:read",
    "task:update",
    "user:assign_role",
    "user:create",
    "user:delete",
    "user:read",
    "user:revoke_role",
    "user:update",
];

/// The six security headers of docs/http-contract.md#security-headers, with their exact values.
pub const SECURITY_HEADERS: [(&str, &str); 6] = [
    // Kept apart from src/http/layers.rs on purpose: the tests check the served headers against the contract, not
    // against the server's own constant.
    ("strict-transport-security", "max-age=63072000; includeSubDomains"),
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("x-xss-protection", "1; mode=block"),
    ("referrer-policy", "no-referrer"),
    ("content-security-policy", "default-src 'self'"),
];

mod admin_calls;
mod assertions;
mod client;
mod databases;
mod instances;
mod metrics;
mod scenario;
mod sse;

pub use assertions::*;
pub use client::*;
pub use databases::*;
pub use instances::*;
pub use metrics::*;
pub use scenario::*;
pub use sse::*;
