//! What one subscriber may see (docs/live-updates.md#filtering): the decision a
//! `GET /tasks/{id}` would make for it, taken per event with its principal as the cache has it
//! now (so a role, department or attribute change applies to the next event), and the checks
//! that end a stream (logout, revocation, deactivation, deletion).

use super::{Change, Entry, ResyncReason};
use crate::access::{Access, Resource};
use crate::cached::Caching;
use crate::context::RequestContext;
use bytes::Bytes;
use taskify_domain::{Principal, time};
use taskify_store::Store;
use uuid::Uuid;

/// The subscriber: who it is and which access token opened the stream.
#[derive(Debug, Clone)]
pub struct Viewer {
    pub user_id: Uuid,
    pub jti: Uuid,
    /// The token's `iat` and `exp`, unix seconds.
    pub issued_at: i64,
    pub expires_at: i64,
    /// The request that opened the stream (the policy context of its decisions).
    pub ctx: RequestContext,
}

/// What to do with one entry.
#[derive(Debug)]
pub enum Verdict {
    Send(Bytes),
    /// Not for this subscriber (or a control entry about someone else).
    Skip,
    /// The entry could not be judged (the database or the cache failed): the subscriber must
    /// refetch rather than silently miss it.
    Resync(ResyncReason),
    /// The stream must end.
    Close,
}

/// Judges entries for subscribers. Cheap to clone.
#[derive(Clone)]
pub struct EventFilter {
    store: Store,
    caching: Caching,
    access: Access,
}

/// Whether `principal` may still hold a stream opened with a token issued at `issued_at`.
fn usable(principal: Option<&Principal>, issued_at: i64) -> bool {
    principal.is_some_and(|p| {
        p.active && !p.deleted && p.tokens_valid_after.is_none_or(|after| issued_at >= after.timestamp())
    })
}

impl EventFilter {
    pub fn new(store: Store, caching: Caching, access: Access) -> Self {
        Self { store, caching, access }
    }

    /// The verdict on `entry` for `viewer`.
    pub async fn judge(&self, viewer: &Viewer, entry: &Entry) -> Verdict {
        match &entry.change {
            Change::Principal { user_id, revoked_jtis } => {
                if revoked_jtis.contains(&viewer.jti) {
                    return Verdict::Close;
                }
                if *user_id != viewer.user_id {
                    return Verdict::Skip;
                }
                // Straight from the database: the cache invalidation of this change travels on
                // another channel and may not have arrived yet.
                match self.store.load_principal(viewer.user_id, time::now()).await {
                    Ok(p) if usable(p.as_ref(), viewer.issued_at) => Verdict::Skip,
                    Ok(_) => Verdict::Close,
                    Err(error) => {
                        tracing::debug!(%error, "live-update control entry could not be checked");
                        Verdict::Resync(ResyncReason::Lagged)
                    }
                }
            }
            Change::Task { task, attributes, .. } => {
                let principal = match self.caching.principal(&self.store, viewer.user_id).await {
                    Ok(p) if usable(p.as_deref(), viewer.issued_at) => p,
                    Ok(_) => return Verdict::Close,
                    Err(_) => return Verdict::Resync(ResyncReason::Lagged),
                };
                let Some(principal) = principal else { return Verdict::Close };
                if !principal.holds("task:read") {
                    return Verdict::Skip;
                }
                let record = match self.caching.task_record(&self.store, task.clone(), attributes, &principal).await {
                    Ok(record) => record,
                    Err(_) => return Verdict::Resync(ResyncReason::Lagged),
                };
                // The context of the read it stands for (spelled here: `tasks` uses this module).
                let path = format!("/api/v1/tasks/{}", task.id);
                let ctx = RequestContext { method: "GET".into(), path, ..viewer.ctx.clone() };
                match entry.task_event() {
                    Some(bytes) if self.access.permits(&principal, "task:read", Resource::Task(&record), &ctx) => {
                        Verdict::Send(bytes)
                    }
                    _ => Verdict::Skip,
                }
            }
        }
    }

    /// The periodic check (at every heartbeat): the token is not revoked and the user may still
    /// use it, through the cache like every request's authentication.
    pub async fn still_valid(&self, viewer: &Viewer) -> bool {
        match self.caching.is_revoked(&self.store, viewer.jti, viewer.expires_at).await {
            Ok(false) => {}
            Ok(true) => return false,
            // Unknown for now: the next heartbeat asks again.
            Err(_) => return true,
        }
        match self.caching.principal(&self.store, viewer.user_id).await {
            Ok(p) => usable(p.as_deref(), viewer.issued_at),
            Err(_) => true,
        }
    }
}
