//! The "without middleware" side of the middleware-cost benchmark (BENCHMARKS.md): a bare axum
//! server answering `GET /live` with the same body shape as Taskify, and nothing else.
//!
//!     cargo run --release -p taskify-server --example bare_live -- 18991

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

async fn live() -> impl IntoResponse {
    let body = format!(
        r#"{{"status":"alive","timestamp":"{}","uptime_seconds":0}}"#,
        chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    );
    ([(header::CONTENT_TYPE, "application/json; charset=utf-8")], body)
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let port: u16 = std::env::args().nth(1).and_then(|p| p.parse().ok()).unwrap_or(18991);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    axum::serve(listener, Router::new().route("/live", get(live))).await
}
