//! Administration use cases (docs/http-contract.md#administration and the task attributes of docs/http-contract.md#tasks): users, roles,
//! attributes and the audit log. Every decision is on `System::"taskify"` and is made before
//! the target is looked up, so callers without the right cannot probe for ids.

use crate::access::{Access, Resource};
use crate::cached::Caching;
use crate::config::{CoreConfig, chrono_duration};
use crate::context::RequestContext;
use crate::error::{CoreError, CoreResult, Violations};
use crate::events::{EventHub, TaskChangeKind};
use crate::input::{Field, JsonInput, QueryInput};
use crate::tasks::input::{order, page_request, search_param, time_param, uuid_param};
use crate::tasks::{MSG_TASK_NOT_FOUND, MSG_USER_NOT_FOUND};
use crate::validate;
use chrono::Duration;
use std::sync::Arc;
use taskify_domain::attribute::{AttributeValue, DataType, is_valid_key};
use taskify_domain::audit::AUDIT_TOTAL_CAP;
use taskify_domain::text::{check_line, has_control_chars};
use taskify_domain::time::parse_rfc3339;
use taskify_domain::{
    Attribute, AuditEntry, AuditQuery, Decision, Paged, Principal, Role, RoleAssignment, Timestamp, User,
    UserListQuery, UserSort, time,
};
use taskify_store::{AdminWrite, AssignOutcome, AttributeOwner, NewAttribute, RevokeOutcome, Store, UserPatch};
use uuid::Uuid;

pub const MSG_LAST_ADMIN_DEACTIVATE: &str = "Cannot deactivate the last active admin";
pub const MSG_LAST_ADMIN_DELETE: &str = "Cannot delete the last active admin";
pub const MSG_LAST_ADMIN_ROLE: &str = "Cannot remove the admin role from the last active admin";
pub const MSG_ROLE_ASSIGNED: &str = "User already has this role";

/// An optional `expires_at`: an RFC 3339 date-time in the future.
fn future_expiry(v: &mut Violations, raw: Option<String>) -> Option<Timestamp> {
    let raw = raw?;
    match parse_rfc3339(&raw) {
        Some(t) if t > time::now() => Some(t),
        Some(_) => {
            v.add("expires_at", "must be in the future");
            None
        }
        None => {
            v.add("expires_at", "must be an RFC 3339 date-time");
            None
        }
    }
}

/// A validated attribute PUT body.
#[derive(Debug, Clone)]
pub struct AttributeInput {
    pub value: AttributeValue,
    pub expires_at: Option<Timestamp>,
}

impl AttributeInput {
    /// Reads `{"value", "data_type"?, "expires_at"?}` for `key`. `integer_keys` are keys whose
    /// value must be a whole number from 0 to 10 (clearances); `reserved` keys are refused.
    pub fn from_json(mut body: JsonInput, key: &str, integer_keys: &[&str], reserved: &[&str]) -> CoreResult<Self> {
        let (value, data_type, expires_at) = (body.value("value"), body.string("data_type"), body.string("expires_at"));
        body.finish()?;
        let mut v = Violations::default();
        if !is_valid_key(key) {
            v.add("key", MSG_KEY_PATTERN);
        } else if reserved.contains(&key) {
            v.add("key", "is reserved");
        }
        let data_type = data_type.into_option().and_then(|raw| {
            let parsed = DataType::parse(&raw);
            if parsed.is_none() {
                v.add("data_type", "must be one of string, number, boolean, datetime");
            }
            parsed
        });
        let value = match value {
            Field::Value(raw) => AttributeValue::from_json(&raw, data_type).map_err(|m| v.add("value", m)).ok(),
            _ => {
                v.add("value", "is required");
                None
            }
        };
        // A string value is one line of text: a control character (a NUL above all, which
        // PostgreSQL cannot store) is refused rather than stored.
        if let Some(AttributeValue::String(text)) = &value
            && has_control_chars(text)
        {
            v.add("value", "must not contain control characters");
        }
        if let Some(val) = &value
            && integer_keys.contains(&key)
            && !val.as_i64().is_some_and(|n| (0..=10).contains(&n))
        {
            v.add("value", "must be an integer from 0 to 10");
        }
        let expires_at = future_expiry(&mut v, expires_at.into_option());
        v.finish(())?;
        let value = value.ok_or_else(|| CoreError::field("value", "is required"))?;
        Ok(Self { value, expires_at })
    }
}

/// The message for an attribute key that does not match the key pattern.
const MSG_KEY_PATTERN: &str = "must match ^[a-z][a-z0-9_]{0,63}$";

