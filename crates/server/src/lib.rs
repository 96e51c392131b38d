//! The `taskify` server: configuration, HTTP API, CLI and wiring.

pub mod app;
pub mod cli;
pub mod config;
pub mod http;
pub mod telemetry;
pub mod warmup;

pub use app::serve;
pub use config::Config;
