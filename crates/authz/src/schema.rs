//! The fixed entity schema of docs/authorization.md#entities and the names derived from it once, so that a
//! decision never parses a type name or an action id.

use crate::error::PolicyError;
use cedar_policy::{EntityId, EntityTypeName, EntityUid, Schema};
use std::collections::HashMap;
use std::str::FromStr;

/// The schema source, shipped beside the default policies for policy authors.
pub(crate) const SCHEMA_SOURCE: &str = include_str!("../../../policies/schema.cedarschema");

/// The built-in default policy set (docs/authorization.md#default-policies).
pub(crate) const DEFAULT_POLICIES: &str = include_str!("../../../policies/default.cedar");

/// Where [`DEFAULT_POLICIES`] comes from, for error messages.
pub(crate) const DEFAULT_ORIGIN: &str = "policies/default.cedar";

/// Parses [`SCHEMA_SOURCE`]. A failure is a bug in this crate (its tests parse it), but it is
/// still reported rather than panicking.
pub(crate) fn parse_schema() -> Result<Schema, PolicyError> {
    let (schema, warnings) =
        Schema::from_cedarschema_str(SCHEMA_SOURCE).map_err(|e| PolicyError::Schema(e.to_string()))?;
    for warning in warnings {
        tracing::warn!(%warning, "entity schema warning");
    }
    Ok(schema)
}

/// Entity type names and action uids, built once per engine.
///
/// Cloning an [`EntityTypeName`] or [`EntityUid`] is a reference-count bump; parsing one is
/// not, and a decision needs up to a dozen.
#[derive(Debug, Clone)]
pub(crate) struct Names {
    pub user: EntityTypeName,
    pub role: EntityTypeName,
    pub task: EntityTypeName,
    pub task_collection: EntityTypeName,
    pub profile: EntityTypeName,
    pub action: EntityTypeName,
    /// `System::"taskify"`.
    pub system_uid: EntityUid,
    /// `TaskCollection::"all"`.
    pub all_tasks_uid: EntityUid,
    /// Every action the schema declares, by its `resource:action` name.
    pub actions: HashMap<String, EntityUid>,
}

impl Names {
    pub(crate) fn new(schema: &Schema) -> Result<Self, PolicyError> {
        let name = |s: &str| {
            EntityTypeName::from_str(s).map_err(|e| PolicyError::Schema(format!("entity type name {s}: {e}")))
        };
        let system = name("System")?;
        let task_collection = name("TaskCollection")?;
        let actions = schema.actions().map(|uid| (uid.id().unescaped().to_owned(), uid.clone())).collect();
        Ok(Self {
            user: name("User")?,
            role: name("Role")?,
            task: name("Task")?,
            profile: name("Profile")?,
            action: name("Action")?,
            system_uid: EntityUid::from_type_name_and_id(system.clone(), EntityId::new("taskify")),
            all_tasks_uid: EntityUid::from_type_name_and_id(task_collection.clone(), EntityId::new("all")),
            task_collection,
            actions,
        })
    }

    /// The uid of `action`. An action the schema does not declare still gets a uid and is
    /// decided like any other: only policies that do not name their actions (`admin-all`,
    /// `forbid-inactive`) can apply to it.
    pub(crate) fn action_uid(&self, action: &str) -> EntityUid {
        self.actions
            .get(action)
            .cloned()
            .unwrap_or_else(|| EntityUid::from_type_name_and_id(self.action.clone(), EntityId::new(action)))
    }
}
