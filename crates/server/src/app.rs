//! Wiring: database, migrations and the admin bootstrap under the migration lock, services,
//! background loops, the HTTP server, and the graceful shutdown of docs/operations.md#graceful-shutdown.

use crate::config::Config;
use crate::http::{
    self,
    health_checks::HealthCache,
    rate_limit::RateLimiter,
    state::{AppState, Shared},
};
use anyhow::Context;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use taskify_authz::PolicyEngine;
use taskify_cache::Cache;
use taskify_cache::redact_url;
use taskify_core::Services;
use taskify_core::audit::AuditSink;
use taskify_core::auth::AuthService;
use taskify_core::bootstrap::{Bootstrap, bootstrap_admin};
use taskify_core::cached::Caching;
use taskify_core::events::slots::StreamSlots;
use taskify_jobs::JobSystem;
use taskify_store::Store;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

const HOUSEKEEPING_EVERY: Duration = Duration::from_secs(3600);

/// Connects to the configured database.
pub async fn connect(config: &Config) -> anyhow::Result<Store> {
    Store::connect(&config.database_url, &config.pool)
        .await
        .with_context(|| format!("cannot connect to the database at {}", redact_url(&config.database_url)))
}

/// Applies migrations (when `migrate`) and runs the admin bootstrap, both under the migration
/// lock so concurrent instances migrate once and create one admin. The generated password, if
/// any, is printed once to stdout, outside the logger.
pub async fn prepare_database(store: &Store, auth: &AuthService, config: &Config, migrate: bool) -> anyhow::Result<()> {
    let lock = store.migration_lock().await.context("cannot take the migration lock")?;
    let result = migrate_and_bootstrap(store, auth, config, migrate).await;
    lock.release().await.context("cannot release the migration lock")?;
    result
}

async fn migrate_and_bootstrap(
    store: &Store,
    auth: &AuthService,
    config: &Config,
    migrate: bool,
) -> anyhow::Result<()> {
    if migrate {
        store.migrate().await.context("migrations failed")?;
    } else if store.migrations_pending().await? {
        tracing::warn!("migrations are pending and DB_MIGRATE_ON_START=false: run `taskify migrate`");
        return Ok(());
    }
    match bootstrap_admin(store, auth, &config.core.admin).await? {
        Bootstrap::AdminExists => {}
        Bootstrap::Created { email, generated_password } => {
            tracing::info!(%email, "created the first administrator");
            if let Some(password) = generated_password {
                println!("Initial admin password for {email}: {password}");
            }
        }
        Bootstrap::EmailTakenByNonAdmin { email } => tracing::error!(
            %email,
            "no active admin exists and ADMIN_EMAIL belongs to a user who is not an admin; \
             run `taskify admin promote --email {email}`"
        ),
    }
    Ok(())
}

