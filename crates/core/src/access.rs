//! Authorization: the RBAC pre-check and the ABAC decision of SPEC §3.3, with one audit row
//! per decision (§3.6).
//!
//! The decision function implements the default policy set of §3.4 rule by rule, under the
//! same policy ids, so the audit log already names the deciding policies. The Cedar engine
//! (with `POLICY_FILE`) replaces [`decide`] without changing callers.

use crate::audit::AuditSink;
use crate::config::AllowedReads;
use crate::context::RequestContext;
use crate::error::{CoreError, CoreResult};
use serde_json::{Value, json};
use taskify_domain::{AuditEntry, Decision, Principal, Scope};
use taskify_store::TaskRecord;
use uuid::Uuid;

/// The owner of a task collection, as policies see it.
#[derive(Debug, Clone)]
pub struct CollectionOwner {
    pub user_id: Uuid,
    /// Trimmed, lowercased; `""` when none.
    pub department: String,
    pub deleted: bool,
}

/// What an action is performed on (SPEC §3.2, §3.5).
#[derive(Debug, Clone, Copy)]
pub enum Resource<'a> {
    Task(&'a TaskRecord),
    /// `TaskCollection::"all"` (owner `None`: the caller's own view) or one owner's tasks.
    TaskCollection(Option<&'a CollectionOwner>),
    Profile(Uuid),
    System,
}

/// The result of evaluating the policies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyDecision {
    pub allowed: bool,
    /// Sorted ids of the deciding policies (the forbids when denied by one).
    pub policy_ids: Vec<&'static str>,
    pub reason: String,
}

/// Evaluates the default policy set (SPEC §3.4) for `principal` doing `action` on `resource`.
pub fn decide(principal: &Principal, action: &str, resource: Resource<'_>) -> PolicyDecision {
    let mut forbids: Vec<&'static str> = Vec::new();
    let mut permits: Vec<&'static str> = Vec::new();
    let is_task_action = action.starts_with("task:");
    let holds_all = principal.holds_at(action, Scope::All);

    if !principal.active {
        forbids.push("forbid-inactive");
    }
    if let Resource::Task(record) = resource {
        let is_owner = record.task.user_id == principal.user_id;
        if is_task_action
            && record.required_clearance.is_some_and(|c| c > principal.clearance_level())
            && !is_owner
            && !holds_all
        {
            forbids.push("forbid-insufficient-clearance");
        }
    }
    if principal.has_role("admin") {
        permits.push("admin-all");
    }
    let owner_of = |resource: Resource<'_>| -> Option<(Uuid, String, bool)> {
        match resource {
            Resource::Task(r) => Some((r.task.user_id, r.owner_department.clone(), r.owner_deleted)),
            Resource::TaskCollection(Some(o)) => Some((o.user_id, o.department.clone(), o.deleted)),
            _ => None,
        }
    };
    let is_task_resource = matches!(resource, Resource::Task(_) | Resource::TaskCollection(_));
    match action {
        "task:create" if matches!(resource, Resource::TaskCollection(_)) && principal.holds(action) => {
            permits.push("task-create");
        }
        _ => {}
    }
    if action == "task:read" && matches!(resource, Resource::TaskCollection(None)) && principal.holds(action) {
        permits.push("task-list");
    }
    if let Some((owner, department, owner_deleted)) = owner_of(resource) {
        if matches!(action, "task:read" | "task:update" | "task:delete")
            && owner == principal.user_id
            && principal.holds(action)
        {
            permits.push("task-owner");
        }
        if action == "task:read"
            && !owner_deleted
            && !department.is_empty()
            && department == principal.department
            && principal.holds_at("task:read", Scope::Department)
        {
            permits.push("task-department-read");
        }
    }
    if is_task_action && is_task_resource && holds_all {
        permits.push("task-all");
    }
    if let Resource::Profile(target) = resource {
        if matches!(action, "profile:read" | "profile:update") && target == principal.user_id && principal.holds(action)
        {
            permits.push("profile-self");
        }
        if action.starts_with("profile:") && holds_all {
            permits.push("profile-all");
        }
    }
    let admin_action = action.starts_with("user:") || matches!(action, "role:manage" | "audit:read" | "system:admin");
    if admin_action && matches!(resource, Resource::System) && holds_all {
        permits.push("admin-actions");
    }

    if !forbids.is_empty() {
        forbids.sort_unstable();
        let reason = format!("denied by {}", forbids.join(", "));
        PolicyDecision { allowed: false, policy_ids: forbids, reason }
    } else if permits.is_empty() {
        PolicyDecision { allowed: false, policy_ids: Vec::new(), reason: "no permitting policy".into() }
    } else {
        permits.sort_unstable();
        permits.dedup();
        let reason = format!("allowed by {}", permits.join(", "));
        PolicyDecision { allowed: true, policy_ids: permits, reason }
    }
}

