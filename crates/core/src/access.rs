//! Authorization: the RBAC pre-check and the ABAC decision of docs/authorization.md#decision-procedure, with one audit row
//! per decision (docs/authorization.md#audit).
//!
//! Decisions are made by the Cedar policy engine of `taskify-authz` (the built-in default set,
//! or `POLICY_FILE`); this module maps the use cases' resources onto it, applies the audit
//! rules and turns a deny into `Forbidden`.

use crate::audit::AuditSink;
use crate::config::AllowedReads;
use crate::context::RequestContext;
use crate::error::{CoreError, CoreResult};
use crate::input::QueryInput;
use serde_json::{Value, json};
use std::borrow::Cow;
use std::sync::Arc;
use taskify_authz::{self as authz, DecisionContext, OwnerFacts, PolicyEngine, TaskFacts};
use taskify_domain::audit::{bounded_context, width};
use taskify_domain::metric_keys::LabelledMetric;
use taskify_domain::metric_names as names;
use taskify_domain::text::storable;
use taskify_domain::{AuditEntry, Decision, Principal, Scope};
use taskify_store::TaskRecord;
use uuid::Uuid;

/// `authz_decisions_total` by action and decision (a key built once per pair: metric_keys.rs).
static DECISIONS: LabelledMetric = LabelledMetric::new(names::AUTHZ_DECISIONS_TOTAL, &["action", "decision"]);

/// The owner of a task collection, as policies see it.
#[derive(Debug, Clone)]
pub struct CollectionOwner {
    pub user_id: Uuid,
    /// Trimmed, lowercased; `""` when none.
    pub department: String,
    pub deleted: bool,
}

/// What an action is performed on (docs/authorization.md#entities, docs/authorization.md#endpoints-actions-and-resources).
#[derive(Debug, Clone, Copy)]
pub enum Resource<'a> {
    Task(&'a TaskRecord),
    /// `TaskCollection::"all"` (owner `None`: the caller's own view) or one owner's tasks.
    TaskCollection(Option<&'a CollectionOwner>),
    Profile(Uuid),
    System,
}

impl Resource<'_> {
    /// The engine's view of the resource.
    fn facts(&self) -> authz::Resource<'_> {
        match *self {
            Resource::Task(r) => authz::Resource::Task(TaskFacts {
                id: r.task.id,
                owner: r.task.user_id,
                owner_department: &r.owner_department,
                owner_deleted: r.owner_deleted,
                required_clearance: r.required_clearance,
                attributes: &r.attributes,
            }),
            Resource::TaskCollection(owner) => authz::Resource::TaskCollection(owner.map(|o| OwnerFacts {
                user_id: o.user_id,
                department: &o.department,
                deleted: o.deleted,
            })),
            Resource::Profile(id) => authz::Resource::Profile(id),
            Resource::System => authz::Resource::System,
        }
    }
}

/// What an audit row says about a decision; [`Access::entry`] adds the request's facts.
#[derive(Debug, Clone)]
pub struct AuditFacts<'a> {
    pub user_id: Option<Uuid>,
    pub action: &'a str,
    pub resource_id: Option<String>,
    pub decision: Decision,
    pub reason: String,
    /// The policies that decided (empty when no policy was evaluated).
    pub policy_ids: Vec<String>,
    /// Merged into the row's `context` (for example the list scope).
    pub extra: Option<Value>,
}

impl<'a> AuditFacts<'a> {
    /// A decision about no particular resource, with no policy ids and no extra context.
    pub fn new(user_id: Option<Uuid>, action: &'a str, decision: Decision, reason: impl Into<String>) -> Self {
        Self {
            user_id,
            action,
            resource_id: None,
            decision,
            reason: reason.into(),
            policy_ids: Vec::new(),
            extra: None,
        }
    }
}

/// Runs pre-checks and decisions and writes their audit rows.
#[derive(Clone)]
pub struct Access {
    audit: AuditSink,
    allowed_reads: AllowedReads,
    engine: Arc<PolicyEngine>,
}

/// The policy engine's view of the request.
fn decision_context(ctx: &RequestContext) -> DecisionContext<'_> {
    DecisionContext {
        now_unix: taskify_domain::time::now().timestamp(),
        ip: ctx.client_ip.as_deref(),
        request_id: &ctx.request_id,
        method: &ctx.method,
        path: &ctx.path,
    }
}

/// The `resource` column for an action: its prefix (`task:read` → `task`).
fn resource_name(action: &str) -> &str {
    action.split(':').next().unwrap_or(action)
}

impl Access {
    pub fn new(audit: AuditSink, allowed_reads: AllowedReads, engine: Arc<PolicyEngine>) -> Self {
        Self { audit, allowed_reads, engine }
    }

    /// The audit sink, for security events that are not decisions (login, logout, reuse).
    pub fn audit(&self) -> &AuditSink {
        &self.audit
    }

