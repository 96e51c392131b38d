//! Registration, login and token bodies (docs/authentication.md).
//!
//! Wire shapes for the OpenAPI document only, never constructed: the handlers answer with `json!`
//! bodies or with domain types of the same shape (docs/http-contract.md#endpoints).
#![allow(dead_code)]

use super::users::{PermissionList, User};
use crate::http::openapi::fragments::keywords;
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"username": "john_doe", "email": "john@example.com", "password": "SecurePass@123", "first_name": "John", "last_name": "Doe", "department": "Engineering"}))]
pub struct RegisterRequest {
    /// Trimmed; only `[A-Za-z0-9_]`; unique ignoring case.
    #[schema(min_length = 3, max_length = 50, pattern = "^[A-Za-z0-9_]{3,50}$")]
    username: String,
    /// Trimmed and lowercased; a valid address (docs/authentication.md#passwords-and-identity-fields); unique.
    #[schema(format = "email", max_length = 254)]
    email: String,
    /// 8–128 characters with at least one ASCII uppercase letter, one ASCII lowercase letter, one ASCII digit and one special character from `!@#$%^&*()_+-=[]{}|;:,.<>?` (other characters are allowed but do not count).
    #[schema(
        min_length = 8,
        max_length = 128,
        pattern = r#"^(?=.*[A-Z])(?=.*[a-z])(?=.*[0-9])(?=.*[!@#$%^&*()_+\-=\[\]{}|;:,.<>?]).{8,128}$"#,
        write_only
    )]
    password: String,
    /// Trimmed; single line (no U+0000–U+001F or U+007F); not blank.
    #[schema(
        min_length = 1,
        max_length = 50,
        pattern = r#"^[^\u0000-\u001F\u007F]*[^\s\u0000-\u001F\u007F][^\u0000-\u001F\u007F]*$"#
    )]
    first_name: String,
    // The single-line, not-blank text pattern, stated per field as in tasks.rs: a #[schema] attribute takes the
    // literal, so each field carries it.
    /// Trimmed; single line; not blank.
    #[schema(
        min_length = 1,
        max_length = 50,
        pattern = r#"^[^\u0000-\u001F\u007F]*[^\s\u0000-\u001F\u007F][^\u0000-\u001F\u007F]*$"#
    )]
    last_name: String,
    /// Trimmed; single line; `""` is stored as `null`.
    #[schema(max_length = 100, pattern = r#"^[^\u0000-\u001F\u007F]*$"#)]
    department: Option<String>,
    /// Trimmed; single line; `""` is stored as `null`.
    #[schema(max_length = 100, pattern = r#"^[^\u0000-\u001F\u007F]*$"#)]
    position: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct RegisterResponse {
    #[schema(schema_with = register_response_message, required = true)]
    message: serde_json::Value,
    user: User,
}

#[derive(Serialize, ToSchema)]
pub struct LoginRequest {
    /// Trimmed and lowercased, then validated.
    #[schema(format = "email", max_length = 254)]
    email: String,
    #[schema(min_length = 1, max_length = 128, write_only)]
    password: String,
}

#[derive(Serialize, ToSchema)]
pub struct TokenPair {
    /// An HS256 JWT.
    access_token: String,
    /// Opaque: 32 random bytes, base64url without padding.
    #[schema(min_length = 43, max_length = 43, pattern = "^[A-Za-z0-9_-]{43}$")]
    refresh_token: String,
    #[schema(schema_with = token_pair_token_type, required = true)]
    token_type: serde_json::Value,
    /// Access-token lifetime in seconds (`ACCESS_TOKEN_TTL`, default 900).
    expires_in: i64,
    /// Refresh-token lifetime in seconds (default 604800).
    refresh_expires_in: i64,
}

#[derive(Serialize, ToSchema)]
pub struct LoginResponse {
    #[serde(flatten)]
    base: TokenPair,
    user: User,
    permissions: PermissionList,
}

#[derive(Serialize, ToSchema)]
pub struct RefreshRequest {
    #[schema(min_length = 1, max_length = 512)]
    refresh_token: String,
}

#[derive(Serialize, ToSchema)]
pub struct LogoutRequest {
    /// Any string within the body limit: logout answers 200 whatever it holds, so it reveals nothing about tokens.
    refresh_token: String,
}

// One small const-schema helper per property, like those in jobs.rs and users.rs: the values differ and are the
// contract.
fn register_response_message() -> impl Into<RefOr<Schema>> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .extensions(Some(keywords(json!({"const": "Welcome to Taskify! Your account has been created successfully."}))))
}

fn token_pair_token_type() -> impl Into<RefOr<Schema>> {
    ObjectBuilder::new().schema_type(Type::String).extensions(Some(keywords(json!({"const": "Bearer"}))))
}
