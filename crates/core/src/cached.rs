//! The cache as the use cases see it: the keys and TTLs of docs/cache.md#keys-and-ttls and the write effects of
//! docs/cache.md#what-writes-do, over the key/bytes [`Cache`] of `taskify-cache` (which knows nothing about tasks).
//!
//! Reads go L1 → L2 → database with single flight; writers call the matching `*_changed`
//! method after their database commit. Without Redis the same code runs on L1 alone.

use crate::error::{CoreError, CoreResult};
use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use taskify_cache::{Cache, Fill};
use taskify_domain::{
    Attribute, Paged, Principal, Task, TaskListQuery, Timestamp, User, Visibility,
    time::{self, format_micros},
};
use taskify_store::{RevokedJti, Store, TaskRecord};
use uuid::Uuid;

/// Entry lifetimes (`CACHE_*_TTL`).
#[derive(Debug, Clone)]
pub struct CacheTtls {
    pub task: Duration,
    pub list: Duration,
    pub principal: Duration,
    pub user: Duration,
}

/// The generation counter of every task list (`Gall`).
pub const GEN_ALL: &str = "taskify:gen:tasks:all";

fn gen_user(user_id: Uuid) -> String {
    format!("taskify:gen:tasks:user:{user_id}")
}

fn principal_key(user_id: Uuid) -> String {
    id_key("principal:", user_id)
}

fn task_key(id: Uuid) -> String {
    id_key("task:", id)
}

/// `<prefix><id>` with the id hyphenated, as `format!("{prefix}{id}")` writes it but without the
/// formatting machinery: a cached read builds three such keys (docs/performance.md, "Cached read").
fn id_key(prefix: &str, id: Uuid) -> String {
    let mut key = String::with_capacity(prefix.len() + uuid::fmt::Hyphenated::LENGTH);
    key.push_str(prefix);
    key.push_str(id.hyphenated().encode_lower(&mut Uuid::encode_buffer()));
    key
}

/// A cached task: the row and its active resource attributes with their expiry. The owner's
/// department and deleted flag are not in it: they come from `principal:{owner}`, so a
/// department change never leaves a stale task entry behind.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct CachedTask {
    task: Task,
    attributes: Vec<Attribute>,
}

/// Typed access to the two-level cache. Cheap to clone.
#[derive(Clone)]
pub struct Caching {
    cache: Cache,
    ttls: Arc<CacheTtls>,
}

/// Turns a loader error shared by single-flight waiters back into an owned error.
fn shared(error: Arc<CoreError>) -> CoreError {
    match &*error {
        CoreError::Unavailable { reason, retry_after_secs } => {
            CoreError::Unavailable { reason: reason.clone(), retry_after_secs: *retry_after_secs }
        }
        CoreError::DatabaseUnavailable { reason, retry_after_secs } => {
            CoreError::DatabaseUnavailable { reason: reason.clone(), retry_after_secs: *retry_after_secs }
        }
        CoreError::Timeout => CoreError::Timeout,
        other => CoreError::Internal(other.to_string()),
    }
}

/// What a loader of [`Caching::through`] found: the value, its TTL and its writer version.
struct Loaded<T> {
    value: T,
    ttl: Duration,
    version: Option<i64>,
}

/// The value this read's own loader produced, if it ran. The cache then answers with exactly
/// the bytes the loader's value was encoded to (a fill returns what its loader produced), so the
/// value is used as it is instead of being decoded from them again (docs/performance.md,
/// "Uncached read"); bytes from L1, L2 or another reader's load are decoded.
struct LoadedSlot<T>(Mutex<Option<T>>);

impl<T> Default for LoadedSlot<T> {
    fn default() -> Self {
        Self(Mutex::new(None))
    }
}

impl<T: Serialize + DeserializeOwned> LoadedSlot<T> {
    /// Runs `load`, encodes what it found for the cache and keeps the value.
    async fn fill<F, Fut>(&self, load: F) -> CoreResult<Option<Fill>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = CoreResult<Option<Loaded<T>>>>,
    {
        let Some(Loaded { value, ttl, version }) = load().await? else {
            return Ok(None);
        };
        let fill = Fill { value: encode(&value)?, ttl, version };
        if let Ok(mut slot) = self.0.lock() {
            *slot = Some(value);
        }
        Ok(Some(fill))
    }

    /// The loaded value when this read's loader ran, otherwise `bytes` decoded.
    fn take_or_decode(&self, key: &str, bytes: &[u8]) -> CoreResult<T> {
        match self.0.lock().ok().and_then(|mut slot| slot.take()) {
            Some(value) => Ok(value),
            None => decode(key, bytes),
        }
    }
}

