//! Users, profiles, roles and permissions (docs/http-contract.md#profile, docs/authorization.md).
//!
//! Wire shapes for the OpenAPI document only, never constructed: the handlers answer with `json!`
//! bodies or with domain types of the same shape (docs/http-contract.md#endpoints).
#![allow(dead_code)]

use crate::http::openapi::fragments::keywords;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{AdditionalProperties, ArrayBuilder, ObjectBuilder, Schema, SchemaType, Type};
use utoipa::{PartialSchema, ToSchema};
use uuid::Uuid;

/// An active role assignment.
#[derive(Serialize, ToSchema)]
pub struct RoleAssignment {
    role: String,
    assigned_at: DateTime<Utc>,
    /// `null`: no expiry.
    #[schema(required = true)]
    expires_at: Option<DateTime<Utc>>,
    /// The administrator who assigned it; `null` for self-registration and bootstrap.
    #[schema(required = true)]
    assigned_by: Option<Uuid>,
}

/// A user. The password hash is never part of it. `role_assignments` is present only on the admin endpoints (`GET /users`, `PATCH /users/{user_id}`).
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"id": "01936f3e-0000-7000-8000-000000000001", "username": "john_doe", "email": "john@example.com", "first_name": "John", "last_name": "Doe", "department": "Engineering", "position": null, "is_active": true, "last_login_at": null, "created_at": "2025-11-17T10:11:12.345678Z", "updated_at": "2025-11-17T10:11:12.345678Z", "role": "user", "roles": ["user"]}))]
pub struct User {
    id: Uuid,
    #[schema(min_length = 3, max_length = 50, pattern = "^[A-Za-z0-9_]{3,50}$")]
    username: String,
    #[schema(format = "email", max_length = 254)]
    email: String,
    #[schema(min_length = 1, max_length = 50)]
    first_name: String,
    #[schema(min_length = 1, max_length = 50)]
    last_name: String,
    #[schema(max_length = 100, required = true)]
    department: Option<String>,
    #[schema(max_length = 100, required = true)]
    position: Option<String>,
    is_active: bool,
    #[schema(required = true)]
    last_login_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    /// The first entry of `roles`, or `user` if there is none.
    role: String,
    /// Active role names, highest rank first: admin, manager, user, then others alphabetically.
    roles: Vec<String>,
    /// Active assignments only. Admin endpoints only.
    #[schema(nullable = false)]
    role_assignments: Option<Vec<RoleAssignment>>,
}

/// Distinct `resource:action` strings of the caller's active roles, sorted.
#[derive(Serialize)]
pub struct PermissionList;

impl PartialSchema for PermissionList {
    fn schema() -> RefOr<Schema> {
        #[allow(deprecated)] // `example`: the document has always carried it (OpenAPI 3.0 style)
        ArrayBuilder::new()
            .items(ObjectBuilder::new().schema_type(Type::String).pattern(Some("^[a-z_]+:[a-z_]+$")))
            .unique_items(true)
            .description(Some("Distinct `resource:action` strings of the caller's active roles, sorted."))
            .example(Some(json!([
                "profile:read",
                "profile:update",
                "task:create",
                "task:delete",
                "task:read",
                "task:update"
            ])))
            .into()
    }
}

/// Named after the type: `#/components/schemas/PermissionList`.
impl ToSchema for PermissionList {}

/// The caller's User plus their permissions (as at login).
#[derive(Serialize, ToSchema)]
pub struct UserWithPermissions {
    #[serde(flatten)]
    base: User,
    permissions: PermissionList,
}

/// A page of users; each one carries `role_assignments`. Deleted users are never listed.
#[derive(Serialize, ToSchema)]
pub struct UserPage {
    // The paging members repeat in every page: a shared struct, flattened, would make each page an allOf.
    users: Vec<User>,
    /// Number of matching items.
    #[schema(minimum = 0)]
    total: i64,
    #[schema(minimum = 1)]
    page: i64,
    #[schema(minimum = 1, maximum = 100)]
    page_size: i64,
    /// `ceil(total / page_size)`; 0 when `total` is 0.
    #[schema(minimum = 0)]
    total_pages: i64,
}

