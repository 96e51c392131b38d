//! Row structs shared by several modules, and their conversion into domain types.
//!
//! Every row derives `sqlx::FromRow` with the portable wrappers of [`crate::types`], so the same
//! struct decodes a PostgreSQL row and a SQLite row.

use crate::StoreResult;
use crate::error::corrupt;
use crate::types::{DbTime, DbUuid, opt_time, opt_uuid};
use taskify_domain::user::{primary_role, sort_role_names};
use taskify_domain::{
    Attribute, AttributeValue, DataType, RoleAssignment, Task, TaskPriority, TaskStatus, Timestamp, User,
};

/// `SELECT` list for [`UserRow`] over `users u`.
pub(crate) const USER_COLUMNS: &str = "u.id, u.username, u.email, u.first_name, u.last_name, \
     u.department, u.position, u.is_active, u.last_login_at, u.created_at, u.updated_at, \
     u.deleted_at";

/// The `users` columns as the drivers decode them. It mirrors [`taskify_domain::User`] field by
/// field on purpose: the row holds the database's representations (`DbUuid`, `DbTime`), the
/// domain type the API's; `into_user` is the one place that converts.
#[derive(sqlx::FromRow)]
pub(crate) struct UserRow {
    pub id: DbUuid,
    // The users columns, as in domain::User and store's NewUser: this is the database row, decoded
    // with sqlx types, so it stays its own type.
    pub username: String,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub department: Option<String>,
    pub position: Option<String>,
    pub is_active: bool,
    pub last_login_at: Option<DbTime>,
    pub created_at: DbTime,
    pub updated_at: DbTime,
    pub deleted_at: Option<DbTime>,
}

impl UserRow {
    /// The API user. `assignments` are the user's active assignments: they give `roles` and
    /// `role`, and are shown as `role_assignments` when `with_assignments` is set.
    pub(crate) fn into_user(self, mut assignments: Vec<RoleAssignment>, with_assignments: bool) -> User {
        let mut roles: Vec<String> = assignments.iter().map(|a| a.role.clone()).collect();
        sort_role_names(&mut roles);
        roles.dedup();
        let role = primary_role(&roles);
        let role_assignments = with_assignments.then(|| {
            sort_assignments(&mut assignments);
            assignments
        });
        User {
            id: self.id.0,
            username: self.username,
            email: self.email,
            first_name: self.first_name,
            last_name: self.last_name,
            department: self.department,
            position: self.position,
            is_active: self.is_active,
            last_login_at: opt_time(self.last_login_at),
            created_at: self.created_at.0,
            updated_at: self.updated_at.0,
            role,
            roles,
            deleted_at: opt_time(self.deleted_at),
            role_assignments,
        }
    }
}

/// Assignments in the order of `roles`: admin, manager, user, then alphabetical.
fn sort_assignments(assignments: &mut [RoleAssignment]) {
    let mut names: Vec<String> = assignments.iter().map(|a| a.role.clone()).collect();
    sort_role_names(&mut names);
    assignments.sort_by_key(|a| names.iter().position(|n| *n == a.role).unwrap_or(usize::MAX));
}

/// An active role assignment with its owner, for batch loading.
#[derive(sqlx::FromRow)]
pub(crate) struct AssignmentRow {
    // A plain row of user_roles; its shape matches core's Registration and the cluster load test by
    // coincidence only.
    pub user_id: DbUuid,
    pub role: String,
    pub assigned_at: DbTime,
    pub expires_at: Option<DbTime>,
    pub assigned_by: Option<DbUuid>,
}

impl AssignmentRow {
    pub(crate) fn into_assignment(self) -> RoleAssignment {
        RoleAssignment {
            role: self.role,
            assigned_at: self.assigned_at.0,
            expires_at: opt_time(self.expires_at),
            assigned_by: opt_uuid(self.assigned_by),
        }
    }
}

/// `SELECT` list for [`TaskRow`] over `tasks t JOIN users u ON u.id = t.user_id`.
pub(crate) const TASK_COLUMNS: &str = "t.id, t.user_id, t.title, t.description, t.status, \
     t.priority, t.due_date, t.created_at, t.updated_at, t.version, u.username AS owner_username";

