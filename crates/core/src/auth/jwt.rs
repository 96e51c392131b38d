//! HS256 access tokens (docs/authentication.md#access-tokens): issuing, and verification with the documented check order so
//! each failure maps to its own error code.

use crate::error::AuthFailure;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::digest::InvalidLength;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::Sha256;
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

/// The JOSE header of every token issued: HS256, base64url-encoded once.
const HEADER_B64: &str = "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9"; // {"typ":"JWT","alg":"HS256"}

/// Signs and verifies access tokens (compact JWS, HS256) with one secret. Both directions are
/// written here on HMAC-SHA256 (docs/decisions/0010); the tests check them against the
/// `jsonwebtoken` crate, an independent implementation.
pub struct JwtCodec {
    /// HMAC-SHA256 keyed with the secret once; cloned for each signature and verification.
    mac: Hmac<Sha256>,
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
    pub fn new(secret: &[u8], ttl: std::time::Duration) -> Result<Self, InvalidLength> {
        if secret.is_empty() {
            return Err(InvalidLength);
        }
        let mac = Hmac::<Sha256>::new_from_slice(secret)?;
        Ok(Self { mac, ttl_secs: i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX) })
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
    ) -> Result<IssuedAccess, serde_json::Error> {
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
        let signed = format!("{HEADER_B64}.{}", URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims)?));
        let mut mac = self.mac.clone();
        mac.update(signed.as_bytes());
        let token = format!("{signed}.{}", URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()));
        Ok(IssuedAccess { token, jti, expires_at_unix: exp })
    }

    /// Checks 3–6 of docs/authentication.md#access-tokens; the first failure wins. There is no clock leeway.
    ///
    /// Verified here rather than by `jsonwebtoken::decode`, which parsed the claims twice into
    /// JSON maps (the roles and permissions arrays included): an eighth of a cached read's CPU went
    /// to verifying its token (docs/performance.md, "Cached read"). The checks are the same.
    pub fn verify(&self, token: &str, now_unix: i64) -> Result<AccessClaims, AuthFailure> {
        // Check 3: structure, header, alg exactly HS256, signature.
        let payload = self.signed_payload(token).ok_or(AuthFailure::InvalidToken)?;
        let claims: IncomingClaims = serde_json::from_slice(&payload).map_err(|_| AuthFailure::InvalidToken)?;
        if let Some(nbf) = &claims.nbf {
            match nbf.as_i64() {
                Some(nbf) if nbf <= now_unix => {}
                _ => return Err(AuthFailure::InvalidToken),
            }
        }
        // Check 4: exp present and later than now.
        let exp = claims.exp.as_ref().and_then(Value::as_i64).ok_or(AuthFailure::ExpiredToken)?;
        if exp <= now_unix {
            return Err(AuthFailure::ExpiredToken);
        }
        // Check 5: issuer.
        if claims.iss.as_ref().and_then(Value::as_str) != Some(ISSUER) {
            return Err(AuthFailure::InvalidIssuer);
        }
        // Check 6: audience, type, subject, jti.
        let aud_ok = match &claims.aud {
            Some(Value::String(a)) => a == AUDIENCE,
            Some(Value::Array(items)) => items.iter().any(|a| a.as_str() == Some(AUDIENCE)),
            _ => false,
        };
        let type_ok = claims.kind.as_ref().and_then(Value::as_str) == Some("access");
        let uuid_claim =
            |claim: &Option<Value>| claim.as_ref().and_then(Value::as_str).and_then(|s| Uuid::parse_str(s).ok());
        let (sub, user_id, jti) = (uuid_claim(&claims.sub), uuid_claim(&claims.user_id), uuid_claim(&claims.jti));
        match (aud_ok, type_ok, sub, user_id, jti) {
            (true, true, Some(sub), Some(user_id), Some(jti)) if sub == user_id => {
                Ok(AccessClaims { user_id, jti, iat: claims.iat.as_ref().and_then(Value::as_i64).unwrap_or(0), exp })
            }
            _ => Err(AuthFailure::InvalidClaims),
        }
    }

    /// The decoded payload of a compact JWS `header.payload.signature` (base64url without
    /// padding) whose header says `alg` HS256 and whose HMAC-SHA256 over `header.payload`
    /// matches (compared in constant time); `None` otherwise.
    fn signed_payload(&self, token: &str) -> Option<Vec<u8>> {
        let (signed, signature) = token.rsplit_once('.')?;
        let (header, payload) = signed.split_once('.')?;
        if payload.contains('.') {
            return None;
        }
        let signature = URL_SAFE_NO_PAD.decode(signature).ok()?;
        let mut mac = self.mac.clone();
        mac.update(signed.as_bytes());
        mac.verify_slice(&signature).ok()?;
        let header = URL_SAFE_NO_PAD.decode(header).ok()?;
        let header: IncomingHeader = serde_json::from_slice(&header).ok()?;
        if header.alg != "HS256" {
            return None;
        }
        URL_SAFE_NO_PAD.decode(payload).ok()
    }
}

/// The JOSE header fields verification reads; others are ignored.
#[derive(Deserialize)]
struct IncomingHeader<'a> {
    #[serde(borrow)]
    alg: std::borrow::Cow<'a, str>,
}

/// The claims verification reads, each kept as JSON so a claim of the wrong type fails its own
/// check (with its own error code) rather than the parse. Other claims (`roles`,
/// `permissions`, …) are skipped without being built.
#[derive(Deserialize)]
struct IncomingClaims {
    nbf: Option<Value>,
    exp: Option<Value>,
    iat: Option<Value>,
    iss: Option<Value>,
    aud: Option<Value>,
    #[serde(rename = "type")]
    kind: Option<Value>,
    sub: Option<Value>,
    user_id: Option<Value>,
    jti: Option<Value>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
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

    /// Our signature is the standard one: an independent implementation accepts the token.
    #[test]
    fn issued_tokens_are_standard_hs256() {
        let issued = codec().issue(Uuid::new_v4(), &["user".into()], &[], 1_700_000_000).expect("issue");
        let header = jsonwebtoken::decode_header(&issued.token).expect("a JOSE header");
        assert_eq!((header.alg, header.typ.as_deref()), (Algorithm::HS256, Some("JWT")));
        let mut validation = Validation::new(Algorithm::HS256);
        validation.validate_exp = false;
        validation.set_audience(&[AUDIENCE]);
        validation.set_issuer(&[ISSUER]);
        let decoded =
            jsonwebtoken::decode::<Value>(&issued.token, &DecodingKey::from_secret(SECRET).expect("key"), &validation)
                .expect("jsonwebtoken accepts the signature");
        assert_eq!(decoded.claims["jti"], issued.jti.to_string());
        let other = JwtCodec::new(b"other-secret", std::time::Duration::from_secs(900)).expect("codec");
        assert_eq!(other.verify(&issued.token, 1_700_000_001), Err(AuthFailure::InvalidToken));
        assert!(JwtCodec::new(b"", std::time::Duration::from_secs(900)).is_err(), "an empty secret is refused");
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
