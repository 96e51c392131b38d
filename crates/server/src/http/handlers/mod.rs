//! Request handlers, one module per area of docs/http-contract.md#endpoints. They parse, call one use case, and shape
//! the answer; rules live in `taskify_core`.
//!
//! Each handler carries its `#[utoipa::path]`: the facts of its operation in the OpenAPI document
//! (`crate::http::api_doc`). The annotations look alike from one handler to the next because
//! every operation states the same kinds of facts; what all of them share is stated once, in
//! `crate::http::openapi` (`AuthenticatedFailures`, ...) and `api_doc/contract.rs`.

pub mod admin;
pub mod auth;
pub mod cache;
pub mod events;
pub mod jobs;
pub mod profile;
pub mod tasks;
