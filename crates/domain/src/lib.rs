//! Pure domain types of Taskify.
//!
//! Everything here is plain data plus the rules that make it valid ("parse, don't validate"):
//! no I/O, no async runtime. The store, core and server crates all speak these types.

pub mod attribute;
pub mod audit;
pub mod auth;
pub mod duration;
pub mod metric_keys;
pub mod metric_names;
pub mod page;
pub mod task;
pub mod text;
pub mod time;
pub mod user;

pub use attribute::{Attribute, AttributeValue, DataType};
pub use audit::{AuditEntry, AuditQuery, Decision, NewAuditEntry};
pub use auth::{Permission, Principal, PrincipalRole, Role, Scope};
pub use page::{Order, PageRequest, Paged};
pub use task::{TASK_TOTAL_CAP, Task, TaskChanges, TaskListQuery, TaskPriority, TaskSort, TaskStatus, Visibility};
pub use time::Timestamp;
pub use user::{RoleAssignment, User, UserListQuery, UserSort};

/// A field-level validation failure: the member (or query parameter / header) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { field: field.into(), message: message.into() }
    }
}