#[derive(sqlx::FromRow)]
pub(crate) struct TaskRow {
    pub id: DbUuid,
    pub user_id: DbUuid,
    pub title: String,
    pub description: String,
    pub status: String,
    pub priority: String,
    pub due_date: Option<DbTime>,
    pub created_at: DbTime,
    pub updated_at: DbTime,
    pub version: i64,
    pub owner_username: String,
}

impl TaskRow {
    pub(crate) fn into_task(self) -> StoreResult<Task> {
        let status = TaskStatus::parse(&self.status)
            .ok_or_else(|| corrupt(format!("task {} has status {:?}", self.id.0, self.status)))?;
        let priority = TaskPriority::parse(&self.priority)
            .ok_or_else(|| corrupt(format!("task {} has priority {:?}", self.id.0, self.priority)))?;
        Ok(Task {
            id: self.id.0,
            user_id: self.user_id.0,
            title: self.title,
            description: self.description,
            status,
            priority,
            due_date: opt_time(self.due_date),
            created_at: self.created_at.0,
            updated_at: self.updated_at.0,
            version: self.version,
            owner_username: self.owner_username,
        })
    }
}

/// `SELECT` list for [`AttributeRow`] over an attribute table aliased `a`.
pub(crate) const ATTRIBUTE_COLUMNS: &str =
    "a.key, a.value, a.data_type, a.source, a.expires_at, a.created_at, a.updated_at";

#[derive(sqlx::FromRow)]
pub(crate) struct AttributeRow {
    pub key: String,
    pub value: String,
    pub data_type: String,
    pub source: String,
    pub expires_at: Option<DbTime>,
    pub created_at: DbTime,
    pub updated_at: DbTime,
}

/// [`ATTRIBUTE_COLUMNS`] on the nullable side of a LEFT JOIN, renamed apart from the task's
/// own `created_at` and `updated_at`.
pub(crate) const OPTIONAL_ATTRIBUTE_COLUMNS: &str = "a.key AS attr_key, a.value AS attr_value, \
     a.data_type AS attr_data_type, a.source AS attr_source, a.expires_at AS attr_expires_at, \
     a.created_at AS attr_created_at, a.updated_at AS attr_updated_at";

#[derive(sqlx::FromRow)]
pub(crate) struct OptionalAttributeRow {
    attr_key: Option<String>,
    attr_value: Option<String>,
    attr_data_type: Option<String>,
    attr_source: Option<String>,
    attr_expires_at: Option<DbTime>,
    attr_created_at: Option<DbTime>,
    attr_updated_at: Option<DbTime>,
}

impl OptionalAttributeRow {
    /// The attribute, when the join found one (its NOT NULL columns are then all present).
    pub(crate) fn into_row(self) -> Option<AttributeRow> {
        Some(AttributeRow {
            key: self.attr_key?,
            value: self.attr_value?,
            data_type: self.attr_data_type?,
            source: self.attr_source?,
            expires_at: self.attr_expires_at,
            created_at: self.attr_created_at?,
            updated_at: self.attr_updated_at?,
        })
    }
}

impl AttributeRow {
    /// Decodes the canonical text form; `active` is computed against `now`.
    pub(crate) fn into_attribute(self, now: Timestamp) -> StoreResult<Attribute> {
        let data_type = DataType::parse(&self.data_type)
            .ok_or_else(|| corrupt(format!("attribute {:?} has data_type {:?}", self.key, self.data_type)))?;
        let value = AttributeValue::from_stored(&self.value, data_type)
            .ok_or_else(|| corrupt(format!("attribute {:?} does not hold a valid {}", self.key, data_type.as_str())))?;
        let expires_at = opt_time(self.expires_at);
        Ok(Attribute {
            key: self.key,
            value,
            data_type,
            source: self.source,
            active: is_active(expires_at, now),
            expires_at,
            created_at: self.created_at.0,
            updated_at: self.updated_at.0,
        })
    }
}

/// The one definition of "active" (docs/data-model.md#tables): no expiry, or an expiry after `now`.
pub(crate) fn is_active(expires_at: Option<Timestamp>, now: Timestamp) -> bool {
    expires_at.is_none_or(|e| e > now)
}
