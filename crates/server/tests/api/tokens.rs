//! Reading and forging access tokens (docs/authentication.md#access-tokens), for the token checks of docs/testing.md#b-authentication and docs/testing.md#h-security.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::JWT_SECRET;

/// The decoded JSON of segment `index` (0 = header, 1 = claims) of a JWT.
pub fn decode_segment(token: &str, index: usize) -> Value {
    let segment = token.split('.').nth(index).unwrap_or_else(|| panic!("token {token} has no segment {index}"));
    let bytes =
        URL_SAFE_NO_PAD.decode(segment).unwrap_or_else(|error| panic!("segment {index} is not base64url: {error}"));
    serde_json::from_slice(&bytes).unwrap_or_else(|error| panic!("segment {index} is not JSON: {error}"))
}

/// The claims of a JWT.
pub fn claims_of(token: &str) -> Value {
    decode_segment(token, 1)
}

/// Claims that the server would accept for `user_id`: issued now, valid for 15 minutes.
pub fn valid_claims(user_id: &str) -> Value {
    let now = Utc::now().timestamp();
    json!({
        "iss": "taskify-backend",
        "aud": "taskify-users",
        "sub": user_id,
        "user_id": user_id,
        "role": "user",
        "roles": ["user"],
        "permissions": ["profile:read", "profile:update", "task:create", "task:delete", "task:read", "task:update"],
        "jti": Uuid::new_v4().to_string(),
        "type": "access",
        "iat": now,
        "exp": now + 900,
    })
}

/// `claims` with `changes` applied: a `null` value removes the member.
pub fn with_changes(claims: &Value, changes: &Value) -> Value {
    let mut claims = claims.clone();
    let members = claims.as_object_mut().expect("claims are an object");
    for (key, value) in changes.as_object().expect("changes are an object") {
        if value.is_null() {
            members.remove(key);
        } else {
            members.insert(key.clone(), value.clone());
        }
    }
    claims
}

/// Signs `claims` with `algorithm` (an HMAC algorithm) and `secret`.
pub fn sign(algorithm: Algorithm, secret: &str, claims: &Value) -> String {
    let key = EncodingKey::from_secret(secret.as_bytes()).expect("an HMAC key");
    jsonwebtoken::encode(&Header::new(algorithm), claims, &key).expect("the token can be signed")
}

/// Signs `claims` the way the test instances do (HS256 with the test secret).
pub fn sign_valid(claims: &Value) -> String {
    sign(Algorithm::HS256, JWT_SECRET, claims)
}

/// Assembles a token from a raw header, claims and signature text, without signing.
pub fn assemble(header: &Value, claims: &Value, signature: &str) -> String {
    let encode = |value: &Value| URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).expect("JSON serialises"));
    format!("{}.{}.{signature}", encode(header), encode(claims))
}
