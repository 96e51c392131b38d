//! The types the OpenAPI document is generated from: schemas, parameters, shared responses and
//! response headers. The handlers name them in their `#[utoipa::path]` annotations; the document
//! itself is assembled in `crate::http::api_doc`.

mod fragments;
pub mod headers;
mod params;
mod responses;
mod schemas;

pub use params::*;
pub use responses::*;
pub use schemas::*;