fn encode<T: Serialize>(value: &T) -> CoreResult<Bytes> {
    serde_json::to_vec(value).map(Bytes::from).map_err(|e| CoreError::internal("cache encode", e))
}

fn decode<T: DeserializeOwned>(key: &str, bytes: &[u8]) -> CoreResult<T> {
    serde_json::from_slice(bytes).map_err(|e| CoreError::internal(&format!("cache decode {key}"), e))
}

/// min(`ttl`, time until `until`), at least 1 ms so an entry is never immortal or zero-length.
fn ttl_until(until: Option<Timestamp>, now: Timestamp, ttl: Duration) -> Duration {
    match until.and_then(|u| (u - now).to_std().ok()) {
        Some(left) => left.min(ttl).max(Duration::from_millis(1)),
        None if until.is_some() => Duration::from_millis(1),
        None => ttl,
    }
}

impl Caching {
    pub fn new(cache: Cache, ttls: CacheTtls) -> Self {
        Self { cache, ttls: Arc::new(ttls) }
    }

    /// The underlying key/bytes cache (stats, clear, evict).
    pub fn cache(&self) -> &Cache {
        &self.cache
    }

    /// Reads `key` through the cache; `load` runs on a miss (once per instance at a time).
    async fn through<T, F, Fut>(&self, key: &str, load: F) -> CoreResult<Option<T>>
    where
        T: Serialize + DeserializeOwned,
        F: FnOnce() -> Fut,
        Fut: Future<Output = CoreResult<Option<Loaded<T>>>>,
    {
        let slot = LoadedSlot::default();
        let bytes = self.cache.get_or_load(key, || slot.fill(load)).await.map_err(shared)?;
        bytes.map(|bytes| slot.take_or_decode(key, &bytes)).transpose()
    }

    /// Like [`through`](Self::through), but the decoded value is kept beside the bytes in L1 and
    /// shared: a hit costs an `Arc` clone, not a JSON parse (docs/cache.md#decoded-values).
    async fn through_shared<T, F, Fut>(&self, key: &str, load: F) -> CoreResult<Option<Arc<T>>>
    where
        T: Serialize + DeserializeOwned + Send + Sync + 'static,
        F: FnOnce() -> Fut,
        Fut: Future<Output = CoreResult<Option<Loaded<T>>>>,
    {
        let slot = LoadedSlot::default();
        let decode = |bytes: &[u8]| slot.take_or_decode(key, bytes);
        self.cache.get_or_load_decoded(key, decode, || slot.fill(load)).await.map_err(shared)
    }

    /// The principal of `user_id` (`principal:{uid}`), cached no longer than its earliest
    /// role or attribute expiry. Shared with the cache: clone it only to change it.
    pub async fn principal(&self, store: &Store, user_id: Uuid) -> CoreResult<Option<Arc<Principal>>> {
        let ttl = self.ttls.principal;
        self.through_shared(&principal_key(user_id), || async move {
            let now = time::now();
            Ok(store.load_principal(user_id, now).await?.map(|p| {
                let ttl = ttl_until(p.valid_until(), now, ttl);
                Loaded { value: p, ttl, version: None }
            }))
        })
        .await
    }

    /// A live (not deleted) user as the API shows it (`user:{uid}`), cached no longer than its
    /// earliest role expiry (its `roles` would change then). Deleted users are not cached: they
    /// read as absent.
    pub async fn user(&self, store: &Store, user_id: Uuid) -> CoreResult<Option<User>> {
        let ttl = self.ttls.user;
        self.through(&format!("user:{user_id}"), || async move {
            let now = time::now();
            let Some(mut user) = store.get_user(user_id, now, true).await?.filter(|u| u.deleted_at.is_none()) else {
                return Ok(None);
            };
            let until = user.role_assignments.take().unwrap_or_default().iter().filter_map(|a| a.expires_at).min();
            Ok(Some(Loaded { value: user, ttl: ttl_until(until, now, ttl), version: None }))
        })
        .await
    }

    /// A login changed `last_login_at`: `user:{uid}` is dropped everywhere.
    pub async fn user_changed(&self, user_id: Uuid) {
        self.cache.invalidate(&[&format!("user:{user_id}")]).await;
    }

    /// Whether the access token `jti` is revoked (`revoked:{jti}`: `"1"` or, on purpose, `"0"`),
    /// cached for the token's remaining lifetime.
    pub async fn is_revoked(&self, store: &Store, jti: Uuid, expires_at_unix: i64) -> CoreResult<bool> {
        let key = id_key("revoked:", jti);
        let left = Duration::from_secs(u64::try_from(expires_at_unix - time::now().timestamp()).unwrap_or(0).max(1));
        let value = self
            .cache
            .get_or_load(&key, || async move {
                let revoked = store.is_access_token_revoked(jti).await?;
                let (value, version) = if revoked { ("1", 1) } else { ("0", 0) };
                Ok::<_, CoreError>(Some(Fill::new(Bytes::from_static(value.as_bytes()), left).with_version(version)))
            })
            .await
            .map_err(shared)?;
        Ok(value.as_deref() == Some(b"1"))
    }