/// Runs pre-checks and decisions and writes their audit rows.
#[derive(Clone)]
pub struct Access {
    audit: AuditSink,
    allowed_reads: AllowedReads,
}

/// The `resource` column for an action: its prefix (`task:read` → `task`).
fn resource_name(action: &str) -> &str {
    action.split(':').next().unwrap_or(action)
}

impl Access {
    pub fn new(audit: AuditSink, allowed_reads: AllowedReads) -> Self {
        Self { audit, allowed_reads }
    }

    /// The audit sink, for security events that are not decisions (login, logout, reuse).
    pub fn audit(&self) -> &AuditSink {
        &self.audit
    }

    /// Step 1 of SPEC §3.3: the action must be held at some scope. A denial is audited.
    pub async fn precheck(&self, principal: &Principal, action: &str, ctx: &RequestContext) -> CoreResult<()> {
        if principal.holds(action) {
            return Ok(());
        }
        metrics::counter!("authz_decisions_total", "action" => action.to_owned(), "decision" => "denied").increment(1);
        let entry = self.entry(
            Some(principal.user_id),
            action,
            None,
            Decision::Denied,
            format!("missing permission {action}"),
            Vec::new(),
            ctx,
            None,
        );
        self.audit.record(entry).await?;
        Err(if action == "system:admin" {
            CoreError::InsufficientRole
        } else {
            CoreError::MissingPermission(action.to_owned())
        })
    }

    /// Steps 2 and 3 of SPEC §3.3: evaluate the policies, audit the decision (allowed reads of
    /// the caller's own data are skipped under `AUDIT_ALLOWED_READS=others`), and fail with
    /// `Forbidden` on a deny. `extra` is merged into the audit `context` (e.g. the list scope).
    pub async fn authorize(
        &self,
        principal: &Principal,
        action: &str,
        resource: Resource<'_>,
        ctx: &RequestContext,
        extra: Option<Value>,
    ) -> CoreResult<()> {
        let started = std::time::Instant::now();
        let decision = decide(principal, action, resource);
        metrics::histogram!("authz_evaluation_duration_seconds").record(started.elapsed().as_secs_f64());
        let label = if decision.allowed { "allowed" } else { "denied" };
        metrics::counter!("authz_decisions_total", "action" => action.to_owned(), "decision" => label).increment(1);

        let is_read = action.ends_with(":read");
        let own_data = match resource {
            Resource::Task(r) => r.task.user_id == principal.user_id,
            Resource::TaskCollection(Some(o)) => o.user_id == principal.user_id,
            Resource::TaskCollection(None) => principal.widest_scope("task:read") == Some(Scope::Own),
            Resource::Profile(id) => id == principal.user_id,
            Resource::System => false,
        };
        let skip = decision.allowed
            && is_read
            && match self.allowed_reads {
                AllowedReads::All => false,
                AllowedReads::Others => own_data,
                AllowedReads::None => true,
            };
        if !skip {
            let resource_id = match resource {
                Resource::Task(r) => Some(r.task.id.to_string()),
                Resource::Profile(id) => Some(id.to_string()),
                _ => None,
            };
            let entry = self.entry(
                Some(principal.user_id),
                action,
                resource_id,
                if decision.allowed { Decision::Allowed } else { Decision::Denied },
                decision.reason.clone(),
                decision.policy_ids.iter().map(|s| (*s).to_owned()).collect(),
                ctx,
                extra,
            );
            self.audit.record(entry).await?;
        }
        if decision.allowed { Ok(()) } else { Err(CoreError::Forbidden) }
    }

