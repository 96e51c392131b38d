//! Users, credentials, profiles, principals and the admin user operations.

use crate::admins::AdminGuard;
use crate::error::{corrupt, db_err};
use crate::params::{Param, Params, contains_pattern, offset_of};
use crate::revocation::{Revocation, RevokeScope};
use crate::rows::{AssignmentRow, USER_COLUMNS, UserRow};
use crate::types::{DbTime, DbUuid, opt_time};
use crate::{
    AdminWrite, Credentials, NewAttribute, NewUser, ProfileChanges, RevokedJti, Store, StoreError, StoreResult, Ttl,
    UniqueViolation, UserPatch,
};
use sqlx::AssertSqlSafe;
use std::collections::{BTreeMap, HashMap};
use taskify_domain::auth::{Grant, PrincipalAttribute};
use taskify_domain::user::sort_role_names;
use taskify_domain::{
    AttributeValue, DataType, Paged, Principal, PrincipalRole, RoleAssignment, Scope, Timestamp, User, UserListQuery,
    UserSort,
};
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

#[derive(sqlx::FromRow)]
struct PrincipalRow {
    username: String,
    is_active: bool,
    deleted_at: Option<DbTime>,
    department: Option<String>,
    tokens_valid_after: Option<DbTime>,
}

#[derive(sqlx::FromRow)]
struct PrincipalRoleRow {
    name: String,
    expires_at: Option<DbTime>,
}

#[derive(sqlx::FromRow)]
struct GrantRow {
    resource: String,
    action: String,
    scope: String,
}

#[derive(sqlx::FromRow)]
struct PrincipalAttributeRow {
    key: String,
    value: String,
    data_type: String,
    expires_at: Option<DbTime>,
}

