//! Taskify authorization decisions with the Cedar policy engine (docs/authorization.md).
//!
//! [`PolicyEngine`] holds a policy set that has been parsed, checked for `@id` annotations and
//! validated in strict mode against the fixed entity schema (`policies/schema.cedarschema`),
//! all once, at start-up. [`PolicyEngine::decide`] then builds only the entities one decision
//! needs (the principal, its roles and the resource) and asks Cedar.
//!
//! The default policy set (`policies/default.cedar`) reproduces, policy id for policy id, the
//! hand-written evaluator it replaces; `tests/differential.rs` holds the two against each
//! other over every combination of the inputs that matter.
//!
//! # Mapping the caller's types
//! - `TaskRecord` → [`TaskFacts`]: `id: r.task.id`, `owner: r.task.user_id`,
//!   `owner_department: &r.owner_department`, `owner_deleted`, `required_clearance`,
//!   `attributes: &r.attributes`.
//! - `CollectionOwner` → [`OwnerFacts`]: `user_id`, `department: &o.department`, `deleted`.
//! - Decisions are the same as the hand-written evaluator's, except that `policy_ids` are
//!   owned `String`s (a replacement policy file brings its own ids).
//!
//! # Limits of a replacement policy file
//! Only the principal, its roles and the resource are loaded: `resource.owner` and
//! `resource.user` can be compared with `principal` but not dereferenced (use
//! `resource.owner_department` / `resource.owner_deleted`). `attrs` records hold the known,
//! typed attribute keys; every attribute is also an entity tag (`getTag`), as text.

mod engine;
mod entities;
mod error;
mod key_encoding;
mod load;
mod memo;
mod schema;

pub use engine::PolicyEngine;
pub use error::PolicyError;

use serde::Serialize;
use uuid::Uuid;

/// What an action is performed on (docs/authorization.md#entities, docs/authorization.md#endpoints-actions-and-resources).
/// `Serialize` makes it part of a decision memo key (docs/performance.md#decision-memo).
#[derive(Debug, Clone, Copy, Serialize)]
pub enum Resource<'a> {
    /// `Task::"<uuid>"`.
    Task(TaskFacts<'a>),
    /// `TaskCollection::"all"` (owner `None` = the caller's own view) or one owner's tasks
    /// (`TaskCollection::"<owner uuid>"`).
    TaskCollection(Option<OwnerFacts<'a>>),
    /// `Profile::"<uuid>"`: the target user id.
    Profile(Uuid),
    /// `System::"taskify"`: administrative actions.
    System,
}

/// What policies may know about one task.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct TaskFacts<'a> {
    pub id: Uuid,
    pub owner: Uuid,
    /// Trimmed, lowercased; `""` when the owner has none.
    pub owner_department: &'a str,
    pub owner_deleted: bool,
    /// The active `required_clearance` attribute as a whole number, if any.
    pub required_clearance: Option<i64>,
    /// The task's active resource attributes (attributes flagged inactive are ignored).
    pub attributes: &'a [taskify_domain::Attribute],
}

/// The owner of a task collection, as policies see it.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct OwnerFacts<'a> {
    pub user_id: Uuid,
    /// Trimmed, lowercased; `""` when none.
    pub department: &'a str,
    pub deleted: bool,
}

/// The request facts that become Cedar's `context`.
#[derive(Debug, Clone, Copy)]
pub struct DecisionContext<'a> {
    /// Unix seconds.
    pub now_unix: i64,
    /// Client address; `context.ip` is `""` when unknown.
    pub ip: Option<&'a str>,
    pub request_id: &'a str,
    pub method: &'a str,
    pub path: &'a str,
}

/// The outcome of one decision, ready for the audit row (docs/authorization.md#audit).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    /// Sorted, distinct `@id`s of the deciding policies: the satisfied permits when allowed,
    /// the satisfied forbids when denied by one, empty otherwise.
    pub policy_ids: Vec<String>,
    /// `allowed by <ids>`, `denied by <ids>` or `no permitting policy`.
    pub reason: String,
}

impl Decision {
    /// The deny that Cedar gives when nothing permits (and that an evaluation error becomes).
    pub(crate) fn no_permit() -> Self {
        Self { allowed: false, policy_ids: Vec::new(), reason: "no permitting policy".to_owned() }
    }

    /// Allowed by the given permit ids (sorted and deduplicated here).
    pub(crate) fn allowed_by(mut ids: Vec<String>) -> Self {
        ids.sort_unstable();
        ids.dedup();
        let reason = format!("allowed by {}", ids.join(", "));
        Self { allowed: true, policy_ids: ids, reason }
    }

    /// Denied by the given forbid ids (sorted and deduplicated here).
    pub(crate) fn denied_by(mut ids: Vec<String>) -> Self {
        ids.sort_unstable();
        ids.dedup();
        let reason = format!("denied by {}", ids.join(", "));
        Self { allowed: false, policy_ids: ids, reason }
    }
}
