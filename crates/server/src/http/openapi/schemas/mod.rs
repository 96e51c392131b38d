//! The schemas of the OpenAPI document (`components.schemas`), one file per area.

mod attributes;
mod audit;
mod auth;
mod cache;
mod common;
mod events;
mod jobs;
mod tasks;
mod users;

pub use attributes::*;
pub use audit::*;
pub use auth::*;
pub use cache::*;
pub use common::*;
pub use events::*;
pub use jobs::*;
pub use tasks::*;
pub use users::*;
