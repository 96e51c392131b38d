//! JSON Schema keywords utoipa has no field for (`const`, `not`, `dependentRequired`, a `oneOf`
//! beside `properties`): they ride in the schema's extensions, which are written out as they are.

use utoipa::openapi::extensions::Extensions;

/// The members of `value` (an object) as extra keywords of a schema.
pub fn keywords(value: serde_json::Value) -> Extensions {
    match value {
        serde_json::Value::Object(members) => members.into_iter().collect(),
        _ => Extensions::default(),
    }
}