// A schema-only unit type with a hand-written PartialSchema, the same shape as the others in schemas/*.rs (cache.rs
// CacheKey): derive cannot state the allow-list.
/// Allow-list: any other member (`email`, `username`, `department`, `is_active`, `role`, …) answers 400 `validation_failed` with `is not allowed` for each, and nothing is written. A password change needs both `current_password` and `new_password`.
#[derive(Serialize)]
pub struct ProfileUpdateRequest;

impl PartialSchema for ProfileUpdateRequest {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .property("first_name", ObjectBuilder::new()
                .schema_type(Type::String)
                .min_length(Some(1))
                .max_length(Some(50))
                .pattern(Some(r#"^[^\u0000-\u001F\u007F]*[^\s\u0000-\u001F\u007F][^\u0000-\u001F\u007F]*$"#))
                .description(Some("Trimmed; single line; not blank; not clearable.")))
            .property("last_name", ObjectBuilder::new()
                .schema_type(Type::String)
                .min_length(Some(1))
                .max_length(Some(50))
                .pattern(Some(r#"^[^\u0000-\u001F\u007F]*[^\s\u0000-\u001F\u007F][^\u0000-\u001F\u007F]*$"#))
                .description(Some("Trimmed; single line; not blank; not clearable.")))
            .property("position", ObjectBuilder::new()
                .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
                .max_length(Some(100))
                .pattern(Some(r#"^[^\u0000-\u001F\u007F]*$"#))
                .description(Some("Single line. `null` or `\"\"` clears it.")))
            .property("current_password", ObjectBuilder::new()
                .schema_type(Type::String)
                .write_only(Some(true))
                .description(Some("A wrong value answers 400 (`is incorrect`) and counts towards the login lockout.")))
            .property("new_password", ObjectBuilder::new()
                .schema_type(Type::String)
                .min_length(Some(8))
                .max_length(Some(128))
                .pattern(Some(r#"^(?=.*[A-Z])(?=.*[a-z])(?=.*[0-9])(?=.*[!@#$%^&*()_+\-=\[\]{}|;:,.<>?]).{8,128}$"#))
                .write_only(Some(true))
                .description(Some("Same rules as at registration. 8–128 characters with at least one ASCII uppercase letter, one ASCII lowercase letter, one ASCII digit and one special character from `!@#$%^&*()_+-=[]{}|;:,.<>?` (other characters are allowed but do not count).")))
            .additional_properties(Some(AdditionalProperties::<Schema>::FreeForm(false)))
            .description(Some("Allow-list: any other member (`email`, `username`, `department`, `is_active`, `role`, …) answers 400 `validation_failed` with `is not allowed` for each, and nothing is written. A password change needs both `current_password` and `new_password`."))
            .extensions(Some(keywords(json!({"dependentRequired": {"new_password": ["current_password"], "current_password": ["new_password"]}})))).into()
    }
}

/// Named after the type: `#/components/schemas/ProfileUpdateRequest`.
impl ToSchema for ProfileUpdateRequest {}

/// After a password change the body also carries a new token pair (a new refresh family); every older token is revoked.
#[derive(Serialize, ToSchema)]
pub struct ProfileUpdateResponse {
    #[schema(schema_with = profile_update_response_message, required = true)]
    message: serde_json::Value,
    user: User,
    /// An HS256 JWT.
    #[schema(nullable = false)]
    access_token: Option<String>,
    /// Opaque: 32 random bytes, base64url without padding.
    #[schema(min_length = 43, max_length = 43, pattern = "^[A-Za-z0-9_-]{43}$", nullable = false)]
    refresh_token: Option<String>,
    #[schema(schema_with = profile_update_response_token_type)]
    token_type: Option<serde_json::Value>,
    /// Access-token lifetime in seconds (`ACCESS_TOKEN_TTL`, default 900).
    #[schema(nullable = false)]
    expires_in: Option<i64>,
    /// Refresh-token lifetime in seconds (default 604800).
    #[schema(nullable = false)]
    refresh_expires_in: Option<i64>,
}

/// Allow-list: any other member answers 400 `validation_failed` (`is not allowed`).
#[derive(Serialize)]
pub struct UserPatchRequest;

impl PartialSchema for UserPatchRequest {
    fn schema() -> RefOr<Schema> {
        // Hand-built object schema, one .property per patchable member (same builder shape as common.rs health checks):
        // derive cannot state the allow-list.
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .property(
                "is_active",
                ObjectBuilder::new()
                    .schema_type(Type::Boolean)
                    .description(Some("Deactivation takes effect on the user's next request; tokens are kept.")),
            )
            // `department` and `position` share one shape on purpose: both are clearable single-line strings of at most
            // 100.
            .property(
                "department",
                ObjectBuilder::new()
                    .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
                    .max_length(Some(100))
                    .pattern(Some(r#"^[^\u0000-\u001F\u007F]*$"#))
                    .description(Some("Trimmed; single line; clearable.")),
            )
            .property(
                "position",
                ObjectBuilder::new()
                    .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
                    .max_length(Some(100))
                    .pattern(Some(r#"^[^\u0000-\u001F\u007F]*$"#))
                    .description(Some("Trimmed; single line; clearable.")),
            )
            .additional_properties(Some(AdditionalProperties::<Schema>::FreeForm(false)))
            .description(Some("Allow-list: any other member answers 400 `validation_failed` (`is not allowed`)."))
            .into()
    }
}

/// Named after the type: `#/components/schemas/UserPatchRequest`.
impl ToSchema for UserPatchRequest {}

#[derive(Serialize, ToSchema)]
pub struct UserUpdateResponse {
    #[schema(schema_with = user_update_response_message, required = true)]
    message: serde_json::Value,
    /// Includes `role_assignments`.
    user: User,
}

#[derive(Serialize, ToSchema)]
pub struct Permission {
    id: Uuid,
    #[schema(max_length = 50, examples("task"))]
    resource: String,
    #[schema(max_length = 50, examples("read"))]
    action: String,
    #[schema(schema_with = permission_scope, required = true)]
    scope: serde_json::Value,
    #[schema(required = true)]
    description: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct Role {
    id: Uuid,
    #[schema(max_length = 50, examples("manager"))]
    name: String,
    #[schema(required = true)]
    description: Option<String>,
    permissions: Vec<Permission>,
}

#[derive(Serialize, ToSchema)]
pub struct RoleList {
    /// Ordered by rank: admin, manager, user, then others.
    roles: Vec<Role>,
}

#[derive(Serialize, ToSchema)]
pub struct RoleAssignRequest {
    #[schema(schema_with = role_assign_request_role, required = true)]
    role: serde_json::Value,
    /// Optional; must be in the future.
    #[schema(nullable = false)]
    expires_at: Option<DateTime<Utc>>,
}

#[derive(Serialize, ToSchema)]
pub struct RoleAssignResponse {
    #[schema(schema_with = role_assign_response_message, required = true)]
    message: serde_json::Value,
    user_id: Uuid,
    role: String,
    #[schema(required = true)]
    expires_at: Option<DateTime<Utc>>,
}

// One small const helper per property, like those in auth.rs, jobs.rs and cache.rs: the values differ and are the
// contract.
fn profile_update_response_message() -> impl Into<RefOr<Schema>> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .extensions(Some(keywords(json!({"const": "User updated successfully"}))))
}

fn profile_update_response_token_type() -> impl Into<RefOr<Schema>> {
    ObjectBuilder::new().schema_type(Type::String).extensions(Some(keywords(json!({"const": "Bearer"}))))
}

fn user_update_response_message() -> impl Into<RefOr<Schema>> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .extensions(Some(keywords(json!({"const": "User updated successfully"}))))
}

fn permission_scope() -> impl Into<RefOr<Schema>> {
    ObjectBuilder::new().schema_type(Type::String).enum_values(Some([json!("own"), json!("department"), json!("all")]))
}

fn role_assign_request_role() -> impl Into<RefOr<Schema>> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some([json!("user"), json!("manager"), json!("admin")]))
        .description(Some(
            "A role name (the roles of `GET /api/v1/roles`); an unknown role answers 400 `validation_failed`.",
        ))
}

fn role_assign_response_message() -> impl Into<RefOr<Schema>> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .extensions(Some(keywords(json!({"const": "Role assigned successfully"}))))
}
