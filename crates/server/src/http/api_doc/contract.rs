//! What the layers in front of the handlers add to every operation, stated once instead of on
//! each `#[utoipa::path]`: the `X-Request-Id` parameter and response header, the rate-limit and
//! `Cache-Control` headers of `/api/v1` successes, the header definitions, the bearer scheme, and
//! the members utoipa has no field for (`info.summary`).

use crate::http::openapi::RequestIdHeader;
use crate::http::openapi::headers::{RATE_LIMITED_ROUTE, REQUEST_ID, response_header};
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::response::Response;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{OpenApi, RefOr};
use utoipa::{IntoParams, Modify};

/// The OpenAPI 3.1 `info.summary` (utoipa's `Info` has no field for it).
const SUMMARY: &str = "Multi-user task management: tasks, profiles, administration and audit.";

pub struct Contract;

impl Modify for Contract {
    fn modify(&self, openapi: &mut OpenApi) {
        openapi.info.extensions.get_or_insert_default().insert("summary".to_owned(), SUMMARY.into());
        let components = openapi.components.get_or_insert_default();
        let mut bearer = HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build();
        bearer.description =
            Some("An access token from `POST /api/v1/auth/login` or `POST /api/v1/auth/refresh`.".to_owned());
        components.add_security_scheme("bearerAuth", SecurityScheme::Http(bearer));
        for response in components.responses.values_mut() {
            if let RefOr::T(response) = response {
                complete_headers(response, false);
            }
        }
        for (path, item) in openapi.paths.paths.iter_mut() {
            let api = path.starts_with("/api/v1");
            let operations = [&mut item.get, &mut item.put, &mut item.post, &mut item.delete, &mut item.patch];
            for operation in operations.into_iter().flatten() {
                complete_operation(operation, api);
            }
        }
    }
}

fn complete_operation(operation: &mut Operation, api: bool) {
    operation.parameters.get_or_insert_default().extend(RequestIdHeader::into_params(|| Some(ParameterIn::Header)));
    for (status, response) in operation.responses.responses.iter_mut() {
        if let RefOr::T(response) = response {
            complete_headers(response, api && status.starts_with('2'));
        }
    }
}

/// Adds the headers the layers send and replaces every described header by its definition.
fn complete_headers(response: &mut Response, rate_limited_success: bool) {
    let mut names = vec![REQUEST_ID];
    if rate_limited_success {
        names.extend(RATE_LIMITED_ROUTE);
    }
    let named: Vec<String> = response.headers.keys().cloned().collect();
    for name in names.into_iter().map(str::to_owned).chain(named) {
        if let Some(header) = response_header(&name) {
            response.headers.insert(name, header);
        }
    }
}
