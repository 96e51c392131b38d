//! Roles, permissions and role assignments.

use crate::admins::AdminGuard;
use crate::error::corrupt;
use crate::types::{DbTime, DbUuid};
use crate::{AssignOutcome, RevokeOutcome, Store, StoreError, StoreResult};
use taskify_domain::user::sort_role_names;
use taskify_domain::{Permission, Role, RoleAssignment, Scope, Timestamp};
use uuid::Uuid;

#[derive(sqlx::FromRow)]
struct RoleRow {
    id: DbUuid,
    name: String,
    description: Option<String>,
}

#[derive(sqlx::FromRow)]
struct RolePermissionRow {
    role_id: DbUuid,
    id: DbUuid,
    resource: String,
    action: String,
    scope: String,
    description: Option<String>,
}

#[derive(sqlx::FromRow)]
struct UnrevokedAssignmentRow {
    id: DbUuid,
    expires_at: Option<DbTime>,
}

/// What a role write needs to know before it decides.
struct AssignmentTarget {
    user_exists: bool,
    user_active: bool,
    role_id: Option<Uuid>,
    /// The unrevoked assignment row (active or expired), if any.
    unrevoked: Option<UnrevokedAssignmentRow>,
}

/// Reads, inside the open transaction `$conn`, the user's state, the role's id and the unrevoked
/// assignment between them. Deleted users count as absent.
macro_rules! load_target {
    ($conn:expr, $user_id:expr, $role:expr) => {{
        #[derive(sqlx::FromRow)]
        struct UserState {
            is_active: bool,
        }
        let user: Option<UserState> =
            sqlx::query_as("SELECT is_active FROM users WHERE id = $1 AND deleted_at IS NULL")
                .bind(DbUuid($user_id))
                .fetch_optional(&mut *$conn)
                .await?;
        let role_id: Option<DbUuid> =
            sqlx::query_scalar("SELECT id FROM roles WHERE name = $1").bind($role).fetch_optional(&mut *$conn).await?;
        let unrevoked: Option<UnrevokedAssignmentRow> = match role_id {
            Some(role_id) => {
                sqlx::query_as(
                    "SELECT id, expires_at FROM user_roles \
                 WHERE user_id = $1 AND role_id = $2 AND revoked_at IS NULL",
                )
                .bind(DbUuid($user_id))
                .bind(role_id)
                .fetch_optional(&mut *$conn)
                .await?
            }
            None => None,
        };
        AssignmentTarget {
            user_exists: user.is_some(),
            user_active: user.is_some_and(|u| u.is_active),
            role_id: role_id.map(|r| r.0),
            unrevoked,
        }
    }};
}

impl Store {
    /// Every role with its permissions; roles in the order admin, manager, user, then by name;
    /// permissions by id.
    pub async fn list_roles(&self) -> StoreResult<Vec<Role>> {
        let (roles, permissions) = on_db!(&self.db, |pool, _d| {
            let roles: Vec<RoleRow> = sqlx::query_as("SELECT id, name, description FROM roles").fetch_all(pool).await?;
            let permissions: Vec<RolePermissionRow> = sqlx::query_as(
                "SELECT rp.role_id, p.id, p.resource, p.action, p.scope, p.description \
                 FROM role_permissions rp JOIN permissions p ON p.id = rp.permission_id \
                 ORDER BY p.id",
            )
            .fetch_all(pool)
            .await?;
            (roles, permissions)
        });

        let mut names: Vec<String> = roles.iter().map(|r| r.name.clone()).collect();
        sort_role_names(&mut names);
        let mut out: Vec<Role> = roles
            .into_iter()
            .map(|r| Role { id: r.id.0, name: r.name, description: r.description, permissions: Vec::new() })
            .collect();
        out.sort_by_key(|r| names.iter().position(|n| *n == r.name).unwrap_or(usize::MAX));
        for p in permissions {
            let scope = Scope::parse(&p.scope)
                .ok_or_else(|| corrupt(format!("permission {} has scope {:?}", p.id.0, p.scope)))?;
            if let Some(role) = out.iter_mut().find(|r| r.id == p.role_id.0) {
                role.permissions.push(Permission {
                    id: p.id.0,
                    resource: p.resource,
                    action: p.action,
                    scope,
                    description: p.description,
                });
            }
        }
        Ok(out)
    }

