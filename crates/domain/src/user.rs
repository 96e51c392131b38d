//! Users as the API shows them, and the admin list query.

use crate::page::{Order, PageRequest};
use crate::time::{Timestamp, serde_micros};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A user (docs/http-contract.md#shared-objects). The password hash is never part of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    pub id: Uuid,
    // The profile fields, also in store's NewUser/UserRow, core's Registration and the token
    // Principal: each layer has its own type, so they are not shared. (The Report of
    // server/tests/cluster/load.rs matches by shape only.)
    pub username: String,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub department: Option<String>,
    pub position: Option<String>,
    pub is_active: bool,
    #[serde(with = "serde_micros::option", default)]
    pub last_login_at: Option<Timestamp>,
    #[serde(with = "serde_micros")]
    pub created_at: Timestamp,
    #[serde(with = "serde_micros")]
    pub updated_at: Timestamp,
    /// The highest-ranked active role, or `user` when there is none.
    pub role: String,
    /// Active role names, highest rank first (see [`sort_role_names`]).
    pub roles: Vec<String>,
    /// Soft-delete time; never serialised.
    #[serde(skip)]
    pub deleted_at: Option<Timestamp>,
    /// Active assignments; only the admin endpoints show them.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub role_assignments: Option<Vec<RoleAssignment>>,
}

/// An active role assignment as the admin endpoints show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoleAssignment {
    pub role: String,
    #[serde(with = "serde_micros")]
    pub assigned_at: Timestamp,
    #[serde(with = "serde_micros::option", default)]
    pub expires_at: Option<Timestamp>,
    pub assigned_by: Option<Uuid>,
}

/// Orders role names as the API lists them: admin, manager, user, then the rest alphabetically.
pub fn sort_role_names(roles: &mut [String]) {
    fn rank(name: &str) -> u8 {
        match name {
            "admin" => 0,
            "manager" => 1,
            "user" => 2,
            _ => 3,
        }
    }
    roles.sort_by(|a, b| rank(a).cmp(&rank(b)).then_with(|| a.cmp(b)));
}

/// `role`: the first of the sorted active roles, or `user`.
pub fn primary_role(sorted_roles: &[String]) -> String {
    sorted_roles.first().cloned().unwrap_or_else(|| "user".to_owned())
}

/// Sortable columns of the admin user list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UserSort {
    #[default]
    CreatedAt,
    Username,
    Email,
    LastLoginAt,
}

impl UserSort {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "created_at" => Self::CreatedAt,
            "username" => Self::Username,
            "email" => Self::Email,
            "last_login_at" => Self::LastLoginAt,
            _ => return None,
        })
    }
}

// Same filters-then-order-then-page shape as TaskListQuery and AuditQuery: each is its own
// endpoint's validated query.
/// A validated `GET /users` query. Deleted users are never listed.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct UserListQuery {
    /// ASCII-case-insensitive substring of username, email, first or last name.
    pub q: Option<String>,
    /// Compared ignoring ASCII case after trimming.
    pub department: Option<String>,
    pub is_active: Option<bool>,
    /// Only users with an active assignment of this role.
    pub role: Option<String>,
    pub sort_by: UserSort,
    pub order: Order,
    pub page: PageRequest,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_sort_admin_manager_user_then_alphabetical() {
        let mut r: Vec<String> = ["zeta", "user", "alpha", "admin", "manager"].iter().map(|s| s.to_string()).collect();
        sort_role_names(&mut r);
        assert_eq!(r, ["admin", "manager", "user", "alpha", "zeta"]);
        assert_eq!(primary_role(&r), "admin");
        assert_eq!(primary_role(&[]), "user");
    }
}
