//! Access tokens already verified, remembered by their exact text (docs/performance.md,
//! "Cached read"). A client sends the same token on every request for its whole lifetime, and
//! verifying it (base64, HMAC-SHA256, the claims parsed from JSON) was about a tenth of a cached
//! read's instructions. Only the expiry can change the outcome of a later verification of the
//! same text: the signature, header and claims are the same bytes, the secret is fixed for the
//! life of the process, and a `nbf` in the past stays in the past. So a remembered token is
//! answered after checking its expiry alone.
//!
//! Safe by construction:
//! - the key is the whole token, so a token that differs in any byte (another signature, a
//!   changed claim) is not found and goes through the full verification;
//! - only tokens that passed every check are remembered: a forged token is never stored, so
//!   guessing cannot fill the memo, and an attacker learns nothing from a lookup's timing that
//!   the constant-time signature check would hide (the lookup is by a keyed hash of the whole
//!   text; only a token with the same hash is compared at all);
//! - revocation, the principal and `tokens_valid_after` are checked after verification on every
//!   request, as before (`AuthService::authenticate_verified`);
//! - bounded: by total size, and each entry lives at most the access-token lifetime, past which
//!   its token has expired anyway.

use super::jwt::AccessClaims;
use crate::error::AuthFailure;
use moka::sync::Cache;
use std::sync::Arc;
use std::time::Duration;

/// Upper bound of the memo, in bytes of tokens (a token is about 400 bytes: some 20 000 tokens).
const MEMO_BYTES: u64 = 8 << 20;

/// Bookkeeping counted per entry besides the token's text.
const ENTRY_OVERHEAD: usize = 96;

/// Longer tokens are verified every time and never stored (ours are well below).
const MAX_REMEMBERED_LEN: usize = 4096;

/// Verified tokens and their claims.
pub(crate) struct VerifiedTokens {
    /// Hashed with foldhash, seeded per process: a token is some 400 bytes.
    tokens: Cache<Arc<str>, AccessClaims, foldhash::fast::RandomState>,
}

impl VerifiedTokens {
    /// A memo whose entries live at most `token_ttl` (the access-token lifetime).
    pub(crate) fn new(token_ttl: Duration) -> Self {
        let tokens = Cache::builder()
            .max_capacity(MEMO_BYTES)
            .weigher(|token: &Arc<str>, _: &AccessClaims| {
                u32::try_from(token.len() + ENTRY_OVERHEAD).unwrap_or(u32::MAX)
            })
            .time_to_live(token_ttl.max(Duration::from_secs(1)))
            .build_with_hasher(foldhash::fast::RandomState::default());
        Self { tokens }
    }

    /// The claims of `token` at `now_unix`: from the memo when it passed `verify` before and has
    /// not expired since, otherwise from `verify` (the full check), remembered when it passes.
    pub(crate) fn verify(
        &self,
        token: &str,
        now_unix: i64,
        verify: impl FnOnce(&str) -> Result<AccessClaims, AuthFailure>,
    ) -> Result<AccessClaims, AuthFailure> {
        if let Some(claims) = self.tokens.get(token) {
            // Check 4 of docs/authentication.md#access-tokens, the one that can change with time.
            return if claims.exp > now_unix { Ok(claims) } else { Err(AuthFailure::ExpiredToken) };
        }
        let claims = verify(token)?;
        if token.len() <= MAX_REMEMBERED_LEN {
            self.tokens.insert(token.into(), claims);
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn claims(exp: i64) -> AccessClaims {
        AccessClaims { user_id: Uuid::new_v4(), jti: Uuid::new_v4(), iat: 0, exp }
    }

    #[test]
    fn a_remembered_token_skips_verification_until_it_expires() {
        let memo = VerifiedTokens::new(Duration::from_secs(900));
        let issued = claims(1_000);
        assert_eq!(memo.verify("token-a", 500, |_| Ok(issued)), Ok(issued));
        let second = memo.verify("token-a", 999, |_| panic!("a remembered token is not verified again"));
        assert_eq!(second, Ok(issued));
        // At and after its expiry the remembered token fails as verification would.
        assert_eq!(memo.verify("token-a", 1_000, |_| Ok(issued)), Err(AuthFailure::ExpiredToken));
    }

    #[test]
    fn failures_are_not_remembered_and_other_texts_are_verified() {
        let memo = VerifiedTokens::new(Duration::from_secs(900));
        assert_eq!(memo.verify("forged", 10, |_| Err(AuthFailure::InvalidToken)), Err(AuthFailure::InvalidToken));
        // A failed token is verified again (and fails again), never answered from the memo.
        let mut verified_again = false;
        let again = memo.verify("forged", 10, |_| {
            verified_again = true;
            Err(AuthFailure::InvalidToken)
        });
        assert!(verified_again);
        assert_eq!(again, Err(AuthFailure::InvalidToken));
        // A remembered token does not vouch for a text that differs from it in one byte.
        let good = claims(100);
        assert_eq!(memo.verify("token-b", 10, |_| Ok(good)), Ok(good));
        assert_eq!(memo.verify("token-c", 10, |_| Err(AuthFailure::InvalidToken)), Err(AuthFailure::InvalidToken));
    }
}