/// An attribute key taken from a path: one outside the key pattern names no attribute, and
/// some (a NUL) the database would not even accept as a search value, so it is bad input.
fn path_key(key: &str) -> CoreResult<()> {
    if is_valid_key(key) { Ok(()) } else { Err(CoreError::field("key", MSG_KEY_PATTERN)) }
}

/// A role name taken from a path, checked as the body's `role` is.
fn path_role(role: &str) -> CoreResult<()> {
    check_line(role, 1, 50).map_or(Ok(()), |message| Err(CoreError::field("role", message)))
}

/// Reads a `PATCH /users/{id}` body (allow-list: is_active, department, position).
pub fn user_patch(mut body: JsonInput) -> CoreResult<UserPatch> {
    let disallowed = body.disallowed(&["is_active", "department", "position"]);
    let (active, department, position) =
        (body.boolean("is_active"), body.string("department"), body.string("position"));
    body.finish()?;
    if !disallowed.is_empty() {
        return Err(CoreError::Validation(disallowed));
    }
    let mut v = Violations::default();
    let mut patch = UserPatch::default();
    match active {
        Field::Value(b) => patch.is_active = Some(b),
        Field::Null => v.add("is_active", "must not be null"),
        Field::Absent => {}
    }
    for (field, value, slot) in
        [("department", department, &mut patch.department), ("position", position, &mut patch.position)]
    {
        if value.is_present() {
            let value = validate::optional_trimmed(value.into_option().as_deref());
            if let Some(text) = &value {
                v.check(field, validate::org_field_problem(text));
            }
            *slot = Some(value);
        }
    }
    v.finish(patch)
}

/// Reads a role-assignment body: `role` (required) and `expires_at` (future RFC 3339).
pub fn role_assignment(mut body: JsonInput) -> CoreResult<(String, Option<Timestamp>)> {
    let (role, expires_at) = (body.string("role"), body.string("expires_at"));
    body.finish()?;
    let mut v = Violations::default();
    let role = match role {
        Field::Value(r) => {
            v.check("role", check_line(&r, 1, 50));
            r
        }
        _ => {
            v.add("role", "is required");
            String::new()
        }
    };
    let expires_at = future_expiry(&mut v, expires_at.into_option());
    v.finish((role, expires_at))
}

/// Parses the `GET /users` query.
pub fn user_list_query(query: &QueryInput) -> CoreResult<UserListQuery> {
    let mut v = Violations::default();
    let q = search_param(&mut v, query, 200);
    let department = query.get("department").map(|d| {
        v.check("department", check_line(d, 0, 100));
        d.trim().to_owned()
    });
    let is_active = query.get("is_active").and_then(|raw| match raw {
        "true" => Some(true),
        "false" => Some(false),
        _ => {
            v.add("is_active", "must be true or false");
            None
        }
    });
    let role = query.get("role").map(|r| {
        v.check("role", check_line(r, 1, 50));
        r.to_owned()
    });
    // Same sortBy/order/page tail as the task list query (core/src/tasks/input.rs): each list
    // parses its own sort enum with its own message.
    let sort_by = query.get("sortBy").map_or(UserSort::CreatedAt, |raw| {
        UserSort::parse(raw).unwrap_or_else(|| {
            v.add("sortBy", "must be one of created_at, username, email, last_login_at");
            UserSort::CreatedAt
        })
    });
    let order = order(&mut v, query);
    let page = page_request(&mut v, query);
    v.finish(UserListQuery { q, department, is_active, role, sort_by, order, page })
}

/// Parses the `GET /audit-logs` query; `from` defaults to 7 days before `to` (or now).
pub fn audit_query(query: &QueryInput) -> CoreResult<AuditQuery> {
    let mut v = Violations::default();
    let user_id = uuid_param(&mut v, query, "user_id");
    let mut text = |name: &str| {
        query.get(name).map(|s| {
            v.check(name, check_line(s, 1, 64));
            s.to_owned()
        })
    };
    let (resource, action) = (text("resource"), text("action"));
    let decision = query.get("decision").and_then(|raw| {
        let parsed = Decision::parse(raw);
        if parsed.is_none() {
            v.add("decision", "must be allowed or denied");
        }
        parsed
    });
    let from = time_param(&mut v, query, "from");
    let to = time_param(&mut v, query, "to");
    let order = order(&mut v, query);
    let page = page_request(&mut v, query);
    if u64::from(page.page) * u64::from(page.page_size) > AUDIT_TOTAL_CAP {
        v.add("page", "page × pageSize may not exceed 10000");
    }
    let from = from.unwrap_or_else(|| to.unwrap_or_else(time::now) - Duration::days(7));
    v.finish(AuditQuery { user_id, resource, action, decision, from, to, order, page })
}

