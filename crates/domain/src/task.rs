//! Tasks: the record, its enums, the change set of a PUT, and the list query.

use crate::page::{Order, PageRequest};
use crate::time::{Timestamp, serde_micros};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A task as the API shows it (docs/http-contract.md#shared-objects).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Task {
    pub id: Uuid,
    pub user_id: Uuid,
    pub title: String,
    pub description: String,
    pub status: TaskStatus,
    pub priority: TaskPriority,
    #[serde(with = "serde_micros::option", default)]
    pub due_date: Option<Timestamp>,
    #[serde(with = "serde_micros")]
    pub created_at: Timestamp,
    #[serde(with = "serde_micros")]
    pub updated_at: Timestamp,
    pub version: i64,
    pub owner_username: String,
}

macro_rules! string_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),+ }

        impl $name {
            /// Every value, in rank order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// Parses the exact wire value.
            pub fn parse(s: &str) -> Option<Self> {
                match s { $($text => Some(Self::$variant),)+ _ => None }
            }
            /// The wire and database value.
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text),+ }
            }
            /// Rank used for sorting (0-based, in declaration order).
            pub fn rank(self) -> usize {
                Self::ALL.iter().position(|v| *v == self).unwrap_or(0)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

string_enum!(
    /// Task status; any transition is allowed. Rank: pending < in_progress < completed < cancelled.
    TaskStatus { Pending = "pending", InProgress = "in_progress", Completed = "completed", Cancelled = "cancelled" }
);
string_enum!(
    /// Task priority. Rank: low < medium < high < urgent.
    TaskPriority { Low = "low", Medium = "medium", High = "high", Urgent = "urgent" }
);

// The enums come from `string_enum!`, which cannot mark a `#[default]` variant.
#[allow(clippy::derivable_impls)]
impl Default for TaskStatus {
    fn default() -> Self {
        Self::Pending
    }
}
#[allow(clippy::derivable_impls)]
impl Default for TaskPriority {
    fn default() -> Self {
        Self::Medium
    }
}

// Optional-field change set, the same shape as the list queries below and in user.rs: plain data,
// one field per column.
/// The members present in a `PUT /tasks/{id}` body; `None` leaves a field unchanged.
/// `due_date: Some(None)` clears the due date. An empty description clears it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TaskChanges {
    pub title: Option<String>,
    pub description: Option<String>,
    pub status: Option<TaskStatus>,
    pub priority: Option<TaskPriority>,
    pub due_date: Option<Option<Timestamp>>,
}

impl TaskChanges {
    /// `{}`: nothing changes, not even `version` or `updated_at`.
    pub fn is_empty(&self) -> bool {
        self.title.is_none()
            && self.description.is_none()
            && self.status.is_none()
            && self.priority.is_none()
            && self.due_date.is_none()
    }
}

/// Sortable columns of task lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum TaskSort {
    #[default]
    CreatedAt,
    UpdatedAt,
    Title,
    DueDate,
    Priority,
    Status,
}

impl TaskSort {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "created_at" => Self::CreatedAt,
            "updated_at" => Self::UpdatedAt,
            "title" => Self::Title,
            "due_date" => Self::DueDate,
            "priority" => Self::Priority,
            "status" => Self::Status,
            _ => return None,
        })
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CreatedAt => "created_at",
            Self::UpdatedAt => "updated_at",
            Self::Title => "title",
            Self::DueDate => "due_date",
            Self::Priority => "priority",
            Self::Status => "status",
        }
    }
}

/// A task list's `total` stops counting this many rows past the page's offset (the answer then
/// carries `total_capped`; docs/http-contract.md#pagination): counting every match of a list of
/// 200 000 tasks on each page cost as much as reading the page (docs/performance.md, "Task lists").
pub const TASK_TOTAL_CAP: u64 = 10_000;

/// Which tasks a caller may see in a list, derived from the scopes of their `task:read`
/// permissions (docs/authorization.md#lists).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Visibility {
    /// Only the caller's own tasks.
    Own { user_id: Uuid },
    /// Own tasks, plus tasks of non-deleted owners in the same non-empty department whose active
    /// `required_clearance` is absent or not above `clearance`.
    Department { user_id: Uuid, department: String, clearance: i64 },
    /// Every task.
    All,
}

// Same filters-then-order-then-page shape as UserListQuery and AuditQuery: each is its own
// endpoint's validated query.
/// A validated task list query. `owner` restricts to one owner (`user_id` / `/users/{id}/tasks`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TaskListQuery {
    pub status: Option<TaskStatus>,
    pub priority: Option<TaskPriority>,
    /// Inclusive lower bound on `due_date`.
    pub due_after: Option<Timestamp>,
    /// Exclusive upper bound on `due_date`.
    pub due_before: Option<Timestamp>,
    /// Case-insensitive (ASCII) substring of title or description, taken literally.
    pub q: Option<String>,
    pub owner: Option<Uuid>,
    pub sort_by: TaskSort,
    pub order: Order,
    pub page: PageRequest,
}