/// Runs until `shutdown` resolves: migrates, bootstraps, serves HTTP on `listener`, then drains.
pub async fn serve(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let metrics = crate::telemetry::metrics_handle();
    let policies = load_policies(&config)?;
    let store = connect(&config).await?;
    crate::telemetry::register_metrics(store.backend().as_str(), config.redis.is_some());
    let background = CancellationToken::new();
    let (audit, audit_writer) = AuditSink::start(store.clone(), &config.core.audit, background.clone());
    let cache = build_cache(&config).await?;
    let caching = Caching::new(cache.clone(), config.cache_ttls.clone());
    let services = Services::new(store.clone(), config.core.clone(), audit, caching, policies).await?;
    prepare_database(&store, &services.auth, &config, config.migrate_on_start).await?;

    let address = listener.local_addr()?;
    log_startup(&config, &store, address);
    services.events.start(background.clone());
    let housekeeping = tokio::spawn(housekeeping(store.clone(), config.audit_retention, background.clone()));
    tokio::spawn(crate::telemetry::metrics_upkeep(metrics.clone(), background.clone()));
    if let Some(every) = config.cache_warm_interval {
        tokio::spawn(crate::warmup::periodically(services.clone(), every, background.clone()));
    }
    let rate_limiter = Arc::new(RateLimiter::new(config.rate_limits.idle, cache.redis()));
    let jobs_stop = CancellationToken::new();
    let jobs = JobSystem::start(cache.clone(), config.jobs.clone(), jobs_stop.clone());
    let state = AppState::new(Shared {
        services,
        rate_limiter,
        jobs: jobs.clone(),
        event_slots: StreamSlots::new(config.events.max_per_user, config.events.max_streams),
        config: Arc::new(config),
        metrics,
        started: Instant::now(),
        shutting_down: Arc::new(AtomicBool::new(false)),
        health: Arc::new(HealthCache::default()),
    });
    let stop = CancellationToken::new();
    let stop_signal = stop.clone();
    let shutting_down = state.shutting_down.clone();
    let drain_delay = state.config.shutdown_drain_delay;
    let events = state.services.events.clone();
    tokio::spawn(async move {
        shutdown.await;
        // Live-update streams end at the start of the drain, so their clients reconnect to
        // another replica while this one still answers (docs/live-updates.md#failure-modes).
        events.close_all();
        // `/ready` turns 503 at once, while the instance goes on serving for the drain delay:
        // load balancers see it and stop sending before the listener closes.
        shutting_down.store(true, Ordering::SeqCst);
        tracing::info!(?drain_delay, "draining: /ready answers 503, still serving");
        tokio::time::sleep(drain_delay).await;
        tracing::info!("no longer accepting connections; finishing the requests in flight");
        stop_signal.cancel();
    });
    let drain = state.config.shutdown_timeout;
    let timeouts = http::listen::Timeouts {
        read: state.config.read_timeout,
        write: state.config.write_timeout,
        idle: state.config.idle_timeout,
    };
    let draining = state.shutting_down.clone();
    let app = http::router(state);
    let mut server = tokio::spawn(http::listen::serve(listener, app, timeouts, draining, stop.clone()));
    tokio::select! {
        result = &mut server => result.context("server task")?,
        () = async { stop.cancelled().await; tokio::time::sleep(drain).await } => {
            tracing::warn!("in-flight requests did not finish within SHUTDOWN_TIMEOUT");
            server.abort();
        }
    }
    // After the last request (docs/operations.md#graceful-shutdown): the job workers stop (running jobs finish or return
    // their lease; local jobs move to Redis when it is up), then the audit buffer is flushed and
    // the pools close.
    let report = jobs.shutdown().await;
    jobs_stop.cancel();
    tracing::info!(?report, "job workers stopped");
    background.cancel();
    let _ = housekeeping.await;
    if audit_writer.await.is_err() {
        tracing::error!("the audit writer ended abnormally");
    }
    cache.shutdown().await;
    store.close().await;
    tracing::info!("shut down");
    Ok(())
}

/// The Cedar policy set: `POLICY_FILE` when set, else the built-in default; validated against
/// the entity schema, so a bad file stops the start-up with a message naming the problem.
pub fn load_policies(config: &Config) -> anyhow::Result<Arc<PolicyEngine>> {
    let engine = match &config.policy_file {
        Some(path) => {
            let source = std::fs::read_to_string(path).with_context(|| format!("cannot read POLICY_FILE {path}"))?;
            PolicyEngine::from_source(&source, path).map_err(|e| anyhow::anyhow!("invalid POLICY_FILE: {e}"))?
        }
        None => PolicyEngine::default_policies().map_err(|e| anyhow::anyhow!("built-in policies: {e}"))?,
    };
    Ok(Arc::new(engine))
}

/// The two-level cache: with Redis when configured (attaching in the background if Redis is
/// down at start-up), else L1 only.
pub async fn build_cache(config: &Config) -> anyhow::Result<Cache> {
    match &config.redis {
        Some(redis) => Cache::with_redis(config.cache.clone(), redis.clone()).await.context("invalid REDIS_URL"),
        None => Ok(Cache::local(config.cache.clone())),
    }
}

fn log_startup(config: &Config, store: &Store, address: SocketAddr) {
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        backend = store.backend().as_str(),
        instance_id = %config.instance_id,
        %address,
        "Taskify starting"
    );
    match &config.redis {
        Some(redis) => tracing::info!(url = %redact_url(&redis.url), "Redis enabled"),
        None => tracing::info!("Redis not configured: L2 cache and distributed job queue are disabled"),
    }
    if config.jwt_secret_generated {
        tracing::warn!("JWT_SECRET is not set: using a random secret, so tokens die with this process");
    }
    for name in &config.ignored_variables {
        tracing::warn!(variable = name, "ignored: Taskify uses one multiplexed Redis connection, not a pool");
    }
    if let Some(path) = &config.policy_file {
        tracing::warn!(
            policy_file = %path,
            "POLICY_FILE replaces the built-in policies for single-resource and collection decisions; \
             task list rows still follow the default visibility rules (docs/authorization.md#default-policies)"
        );
    }
}

/// Hourly, idempotent clean-up (docs/data-model.md#tables).
async fn housekeeping(store: Store, audit_retention: Option<Duration>, stop: CancellationToken) {
    let retention = audit_retention.and_then(|d| chrono::Duration::from_std(d).ok());
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(HOUSEKEEPING_EVERY) => {}
        }
        match store.housekeeping(taskify_domain::time::now(), retention).await {
            Ok(report) => tracing::debug!(?report, "housekeeping done"),
            Err(e) => tracing::warn!(error = %e, "housekeeping failed"),
        }
    }
}
