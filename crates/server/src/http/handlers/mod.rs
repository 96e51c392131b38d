//! Request handlers, one module per area of SPEC §1. They parse, call one use case, and shape
//! the answer; rules live in `taskify_core`.

pub mod admin;
pub mod auth;
pub mod cache;
pub mod jobs;
pub mod profile;
pub mod tasks;
