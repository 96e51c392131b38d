//! The first administrator and the admin CLI (docs/authentication.md#first-administrator-and-cli).

use crate::auth::{AuthService, Registration};
use crate::config::AdminBootstrap;
use crate::error::{CoreError, CoreResult};
use crate::validate;
use rand::Rng;
use rand::seq::SliceRandom;
use taskify_domain::{User, time};
use taskify_store::{AssignOutcome, Store};

/// What the bootstrap did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bootstrap {
    /// An active admin exists: nothing to do.
    AdminExists,
    /// The admin was created; `generated_password` is set when it was generated (print it once).
    Created { email: String, generated_password: Option<String> },
    /// `ADMIN_EMAIL` belongs to a user who is not an admin: not promoted.
    EmailTakenByNonAdmin { email: String },
}

/// A random 24-character password that satisfies the password rules.
pub fn generate_password() -> String {
    const UPPER: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ";
    const LOWER: &[u8] = b"abcdefghijkmnopqrstuvwxyz";
    const DIGIT: &[u8] = b"23456789";
    const SPECIAL: &[u8] = b"!@#$%^&*()-_=+";
    let mut rng = rand::rng();
    let all: Vec<u8> = [UPPER, LOWER, DIGIT, SPECIAL].concat();
    let mut chars: Vec<u8> =
        [UPPER, LOWER, DIGIT, SPECIAL].iter().map(|set| set[rng.random_range(0..set.len())]).collect();
    chars.extend((0..20).map(|_| all[rng.random_range(0..all.len())]));
    chars.shuffle(&mut rng);
    String::from_utf8_lossy(&chars).into_owned()
}

/// Creates a user with the roles `user` and `admin`. Without a password one is generated and
/// returned. Rules are those of registration.
pub async fn create_admin(
    auth: &AuthService,
    email: &str,
    username: &str,
    password: Option<&str>,
    names: (&str, &str),
) -> CoreResult<(User, Option<String>)> {
    let generated = password.is_none().then(generate_password);
    let password = password.map_or_else(|| generated.clone().unwrap_or_default(), str::to_owned);
    let reg = Registration {
        username: username.trim().to_owned(),
        email: validate::normalise_email(email),
        password,
        first_name: names.0.trim().to_owned(),
        last_name: names.1.trim().to_owned(),
        department: None,
        position: None,
    };
    let mut problems = crate::error::Violations::default();
    problems.check("email", validate::email_problem(&reg.email));
    problems.check("username", validate::username_problem(&reg.username));
    problems.check("password", validate::password_problem(&reg.password));
    problems.check("first_name", validate::name_problem(&reg.first_name));
    problems.check("last_name", validate::name_problem(&reg.last_name));
    problems.finish(())?;
    let hash = auth.passwords().hash(&reg.password).await?;
    let user = auth.create_user(&reg, hash, &["user", "admin"], &[]).await?;
    Ok((user, generated))
}

/// Runs the bootstrap; call it under the migration lock so one instance creates the admin.
pub async fn bootstrap_admin(store: &Store, auth: &AuthService, admin: &AdminBootstrap) -> CoreResult<Bootstrap> {
    let now = time::now();
    if store.has_active_admin(now).await? {
        return Ok(Bootstrap::AdminExists);
    }
    let email = validate::normalise_email(&admin.email);
    if store.credentials_by_email(&email).await?.is_some() {
        return Ok(Bootstrap::EmailTakenByNonAdmin { email });
    }
    let (_, generated_password) =
        create_admin(auth, &email, &admin.username, admin.password.as_deref(), ("Taskify", "Administrator")).await?;
    Ok(Bootstrap::Created { email, generated_password })
}

/// Adds the `admin` role to the user with `email` (idempotent). Returns the user id.
pub async fn promote(store: &Store, email: &str) -> CoreResult<uuid::Uuid> {
    let email = validate::normalise_email(email);
    let credentials = store
        .credentials_by_email(&email)
        .await?
        .filter(|c| !c.deleted)
        .ok_or(CoreError::NotFound("User not found"))?;
    match store.assign_role(credentials.user_id, "admin", None, None, time::now()).await? {
        AssignOutcome::Assigned(_) | AssignOutcome::AlreadyAssigned => Ok(credentials.user_id),
        AssignOutcome::UserNotFound => Err(CoreError::NotFound("User not found")),
        AssignOutcome::UnknownRole => Err(CoreError::Internal("the admin role is missing: run migrations".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_passwords_satisfy_the_rules() {
        for _ in 0..50 {
            let p = generate_password();
            assert_eq!(p.len(), 24);
            assert_eq!(validate::password_problem(&p), None, "{p}");
        }
    }
}