/// Administration use cases.
#[derive(Clone)]
pub struct AdminService {
    store: Store,
    access: Access,
    caching: Caching,
    events: EventHub,
    config: Arc<CoreConfig>,
}

impl AdminService {
    pub fn new(store: Store, access: Access, caching: Caching, events: EventHub, config: Arc<CoreConfig>) -> Self {
        Self { store, access, caching, events, config }
    }

    async fn allow(&self, principal: &Principal, action: &'static str, ctx: &RequestContext) -> CoreResult<()> {
        self.access.authorize(principal, action, Resource::System, ctx, None).await
    }

    /// A user that exists and is not deleted.
    async fn live_user(&self, id: Uuid, with_assignments: bool) -> CoreResult<User> {
        match self.store.get_user(id, time::now(), with_assignments).await? {
            Some(u) if u.deleted_at.is_none() => Ok(u),
            _ => Err(CoreError::NotFound(MSG_USER_NOT_FOUND)),
        }
    }

    pub async fn list_users(
        &self,
        p: &Principal,
        query: UserListQuery,
        ctx: &RequestContext,
    ) -> CoreResult<Paged<User>> {
        self.allow(p, "user:read", ctx).await?;
        Ok(self.store.list_users(&query, time::now()).await?)
    }

    pub async fn patch_user(
        &self,
        p: &Principal,
        id: Uuid,
        patch: UserPatch,
        ctx: &RequestContext,
    ) -> CoreResult<User> {
        self.allow(p, "user:update", ctx).await?;
        match self.store.patch_user(id, &patch, time::now()).await? {
            AdminWrite::Done(user) => {
                self.caching.principal_changed(id, true).await;
                self.events.principal_changed(id).await;
                Ok(user)
            }
            AdminWrite::NotFound => Err(CoreError::NotFound(MSG_USER_NOT_FOUND)),
            AdminWrite::LastAdmin => Err(CoreError::Conflict(MSG_LAST_ADMIN_DEACTIVATE)),
        }
    }

    pub async fn delete_user(&self, p: &Principal, id: Uuid, ctx: &RequestContext) -> CoreResult<()> {
        self.allow(p, "user:delete", ctx).await?;
        let access_ttl = chrono_duration(self.config.access_token_ttl);
        match self.store.soft_delete_user(id, time::now(), access_ttl).await? {
            AdminWrite::Done(revoked) => {
                self.caching.revoked(&revoked).await;
                self.caching.principal_changed(id, true).await;
                self.events.revoked(&revoked).await;
                self.events.principal_changed(id).await;
                Ok(())
            }
            AdminWrite::NotFound => Err(CoreError::NotFound(MSG_USER_NOT_FOUND)),
            AdminWrite::LastAdmin => Err(CoreError::Conflict(MSG_LAST_ADMIN_DELETE)),
        }
    }

    pub async fn roles(&self, p: &Principal, ctx: &RequestContext) -> CoreResult<Vec<Role>> {
        self.allow(p, "role:manage", ctx).await?;
        Ok(self.store.list_roles().await?)
    }

    pub async fn assign_role(
        &self,
        p: &Principal,
        user_id: Uuid,
        (role, expires_at): (String, Option<Timestamp>),
        ctx: &RequestContext,
    ) -> CoreResult<RoleAssignment> {
        self.allow(p, "user:assign_role", ctx).await?;
        match self.store.assign_role(user_id, &role, expires_at, Some(p.user_id), time::now()).await? {
            AssignOutcome::Assigned(a) => {
                self.caching.principal_changed(user_id, false).await;
                self.events.principal_changed(user_id).await;
                Ok(a)
            }
            AssignOutcome::UserNotFound => Err(CoreError::NotFound(MSG_USER_NOT_FOUND)),
            AssignOutcome::UnknownRole => Err(CoreError::field("role", "is not a known role")),
            AssignOutcome::AlreadyAssigned => Err(CoreError::Conflict(MSG_ROLE_ASSIGNED)),
        }
    }

    pub async fn revoke_role(&self, p: &Principal, user_id: Uuid, role: &str, ctx: &RequestContext) -> CoreResult<()> {
        path_role(role)?;
        self.allow(p, "user:revoke_role", ctx).await?;
        match self.store.revoke_role(user_id, role, Some(p.user_id), time::now()).await? {
            RevokeOutcome::Revoked => {
                self.caching.principal_changed(user_id, false).await;
                self.events.principal_changed(user_id).await;
                Ok(())
            }
            RevokeOutcome::UserNotFound => Err(CoreError::NotFound(MSG_USER_NOT_FOUND)),
            RevokeOutcome::UnknownRole => Err(CoreError::NotFound("Role not found")),
            RevokeOutcome::NotAssigned => Err(CoreError::NotFound("Role assignment not found")),
            RevokeOutcome::LastAdmin => Err(CoreError::Conflict(MSG_LAST_ADMIN_ROLE)),
        }
    }

