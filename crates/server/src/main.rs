//! The `taskify` binary.

use clap::Parser;
use std::process::ExitCode;
use taskify_server::cli::{self, Cli, Command};
use taskify_server::{Config, telemetry};

/// mimalloc, unless built with `--no-default-features` (BENCHMARKS.md, "Allocator").
#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // Real environment variables win over `.env`.
    let _ = dotenvy::dotenv();
    let cli = Cli::parse();
    let config = match Config::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("taskify: {e}");
            return ExitCode::from(1);
        }
    };
    let command = cli.command.unwrap_or(Command::Serve);
    if let Command::Healthcheck = command {
        return exit(cli::healthcheck(config.port));
    }
    telemetry::init_logging(&config);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("taskify: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    exit(runtime.block_on(async move {
        match command {
            Command::Serve | Command::Healthcheck => serve(config).await,
            Command::Migrate => cli::migrate(&config).await,
            Command::Admin(admin) => cli::admin(&config, admin).await,
        }
    }))
}

fn exit(result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("taskify: {e:#}");
            ExitCode::from(1)
        }
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let address = std::net::SocketAddr::new(config.host, config.port);
    let listener =
        tokio::net::TcpListener::bind(address).await.map_err(|e| anyhow::anyhow!("cannot listen on {address}: {e}"))?;
    let admin = config.core.admin.email.clone();
    let shown = listener.local_addr()?;
    let announce = async move {
        println!("Taskify listening on http://{shown} (API docs: http://{shown}/api-docs)");
        println!("Sign in as the bootstrap admin {admin} with ADMIN_PASSWORD or the initial password printed above.");
    };
    taskify_server::serve(config, listener, shutdown_signal(announce)).await
}

/// Resolves on SIGINT or SIGTERM; runs `announce` first, once the server is up.
async fn shutdown_signal(announce: impl std::future::Future<Output = ()>) {
    announce.await;
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
    tracing::info!("shutdown signal received");
}
