//! The principal of a user as authorization sees it: active roles, grants and attributes.

use crate::error::corrupt;
use crate::types::{DbTime, DbUuid, opt_time};
use crate::{Store, StoreResult};
use std::collections::BTreeMap;
use taskify_domain::auth::{Grant, PrincipalAttribute};
use taskify_domain::user::sort_role_names;
use taskify_domain::{AttributeValue, DataType, Principal, PrincipalRole, Scope, Timestamp};
use uuid::Uuid;

/// The condition on `user_roles ur` that selects the live assignments of user `$1` at time `$2`
/// (not revoked, not expired). A macro rather than a `const` so `concat!` can build the role and
/// the grant queries from it at compile time.
macro_rules! live_assignments_of_user {
    () => {
        "ur.user_id = $1 AND ur.revoked_at IS NULL AND (ur.expires_at IS NULL OR ur.expires_at > $2)"
    };
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

impl Store {
    /// Builds the principal as of `now`: active roles (revoked_at NULL and not expired) with
    /// expiry, their permissions as grants (sorted, distinct), active attributes with expiry,
    /// normalised department, `tokens_valid_after`. `None` when the user row does not exist.
    pub async fn load_principal(&self, id: Uuid, now: Timestamp) -> StoreResult<Option<Principal>> {
        let loaded = on_db!(&self.db, |pool, _d| {
            // Same fetch-one-row-by-id then match shape as `get_task` in tasks.rs: each query
            // decodes its own row type.
            let user: Option<PrincipalRow> = sqlx::query_as(
                "SELECT username, is_active, deleted_at, department, tokens_valid_after \
                 FROM users WHERE id = $1",
            )
            .bind(DbUuid(id))
            .fetch_optional(pool)
            .await?;
            match user {
                None => None,
                Some(user) => {
                    let roles: Vec<PrincipalRoleRow> = sqlx::query_as(concat!(
                        "SELECT r.name, ur.expires_at \
                         FROM user_roles ur JOIN roles r ON r.id = ur.role_id WHERE ",
                        live_assignments_of_user!()
                    ))
                    .bind(DbUuid(id))
                    .bind(DbTime(now))
                    .fetch_all(pool)
                    .await?;
                    let grants: Vec<GrantRow> = sqlx::query_as(concat!(
                        "SELECT DISTINCT p.resource, p.action, p.scope \
                         FROM user_roles ur \
                         JOIN role_permissions rp ON rp.role_id = ur.role_id \
                         JOIN permissions p ON p.id = rp.permission_id WHERE ",
                        live_assignments_of_user!()
                    ))
                    .bind(DbUuid(id))
                    .bind(DbTime(now))
                    .fetch_all(pool)
                    .await?;
                    let attributes: Vec<PrincipalAttributeRow> = sqlx::query_as(
                        "SELECT key, value, data_type, expires_at FROM user_attributes \
                         WHERE user_id = $1 AND (expires_at IS NULL OR expires_at > $2)",
                    )
                    .bind(DbUuid(id))
                    .bind(DbTime(now))
                    .fetch_all(pool)
                    .await?;
                    Some((user, roles, grants, attributes))
                }
            }
        });
        let Some((user, roles, grants, attributes)) = loaded else {
            return Ok(None);
        };
        Ok(Some(build_principal(id, user, roles, grants, attributes)?))
    }
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