    /// Step 1 of docs/authorization.md#decision-procedure: the action must be held at some scope. A denial is audited.
    pub async fn precheck(&self, principal: &Principal, action: &'static str, ctx: &RequestContext) -> CoreResult<()> {
        if principal.holds(action) {
            return Ok(());
        }
        DECISIONS.counter(&[action, "denied"]).increment(1);
        let facts =
            AuditFacts::new(Some(principal.user_id), action, Decision::Denied, format!("missing permission {action}"));
        let entry = self.entry(facts, ctx);
        self.audit.record(entry).await?;
        Err(if action == "system:admin" {
            CoreError::InsufficientRole
        } else {
            CoreError::MissingPermission(action.to_owned())
        })
    }

    /// Steps 2 and 3 of docs/authorization.md#decision-procedure: evaluate the policies, audit the decision (allowed reads of
    /// the caller's own data are skipped under `AUDIT_ALLOWED_READS=others`), and fail with
    /// `Forbidden` on a deny. `extra` is merged into the audit `context` (e.g. the list scope).
    pub async fn authorize(
        &self,
        principal: &Principal,
        action: &'static str,
        resource: Resource<'_>,
        ctx: &RequestContext,
        extra: Option<Value>,
    ) -> CoreResult<()> {
        let started = std::time::Instant::now();
        let decision = self.engine.decide(principal, action, &resource.facts(), &decision_context(ctx));
        metrics::histogram!(names::AUTHZ_EVALUATION_DURATION_SECONDS).record(started.elapsed().as_secs_f64());
        let label = if decision.allowed { "allowed" } else { "denied" };
        DECISIONS.counter(&[action, label]).increment(1);

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
            let outcome = if decision.allowed { Decision::Allowed } else { Decision::Denied };
            let facts = AuditFacts {
                resource_id,
                policy_ids: decision.policy_ids.clone(),
                extra,
                ..AuditFacts::new(Some(principal.user_id), action, outcome, decision.reason.clone())
            };
            let entry = self.entry(facts, ctx);
            self.audit.record(entry).await?;
        }
        if decision.allowed {
            Ok(())
        } else {
            tracing::debug!(action, reason = %decision.reason, "authorization denied");
            Err(CoreError::Forbidden)
        }
    }

    /// The decision of a pre-check plus [`Access::authorize`], without audit rows or metrics: what
    /// a live-update subscriber may see is decided with the same rules as a read, but an event
    /// is not an audited read (docs/live-updates.md#filtering).
    pub fn permits(&self, principal: &Principal, action: &str, resource: Resource<'_>, ctx: &RequestContext) -> bool {
        principal.holds(action)
            && self.engine.decide(principal, action, &resource.facts(), &decision_context(ctx)).allowed
    }

    /// Builds an audit row from the request context.
    ///
    /// What the request supplied (path, query, user agent, method, request id) is recorded in
    /// the form both databases store: control characters escaped and every value capped at its
    /// column width, the context within its size limits. The names of the values that had to be
    /// changed are listed in the context under `altered`, so a reader knows the row is not
    /// verbatim.
    pub fn entry(&self, facts: AuditFacts<'_>, ctx: &RequestContext) -> AuditEntry {
        let AuditFacts { user_id, action, resource_id, decision, reason, policy_ids, extra } = facts;
        let mut altered: Vec<Value> = Vec::new();
        let mut fit = |field: &'static str, value: &str, max: usize| {
            let stored = storable(value, max);
            if matches!(stored, Cow::Owned(_)) {
                altered.push(Value::from(field));
            }
            stored.into_owned()
        };
        let request_id = fit("request_id", &ctx.request_id, width::REQUEST_ID);
        let ip_address = ctx.client_ip.as_deref().map(|ip| fit("ip_address", ip, width::IP_ADDRESS));
        let user_agent = ctx.user_agent.as_deref().map(|ua| fit("user_agent", ua, width::USER_AGENT));
        let method = fit("method", &ctx.method, width::METHOD);
        let path = fit("path", &ctx.path, width::PATH);

        let mut context = json!({ "query": QueryInput::parse(ctx.raw_query.as_deref()).to_json() });
        if let (Some(Value::Object(extra)), Value::Object(map)) = (extra, &mut context) {
            map.extend(extra);
        }
        let (mut context, changed) = bounded_context(&context);
        if changed {
            altered.push(Value::from("context"));
        }
        if let (false, Value::Object(map)) = (altered.is_empty(), &mut context) {
            map.insert("altered".into(), Value::Array(altered));
        }
        AuditEntry {
            id: Uuid::now_v7(),
            timestamp: taskify_domain::time::now(),
            user_id,
            action: storable(action, width::ACTION).into_owned(),
            resource: storable(resource_name(action), width::RESOURCE).into_owned(),
            resource_id,
            decision,
            reason: Some(storable(&reason, width::REASON).into_owned()),
            policy_ids,
            request_id: Some(request_id),
            ip_address,
            user_agent,
            method: Some(method),
            path: Some(path),
            context: Some(context),
        }
    }
}
