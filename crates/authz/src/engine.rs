//! The policy engine: a validated policy set plus everything a decision would otherwise
//! rebuild, and the decision procedure of docs/authorization.md#decision-procedure step 2 / docs/authorization.md#audit.

use crate::entities::{self, RequestSlice};
use crate::error::PolicyError;
use crate::load;
use crate::memo::{ContextUse, DecisionMemo, MEMO_BYTES};
use crate::schema::{self, Names};
use crate::{Decision, DecisionContext, Resource};
use cedar_policy::{Authorizer, Effect, PolicySet, Request};
use taskify_domain::Principal;

/// A loaded, validated policy set, ready to decide. Immutable, `Send + Sync`: share one in an
/// `Arc` across requests.
#[derive(Debug)]
pub struct PolicyEngine {
    /// Keyed by `@id`, so Cedar's "reasons" are already the audit's policy ids.
    policies: PolicySet,
    names: Names,
    authorizer: Authorizer,
    /// Decisions already made, keyed by every input they read (docs/performance.md#decision-memo).
    memo: DecisionMemo,
}

impl PolicyEngine {
    /// The built-in default set (`policies/default.cedar`), validated against the schema.
    pub fn default_policies() -> Result<Self, PolicyError> {
        Self::from_source(schema::DEFAULT_POLICIES, schema::DEFAULT_ORIGIN)
    }

    /// Parses and validates a replacement policy file (`POLICY_FILE`). Every policy must carry
    /// an `@id` annotation, distinct from the others; `origin` (the file path) names the file
    /// in errors.
    pub fn from_source(source: &str, origin: &str) -> Result<Self, PolicyError> {
        let schema = schema::parse_schema()?;
        let policies = load::load(source, origin, &schema)?;
        let names = Names::new(&schema)?;
        let memo = DecisionMemo::new(ContextUse::of_source(source), MEMO_BYTES);
        Ok(Self { policies, names, authorizer: Authorizer::new(), memo })
    }

    /// The `@id`s of the loaded policies, in no particular order (for start-up logs).
    pub fn policy_ids(&self) -> impl Iterator<Item = &str> {
        self.policies.policies().map(|p| AsRef::<str>::as_ref(p.id()))
    }

    // Same parameter list as `decide_fresh` below, on purpose: the memoised and the uncached entry
    // points take exactly the same inputs, so tests and benches compare them.
    /// Decides whether `principal` may perform `action` (`resource:action`) on `resource`.
    ///
    /// Never fails: an entity that cannot be built or a policy that errors during evaluation
    /// is logged at error level and the request is denied (docs/authorization.md#decision-procedure), as `denied by` the
    /// forbids that did fire, or else `no permitting policy`.
    ///
    /// A decision already made for exactly the same inputs is answered from the memo
    /// (docs/performance.md#decision-memo); it is the decision Cedar would make again.
    pub fn decide(
        &self,
        principal: &Principal,
        action: &str,
        resource: &Resource<'_>,
        context: &DecisionContext<'_>,
    ) -> Decision {
        let Some(key) = self.memo.key(principal, action, resource, context) else {
            return self.decide_fresh(principal, action, resource, context);
        };
        if let Some(decision) = self.memo.get(&key) {
            return decision;
        }
        let decision = self.decide_fresh(principal, action, resource, context);
        self.memo.insert(key, decision.clone());
        decision
    }

    // Same signature as `decide` above, on purpose (see there).
    /// [`decide`](Self::decide) without the memo: always asks Cedar (tests and benchmarks
    /// compare the two).
    pub fn decide_fresh(
        &self,
        principal: &Principal,
        action: &str,
        resource: &Resource<'_>,
        context: &DecisionContext<'_>,
    ) -> Decision {
        let slice = match entities::build(&self.names, principal, resource, context, None) {
            Ok(slice) => slice,
            Err(error) => {
                tracing::error!(%error, action, principal = %principal.user_id, "authorization entities could not be built");
                return Decision::no_permit();
            }
        };
        self.evaluate(slice, action, principal)
    }

