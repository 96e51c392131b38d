//! Builds the slice of the entity store one decision needs (docs/authorization.md#entities): the principal, its
//! roles and the resource, plus the request context.
//!
//! Nothing else is loaded: a task's owner appears only as a uid (`resource.owner ==
//! principal` works; reading the owner's attributes does not, except when the owner is the
//! principal). The entities follow `policies/schema.cedarschema` exactly; a unit test checks
//! that with Cedar's schema conformance, which is too slow to run on every request.

use crate::schema::Names;
use crate::{DecisionContext, Resource};
use cedar_policy::entities_errors::EntitiesError;
use cedar_policy::{
    Context, ContextCreationError, Entities, Entity, EntityAttrEvaluationError, EntityId, EntityUid,
    ExpressionConstructionError, RestrictedExpression,
};
use std::collections::HashSet;
use taskify_domain::{AttributeValue, Principal};
use uuid::Uuid;

/// Why the entities or the context of a request could not be built. Every case is a bug in
/// this module (the values are plain literals), but it must end in a deny, not a panic.
/// Cedar's errors are large: boxed, so the happy path moves small `Result`s.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SliceError {
    #[error("entity attribute: {0}")]
    Attribute(Box<EntityAttrEvaluationError>),
    #[error("record: {0}")]
    Record(Box<ExpressionConstructionError>),
    #[error("entities: {0}")]
    Entities(Box<EntitiesError>),
    #[error("context: {0}")]
    Context(Box<ContextCreationError>),
}

macro_rules! boxed_from {
    ($($error:ty => $variant:ident),* $(,)?) => {$(
        impl From<$error> for SliceError {
            fn from(error: $error) -> Self {
                Self::$variant(Box::new(error))
            }
        }
    )*};
}

boxed_from! {
    EntityAttrEvaluationError => Attribute,
    ExpressionConstructionError => Record,
    EntitiesError => Entities,
    ContextCreationError => Context,
}