#[derive(sqlx::FromRow)]
struct UserStateRow {
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
            let mut tx = pool.begin_with(d.begin_write()).await.map_err(db_err)?;
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
            .await
            .map_err(db_err)?;

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
                .await
                .map_err(db_err)?
                .rows_affected();
                if inserted != 1 {
                    // Callers pass built-in role names; a missing one means a broken seed.
                    return Err(corrupt(format!("role {role:?} does not exist")));
                }
            }

            for attribute in attributes {
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
                    .await
                    .map_err(db_err)?;
            }
            tx.commit().await.map_err(db_err)?;
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
                .await
                .map_err(db_err)?
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
            sqlx::query_as(AssertSqlSafe(sql))
                .bind(email.to_ascii_lowercase())
                .fetch_optional(pool)
                .await
                .map_err(db_err)?
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
                .await
                .map_err(db_err)?
        });
        let Some(row) = row else {
            return Ok(None);
        };
        let mut assignments = self.active_assignments(&[id], now).await?;
        let mine = assignments.remove(&id).unwrap_or_default();
        Ok(Some(row.into_user(mine, with_assignments)))
    }

    /// Active assignments (as of `now`) of the given users, by user.
    async fn active_assignments(
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
            bind_params!(sqlx::query_as(AssertSqlSafe(sql)), params).fetch_all(pool).await.map_err(db_err)?
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
                .await
                .map_err(db_err)?;
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
                .await
                .map_err(db_err)?
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
        id: Uuid,
        hash: &str,
        now: Timestamp,
        access_ttl: Ttl,
    ) -> StoreResult<Vec<RevokedJti>> {
        on_db!(&self.db, |pool, d| {
            let mut tx = pool.begin_with(d.begin_write()).await.map_err(db_err)?;
            sqlx::query(
                "UPDATE users SET password_hash = $2, tokens_valid_after = $3, updated_at = $3 \
                 WHERE id = $1",
            )
            .bind(DbUuid(id))
            .bind(hash)
            .bind(DbTime(now))
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
            let revoked = tx.revoke_refresh_tokens(RevokeScope::User(id), "password_change", now, access_ttl).await?;
            tx.commit().await.map_err(db_err)?;
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
            bind_params!(sqlx::query(AssertSqlSafe(sql)), params).execute(pool).await.map_err(db_err)?.rows_affected()
        });
        if updated == 0 {
            return Ok(None);
        }
        self.get_user(id, now, false).await
    }

    /// Builds the principal as of `now`: active roles (revoked_at NULL and not expired) with
    /// expiry, their permissions as grants (sorted, distinct), active attributes with expiry,
    /// normalised department, `tokens_valid_after`. `None` when the user row does not exist.
    pub async fn load_principal(&self, id: Uuid, now: Timestamp) -> StoreResult<Option<Principal>> {
        let loaded = on_db!(&self.db, |pool, _d| {
            let user: Option<PrincipalRow> = sqlx::query_as(
                "SELECT username, is_active, deleted_at, department, tokens_valid_after \
                 FROM users WHERE id = $1",
            )
            .bind(DbUuid(id))
            .fetch_optional(pool)
            .await
            .map_err(db_err)?;
            match user {
                None => None,
                Some(user) => {
                    let roles: Vec<PrincipalRoleRow> = sqlx::query_as(
                        "SELECT r.name, ur.expires_at \
                         FROM user_roles ur JOIN roles r ON r.id = ur.role_id \
                         WHERE ur.user_id = $1 AND ur.revoked_at IS NULL \
                           AND (ur.expires_at IS NULL OR ur.expires_at > $2)",
                    )
                    .bind(DbUuid(id))
                    .bind(DbTime(now))
                    .fetch_all(pool)
                    .await
                    .map_err(db_err)?;
                    let grants: Vec<GrantRow> = sqlx::query_as(
                        "SELECT DISTINCT p.resource, p.action, p.scope \
                         FROM user_roles ur \
                         JOIN role_permissions rp ON rp.role_id = ur.role_id \
                         JOIN permissions p ON p.id = rp.permission_id \
                         WHERE ur.user_id = $1 AND ur.revoked_at IS NULL \
                           AND (ur.expires_at IS NULL OR ur.expires_at > $2)",
                    )
                    .bind(DbUuid(id))
                    .bind(DbTime(now))
                    .fetch_all(pool)
                    .await
                    .map_err(db_err)?;
                    let attributes: Vec<PrincipalAttributeRow> = sqlx::query_as(
                        "SELECT key, value, data_type, expires_at FROM user_attributes \
                         WHERE user_id = $1 AND (expires_at IS NULL OR expires_at > $2)",
                    )
                    .bind(DbUuid(id))
                    .bind(DbTime(now))
                    .fetch_all(pool)
                    .await
                    .map_err(db_err)?;
                    Some((user, roles, grants, attributes))
                }
            }
        });
        let Some((user, roles, grants, attributes)) = loaded else {
            return Ok(None);
        };
        Ok(Some(build_principal(id, user, roles, grants, attributes)?))
    }

    /// `GET /users`: non-deleted users matching the query, with `role_assignments`.
    pub async fn list_users(&self, query: &UserListQuery, now: Timestamp) -> StoreResult<Paged<User>> {
        let (rows, total) = on_db!(&self.db, |pool, d| {
            let (filter, params) = user_filter(query, now, d);
            let count_sql = format!("SELECT COUNT(*) FROM users u WHERE {filter}");
            let total: i64 = bind_params!(sqlx::query_scalar(AssertSqlSafe(count_sql)), params)
                .fetch_one(pool)
                .await
                .map_err(db_err)?;

            let (filter, mut params) = user_filter(query, now, d);
            let dir = query.order.sql();
            let sort = match query.sort_by {
                UserSort::CreatedAt => format!("u.created_at {dir}"),
                UserSort::Username => format!("{} {dir}", d.fold("u.username")),
                UserSort::Email => format!("{} {dir}", d.fold("u.email")),
                UserSort::LastLoginAt => format!("u.last_login_at {dir} NULLS LAST"),
            };
            let limit = params.push(Param::Int(i64::from(query.page.page_size)));
            let offset = params.push(Param::Int(offset_of(query.page.offset())));
            let sql = format!(
                "SELECT {USER_COLUMNS} FROM users u WHERE {filter} \
                 ORDER BY {sort}, u.id ASC LIMIT {limit} OFFSET {offset}"
            );
            let rows: Vec<UserRow> =
                bind_params!(sqlx::query_as(AssertSqlSafe(sql)), params).fetch_all(pool).await.map_err(db_err)?;
            (rows, total)
        });

        let ids: Vec<Uuid> = rows.iter().map(|r| r.id.0).collect();
        let mut assignments = self.active_assignments(&ids, now).await?;
        let items = rows
            .into_iter()
            .map(|row| {
                let mine = assignments.remove(&row.id.0).unwrap_or_default();
                row.into_user(mine, true)
            })
            .collect();
        Ok(Paged {
            items,
            total: u64::try_from(total).unwrap_or(0),
            page: query.page.page,
            page_size: query.page.page_size,
        })
    }

    /// `PATCH /users/{id}`: applies the patch (`updated_at = now`) and returns the user with
    /// assignments. Deactivating the last active admin is `LastAdmin` (checked and written
    /// atomically). Deleted users are `NotFound`.
    pub async fn patch_user(&self, id: Uuid, patch: &UserPatch, now: Timestamp) -> StoreResult<AdminWrite<User>> {
        let deactivates = patch.is_active == Some(false);
        let mut params = Params::new();
        let mut sets = Vec::new();
        if let Some(is_active) = patch.is_active {
            sets.push(format!("is_active = {}", params.push(Param::Bool(is_active))));
        }
        if let Some(department) = &patch.department {
            sets.push(format!("department = {}", params.push(Param::OptText(department.clone()))));
        }
        if let Some(position) = &patch.position {
            sets.push(format!("position = {}", params.push(Param::OptText(position.clone()))));
        }
        sets.push(format!("updated_at = {}", params.push(Param::Time(now))));
        let id_ph = params.push(Param::Uuid(id));
        let update_sql = format!("UPDATE users SET {} WHERE id = {id_ph}", sets.join(", "));

        let outcome: AdminWrite<()> = on_db!(&self.db, |pool, d| {
            let mut tx = pool.begin_with(d.begin_write()).await.map_err(db_err)?;
            if deactivates {
                tx.lock_admin_set().await?;
            }
            let state: Option<UserStateRow> = sqlx::query_as("SELECT is_active, deleted_at FROM users WHERE id = $1")
                .bind(DbUuid(id))
                .fetch_optional(&mut *tx)
                .await
                .map_err(db_err)?;
            match state {
                Some(state) if state.deleted_at.is_none() => {
                    if deactivates && state.is_active && tx.is_last_active_admin(id, now).await? {
                        AdminWrite::LastAdmin
                    } else {
                        bind_params!(sqlx::query(AssertSqlSafe(update_sql)), params)
                            .execute(&mut *tx)
                            .await
                            .map_err(db_err)?;
                        tx.commit().await.map_err(db_err)?;
                        AdminWrite::Done(())
                    }
                }
                _ => AdminWrite::NotFound,
            }
        });
        match outcome {
            AdminWrite::Done(()) => Ok(match self.get_user(id, now, true).await? {
                Some(user) => AdminWrite::Done(user),
                None => AdminWrite::NotFound,
            }),
            AdminWrite::NotFound => Ok(AdminWrite::NotFound),
            AdminWrite::LastAdmin => Ok(AdminWrite::LastAdmin),
        }
    }

    /// `DELETE /users/{id}`: soft delete (`deleted_at = now`, `is_active = false`), every
    /// refresh token revoked with reason `user_deleted` and their unexpired access jtis revoked
    /// (as in [`Store::change_password`]). Deleting the last active admin is `LastAdmin`.
    pub async fn soft_delete_user(
        &self,
        id: Uuid,
        now: Timestamp,
        access_ttl: Ttl,
    ) -> StoreResult<AdminWrite<Vec<RevokedJti>>> {
        on_db!(&self.db, |pool, d| {
            let mut tx = pool.begin_with(d.begin_write()).await.map_err(db_err)?;
            tx.lock_admin_set().await?;
            let state: Option<UserStateRow> = sqlx::query_as("SELECT is_active, deleted_at FROM users WHERE id = $1")
                .bind(DbUuid(id))
                .fetch_optional(&mut *tx)
                .await
                .map_err(db_err)?;
            match state {
                Some(state) if state.deleted_at.is_none() => {
                    if state.is_active && tx.is_last_active_admin(id, now).await? {
                        return Ok(AdminWrite::LastAdmin);
                    }
                    sqlx::query(
                        "UPDATE users SET deleted_at = $2, is_active = $3, updated_at = $2 \
                         WHERE id = $1",
                    )
                    .bind(DbUuid(id))
                    .bind(DbTime(now))
                    .bind(false)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                    let revoked =
                        tx.revoke_refresh_tokens(RevokeScope::User(id), "user_deleted", now, access_ttl).await?;
                    tx.commit().await.map_err(db_err)?;
                    Ok(AdminWrite::Done(revoked))
                }
                _ => Ok(AdminWrite::NotFound),
            }
        })
    }

    /// True when some non-deleted, active user holds an active `admin` assignment.
    pub async fn has_active_admin(&self, now: Timestamp) -> StoreResult<bool> {
        let count: i64 = on_db!(&self.db, |pool, _d| {
            sqlx::query_scalar(
                "SELECT COUNT(*) FROM users u \
                 WHERE u.deleted_at IS NULL AND u.is_active \
                   AND EXISTS (SELECT 1 FROM user_roles ur JOIN roles r ON r.id = ur.role_id \
                               WHERE ur.user_id = u.id AND r.name = 'admin' \
                                 AND ur.revoked_at IS NULL \
                                 AND (ur.expires_at IS NULL OR ur.expires_at > $1))",
            )
            .bind(DbTime(now))
            .fetch_one(pool)
            .await
            .map_err(db_err)?
        });
        Ok(count > 0)
    }
}