    fn evaluate(&self, slice: RequestSlice, action: &str, principal: &Principal) -> Decision {
        let RequestSlice { principal: principal_uid, resource, entities, context } = slice;
        // Without a schema Request::new checks nothing and cannot fail; the policies were
        // validated against the schema once, at load.
        let request = match Request::new(principal_uid, self.names.action_uid(action), resource, context, None) {
            Ok(request) => request,
            Err(error) => {
                tracing::error!(%error, action, principal = %principal.user_id, "authorization request is invalid");
                return Decision::no_permit();
            }
        };
        let response = self.authorizer.is_authorized(&request, &self.policies, &entities);
        let diagnostics = response.diagnostics();
        let mut permits = Vec::new();
        let mut forbids = Vec::new();
        for id in diagnostics.reason() {
            match self.policies.policy(id).map(cedar_policy::Policy::effect) {
                Some(Effect::Forbid) => forbids.push(AsRef::<str>::as_ref(id).to_owned()),
                Some(Effect::Permit) => permits.push(AsRef::<str>::as_ref(id).to_owned()),
                None => {}
            }
        }
        let mut failed = false;
        for error in diagnostics.errors() {
            failed = true;
            tracing::error!(%error, action, principal = %principal.user_id, "policy evaluation error: denying");
        }
        if !forbids.is_empty() {
            Decision::denied_by(forbids)
        } else if failed || permits.is_empty() {
            Decision::no_permit()
        } else {
            Decision::allowed_by(permits)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{OwnerFacts, TaskFacts};
    use std::collections::BTreeMap;
    use taskify_domain::auth::{Grant, PrincipalAttribute};
    use taskify_domain::{AttributeValue, PrincipalRole, Scope};
    use uuid::Uuid;

    fn principal() -> Principal {
        let attributes = BTreeMap::from([
            (
                "clearance_level".to_owned(),
                PrincipalAttribute { value: AttributeValue::Number(2.into()), expires_at: None },
            ),
            (
                "account_type".to_owned(),
                PrincipalAttribute { value: AttributeValue::String("standard".into()), expires_at: None },
            ),
            (
                "location".to_owned(),
                PrincipalAttribute { value: AttributeValue::String("US-West".into()), expires_at: None },
            ),
        ]);
        Principal {
            user_id: Uuid::new_v4(),
            username: "m".into(),
            active: true,
            deleted: false,
            department: "engineering".into(),
            roles: vec![
                PrincipalRole { name: "manager".into(), expires_at: None },
                PrincipalRole { name: "user".into(), expires_at: None },
            ],
            grants: vec![
                Grant { action: "task:read".into(), scope: Scope::Department },
                Grant { action: "task:read".into(), scope: Scope::Own },
            ],
            attributes,
            tokens_valid_after: None,
        }
    }

    const CONTEXT: DecisionContext<'static> =
        DecisionContext { now_unix: 1_700_000_000, ip: None, request_id: "r", method: "GET", path: "/" };

    /// Every entity shape `build` produces conforms to the schema, for the action it serves:
    /// checked with Cedar's schema validation of entities and of the request.
    #[test]
    fn built_entities_and_requests_conform_to_the_schema() {
        let engine = PolicyEngine::default_policies().expect("default policies");
        let schema = schema::parse_schema().expect("schema");
        let p = principal();
        let owner = OwnerFacts { user_id: Uuid::new_v4(), department: "engineering", deleted: false };
        let task = TaskFacts {
            id: Uuid::new_v4(),
            owner: owner.user_id,
            owner_department: "engineering",
            owner_deleted: false,
            required_clearance: Some(3),
            attributes: &[],
        };
        let cases = [
            ("task:read", Resource::Task(task)),
            ("task:update", Resource::Task(TaskFacts { required_clearance: None, ..task })),
            ("task:read", Resource::TaskCollection(None)),
            ("task:create", Resource::TaskCollection(Some(owner))),
            ("profile:read", Resource::Profile(p.user_id)),
            ("profile:read", Resource::Profile(Uuid::new_v4())),
            ("system:admin", Resource::System),
        ];
        for (action, resource) in cases {
            let slice = entities::build(&engine.names, &p, &resource, &CONTEXT, Some(&schema))
                .unwrap_or_else(|e| panic!("{action} on {resource:?}: {e}"));
            Request::new(
                slice.principal,
                engine.names.action_uid(action),
                slice.resource,
                slice.context,
                Some(&schema),
            )
            .unwrap_or_else(|e| panic!("{action} on {resource:?}: {e}"));
        }
    }

    #[test]
    fn every_action_of_the_permission_table_is_declared() {
        let engine = PolicyEngine::default_policies().expect("default policies");
        // The seed table's actions again, as in tests/common/mod.rs `ACTIONS`: a unit test cannot
        // use the integration tests' module, and this literal is the reference the declared actions
        // are checked against.
        let actions = [
            "profile:read",
            "profile:update",
            "profile:delete",
            "user:read",
            "user:create",
            "user:update",
            "user:delete",
            "user:assign_role",
            "user:revoke_role",
            "task:create",
            "task:read",
            "task:update",
            "task:delete",
            "task:assign",
            "system:admin",
            "audit:read",
            "role:manage",
        ];
        for action in actions {
            assert!(engine.names.actions.contains_key(action), "{action}");
        }
        assert_eq!(engine.names.actions.len(), actions.len());
    }

    #[test]
    fn default_set_has_the_eleven_policies_and_validates_without_warnings() {
        let engine = PolicyEngine::default_policies().expect("default policies");
        let schema = schema::parse_schema().expect("schema");
        let mut ids: Vec<&str> = engine.policy_ids().collect();
        ids.sort_unstable();
        assert_eq!(
            ids,
            [
                "admin-actions",
                "admin-all",
                "forbid-inactive",
                "forbid-insufficient-clearance",
                "profile-all",
                "profile-self",
                "task-all",
                "task-create",
                "task-department-read",
                "task-list",
                "task-owner",
            ]
        );
        let result = Validator::new(schema).validate(&engine.policies, cedar_policy::ValidationMode::Strict);
        let warnings: Vec<String> = result.validation_warnings().map(ToString::to_string).collect();
        assert!(warnings.is_empty(), "{warnings:?}");
    }

    /// Attributes reach policies as typed `attrs` fields (known keys) and as tags (all keys).
    #[test]
    fn attributes_are_visible_as_attrs_and_tags() {
        let source = r#"
            @id("west-coast")
            permit (principal, action == Action::"system:admin", resource)
            when {
              principal.hasTag("location") && principal.getTag("location") == "US-West" &&
              principal.attrs has clearance_level && principal.attrs.clearance_level == 2 &&
              principal.attrs has account_type && principal.attrs.account_type == "standard"
            };
            @id("flagged-task")
            permit (principal, action == Action::"task:read", resource is Task)
            when { resource.hasTag("flag") && resource.getTag("flag") == "true" &&
                   resource.attrs has required_clearance && resource.attrs.required_clearance == 4 };
        "#;
        let engine = PolicyEngine::from_source(source, "custom.cedar").expect("custom policies");
        let p = principal();
        assert_eq!(engine.decide(&p, "system:admin", &Resource::System, &CONTEXT).policy_ids, ["west-coast"]);

        let now = taskify_domain::time::now();
        let attribute = |key: &str, value: AttributeValue| taskify_domain::Attribute {
            key: key.into(),
            data_type: value.data_type(),
            value,
            source: "manual".into(),
            expires_at: None,
            active: true,
            created_at: now,
            updated_at: now,
        };
        let attributes = [
            attribute("flag", AttributeValue::Boolean(true)),
            attribute("required_clearance", AttributeValue::Number(4.into())),
        ];
        let task = TaskFacts {
            id: Uuid::new_v4(),
            owner: Uuid::new_v4(),
            owner_department: "",
            owner_deleted: false,
            required_clearance: Some(4),
            attributes: &attributes,
        };
        assert_eq!(engine.decide(&p, "task:read", &Resource::Task(task), &CONTEXT).policy_ids, ["flagged-task"]);
        let unflagged = TaskFacts { attributes: &attributes[1..], ..task };
        assert!(!engine.decide(&p, "task:read", &Resource::Task(unflagged), &CONTEXT).allowed);
    }

    /// A policy that errors at run time (here: reading an attribute of an entity that is not
    /// loaded) denies, even though another policy permits.
    #[test]
    fn an_evaluation_error_denies() {
        let source = r#"
            @id("everyone")
            permit (principal, action, resource);
            @id("reads-owner")
            permit (principal, action == Action::"task:read", resource is Task)
            when { resource.owner.active };
        "#;
        let engine = PolicyEngine::from_source(source, "custom.cedar").expect("custom policies");
        let task = TaskFacts {
            id: Uuid::new_v4(),
            owner: Uuid::new_v4(),
            owner_department: "",
            owner_deleted: false,
            required_clearance: None,
            attributes: &[],
        };
        let p = principal();
        let decision = engine.decide(&p, "task:read", &Resource::Task(task), &CONTEXT);
        assert_eq!(decision, Decision::no_permit());
        assert!(engine.decide(&p, "task:update", &Resource::Task(task), &CONTEXT).allowed);
    }

    /// The memo answers a repeated decision, and any change of the principal (here: a role)
    /// is a different key, decided afresh at once.
    #[test]
    fn a_memoised_decision_follows_a_role_change() {
        let engine = PolicyEngine::default_policies().expect("default policies");
        let mut p = principal();
        for _ in 0..3 {
            assert!(!engine.decide(&p, "system:admin", &Resource::System, &CONTEXT).allowed);
        }
        assert_eq!(engine.memo.entry_count(), 1, "three equal decisions share one entry");
        p.roles.push(PrincipalRole { name: "admin".into(), expires_at: None });
        assert_eq!(engine.decide(&p, "system:admin", &Resource::System, &CONTEXT).policy_ids, ["admin-all"]);
        p.roles.pop();
        assert!(!engine.decide(&p, "system:admin", &Resource::System, &CONTEXT).allowed);
        // The request context is not in the key of the default set: it reads none of it.
        let other_request = DecisionContext { request_id: "other", now_unix: 1, ..CONTEXT };
        engine.decide(&p, "system:admin", &Resource::System, &other_request);
        assert_eq!(engine.memo.entry_count(), 2);
    }

    /// A policy that reads the time or the client address is decided per second and per
    /// address: those fields are in its memo key.
    #[test]
    fn context_fields_that_policies_read_are_part_of_the_memo_key() {
        let source = r#"
            @id("until")
            permit (principal, action == Action::"system:admin", resource)
            when { context.now < 1700000001 && context.ip == "10.0.0.1" };
        "#;
        let engine = PolicyEngine::from_source(source, "custom.cedar").expect("custom policies");
        let p = principal();
        let at = |now_unix, ip| DecisionContext { now_unix, ip: Some(ip), ..CONTEXT };
        assert!(engine.decide(&p, "system:admin", &Resource::System, &at(1_700_000_000, "10.0.0.1")).allowed);
        assert!(!engine.decide(&p, "system:admin", &Resource::System, &at(1_700_000_001, "10.0.0.1")).allowed);
        assert!(!engine.decide(&p, "system:admin", &Resource::System, &at(1_700_000_000, "10.0.0.2")).allowed);
        assert!(engine.decide(&p, "system:admin", &Resource::System, &at(1_700_000_000, "10.0.0.1")).allowed);
    }

    #[test]
    fn the_engine_can_be_shared_across_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<PolicyEngine>();
    }

    use cedar_policy::Validator;
}