/// The typed keys of an `attrs` record: Cedar's strict validation has no open records, so
/// only these appear there (every attribute is also a tag, as text).
#[derive(Clone, Copy)]
enum KnownKey {
    Long(&'static str),
    String(&'static str),
}

/// Keys of `User.attrs` in the schema.
const USER_ATTRS: &[KnownKey] = &[KnownKey::String("account_type"), KnownKey::Long("clearance_level")];
/// Keys of `Task.attrs` in the schema.
const TASK_ATTRS: &[KnownKey] = &[KnownKey::Long("required_clearance")];

/// The request: principal and resource uids, the entities, the context.
pub(crate) struct RequestSlice {
    pub principal: EntityUid,
    pub resource: EntityUid,
    pub entities: Entities,
    pub context: Context,
}

/// `<Type>::"<uuid>"`, lowercase hyphenated like every id of the API.
fn uuid_uid(type_name: &cedar_policy::EntityTypeName, id: Uuid) -> EntityUid {
    let mut buffer = Uuid::encode_buffer();
    EntityUid::from_type_name_and_id(type_name.clone(), EntityId::new(id.hyphenated().encode_lower(&mut buffer)))
}

fn string(s: &str) -> RestrictedExpression {
    RestrictedExpression::new_string(s.to_owned())
}

/// The `attrs` record: each known key whose value has the declared type.
fn attrs_record<'v>(
    known: &[KnownKey],
    lookup: impl Fn(&str) -> Option<&'v AttributeValue>,
) -> Result<RestrictedExpression, SliceError> {
    let fields = known.iter().filter_map(|key| match *key {
        KnownKey::Long(name) => {
            lookup(name).and_then(AttributeValue::as_i64).map(|n| (name.to_owned(), RestrictedExpression::new_long(n)))
        }
        KnownKey::String(name) => match lookup(name) {
            Some(AttributeValue::String(s)) => Some((name.to_owned(), string(s))),
            _ => None,
        },
    });
    Ok(RestrictedExpression::new_record(fields)?)
}

/// `User::"<id>"` for the principal, and its `Role::"<name>"` parents.
fn principal_entities(names: &Names, principal: &Principal, uid: &EntityUid) -> Result<Vec<Entity>, SliceError> {
    let roles: HashSet<EntityUid> = principal
        .roles
        .iter()
        .map(|r| EntityUid::from_type_name_and_id(names.role.clone(), EntityId::new(&r.name)))
        .collect();
    let permissions =
        principal.grants.iter().map(|g| RestrictedExpression::new_string(format!("{}:{}", g.action, g.scope.as_str())));
    let attrs = attrs_record(USER_ATTRS, |key| principal.attributes.get(key).map(|a| &a.value))?;
    let tags =
        principal.attributes.iter().map(|(k, a)| (k.clone(), RestrictedExpression::new_string(a.value.to_stored())));
    let user = Entity::new_with_tags(
        uid.clone(),
        [
            ("active".to_owned(), RestrictedExpression::new_bool(principal.active)),
            ("department".to_owned(), string(&principal.department)),
            ("clearance_level".to_owned(), RestrictedExpression::new_long(principal.clearance_level())),
            ("permissions".to_owned(), RestrictedExpression::new_set(permissions)),
            ("attrs".to_owned(), attrs),
        ],
        roles.iter().cloned(),
        tags,
    )?;
    let mut entities = Vec::with_capacity(roles.len() + 2);
    entities.push(user);
    entities.extend(roles.into_iter().map(|role| Entity::new_no_attrs(role, HashSet::new())));
    Ok(entities)
}

/// The resource entity and its uid.
fn resource_entity(
    names: &Names,
    principal: &Principal,
    resource: &Resource<'_>,
) -> Result<(EntityUid, Entity), SliceError> {
    Ok(match resource {
        Resource::Task(task) => {
            let uid = uuid_uid(&names.task, task.id);
            let active = || task.attributes.iter().filter(|a| a.active);
            let mut attrs = vec![
                ("owner".to_owned(), RestrictedExpression::new_entity_uid(uuid_uid(&names.user, task.owner))),
                ("owner_department".to_owned(), string(task.owner_department)),
                ("owner_deleted".to_owned(), RestrictedExpression::new_bool(task.owner_deleted)),
                (
                    "attrs".to_owned(),
                    attrs_record(TASK_ATTRS, |key| active().find(|a| a.key == key).map(|a| &a.value))?,
                ),
            ];
            if let Some(level) = task.required_clearance {
                attrs.push(("required_clearance".to_owned(), RestrictedExpression::new_long(level)));
            }
            let tags = active().map(|a| (a.key.clone(), RestrictedExpression::new_string(a.value.to_stored())));
            (uid.clone(), Entity::new_with_tags(uid, attrs, [], tags)?)
        }
        Resource::TaskCollection(None) => {
            (names.all_tasks_uid.clone(), Entity::new_no_attrs(names.all_tasks_uid.clone(), HashSet::new()))
        }
        Resource::TaskCollection(Some(owner)) => {
            let uid = uuid_uid(&names.task_collection, owner.user_id);
            let attrs = [
                ("owner".to_owned(), RestrictedExpression::new_entity_uid(uuid_uid(&names.user, owner.user_id))),
                ("owner_department".to_owned(), string(owner.department)),
                ("owner_deleted".to_owned(), RestrictedExpression::new_bool(owner.deleted)),
            ];
            (uid.clone(), Entity::new_with_tags(uid, attrs, [], [])?)
        }
        Resource::Profile(target) => {
            let uid = uuid_uid(&names.profile, *target);
            let mut attrs =
                vec![("user".to_owned(), RestrictedExpression::new_entity_uid(uuid_uid(&names.user, *target)))];
            // The only department known here is the principal's own.
            if *target == principal.user_id {
                attrs.push(("department".to_owned(), string(&principal.department)));
            }
            (uid.clone(), Entity::new_with_tags(uid, attrs, [], [])?)
        }
        Resource::System => (names.system_uid.clone(), Entity::new_no_attrs(names.system_uid.clone(), HashSet::new())),
    })
}

/// The request context of docs/authorization.md#entities.
fn context(ctx: &DecisionContext<'_>) -> Result<Context, SliceError> {
    Ok(Context::from_pairs([
        ("now".to_owned(), RestrictedExpression::new_long(ctx.now_unix)),
        ("ip".to_owned(), string(ctx.ip.unwrap_or(""))),
        ("request_id".to_owned(), string(ctx.request_id)),
        ("method".to_owned(), string(ctx.method)),
        ("path".to_owned(), string(ctx.path)),
    ])?)
}

/// Builds everything Cedar needs for one decision.
pub(crate) fn build(
    names: &Names,
    principal: &Principal,
    resource: &Resource<'_>,
    ctx: &DecisionContext<'_>,
    schema: Option<&cedar_policy::Schema>,
) -> Result<RequestSlice, SliceError> {
    let principal_uid = uuid_uid(&names.user, principal.user_id);
    let mut entities = principal_entities(names, principal, &principal_uid)?;
    let (resource_uid, resource) = resource_entity(names, principal, resource)?;
    entities.push(resource);
    Ok(RequestSlice {
        principal: principal_uid,
        resource: resource_uid,
        entities: Entities::from_entities(entities, schema)?,
        context: context(ctx)?,
    })
}