    /// Builds an audit row from the request context.
    #[allow(clippy::too_many_arguments)]
    pub fn entry(
        &self,
        user_id: Option<Uuid>,
        action: &str,
        resource_id: Option<String>,
        decision: Decision,
        reason: String,
        policy_ids: Vec<String>,
        ctx: &RequestContext,
        extra: Option<Value>,
    ) -> AuditEntry {
        let mut context = json!({ "query": ctx.query });
        if let (Some(Value::Object(extra)), Value::Object(map)) = (extra, &mut context) {
            map.extend(extra);
        }
        AuditEntry {
            id: Uuid::now_v7(),
            timestamp: taskify_domain::time::now(),
            user_id,
            action: action.to_owned(),
            resource: resource_name(action).to_owned(),
            resource_id,
            decision,
            reason: Some(reason),
            policy_ids,
            request_id: Some(ctx.request_id.clone()),
            ip_address: ctx.client_ip.clone(),
            user_agent: ctx.user_agent_truncated(),
            method: Some(ctx.method.clone()),
            path: Some(ctx.path.chars().take(2048).collect()),
            context: Some(context),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use taskify_domain::auth::Grant;
    use taskify_domain::{PrincipalRole, Task, TaskPriority, TaskStatus};

    fn principal(role: &str, grants: &[(&str, Scope)], department: &str) -> Principal {
        Principal {
            user_id: Uuid::new_v4(),
            username: "p".into(),
            active: true,
            deleted: false,
            department: department.into(),
            roles: vec![PrincipalRole { name: role.into(), expires_at: None }],
            grants: grants.iter().map(|(a, s)| Grant { action: (*a).into(), scope: *s }).collect(),
            attributes: BTreeMap::new(),
            tokens_valid_after: None,
        }
    }

    fn task_of(owner: Uuid, department: &str, clearance: Option<i64>) -> TaskRecord {
        let now = taskify_domain::time::now();
        TaskRecord {
            task: Task {
                id: Uuid::new_v4(),
                user_id: owner,
                title: "t".into(),
                description: String::new(),
                status: TaskStatus::Pending,
                priority: TaskPriority::Medium,
                due_date: None,
                created_at: now,
                updated_at: now,
                version: 1,
                owner_username: "o".into(),
            },
            owner_department: department.into(),
            owner_deleted: false,
            required_clearance: clearance,
            attributes: Vec::new(),
        }
    }

    const USER: &[(&str, Scope)] = &[("task:read", Scope::Own), ("task:update", Scope::Own)];
    const MANAGER: &[(&str, Scope)] =
        &[("task:read", Scope::Own), ("task:read", Scope::Department), ("task:update", Scope::Own)];

    #[test]
    fn owners_read_and_update_their_tasks_only() {
        let alice = principal("user", USER, "engineering");
        let own = task_of(alice.user_id, "engineering", None);
        let other = task_of(Uuid::new_v4(), "engineering", None);
        assert_eq!(decide(&alice, "task:update", Resource::Task(&own)).policy_ids, ["task-owner"]);
        let denied = decide(&alice, "task:read", Resource::Task(&other));
        assert!(!denied.allowed);
        assert_eq!(denied.reason, "no permitting policy");
    }

    #[test]
    fn managers_read_but_do_not_change_department_tasks_and_respect_clearance() {
        let mike = principal("manager", MANAGER, "engineering");
        let task = task_of(Uuid::new_v4(), "engineering", None);
        assert_eq!(decide(&mike, "task:read", Resource::Task(&task)).policy_ids, ["task-department-read"]);
        assert!(!decide(&mike, "task:update", Resource::Task(&task)).allowed);
        let secret = task_of(Uuid::new_v4(), "engineering", Some(3));
        let d = decide(&mike, "task:read", Resource::Task(&secret));
        assert_eq!((d.allowed, d.policy_ids), (false, vec!["forbid-insufficient-clearance"]));
        let sales = task_of(Uuid::new_v4(), "sales", None);
        assert!(!decide(&mike, "task:read", Resource::Task(&sales)).allowed);
        assert_eq!(decide(&mike, "task:read", Resource::TaskCollection(None)).policy_ids, ["task-list"]);
    }

    #[test]
    fn inactive_principals_are_forbidden_and_admins_do_everything() {
        let mut alice = principal("user", USER, "");
        alice.active = false;
        let own = task_of(alice.user_id, "", None);
        assert_eq!(decide(&alice, "task:read", Resource::Task(&own)).policy_ids, ["forbid-inactive"]);
        let admin = principal("admin", &[("system:admin", Scope::All), ("task:read", Scope::All)], "");
        assert!(decide(&admin, "system:admin", Resource::System).allowed);
        let secret = task_of(Uuid::new_v4(), "x", Some(10));
        assert!(decide(&admin, "task:read", Resource::Task(&secret)).allowed);
    }
}
