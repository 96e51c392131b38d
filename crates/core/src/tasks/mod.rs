//! Task use cases (docs/http-contract.md#tasks): create (idempotent), read, update and delete with version
//! preconditions, and lists filtered by what the caller may see.

pub mod input;

use crate::access::{Access, CollectionOwner, Resource};
use crate::cached::Caching;
use crate::config::{CoreConfig, chrono_duration};
use crate::context::RequestContext;
use crate::error::{CoreError, CoreResult};
use crate::events::{EventHub, TaskChangeKind};
use input::NewTaskInput;
use serde_json::json;
use std::sync::Arc;
use taskify_domain::{Paged, Principal, Scope, Task, TaskChanges, TaskListQuery, Visibility, time};
use taskify_store::{IdempotencyBegin, IdempotencyCompletion, Store, StoredResponse, TaskRecord};
use uuid::Uuid;

pub const MSG_TASK_NOT_FOUND: &str = "Task not found";
pub const MSG_USER_NOT_FOUND: &str = "User not found";
pub const MSG_IDEMPOTENCY_IN_PROGRESS: &str = "A request with this Idempotency-Key is still being processed";

/// A version precondition from `If-Match` (docs/http-contract.md#conditional-requests).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IfMatch {
    /// `*`: any current version.
    Any,
    /// A list of entity tags; only numeric ones can ever match a version.
    Versions(Vec<i64>),
}

impl IfMatch {
    pub fn matches(&self, version: i64) -> bool {
        match self {
            Self::Any => true,
            Self::Versions(list) => list.contains(&version),
        }
    }
}

/// An `Idempotency-Key` with the fingerprint of its request body.
#[derive(Debug, Clone)]
pub struct IdempotencyRequest {
    pub key: String,
    /// Hex SHA-256 of the canonical JSON body.
    pub fingerprint: String,
}

/// Result of `POST /tasks`.
#[derive(Debug, Clone)]
pub enum Created {
    New(Task),
    /// The stored first response of the same idempotent request.
    Replay(StoredResponse),
}

/// The `Location` of a task.
pub fn task_location(id: Uuid) -> String {
    format!("/api/v1/tasks/{id}")
}

/// The strong ETag of a task version.
pub fn etag(version: i64) -> String {
    format!("\"{version}\"")
}

/// Task use cases.
#[derive(Clone)]
pub struct TaskService {
    store: Store,
    access: Access,
    caching: Caching,
    events: EventHub,
    config: Arc<CoreConfig>,
}

impl TaskService {
    pub fn new(store: Store, access: Access, caching: Caching, events: EventHub, config: Arc<CoreConfig>) -> Self {
        Self { store, access, caching, events, config }
    }

    /// `POST /tasks`: the owner is always the caller.
    pub async fn create(
        &self,
        principal: &Principal,
        input: NewTaskInput,
        idempotency: Option<IdempotencyRequest>,
        ctx: &RequestContext,
    ) -> CoreResult<Created> {
        let me = self.own_collection(principal);
        self.access.authorize(principal, "task:create", Resource::TaskCollection(Some(&me)), ctx, None).await?;
        let now = time::now();
        if let Some(idem) = &idempotency {
            let ttl = chrono_duration(self.config.idempotency_ttl);
            let stale = chrono_duration(self.config.request_timeout + std::time::Duration::from_secs(10));
            let begin = self
                .store
                .idempotency_begin(principal.user_id, &idem.key, &idem.fingerprint, now, now + ttl, now - stale)
                .await?;
            match begin {
                IdempotencyBegin::Started => {}
                IdempotencyBegin::Replay(stored) => return Ok(Created::Replay(stored)),
                IdempotencyBegin::InProgress => return Err(CoreError::Conflict(MSG_IDEMPOTENCY_IN_PROGRESS)),
                IdempotencyBegin::Mismatch => return Err(CoreError::IdempotencyKeyReused),
            }
        }
        let task = Task {
            id: Uuid::now_v7(),
            user_id: principal.user_id,
            title: input.title,
            description: input.description,
            status: input.status,
            priority: input.priority,
            due_date: input.due_date,
            created_at: now,
            updated_at: now,
            version: 1,
            owner_username: principal.username.clone(),
        };
        // The 201 a retry replays is stored in the transaction that inserts the task (the body
        // names the owner as the principal does; the task row cannot have changed in between).
        let stored = match &idempotency {
            Some(_) => Some(StoredResponse {
                status: 201,
                body: serde_json::to_string(&task).map_err(|e| CoreError::internal("task json", e))?,
                headers: vec![("Location".into(), task_location(task.id)), ("ETag".into(), etag(task.version))],
            }),
            None => None,
        };
        let completion = idempotency.as_ref().zip(stored.as_ref()).map(|(idem, response)| IdempotencyCompletion {
            user_id: principal.user_id,
            key: &idem.key,
            response,
        });
        let inserted = self.store.insert_task_completing(&task, completion).await;
        match &inserted {
            Ok(task) => {
                self.caching.task_created(task).await;
                self.events.task_changed(TaskChangeKind::Created, task, &[]).await;
            }
            Err(_) => {
                if let Some(idem) = &idempotency {
                    self.store.idempotency_release(principal.user_id, &idem.key).await?;
                }
            }
        }
        Ok(Created::New(inserted?))
    }

