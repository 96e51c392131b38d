//! The command line (docs/authentication.md#first-administrator-and-cli). Exit codes: 0 success, 1 failure, 2 bad usage (clap's own).

use crate::app;
use crate::config::Config;
use anyhow::Context;
use clap::{Parser, Subcommand};
use std::io::{Read, Write};
use std::time::Duration;
use taskify_core::Services;
use taskify_core::audit::AuditSink;
use taskify_core::bootstrap::{create_admin, promote};
use taskify_core::cached::Caching;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Parser)]
#[command(name = "taskify", version, about = "Taskify task-management API server")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (the default).
    Serve,
    /// Apply migrations and seed data, run the admin bootstrap, then exit.
    Migrate,
    /// Administrator accounts.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// GET http://127.0.0.1:$PORT/live; exit 0 when it answers 200.
    Healthcheck,
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create a user with the roles `user` and `admin`.
    Create {
        #[arg(long)]
        email: String,
        #[arg(long)]
        username: String,
        /// Falls back to ADMIN_PASSWORD, then to a generated password printed once.
        #[arg(long)]
        password: Option<String>,
        #[arg(long, default_value = "Taskify")]
        first_name: String,
        #[arg(long, default_value = "Administrator")]
        last_name: String,
    },
    /// Add the `admin` role to an existing user (idempotent).
    Promote {
        #[arg(long)]
        email: String,
    },
}

/// Services for one-shot commands; the returned token stops the audit writer.
/// With Redis configured, changes made here (promotions) reach running servers through the
/// cache's invalidation channel.
async fn services(config: &Config) -> anyhow::Result<(Services, CancellationToken)> {
    let store = app::connect(config).await?;
    let stop = CancellationToken::new();
    let (audit, _writer) = AuditSink::start(store.clone(), &config.core.audit, stop.clone());
    let caching = Caching::new(app::build_cache(config).await?, config.cache_ttls.clone());
    let policies = app::load_policies(config)?;
    Ok((Services::new(store, config.core.clone(), audit, caching, policies).await?, stop))
}

/// `taskify migrate`.
pub async fn migrate(config: &Config) -> anyhow::Result<()> {
    let (services, stop) = services(config).await?;
    app::prepare_database(&services.store, &services.auth, config, true).await?;
    stop.cancel();
    println!("Migrations applied.");
    Ok(())
}

/// `taskify admin …`.
pub async fn admin(config: &Config, command: AdminCommand) -> anyhow::Result<()> {
    let (services, stop) = services(config).await?;
    match command {
        AdminCommand::Create { email, username, password, first_name, last_name } => {
            let password = password.or_else(|| config.core.admin.password.clone());
            let (user, generated) =
                create_admin(&services.auth, &email, &username, password.as_deref(), (&first_name, &last_name))
                    .await
                    .map_err(|e| anyhow::anyhow!("cannot create the admin: {}", describe(&e)))?;
            println!("Created admin {} ({})", user.email, user.id);
            if let Some(password) = generated {
                println!("Initial admin password for {}: {password}", user.email);
            }
        }
        AdminCommand::Promote { email } => {
            let id = promote(&services.store, &email)
                .await
                .map_err(|e| anyhow::anyhow!("cannot promote: {}", describe(&e)))?;
            if services.caching.cache().redis_configured() {
                // The connection comes up in the background: wait for it briefly, so the
                // invalidation reaches running servers at once instead of after the TTL.
                services.caching.cache().wait_for_subscription(Duration::from_secs(2)).await;
            }
            services.caching.principal_changed(id, false).await;
            services.events.principal_changed(id).await;
            println!("{email} ({id}) now has the admin role.");
        }
    }
    stop.cancel();
    services.caching.cache().shutdown().await;
    Ok(())
}

/// A readable message for a use-case error, listing the failing fields.
fn describe(e: &taskify_core::CoreError) -> String {
    match e {
        taskify_core::CoreError::Validation(errors) => {
            errors.iter().map(|f| format!("{} {}", f.field, f.message)).collect::<Vec<_>>().join("; ")
        }
        other => other.to_string(),
    }
}

/// `taskify healthcheck`: a plain HTTP/1.0 request to the local `/live`.
pub fn healthcheck(port: u16) -> anyhow::Result<()> {
    let timeout = Duration::from_secs(3);
    let address = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let mut stream = std::net::TcpStream::connect_timeout(&address, timeout).context("connect")?;
    stream.set_read_timeout(Some(timeout))?;
    stream.write_all(b"GET /live HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let status_ok = response.lines().next().is_some_and(|line| line.split_whitespace().nth(1) == Some("200"));
    anyhow::ensure!(status_ok, "/live did not answer 200");
    Ok(())
}
