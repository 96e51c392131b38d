//! The administrators' user operations: search, patch, soft delete, and the admin check.

use crate::admins::AdminGuard;
use crate::params::{Param, Params, contains_pattern, counted_page, offset_of};
use crate::revocation::{Revocation, RevokeScope};
use crate::rows::{USER_COLUMNS, UserRow};
use crate::types::{DbTime, DbUuid};
use crate::{AdminWrite, RevokedJti, Store, StoreResult, Ttl, UserPatch};
use sqlx::AssertSqlSafe;
use taskify_domain::{Paged, Timestamp, User, UserListQuery, UserSort};
use uuid::Uuid;

impl Store {
    /// `GET /users`: non-deleted users matching the query, with `role_assignments`.
    pub async fn list_users(&self, query: &UserListQuery, now: Timestamp) -> StoreResult<Paged<User>> {
        let (rows, total) = on_db!(&self.db, |pool, d| {
            let (filter, params) = user_filter(query, now, d);
            let count_sql = format!("SELECT COUNT(*) FROM users u WHERE {filter}");
            let total: i64 = bind_params!(sqlx::query_scalar(AssertSqlSafe(count_sql)), params).fetch_one(pool).await?;

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
            let rows: Vec<UserRow> = bind_params!(sqlx::query_as(AssertSqlSafe(sql)), params).fetch_all(pool).await?;
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
        Ok(counted_page(items, total, &query.page, None))
    }

    /// `PATCH /users/{id}`: applies the patch (`updated_at = now`) and returns the user with
    /// assignments. Deactivating the last active admin is `LastAdmin` (checked and written
    /// atomically). Deleted users are `NotFound`.
    pub async fn patch_user(&self, id: Uuid, patch: &UserPatch, now: Timestamp) -> StoreResult<AdminWrite<User>> {
        let deactivates = patch.is_active == Some(false);
        let mut params = Params::new();
        let mut sets = Vec::new();
        // One `if let` per optional column, like the dynamic SET/WHERE builders of users.rs,
        // tasks.rs and audit.rs: each line names its own column and Param kind.
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
            let mut tx = pool.begin_with(d.begin_write()).await?;
            if deactivates {
                tx.lock_admin_set().await?;
            }
            match tx.live_user_is_active(id).await? {
                Some(is_active) => {
                    if deactivates && is_active && tx.is_last_active_admin(id, now).await? {
                        AdminWrite::LastAdmin
                    } else {
                        bind_params!(sqlx::query(AssertSqlSafe(update_sql)), params).execute(&mut *tx).await?;
                        tx.commit().await?;
                        AdminWrite::Done(())
                    }
                }
                None => AdminWrite::NotFound,
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
            let mut tx = pool.begin_with(d.begin_write()).await?;
            tx.lock_admin_set().await?;
            match tx.live_user_is_active(id).await? {
                Some(is_active) => {
                    if is_active && tx.is_last_active_admin(id, now).await? {
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
                    .await?;
                    let revoked =
                        tx.revoke_refresh_tokens(RevokeScope::User(id), "user_deleted", now, access_ttl).await?;
                    tx.commit().await?;
                    Ok(AdminWrite::Done(revoked))
                }
                None => Ok(AdminWrite::NotFound),
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
            .await?
        });
        Ok(count > 0)
    }
}

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
