//! Taskify's use cases: authentication, tasks, profiles and administration. HTTP-agnostic:
//! inputs arrive as JSON members or query parameters, failures are [`CoreError`]s that the
//! server maps to problem+json in one place.

pub mod access;
pub mod admin;
pub mod audit;
pub mod auth;
pub mod bootstrap;
pub mod cached;
pub mod config;
pub mod context;
pub mod error;
pub mod events;
pub mod input;
pub mod job_requests;
pub mod profile;
pub mod tasks;
pub mod validate;

pub use config::CoreConfig;
pub use context::RequestContext;
pub use error::{AuthFailure, CoreError, CoreResult};

use access::Access;
use admin::AdminService;
use audit::AuditSink;
use auth::AuthService;
use auth::password::PasswordHasherPool;
use cached::Caching;
use events::{EventFilter, EventHub, HubSettings};
use profile::ProfileService;
use std::sync::Arc;
use taskify_authz::PolicyEngine;
use taskify_store::Store;
use tasks::TaskService;

/// Every service, wired once at start-up. Cheap to clone.
#[derive(Clone)]
pub struct Services {
    pub store: Store,
    pub access: Access,
    pub auth: AuthService,
    pub tasks: TaskService,
    pub profiles: ProfileService,
    pub admin: AdminService,
    pub caching: Caching,
    /// The live-update feed (docs/live-updates.md).
    pub events: EventHub,
    /// What each live-update subscriber may see.
    pub event_filter: EventFilter,
    pub config: Arc<CoreConfig>,
}

impl Services {
    /// Builds the services over `store`, writing audit rows to `audit`, caching through
    /// `caching` and deciding with `policies`.
    pub async fn new(
        store: Store,
        config: CoreConfig,
        audit: AuditSink,
        caching: Caching,
        policies: Arc<PolicyEngine>,
    ) -> CoreResult<Self> {
        let config = Arc::new(config);
        let access = Access::new(audit, config.audit.allowed_reads, policies);
        let passwords = PasswordHasherPool::new(&config.passwords).await?;
        let events = EventHub::new(caching.cache(), HubSettings::default());
        let auth = AuthService::new(
            store.clone(),
            passwords,
            access.clone(),
            caching.clone(),
            events.clone(),
            config.clone(),
        )?;
        Ok(Self {
            tasks: TaskService::new(store.clone(), access.clone(), caching.clone(), events.clone(), config.clone()),
            profiles: ProfileService::new(store.clone(), access.clone(), auth.clone(), caching.clone()),
            admin: AdminService::new(store.clone(), access.clone(), caching.clone(), events.clone(), config.clone()),
            event_filter: EventFilter::new(store.clone(), caching.clone(), access.clone()),
            events,
            caching,
            auth,
            access,
            store,
            config,
        })
    }
}
