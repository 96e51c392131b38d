//! Roles, permissions and the principal: everything authorization reads about a caller.

use crate::attribute::AttributeValue;
use crate::time::{Timestamp, serde_micros};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use uuid::Uuid;

/// How far a permission reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    Own,
    Department,
    All,
}

impl Scope {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "own" => Some(Self::Own),
            "department" => Some(Self::Department),
            "all" => Some(Self::All),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Own => "own",
            Self::Department => "department",
            Self::All => "all",
        }
    }
}

/// A permission row (docs/data-model.md#tables), as `GET /roles` shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Permission {
    pub id: Uuid,
    pub resource: String,
    pub action: String,
    pub scope: Scope,
    pub description: Option<String>,
}

/// A role with its permissions, as `GET /roles` shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Role {
    pub id: Uuid,
    pub name: String,
    pub description: Option<String>,
    pub permissions: Vec<Permission>,
}

/// An active role of a principal and when it stops counting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrincipalRole {
    pub name: String,
    #[serde(with = "serde_micros::option", default)]
    pub expires_at: Option<Timestamp>,
}

/// A permission held by a principal: `resource:action` at a scope.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Grant {
    /// `resource:action`, e.g. `task:read`.
    pub action: String,
    pub scope: Scope,
}

/// An active attribute of a principal with its expiry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PrincipalAttribute {
    pub value: AttributeValue,
    #[serde(with = "serde_micros::option", default)]
    pub expires_at: Option<Timestamp>,
}

/// Everything authorization knows about a caller, loaded fresh (or from a short-lived cache)
/// on every request. Authorization never trusts token claims: it reads this.
///
/// Only *active* roles and attributes are present: expired ones are left out when it is built,
/// and [`Principal::valid_until`] says when the first of them expires.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Principal {
    pub user_id: Uuid,
    // The profile fields again, as in domain::User, store's NewUser/UserRow and core's
    // Registration: this is the token principal's own view, so the types are not shared. (The
    // Report of server/tests/cluster/load.rs matches by shape only.)
    pub username: String,
    pub active: bool,
    pub deleted: bool,
    /// Trimmed and ASCII-lowercased; `""` when the user has none.
    pub department: String,
    pub roles: Vec<PrincipalRole>,
    /// Sorted and distinct.
    pub grants: Vec<Grant>,
    pub attributes: BTreeMap<String, PrincipalAttribute>,
    /// Access tokens issued (`iat`) before this second are rejected (password change).
    #[serde(with = "serde_micros::option", default)]
    pub tokens_valid_after: Option<Timestamp>,
}

impl Principal {
    /// Normalises a department for comparisons: trimmed, ASCII-lowercased.
    pub fn normalise_department(department: Option<&str>) -> String {
        department.map(|d| d.trim().to_ascii_lowercase()).unwrap_or_default()
    }

    /// True when `action` (`resource:action`) is held at any scope: the RBAC pre-check.
    pub fn holds(&self, action: &str) -> bool {
        self.grants.iter().any(|g| g.action == action)
    }

    /// True when `action` is held at exactly `scope`.
    pub fn holds_at(&self, action: &str, scope: Scope) -> bool {
        self.grants.iter().any(|g| g.action == action && g.scope == scope)
    }

    /// The widest scope at which `action` is held.
    pub fn widest_scope(&self, action: &str) -> Option<Scope> {
        self.grants.iter().filter(|g| g.action == action).map(|g| g.scope).max()
    }

    pub fn has_role(&self, name: &str) -> bool {
        self.roles.iter().any(|r| r.name == name)
    }

    /// `clearance_level` attribute as a whole number; 0 when absent or not a number.
    pub fn clearance_level(&self) -> i64 {
        self.attributes.get("clearance_level").and_then(|a| a.value.as_i64()).unwrap_or(0)
    }

    /// Distinct `resource:action` strings, sorted: the `permissions` of login and profile.
    pub fn permission_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.grants.iter().map(|g| g.action.clone()).collect();
        names.sort();
        names.dedup();
        names
    }

    /// Role names, highest rank first.
    pub fn role_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.roles.iter().map(|r| r.name.clone()).collect();
        crate::user::sort_role_names(&mut names);
        names.dedup();
        names
    }

    /// The earliest moment at which a role or attribute of this principal expires: a cached copy
    /// must not outlive it.
    pub fn valid_until(&self) -> Option<Timestamp> {
        let roles = self.roles.iter().filter_map(|r| r.expires_at);
        let attrs = self.attributes.values().filter_map(|a| a.expires_at);
        roles.chain(attrs).min()
    }
}