    /// Publishes revocations (logout, reuse, password change, deletion): `revoked:{jti}` = `"1"`
    /// on every instance, overriding a cached `"0"` (a higher version).
    pub async fn revoked(&self, jtis: &[RevokedJti]) {
        let now = time::now();
        for r in jtis {
            let left = (r.expires_at - now).to_std().unwrap_or(Duration::from_millis(1));
            self.cache.set_versioned(&id_key("revoked:", r.jti), Bytes::from_static(b"1"), 1, left).await;
        }
    }

    /// A change to a user's roles, attributes, activation, profile or password: `user:{uid}`
    /// and `principal:{uid}` are dropped everywhere. `lists` also bumps `Gall` (department
    /// lists depend on other users' departments, clearances and deletion).
    pub async fn principal_changed(&self, user_id: Uuid, lists: bool) {
        self.cache.invalidate(&[&format!("user:{user_id}"), &principal_key(user_id)]).await;
        if lists {
            self.cache.bump(&[GEN_ALL]).await;
        }
    }

    /// The task with what authorization needs: the cached row and attributes plus the owner's
    /// department and deleted flag from the owner's principal.
    pub async fn task(&self, store: &Store, id: Uuid, caller: &Principal) -> CoreResult<Option<TaskRecord>> {
        let ttl = self.ttls.task;
        let cached: Option<Arc<CachedTask>> = self
            .through_shared(&task_key(id), || async move {
                let Some(record) = store.get_task(id, time::now()).await? else {
                    return Ok(None);
                };
                let version = Some(record.task.version);
                let value = CachedTask { task: record.task, attributes: record.attributes };
                Ok(Some(Loaded { value, ttl, version }))
            })
            .await?;
        let Some(cached) = cached else {
            return Ok(None);
        };
        self.task_record(store, cached.task.clone(), &cached.attributes, caller).await.map(Some)
    }

    /// A task row and its attributes completed with what authorization needs: the owner's
    /// department and deleted flag from the owner's principal (`caller`'s own when it owns the
    /// task) and the attributes still active now.
    pub async fn task_record(
        &self,
        store: &Store,
        task: Task,
        attributes: &[Attribute],
        caller: &Principal,
    ) -> CoreResult<TaskRecord> {
        let (owner_department, owner_deleted) = if task.user_id == caller.user_id {
            (caller.department.clone(), caller.deleted)
        } else {
            match self.principal(store, task.user_id).await? {
                Some(owner) => (owner.department.clone(), owner.deleted),
                None => (String::new(), true),
            }
        };
        let now = time::now();
        let attributes: Vec<Attribute> =
            attributes.iter().filter(|a| a.expires_at.is_none_or(|t| t > now)).cloned().collect();
        let required_clearance =
            attributes.iter().find(|a| a.key == "required_clearance").and_then(|a| a.value.as_i64());
        Ok(TaskRecord { task, owner_department, owner_deleted, required_clearance, attributes })
    }

    /// A created task: the owner's and the global list generations move on. The task itself is
    /// not written to the cache: no instance can hold an entry for an id that did not exist, so
    /// its first read fills it, and a create costs one Redis round trip less (docs/cache.md,
    /// "What writes do").
    pub async fn task_created(&self, task: &Task) {
        self.cache.bump(&[&gen_user(task.user_id), GEN_ALL]).await;
    }

    /// An updated task: the fresh value replaces older versions everywhere, and the owner's and
    /// the global list generations move on.
    pub async fn task_written(&self, task: &Task, attributes: Vec<Attribute>) {
        let entry = CachedTask { task: task.clone(), attributes };
        if let Ok(bytes) = encode(&entry) {
            self.cache.set_versioned(&task_key(task.id), bytes, task.version, self.ttls.task).await;
        }
        self.cache.bump(&[&gen_user(task.user_id), GEN_ALL]).await;
    }

    /// A deleted task, or one whose attributes changed: tombstone and new list generations.
    pub async fn task_changed(&self, id: Uuid, owner: Uuid) {
        self.cache.invalidate(&[&task_key(id)]).await;
        self.cache.bump(&[&gen_user(owner), GEN_ALL]).await;
    }