/// The WHERE clause of `GET /users` and its bind values (built twice: count and page).
fn user_filter(query: &UserListQuery, now: Timestamp, d: crate::dialect::Dialect) -> (String, Params) {
    let mut params = Params::new();
    let mut clauses = vec!["u.deleted_at IS NULL".to_owned()];
    if let Some(q) = &query.q {
        let p = params.push(Param::Text(contains_pattern(q)));
        let cols: Vec<String> = ["u.username", "u.email", "u.first_name", "u.last_name"]
            .iter()
            .map(|c| format!("{} LIKE {p} ESCAPE '\\'", d.fold(c)))
            .collect();
        clauses.push(format!("({})", cols.join(" OR ")));
    }
    if let Some(department) = &query.department {
        let p = params.push(Param::Text(department.trim().to_ascii_lowercase()));
        clauses.push(format!("{} = {p}", d.fold("trim(u.department)")));
    }
    if let Some(is_active) = query.is_active {
        clauses.push(format!("u.is_active = {}", params.push(Param::Bool(is_active))));
    }
    if let Some(role) = &query.role {
        let role_ph = params.push(Param::Text(role.clone()));
        let now_ph = params.push(Param::Time(now));
        clauses.push(format!(
            "EXISTS (SELECT 1 FROM user_roles ur JOIN roles r ON r.id = ur.role_id \
                     WHERE ur.user_id = u.id AND r.name = {role_ph} AND ur.revoked_at IS NULL \
                       AND (ur.expires_at IS NULL OR ur.expires_at > {now_ph}))"
        ));
    }
    (clauses.join(" AND "), params)
}

