//! The ceiling probe of the benchmark suite (scripts/bench/suite.py, BENCHMARKS.md): the least a
//! cached, authenticated `GET /api/v1/tasks/{id}` must do, and nothing else. It verifies the
//! HS256 bearer token with Taskify's own codec (same library, same checks), looks the task up in
//! a moka cache (the library of Taskify's L1) and serialises it to JSON. No middleware, no
//! authorization, no metrics: Taskify's cached read is measured as a fraction of this.
//!
//!     JWT_SECRET=... cargo run --release -p taskify-server --example ceiling -- 18991
//!
//! Not part of the shipped binary. Any task id is answered: a miss fills the cache with a task
//! of that id owned by the caller, so the suite can point it at the same URL as Taskify.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use moka::sync::Cache;
use taskify_core::auth::jwt::JwtCodec;
use taskify_domain::{Task, TaskPriority, TaskStatus};
use uuid::Uuid;

struct Probe {
    codec: JwtCodec,
    tasks: Cache<Uuid, Arc<Task>>,
}

fn task(id: Uuid, owner: Uuid) -> Task {
    let now = taskify_domain::time::now();
    Task {
        id,
        user_id: owner,
        title: "Benchmark task".into(),
        description: "A task of the benchmark data set, read again and again".into(),
        status: TaskStatus::Pending,
        priority: TaskPriority::High,
        due_date: None,
        created_at: now,
        updated_at: now,
        version: 1,
        owner_username: "reader".into(),
    }
}

async fn get_task(State(probe): State<Arc<Probe>>, Path(id): Path<Uuid>, headers: HeaderMap) -> Response {
    let token =
        headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
    let Some(claims) = token.and_then(|t| probe.codec.verify(t, chrono::Utc::now().timestamp()).ok()) else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    let task = probe.tasks.get_with(id, || Arc::new(task(id, claims.user_id)));
    match serde_json::to_vec(&*task) {
        Ok(body) => ([(header::CONTENT_TYPE, "application/json")], body).into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let port: u16 = std::env::args().nth(1).and_then(|p| p.parse().ok()).unwrap_or(18991);
    let secret = std::env::var("JWT_SECRET").map_err(|_| anyhow::anyhow!("JWT_SECRET is not set"))?;
    let codec = JwtCodec::new(secret.as_bytes(), std::time::Duration::from_secs(900))?;
    let probe = Arc::new(Probe { codec, tasks: Cache::new(10_000) });
    let app = Router::new().route("/api/v1/tasks/{id}", get(get_task)).with_state(probe);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    axum::serve(listener, app).await?;
    Ok(())
}
