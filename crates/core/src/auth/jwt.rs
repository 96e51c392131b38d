//! HS256 access tokens (docs/authentication.md#access-tokens): issuing, and verification with the documented check order so
//! each failure maps to its own error code.

use crate::error::AuthFailure;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::Serialize;
use serde_json::{Map, Value};
use uuid::Uuid;

pub const ISSUER: &str = "taskify-backend";
pub const AUDIENCE: &str = "taskify-users";

/// Claims of a verified access token that the server relies on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccessClaims {
    pub user_id: Uuid,
    pub jti: Uuid,
    /// Issued-at, unix seconds (0 when absent).
    pub iat: i64,
    /// Expiry, unix seconds.
    pub exp: i64,
}

#[derive(Serialize)]
struct OutgoingClaims<'a> {
    iss: &'static str,
    aud: &'static str,
    sub: String,
    user_id: String,
    role: &'a str,
    roles: &'a [String],
    permissions: &'a [String],
    jti: String,
    #[serde(rename = "type")]
    kind: &'static str,
    iat: i64,
    exp: i64,
}

/// Signs and verifies access tokens with one secret.
pub struct JwtCodec {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    ttl_secs: i64,
}

/// A freshly issued access token.
#[derive(Debug, Clone)]
pub struct IssuedAccess {
    pub token: String,
    pub jti: Uuid,
    pub expires_at_unix: i64,
}

