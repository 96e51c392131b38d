//! Password hashing (argon2id, OWASP parameters) and verification of argon2 and imported bcrypt
//! hashes (docs/authentication.md#passwords-and-identity-fields). All of it runs on the blocking pool, at most `max_concurrent` at a time,
//! because each hash holds `memory_kib` of memory and ~tens of ms of CPU.

use crate::config::PasswordConfig;
use crate::error::{CoreError, CoreResult};
use argon2::{Algorithm, Argon2, Params, PasswordHash, PasswordHasher, PasswordVerifier, Version};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

/// How long a request waits for a hashing slot before answering 503 (docs/authentication.md#passwords-and-identity-fields).
const SLOT_WAIT: Duration = Duration::from_secs(5);

/// The outcome of a verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verified {
    Wrong,
    Correct,
    /// Correct, but stored with bcrypt or other argon2 parameters: rehash it.
    CorrectNeedsRehash,
}

/// Hashes and verifies passwords off the async runtime.
#[derive(Clone)]
pub struct PasswordHasherPool {
    params: Params,
    slots: Arc<Semaphore>,
    /// A hash of a random password, verified for unknown emails so that every failure path
    /// costs the same (docs/authentication.md#login-throttling timing).
    dummy_hash: Arc<str>,
}

impl PasswordHasherPool {
    /// Builds the pool and its dummy hash (one hashing run, on the blocking pool).
    pub async fn new(config: &PasswordConfig) -> CoreResult<Self> {
        let params = Params::new(config.memory_kib, config.iterations, config.parallelism, Some(32))
            .map_err(|e| CoreError::internal("argon2 parameters", e))?;
        let mut pool =
            Self { params, slots: Arc::new(Semaphore::new(config.max_concurrent.max(1))), dummy_hash: Arc::from("") };
        let dummy: String = {
            use rand::Rng;
            rand::rng().sample_iter(rand::distr::Alphanumeric).take(24).map(char::from).collect()
        };
        pool.dummy_hash = Arc::from(pool.hash(&dummy).await?);
        Ok(pool)
    }

    fn argon2(params: Params) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
    }

    /// Runs `work` on the blocking pool once a slot is free (at most 5 s of waiting).
    async fn run<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> CoreResult<T> {
        let permit = tokio::time::timeout(SLOT_WAIT, self.slots.clone().acquire_owned())
            .await
            .map_err(|_| CoreError::Unavailable {
                reason: "password hashing saturated".into(),
                retry_after_secs: Some(1),
            })?
            .map_err(|e| CoreError::internal("hashing semaphore", e))?;
        tokio::task::spawn_blocking(move || {
            let out = work();
            drop(permit);
            out
        })
        .await
        .map_err(|e| CoreError::internal("hashing task", e))
    }

    /// A PHC string (`$argon2id$v=19$m=…`).
    pub async fn hash(&self, password: &str) -> CoreResult<String> {
        let params = self.params.clone();
        let password = password.to_owned();
        self.run(move || Self::argon2(params).hash_password(password.as_bytes()).map(|h| h.to_string()))
            .await?
            .map_err(|e| CoreError::internal("argon2 hash", e))
    }

    /// Verifies against an argon2 PHC string or a bcrypt (`$2a$`/`$2b$`/`$2y$`) hash.
    pub async fn verify(&self, password: &str, stored: &str) -> CoreResult<Verified> {
        let params = self.params.clone();
        let password = password.to_owned();
        let stored = stored.to_owned();
        self.run(move || verify_blocking(&params, &password, &stored)).await
    }

    /// Burns the same time as a real verification, for unknown accounts.
    pub async fn verify_dummy(&self, password: &str) -> CoreResult<()> {
        let dummy = self.dummy_hash.to_string();
        self.verify(password, &dummy).await.map(|_| ())
    }
}

fn verify_blocking(params: &Params, password: &str, stored: &str) -> Verified {
    if stored.starts_with("$2a$") || stored.starts_with("$2b$") || stored.starts_with("$2y$") {
        return match bcrypt::verify(password, stored) {
            Ok(true) => Verified::CorrectNeedsRehash,
            _ => Verified::Wrong,
        };
    }
    let Ok(parsed) = PasswordHash::new(stored) else {
        return Verified::Wrong;
    };
    if Argon2::default().verify_password(password.as_bytes(), &parsed).is_err() {
        return Verified::Wrong;
    }
    let same_params = parsed.algorithm.as_str() == "argon2id"
        && Params::try_from(&parsed).is_ok_and(|p| {
            p.m_cost() == params.m_cost() && p.t_cost() == params.t_cost() && p.p_cost() == params.p_cost()
        });
    if same_params { Verified::Correct } else { Verified::CorrectNeedsRehash }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(memory_kib: u32) -> PasswordConfig {
        PasswordConfig { memory_kib, iterations: 1, parallelism: 1, max_concurrent: 2 }
    }

    #[tokio::test]
    async fn hashes_verify_and_parameter_changes_ask_for_a_rehash() {
        let pool = PasswordHasherPool::new(&config(1024)).await.expect("pool");
        let hash = pool.hash("Secret@123").await.expect("hash");
        assert!(hash.starts_with("$argon2id$"));
        assert_eq!(pool.verify("Secret@123", &hash).await.expect("verify"), Verified::Correct);
        assert_eq!(pool.verify("wrong", &hash).await.expect("verify"), Verified::Wrong);
        let stronger = PasswordHasherPool::new(&config(2048)).await.expect("pool");
        assert_eq!(stronger.verify("Secret@123", &hash).await.expect("verify"), Verified::CorrectNeedsRehash);
        assert_eq!(pool.verify("x", "garbage").await.expect("verify"), Verified::Wrong);
    }

    #[tokio::test]
    async fn bcrypt_hashes_are_accepted_and_flagged_for_rehash() {
        let pool = PasswordHasherPool::new(&config(1024)).await.expect("pool");
        let bc = bcrypt::hash("Secret@123", 4).expect("bcrypt");
        assert_eq!(pool.verify("Secret@123", &bc).await.expect("verify"), Verified::CorrectNeedsRehash);
        assert_eq!(pool.verify("nope", &bc).await.expect("verify"), Verified::Wrong);
    }
}
