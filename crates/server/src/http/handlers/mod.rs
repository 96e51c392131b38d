//! Request handlers, one module per area of docs/http-contract.md#endpoints. They parse, call one use case, and shape
//! the answer; rules live in `taskify_core`.

pub mod admin;
pub mod auth;
pub mod cache;
pub mod events;
pub mod jobs;
pub mod profile;
pub mod tasks;