    /// Checks that the owner of attributes exists, after the decision: 404 for a missing user
    /// or task. Returns the user whose cached data the attributes feed (the task's owner).
    async fn attribute_owner(&self, owner: AttributeOwner) -> CoreResult<Uuid> {
        match owner {
            AttributeOwner::User(id) => self.live_user(id, false).await.map(|u| u.id),
            AttributeOwner::Task(id) => match self.store.get_task(id, time::now()).await? {
                Some(record) => Ok(record.task.user_id),
                None => Err(CoreError::NotFound(MSG_TASK_NOT_FOUND)),
            },
        }
    }

    /// The cache effect of an attribute write (docs/cache.md#what-writes-do), and its live
    /// update: a user's attributes re-check that user's streams; a task's attributes (who may
    /// read it) go out as a `task.updated` of the unchanged version (docs/live-updates.md#wire-format).
    async fn attributes_changed(&self, owner: AttributeOwner, user: Uuid) {
        match owner {
            AttributeOwner::User(id) => {
                self.caching.principal_changed(id, true).await;
                self.events.principal_changed(id).await;
            }
            AttributeOwner::Task(id) => {
                self.caching.task_changed(id, user).await;
                match self.store.get_task(id, time::now()).await {
                    Ok(Some(record)) => {
                        self.events.task_changed(TaskChangeKind::Updated, &record.task, &record.attributes).await;
                    }
                    Ok(None) => {}
                    Err(error) => tracing::warn!(%error, task = %id, "live update of a task attribute change not sent"),
                }
            }
        }
    }

    fn attribute_action(owner: AttributeOwner, write: bool) -> &'static str {
        match (owner, write) {
            (AttributeOwner::User(_), false) => "user:read",
            (AttributeOwner::User(_), true) => "user:update",
            (AttributeOwner::Task(_), _) => "system:admin",
        }
    }

    pub async fn attributes(
        &self,
        p: &Principal,
        owner: AttributeOwner,
        ctx: &RequestContext,
    ) -> CoreResult<Vec<Attribute>> {
        self.allow(p, Self::attribute_action(owner, false), ctx).await?;
        self.attribute_owner(owner).await?;
        Ok(self.store.list_attributes(owner, time::now()).await?)
    }

    pub async fn attribute(
        &self,
        p: &Principal,
        owner: AttributeOwner,
        key: &str,
        ctx: &RequestContext,
    ) -> CoreResult<Attribute> {
        path_key(key)?;
        self.allow(p, Self::attribute_action(owner, false), ctx).await?;
        self.attribute_owner(owner).await?;
        self.store.get_attribute(owner, key, time::now()).await?.ok_or(CoreError::NotFound("Attribute not found"))
    }

    /// Creates or replaces; the flag says whether it was created.
    pub async fn put_attribute(
        &self,
        p: &Principal,
        owner: AttributeOwner,
        key: &str,
        input: AttributeInput,
        ctx: &RequestContext,
    ) -> CoreResult<(Attribute, bool)> {
        self.allow(p, Self::attribute_action(owner, true), ctx).await?;
        let user = self.attribute_owner(owner).await?;
        let attribute = NewAttribute {
            key: key.to_owned(),
            value: input.value,
            source: "manual".into(),
            expires_at: input.expires_at,
        };
        let written = self.store.put_attribute(owner, &attribute, time::now()).await?;
        self.attributes_changed(owner, user).await;
        Ok(written)
    }

    pub async fn delete_attribute(
        &self,
        p: &Principal,
        owner: AttributeOwner,
        key: &str,
        ctx: &RequestContext,
    ) -> CoreResult<()> {
        path_key(key)?;
        self.allow(p, Self::attribute_action(owner, true), ctx).await?;
        let user = self.attribute_owner(owner).await?;
        if !self.store.delete_attribute(owner, key).await? {
            return Err(CoreError::NotFound("Attribute not found"));
        }
        self.attributes_changed(owner, user).await;
        Ok(())
    }

    /// `GET /audit-logs` (`total` stops counting at `AUDIT_TOTAL_CAP`: `Paged::total_capped`).
    pub async fn audit_log(
        &self,
        p: &Principal,
        query: AuditQuery,
        ctx: &RequestContext,
    ) -> CoreResult<Paged<AuditEntry>> {
        self.allow(p, "audit:read", ctx).await?;
        Ok(self.store.list_audit(&query).await?)
    }
}