fn build_principal(
    id: Uuid,
    user: PrincipalRow,
    roles: Vec<PrincipalRoleRow>,
    grants: Vec<GrantRow>,
    attributes: Vec<PrincipalAttributeRow>,
) -> StoreResult<Principal> {
    let mut names: Vec<String> = roles.iter().map(|r| r.name.clone()).collect();
    sort_role_names(&mut names);
    let mut roles: Vec<PrincipalRole> =
        roles.into_iter().map(|r| PrincipalRole { name: r.name, expires_at: opt_time(r.expires_at) }).collect();
    roles.sort_by_key(|r| names.iter().position(|n| *n == r.name).unwrap_or(usize::MAX));

    let mut grants = grants
        .into_iter()
        .map(|g| {
            let scope = Scope::parse(&g.scope)
                .ok_or_else(|| corrupt(format!("permission {}:{} has scope {:?}", g.resource, g.action, g.scope)))?;
            Ok(Grant { action: format!("{}:{}", g.resource, g.action), scope })
        })
        .collect::<StoreResult<Vec<Grant>>>()?;
    grants.sort();
    grants.dedup();

    let mut attrs = BTreeMap::new();
    for row in attributes {
        let value = DataType::parse(&row.data_type).and_then(|t| AttributeValue::from_stored(&row.value, t));
        match value {
            Some(value) => {
                attrs.insert(row.key, PrincipalAttribute { value, expires_at: opt_time(row.expires_at) });
            }
            // One bad row must not lock the user out: leave it out, as if it had expired.
            None => {
                tracing::warn!(user_id = %id, key = %row.key, "user attribute does not decode; ignored")
            }
        }
    }

    Ok(Principal {
        user_id: id,
        username: user.username,
        active: user.is_active,
        deleted: user.deleted_at.is_some(),
        department: Principal::normalise_department(user.department.as_deref()),
        roles,
        grants,
        attributes: attrs,
        tokens_valid_after: opt_time(user.tokens_valid_after),
    })
}