    /// A task list through the cache (docs/cache.md#keys-and-ttls): the key carries the generation counter that
    /// covers it, so writes make old entries unreachable instead of deleting them.
    pub async fn task_list<F, Fut>(
        &self,
        caller: &Principal,
        visibility: &Visibility,
        query: &TaskListQuery,
        load: F,
    ) -> CoreResult<Paged<Task>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = CoreResult<Paged<Task>>>,
    {
        let mut normalised = list_query_text(query);
        let now = time::now();
        let (key, until) = match visibility {
            Visibility::Own { user_id } => {
                let generation = self.cache.generation(&gen_user(*user_id)).await;
                (format!("tasks_paginated:own:{user_id}:g{generation}:{}", hash16(&normalised)), None)
            }
            Visibility::Department { user_id, department, clearance } => {
                normalised.push_str(&serde_json::json!([department, clearance]).to_string());
                let generation = self.cache.generation(GEN_ALL).await;
                let key = format!("tasks_paginated:dept:{user_id}:g{generation}:{}", hash16(&normalised));
                (key, caller.valid_until())
            }
            Visibility::All => {
                let generation = self.cache.generation(GEN_ALL).await;
                (format!("tasks_paginated:all:g{generation}:{}", hash16(&normalised)), None)
            }
        };
        let ttl = ttl_until(until, now, self.ttls.list);
        let page =
            self.through(&key, || async move { Ok(Some(Loaded { value: load().await?, ttl, version: None })) }).await?;
        page.ok_or_else(|| CoreError::Internal("task list loader returned nothing".into()))
    }
}

impl Caching {
    /// The built-in warm-up (docs/cache.md#administration-endpoints): `task:{id}` of the 100 most recently updated tasks,
    /// written with the read-fill rules (never over a newer value or a tombstone). Returns how
    /// many entries were stored.
    pub async fn warm_recent_tasks(&self, store: &Store) -> CoreResult<usize> {
        let ticket = self.cache.begin_fill().await;
        let query = TaskListQuery {
            sort_by: taskify_domain::TaskSort::UpdatedAt,
            page: taskify_domain::PageRequest { page: 1, page_size: 100 },
            ..TaskListQuery::default()
        };
        let recent = store.list_tasks(&query, &Visibility::All, time::now()).await?;
        let mut stored = 0;
        for task in recent.items {
            let Some(record) = store.get_task(task.id, time::now()).await? else { continue };
            let version = record.task.version;
            let entry = CachedTask { task: record.task, attributes: record.attributes };
            let fill = Fill::new(encode(&entry)?, self.ttls.task).with_version(version);
            if matches!(self.cache.fill(&ticket, &task_key(task.id), fill).await, taskify_cache::FillOutcome::Stored) {
                stored += 1;
            }
        }
        Ok(stored)
    }
}

/// The normalised query: defaults applied, parameters in the fixed order of docs/cache.md#keys-and-ttls, as a
/// JSON array so that no text inside `q` can be mistaken for another parameter.
fn list_query_text(q: &TaskListQuery) -> String {
    let opt_time = |t: &Option<Timestamp>| t.as_ref().map(format_micros);
    serde_json::json!([
        q.status.map(|s| s.as_str()),
        q.priority.map(|p| p.as_str()),
        opt_time(&q.due_after),
        opt_time(&q.due_before),
        q.q,
        q.owner,
        q.sort_by.as_str(),
        q.order.as_str(),
        q.page.page,
        q.page.page_size,
    ])
    .to_string()
}

/// First 16 hex characters of the SHA-256.
fn hash16(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    hex::encode(&digest[..8])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The keys other instances and Redis already hold: the same text as `format!` wrote.
    #[test]
    fn id_keys_are_the_prefix_and_the_hyphenated_id() {
        let id = Uuid::new_v4();
        assert_eq!(task_key(id), format!("task:{id}"));
        assert_eq!(principal_key(id), format!("principal:{id}"));
        assert_eq!(id_key("revoked:", id), format!("revoked:{id}"));
    }

    #[test]
    fn equivalent_queries_share_a_key_and_q_is_unambiguous() {
        let default = TaskListQuery::default();
        assert_eq!(hash16(&list_query_text(&default)), hash16(&list_query_text(&TaskListQuery::default())));
        let sneaky = TaskListQuery { q: Some("a\",null,\"created_at".into()), ..TaskListQuery::default() };
        let plain = TaskListQuery { q: Some("a".into()), ..TaskListQuery::default() };
        assert_ne!(list_query_text(&sneaky), list_query_text(&plain));
        assert_eq!(hash16("x").len(), 16);
    }

    #[test]
    fn ttls_never_outlive_the_earliest_expiry() {
        let now = time::now();
        let ttl = Duration::from_secs(60);
        assert_eq!(ttl_until(None, now, ttl), ttl);
        assert_eq!(ttl_until(Some(now + chrono::Duration::seconds(5)), now, ttl), Duration::from_secs(5));
        assert_eq!(ttl_until(Some(now - chrono::Duration::seconds(5)), now, ttl), Duration::from_millis(1));
    }
}