    /// Assigns `role` to a non-deleted user. An expired but unrevoked assignment row is reused
    /// (new assigned_at / expires_at / assigned_by).
    pub async fn assign_role(
        &self,
        user_id: Uuid,
        role: &str,
        expires_at: Option<Timestamp>,
        assigned_by: Option<Uuid>,
        now: Timestamp,
    ) -> StoreResult<AssignOutcome> {
        let result: StoreResult<AssignOutcome> = on_db!(&self.db, |pool, d| {
            let mut tx = pool.begin_with(d.begin_write()).await?;
            let target = load_target!(&mut *tx, user_id, role);
            // An unknown role is a validation failure (400), which docs/http-contract.md#order-of-checks checks before the
            // existence of the user (404).
            let Some(role_id) = target.role_id else {
                return Ok(AssignOutcome::UnknownRole);
            };
            if !target.user_exists {
                return Ok(AssignOutcome::UserNotFound);
            }
            match target.unrevoked {
                Some(row) if crate::rows::is_active(row.expires_at.map(|t| t.0), now) => {
                    return Ok(AssignOutcome::AlreadyAssigned);
                }
                // Expired but never revoked: the partial unique index would reject a second
                // unrevoked row, so the old one is renewed instead (docs/data-model.md#tables).
                Some(row) => {
                    sqlx::query(
                        "UPDATE user_roles SET assigned_at = $2, expires_at = $3, assigned_by = $4 \
                         WHERE id = $1",
                    )
                    .bind(row.id)
                    .bind(DbTime(now))
                    .bind(expires_at.map(DbTime))
                    .bind(assigned_by.map(DbUuid))
                    .execute(&mut *tx)
                    .await?;
                }
                None => {
                    sqlx::query(
                        "INSERT INTO user_roles (id, user_id, role_id, assigned_by, assigned_at, expires_at) \
                         VALUES ($1, $2, $3, $4, $5, $6)",
                    )
                    .bind(DbUuid(Uuid::now_v7()))
                    .bind(DbUuid(user_id))
                    .bind(DbUuid(role_id))
                    .bind(assigned_by.map(DbUuid))
                    .bind(DbTime(now))
                    .bind(expires_at.map(DbTime))
                    .execute(&mut *tx)
                    .await?;
                }
            }
            tx.commit().await?;
            Ok(AssignOutcome::Assigned(RoleAssignment {
                role: role.to_owned(),
                assigned_at: now,
                expires_at,
                assigned_by,
            }))
        });
        match result {
            // A concurrent assignment of the same role won the race for the unique index.
            Err(StoreError::Conflict(_)) => Ok(AssignOutcome::AlreadyAssigned),
            other => other,
        }
    }

    /// Revokes the active assignment (sets revoked_at / revoked_by). Removing `admin` from the
    /// last active admin is `LastAdmin` (checked and written atomically).
    pub async fn revoke_role(
        &self,
        user_id: Uuid,
        role: &str,
        revoked_by: Option<Uuid>,
        now: Timestamp,
    ) -> StoreResult<RevokeOutcome> {
        on_db!(&self.db, |pool, d| {
            let mut tx = pool.begin_with(d.begin_write()).await?;
            if role == "admin" {
                tx.lock_admin_set().await?;
            }
            let target = load_target!(&mut *tx, user_id, role);
            if !target.user_exists {
                return Ok(RevokeOutcome::UserNotFound);
            }
            if target.role_id.is_none() {
                return Ok(RevokeOutcome::UnknownRole);
            }
            let Some(row) = target.unrevoked.filter(|row| crate::rows::is_active(row.expires_at.map(|t| t.0), now))
            else {
                return Ok(RevokeOutcome::NotAssigned);
            };
            if role == "admin" && target.user_active && tx.is_last_active_admin(user_id, now).await? {
                return Ok(RevokeOutcome::LastAdmin);
            }
            sqlx::query("UPDATE user_roles SET revoked_at = $2, revoked_by = $3 WHERE id = $1")
                .bind(row.id)
                .bind(DbTime(now))
                .bind(revoked_by.map(DbUuid))
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(RevokeOutcome::Revoked)
        })
    }
}
