//! Users, credentials, profiles, principals and the admin user operations.

use crate::error::{corrupt, db_err};
use crate::params::{Param, Params};
use crate::revocation::{Revocation, RevokeScope};
use crate::rows::{AssignmentRow, USER_COLUMNS, UserRow};
use crate::types::{DbTime, DbUuid};
use crate::{
    Credentials, NewAttribute, NewUser, ProfileChanges, RevokedJti, Store, StoreError, StoreResult, Ttl,
    UniqueViolation,
};
use sqlx::AssertSqlSafe;
use std::collections::HashMap;
use taskify_domain::user::sort_role_names;
use taskify_domain::{RoleAssignment, Timestamp, User};
use uuid::Uuid;

/// Inserts one user attribute (`$1` id … `$8` created_at = updated_at).
pub(crate) const INSERT_USER_ATTRIBUTE: &str = "INSERT INTO user_attributes \
     (id, user_id, key, value, data_type, source, expires_at, created_at, updated_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)";

#[derive(sqlx::FromRow)]
struct CredentialsRow {
    id: DbUuid,
    password_hash: String,
    is_active: bool,
    deleted_at: Option<DbTime>,
}

impl Store {
    /// Inserts the user, assigns `roles` (by name; assigned_by NULL) and adds `attributes`,
    /// in one transaction. A duplicate email or username (ignoring ASCII case, deleted users
    /// included) is `Conflict(Email)` / `Conflict(Username)`; email is reported first.
    pub async fn create_user(&self, user: &NewUser, roles: &[&str], attributes: &[NewAttribute]) -> StoreResult<User> {
        match self.insert_user(user, roles, attributes).await {
            // The database reports whichever unique index it checked first; the contract is
            // "email first", so ask again now that the losing transaction is rolled back.
            Err(StoreError::Conflict(kind)) => {
                let taken = self.find_taken(&user.email, &user.username).await?;
                Err(StoreError::Conflict(taken.unwrap_or(kind)))
            }
            other => other,
        }
    }

