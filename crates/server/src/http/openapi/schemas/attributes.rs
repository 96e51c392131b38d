//! User and task attributes (docs/authorization.md).
//!
//! Wire shapes for the OpenAPI document only, never constructed: the handlers answer with `json!`
//! bodies or with domain types of the same shape (docs/http-contract.md#endpoints).
#![allow(dead_code)]

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{AnyOfBuilder, ObjectBuilder, OneOfBuilder, RefBuilder, Schema, Type};
use utoipa::{PartialSchema, ToSchema};
use uuid::Uuid;

#[derive(Serialize, ToSchema)]
pub enum AttributeDataType {
    #[serde(rename = "string")]
    String,
    #[serde(rename = "number")]
    Number,
    #[serde(rename = "boolean")]
    Boolean,
    #[serde(rename = "datetime")]
    Datetime,
}

/// A JSON scalar whose JSON type matches `data_type` (`datetime` is an RFC 3339 string).
#[derive(Serialize)]
pub struct AttributeValue;

impl PartialSchema for AttributeValue {
    fn schema() -> RefOr<Schema> {
        OneOfBuilder::new()
            .item(ObjectBuilder::new().schema_type(Type::String).max_length(Some(1000)))
            .item(ObjectBuilder::new().schema_type(Type::Number))
            .item(ObjectBuilder::new().schema_type(Type::Boolean))
            .description(Some("A JSON scalar whose JSON type matches `data_type` (`datetime` is an RFC 3339 string)."))
            .into()
    }
}

/// Named after the type: `#/components/schemas/AttributeValue`.
impl ToSchema for AttributeValue {}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"key": "clearance_level", "value": 2, "data_type": "number", "source": "manual", "expires_at": null, "active": true, "created_at": "2025-11-17T10:11:12.345678Z", "updated_at": "2025-11-17T10:11:12.345678Z"}))]
pub struct Attribute {
    #[schema(pattern = "^[a-z][a-z0-9_]{0,63}$")]
    key: String,
    value: AttributeValue,
    data_type: AttributeDataType,
    #[schema(schema_with = attribute_source, required = true)]
    source: serde_json::Value,
    /// `null`: no expiry.
    #[schema(required = true)]
    expires_at: Option<DateTime<Utc>>,
    /// False once the attribute has expired.
    active: bool,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

#[derive(Serialize, ToSchema)]
pub struct UserAttributeList {
    user_id: Uuid,
    /// Expired attributes are included, with `active: false`.
    attributes: Vec<Attribute>,
}

#[derive(Serialize, ToSchema)]
pub struct TaskAttributeList {
    task_id: Uuid,
    attributes: Vec<Attribute>,
}

/// `data_type` is inferred from the JSON type of `value` when left out (a string becomes `string`). A `value` that does not match `data_type`, an `expires_at` in the past, or a value longer than 1 000 characters answers 400. `clearance_level` (user) and `required_clearance` (task) must be integers from 0 to 10; the user key `department` is reserved.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"value": "US-West"}))]
pub struct AttributePutRequest {
    value: AttributeValue,
    #[schema(schema_with = attribute_put_request_data_type)]
    data_type: Option<serde_json::Value>,
    /// Must be in the future; `null` or absent: no expiry.
    expires_at: Option<DateTime<Utc>>,
}

// One small enum helper per property, like those in common.rs and the other schemas/*.rs files: the values differ and
// are the contract.
fn attribute_source() -> impl Into<RefOr<Schema>> {
    ObjectBuilder::new().schema_type(Type::String).enum_values(Some([
        json!("registration"),
        json!("manual"),
        json!("system"),
    ]))
}

fn attribute_put_request_data_type() -> impl Into<RefOr<Schema>> {
    AnyOfBuilder::new()
        .item(RefBuilder::new().ref_location_from_schema_name("AttributeDataType"))
        .item(ObjectBuilder::new().schema_type(Type::Null))
        .description(Some("`null` or absent: inferred from `value`."))
}