    /// Loads a task (through the cache) or answers 404.
    async fn record(&self, id: Uuid, caller: &Principal) -> CoreResult<TaskRecord> {
        self.caching.task(&self.store, id, caller).await?.ok_or(CoreError::NotFound(MSG_TASK_NOT_FOUND))
    }

    /// `GET /tasks/{id}`.
    pub async fn get(&self, principal: &Principal, id: Uuid, ctx: &RequestContext) -> CoreResult<Task> {
        let record = self.record(id, principal).await?;
        self.access.authorize(principal, "task:read", Resource::Task(&record), ctx, None).await?;
        Ok(record.task)
    }

    /// `PUT /tasks/{id}`. `{}` changes nothing, not even the version.
    pub async fn update(
        &self,
        principal: &Principal,
        id: Uuid,
        changes: TaskChanges,
        if_match: Option<IfMatch>,
        ctx: &RequestContext,
    ) -> CoreResult<Task> {
        let record = self.record(id, principal).await?;
        self.access.authorize(principal, "task:update", Resource::Task(&record), ctx, None).await?;
        let current = record.task.version;
        if if_match.as_ref().is_some_and(|m| !m.matches(current)) {
            return Err(CoreError::PreconditionFailed);
        }
        if changes.is_empty() {
            return Ok(record.task);
        }
        // With If-Match the write is a compare-and-set on the version that was checked.
        let expected = if_match.as_ref().map(|_| current);
        match self.store.update_task(id, &changes, expected, time::now()).await? {
            Some(task) => {
                self.caching.task_written(&task, record.attributes.clone()).await;
                self.events.task_changed(TaskChangeKind::Updated, &task, &record.attributes).await;
                Ok(task)
            }
            None => Err(self.explain_failed_write(id, expected).await?),
        }
    }

    /// `DELETE /tasks/{id}`: the task and its attributes are gone for good.
    pub async fn delete(
        &self,
        principal: &Principal,
        id: Uuid,
        if_match: Option<IfMatch>,
        ctx: &RequestContext,
    ) -> CoreResult<()> {
        let record = self.record(id, principal).await?;
        self.access.authorize(principal, "task:delete", Resource::Task(&record), ctx, None).await?;
        let current = record.task.version;
        if if_match.as_ref().is_some_and(|m| !m.matches(current)) {
            return Err(CoreError::PreconditionFailed);
        }
        let expected = if_match.as_ref().map(|_| current);
        if self.store.delete_task(id, expected).await? {
            self.caching.task_changed(id, record.task.user_id).await;
            self.events.task_changed(TaskChangeKind::Deleted, &record.task, &record.attributes).await;
            Ok(())
        } else {
            Err(self.explain_failed_write(id, expected).await?)
        }
    }

    /// A conditional write matched no row: the task is gone (404) or changed meanwhile (412).
    async fn explain_failed_write(&self, id: Uuid, expected: Option<i64>) -> CoreResult<CoreError> {
        let exists = self.store.get_task(id, time::now()).await?.is_some();
        Ok(if exists && expected.is_some() {
            CoreError::PreconditionFailed
        } else {
            CoreError::NotFound(MSG_TASK_NOT_FOUND)
        })
    }

    fn own_collection(&self, principal: &Principal) -> CollectionOwner {
        CollectionOwner { user_id: principal.user_id, department: principal.department.clone(), deleted: false }
    }

    /// `GET /tasks` and `GET /users/{id}/tasks` (the latter sets `query.owner`). With an owner,
    /// existence is checked before the policy (docs/http-contract.md#tasks).
    pub async fn list(
        &self,
        principal: &Principal,
        query: TaskListQuery,
        ctx: &RequestContext,
    ) -> CoreResult<Paged<Task>> {
        let scope = principal.widest_scope("task:read").unwrap_or(Scope::Own);
        let extra = Some(json!({ "scope": scope.as_str() }));
        match query.owner {
            Some(owner_id) => {
                let owner = self.store.get_user(owner_id, time::now(), false).await?;
                let owner = match owner {
                    Some(u) if u.deleted_at.is_none() || scope == Scope::All => u,
                    _ => return Err(CoreError::NotFound(MSG_USER_NOT_FOUND)),
                };
                let collection = CollectionOwner {
                    user_id: owner.id,
                    department: Principal::normalise_department(owner.department.as_deref()),
                    deleted: owner.deleted_at.is_some(),
                };
                self.access
                    .authorize(principal, "task:read", Resource::TaskCollection(Some(&collection)), ctx, extra)
                    .await?;
            }
            None => self.access.authorize(principal, "task:read", Resource::TaskCollection(None), ctx, extra).await?,
        }
        let visibility = match scope {
            Scope::All => Visibility::All,
            Scope::Department => Visibility::Department {
                user_id: principal.user_id,
                department: principal.department.clone(),
                clearance: principal.clearance_level(),
            },
            Scope::Own => Visibility::Own { user_id: principal.user_id },
        };
        let store = &self.store;
        let (q, v) = (&query, &visibility);
        self.caching
            .task_list(principal, &visibility, &query, || async move { Ok(store.list_tasks(q, v, time::now()).await?) })
            .await
    }
}