    async fn insert_user(&self, user: &NewUser, roles: &[&str], attributes: &[NewAttribute]) -> StoreResult<User> {
        let mut role_names: Vec<String> = roles.iter().map(|r| (*r).to_owned()).collect();
        sort_role_names(&mut role_names);
        role_names.dedup();

        on_db!(&self.db, |pool, d| {
            let mut tx = pool.begin_with(d.begin_write()).await?;
            sqlx::query(
                "INSERT INTO users (id, username, email, password_hash, first_name, last_name, \
                     department, position, is_active, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)",
            )
            .bind(DbUuid(user.id))
            .bind(&user.username)
            .bind(&user.email)
            .bind(&user.password_hash)
            .bind(&user.first_name)
            .bind(&user.last_name)
            .bind(&user.department)
            .bind(&user.position)
            .bind(true)
            .bind(DbTime(user.created_at))
            .execute(&mut *tx)
            .await?;

            for role in &role_names {
                let inserted = sqlx::query(
                    "INSERT INTO user_roles (id, user_id, role_id, assigned_at) \
                     SELECT $1, $2, r.id, $3 FROM roles r WHERE r.name = $4",
                )
                .bind(DbUuid(Uuid::now_v7()))
                .bind(DbUuid(user.id))
                .bind(DbTime(user.created_at))
                .bind(role)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if inserted != 1 {
                    // Callers pass built-in role names; a missing one means a broken seed.
                    return Err(corrupt(format!("role {role:?} does not exist")));
                }
            }

            for attribute in attributes {
                // The same attribute binds as `put_attribute` in attributes.rs: one bind per column
                // of the attribute tables, kept at each query.
                sqlx::query(INSERT_USER_ATTRIBUTE)
                    .bind(DbUuid(Uuid::now_v7()))
                    .bind(DbUuid(user.id))
                    .bind(&attribute.key)
                    .bind(attribute.value.to_stored())
                    .bind(attribute.value.data_type().as_str())
                    .bind(&attribute.source)
                    .bind(attribute.expires_at.map(DbTime))
                    .bind(DbTime(user.created_at))
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
        });

        let role = taskify_domain::user::primary_role(&role_names);
        Ok(User {
            id: user.id,
            username: user.username.clone(),
            email: user.email.clone(),
            first_name: user.first_name.clone(),
            last_name: user.last_name.clone(),
            department: user.department.clone(),
            position: user.position.clone(),
            is_active: true,
            last_login_at: None,
            created_at: user.created_at,
            updated_at: user.created_at,
            role,
            roles: role_names,
            deleted_at: None,
            role_assignments: None,
        })
    }

    /// The pre-check of register: which of email / username is already taken (email first).
    pub async fn find_taken(&self, email: &str, username: &str) -> StoreResult<Option<UniqueViolation>> {
        let (emails, usernames): (i64, i64) = on_db!(&self.db, |pool, d| {
            let sql = format!(
                "SELECT (SELECT COUNT(*) FROM users WHERE {email} = $1), \
                        (SELECT COUNT(*) FROM users WHERE {username} = $2)",
                email = d.fold("email"),
                username = d.fold("username"),
            );
            sqlx::query_as(AssertSqlSafe(sql))
                .bind(email.to_ascii_lowercase())
                .bind(username.to_ascii_lowercase())
                .fetch_one(pool)
                .await?
        });
        Ok(if emails > 0 {
            Some(UniqueViolation::Email)
        } else if usernames > 0 {
            Some(UniqueViolation::Username)
        } else {
            None
        })
    }

    /// Login data by (lowercased) email, deleted users included.
    pub async fn credentials_by_email(&self, email: &str) -> StoreResult<Option<Credentials>> {
        let row: Option<CredentialsRow> = on_db!(&self.db, |pool, d| {
            let sql =
                format!("SELECT id, password_hash, is_active, deleted_at FROM users WHERE {} = $1", d.fold("email"));
            sqlx::query_as(AssertSqlSafe(sql)).bind(email.to_ascii_lowercase()).fetch_optional(pool).await?
        });
        Ok(row.map(|r| Credentials {
            user_id: r.id.0,
            password_hash: r.password_hash,
            is_active: r.is_active,
            deleted: r.deleted_at.is_some(),
        }))
    }

    /// The password hash of a user (for `current_password` checks).
    pub async fn password_hash(&self, id: Uuid) -> StoreResult<Option<String>> {
        on_db!(&self.db, |pool, _d| {
            sqlx::query_scalar("SELECT password_hash FROM users WHERE id = $1")
                .bind(DbUuid(id))
                .fetch_optional(pool)
                .await
                .map_err(db_err)
        })
    }

    /// The user with active roles (as of `now`), deleted users included (`deleted_at` set).
    /// With `with_assignments`, `role_assignments` is filled with the active assignments.
    pub async fn get_user(&self, id: Uuid, now: Timestamp, with_assignments: bool) -> StoreResult<Option<User>> {
        let row: Option<UserRow> = on_db!(&self.db, |pool, _d| {
            sqlx::query_as(AssertSqlSafe(format!("SELECT {USER_COLUMNS} FROM users u WHERE u.id = $1")))
                .bind(DbUuid(id))
                .fetch_optional(pool)
                .await?
        });
        let Some(row) = row else {
            return Ok(None);
        };
        let mut assignments = self.active_assignments(&[id], now).await?;
        let mine = assignments.remove(&id).unwrap_or_default();
        Ok(Some(row.into_user(mine, with_assignments)))
    }

    /// Active assignments (as of `now`) of the given users, by user.
    pub(crate) async fn active_assignments(
        &self,
        ids: &[Uuid],
        now: Timestamp,
    ) -> StoreResult<HashMap<Uuid, Vec<RoleAssignment>>> {
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let mut params = Params::new();
        let now_ph = params.push(Param::Time(now));
        let list: Vec<String> = ids.iter().map(|id| params.push(Param::Uuid(*id))).collect();
        let sql = format!(
            "SELECT ur.user_id, r.name AS role, ur.assigned_at, ur.expires_at, ur.assigned_by \
             FROM user_roles ur JOIN roles r ON r.id = ur.role_id \
             WHERE ur.user_id IN ({list}) AND ur.revoked_at IS NULL \
               AND (ur.expires_at IS NULL OR ur.expires_at > {now_ph}) \
             ORDER BY r.name",
            list = list.join(", ")
        );
        let rows: Vec<AssignmentRow> = on_db!(&self.db, |pool, _d| {
            bind_params!(sqlx::query_as(AssertSqlSafe(sql)), params).fetch_all(pool).await?
        });
        let mut by_user: HashMap<Uuid, Vec<RoleAssignment>> = HashMap::new();
        for row in rows {
            by_user.entry(row.user_id.0).or_default().push(row.into_assignment());
        }
        Ok(by_user)
    }

    /// Sets `last_login_at = now` (not `updated_at`).
    pub async fn record_login(&self, id: Uuid, now: Timestamp) -> StoreResult<()> {
        on_db!(&self.db, |pool, _d| {
            sqlx::query("UPDATE users SET last_login_at = $2 WHERE id = $1")
                .bind(DbUuid(id))
                .bind(DbTime(now))
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Replaces the hash without other effects (rehash on login), but only while the stored
    /// hash is still `verified`, the one the password was checked against: a password changed
    /// since then must not be overwritten with a hash of the old one. False when it changed.
    pub async fn set_password_hash(&self, id: Uuid, verified: &str, hash: &str) -> StoreResult<bool> {
        let updated = on_db!(&self.db, |pool, _d| {
            sqlx::query("UPDATE users SET password_hash = $2 WHERE id = $1 AND password_hash = $3")
                .bind(DbUuid(id))
                .bind(hash)
                .bind(verified)
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(updated == 1)
    }

    /// In one transaction: new hash, `tokens_valid_after = now`, `updated_at = now`, every
    /// unrevoked refresh token revoked with reason `password_change`, and the access jti of each
    /// of those rows whose access token (issued_at + `access_ttl`) is unexpired inserted into
    /// `revoked_access_tokens`. Returns those jtis.
    pub async fn change_password(
        &self,
        // Same kind of parameters (whose tokens, now, access_ttl) as `revoke_refresh_family` in
        // tokens.rs: both are revoking writes through `Revocation`.
        id: Uuid,
        hash: &str,
        now: Timestamp,
        access_ttl: Ttl,
    ) -> StoreResult<Vec<RevokedJti>> {
        on_db!(&self.db, |pool, d| {
            let mut tx = pool.begin_with(d.begin_write()).await?;
            sqlx::query(
                "UPDATE users SET password_hash = $2, tokens_valid_after = $3, updated_at = $3 \
                 WHERE id = $1",
            )
            .bind(DbUuid(id))
            .bind(hash)
            .bind(DbTime(now))
            .execute(&mut *tx)
            .await?;
            let revoked = tx.revoke_refresh_tokens(RevokeScope::User(id), "password_change", now, access_ttl).await?;
            tx.commit().await?;
            Ok(revoked)
        })
    }

    /// Applies profile changes (`updated_at = now`); `None` when the user is absent or deleted.
    pub async fn update_profile(
        &self,
        id: Uuid,
        changes: &ProfileChanges,
        now: Timestamp,
    ) -> StoreResult<Option<User>> {
        let mut params = Params::new();
        let mut sets = Vec::new();
        if let Some(first_name) = &changes.first_name {
            sets.push(format!("first_name = {}", params.push(Param::Text(first_name.clone()))));
        }
        // One `if let` per optional column, like the other dynamic SET builders (user_admin.rs,
        // tasks.rs): each line names its own column and Param kind.
        if let Some(last_name) = &changes.last_name {
            sets.push(format!("last_name = {}", params.push(Param::Text(last_name.clone()))));
        }
        if let Some(position) = &changes.position {
            sets.push(format!("position = {}", params.push(Param::OptText(position.clone()))));
        }
        sets.push(format!("updated_at = {}", params.push(Param::Time(now))));
        let id_ph = params.push(Param::Uuid(id));
        let sql = format!("UPDATE users SET {} WHERE id = {id_ph} AND deleted_at IS NULL", sets.join(", "));
        let updated = on_db!(&self.db, |pool, _d| {
            bind_params!(sqlx::query(AssertSqlSafe(sql)), params).execute(pool).await?.rows_affected()
        });
        if updated == 0 {
            return Ok(None);
        }
        self.get_user(id, now, false).await
    }
}