impl JwtCodec {
    /// Fails when the secret is empty.
    pub fn new(secret: &[u8], ttl: std::time::Duration) -> Result<Self, jsonwebtoken::errors::Error> {
        let mut validation = Validation::new(Algorithm::HS256);
        // Every claim is checked by hand below, in the order of docs/authentication.md#access-tokens, so each failure gets
        // its own code; the library only checks the header, the alg and the signature.
        validation.required_spec_claims.clear();
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.leeway = 0;
        Ok(Self {
            encoding: EncodingKey::from_secret(secret)?,
            decoding: DecodingKey::from_secret(secret)?,
            validation,
            ttl_secs: i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX),
        })
    }

    /// The access-token lifetime in seconds (`expires_in`).
    pub fn ttl_secs(&self) -> i64 {
        self.ttl_secs
    }

    /// Issues a token for `user_id` at `now_unix`. `roles` and `permissions` are informational.
    pub fn issue(
        &self,
        user_id: Uuid,
        roles: &[String],
        permissions: &[String],
        now_unix: i64,
    ) -> Result<IssuedAccess, jsonwebtoken::errors::Error> {
        let jti = Uuid::new_v4();
        let exp = now_unix.saturating_add(self.ttl_secs);
        let claims = OutgoingClaims {
            iss: ISSUER,
            aud: AUDIENCE,
            sub: user_id.to_string(),
            user_id: user_id.to_string(),
            role: roles.first().map_or("user", String::as_str),
            roles,
            permissions,
            jti: jti.to_string(),
            kind: "access",
            iat: now_unix,
            exp,
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)?;
        Ok(IssuedAccess { token, jti, expires_at_unix: exp })
    }

    /// Checks 3–6 of docs/authentication.md#access-tokens; the first failure wins. There is no clock leeway.
    pub fn verify(&self, token: &str, now_unix: i64) -> Result<AccessClaims, AuthFailure> {
        // Check 3: structure, header, alg exactly HS256, signature.
        let data = jsonwebtoken::decode::<Map<String, Value>>(token, &self.decoding, &self.validation)
            .map_err(|_| AuthFailure::InvalidToken)?;
        let claims = data.claims;
        if let Some(nbf) = claims.get("nbf") {
            match nbf.as_i64() {
                Some(nbf) if nbf <= now_unix => {}
                _ => return Err(AuthFailure::InvalidToken),
            }
        }
        // Check 4: exp present and later than now.
        let exp = claims.get("exp").and_then(Value::as_i64).ok_or(AuthFailure::ExpiredToken)?;
        if exp <= now_unix {
            return Err(AuthFailure::ExpiredToken);
        }
        // Check 5: issuer.
        if claims.get("iss").and_then(Value::as_str) != Some(ISSUER) {
            return Err(AuthFailure::InvalidIssuer);
        }
        // Check 6: audience, type, subject, jti.
        let aud_ok = match claims.get("aud") {
            Some(Value::String(a)) => a == AUDIENCE,
            Some(Value::Array(items)) => items.iter().any(|a| a.as_str() == Some(AUDIENCE)),
            _ => false,
        };
        let type_ok = claims.get("type").and_then(Value::as_str) == Some("access");
        let uuid_claim = |name: &str| claims.get(name).and_then(Value::as_str).and_then(|s| Uuid::parse_str(s).ok());
        let (sub, user_id, jti) = (uuid_claim("sub"), uuid_claim("user_id"), uuid_claim("jti"));
        match (aud_ok, type_ok, sub, user_id, jti) {
            (true, true, Some(sub), Some(user_id), Some(jti)) if sub == user_id => {
                Ok(AccessClaims { user_id, jti, iat: claims.get("iat").and_then(Value::as_i64).unwrap_or(0), exp })
            }
            _ => Err(AuthFailure::InvalidClaims),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn codec() -> JwtCodec {
        JwtCodec::new(SECRET, std::time::Duration::from_secs(900)).expect("codec")
    }

    fn sign(claims: Value, alg: Algorithm, secret: &[u8]) -> String {
        jsonwebtoken::encode(&Header::new(alg), &claims, &EncodingKey::from_secret(secret).expect("key")).expect("sign")
    }

    fn good_claims(now: i64) -> Value {
        let id = Uuid::new_v4().to_string();
        json!({"iss": ISSUER, "aud": AUDIENCE, "sub": id, "user_id": id, "jti": Uuid::new_v4().to_string(),
               "type": "access", "iat": now, "exp": now + 900})
    }

    #[test]
    fn issued_tokens_verify() {
        let c = codec();
        let uid = Uuid::new_v4();
        let issued = c.issue(uid, &["user".into()], &[], 1_700_000_000).expect("issue");
        let claims = c.verify(&issued.token, 1_700_000_001).expect("valid");
        assert_eq!((claims.user_id, claims.jti, claims.exp), (uid, issued.jti, 1_700_000_900));
        assert_eq!(c.verify(&issued.token, 1_700_000_900), Err(AuthFailure::ExpiredToken));
    }

    #[test]
    fn each_check_has_its_own_failure() {
        let c = codec();
        let now = 1_700_000_000;
        let with = |k: &str, v: Value| {
            let mut claims = good_claims(now);
            claims[k] = v;
            sign(claims, Algorithm::HS256, SECRET)
        };
        assert_eq!(
            c.verify(&sign(good_claims(now), Algorithm::HS256, b"other-secret"), now),
            Err(AuthFailure::InvalidToken)
        );
        assert_eq!(c.verify(&sign(good_claims(now), Algorithm::HS512, SECRET), now), Err(AuthFailure::InvalidToken));
        assert_eq!(c.verify(&with("nbf", json!(now + 10)), now), Err(AuthFailure::InvalidToken));
        assert_eq!(c.verify(&with("exp", json!(now)), now), Err(AuthFailure::ExpiredToken));
        assert_eq!(c.verify(&with("iss", json!("evil")), now), Err(AuthFailure::InvalidIssuer));
        assert_eq!(c.verify(&with("aud", json!("other")), now), Err(AuthFailure::InvalidClaims));
        assert_eq!(c.verify(&with("type", json!("refresh")), now), Err(AuthFailure::InvalidClaims));
        assert_eq!(c.verify(&with("sub", json!(Uuid::new_v4().to_string())), now), Err(AuthFailure::InvalidClaims));
        assert!(c.verify(&with("aud", json!(["x", AUDIENCE])), now).is_ok());
        // alg none with an empty signature.
        let b64 = |v: &Value| base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, v.to_string());
        let none = format!("{}.{}.", b64(&json!({"alg":"none","typ":"JWT"})), b64(&good_claims(now)));
        assert_eq!(c.verify(&none, now), Err(AuthFailure::InvalidToken));
        assert_eq!(c.verify("not-a-jwt", now), Err(AuthFailure::InvalidToken));
    }
}
