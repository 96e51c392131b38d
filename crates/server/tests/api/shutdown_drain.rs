//! The visible drain on SIGTERM, against the real binary: `/ready` answers 503 at once while the
//! instance goes on serving for `SHUTDOWN_DRAIN_DELAY`; then it stops accepting, and a request
//! that was in flight at SIGTERM still completes.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{ADMIN_EMAIL, ADMIN_PASSWORD, ApiClient, eventually};
use crate::server_process::{ServerProcess, Workspace, child_environment, env_pairs};

/// Long enough for the checks made during the delay, even on a loaded machine.
const DRAIN_DELAY: &str = "10s";
const PATIENCE: Duration = Duration::from_secs(30);

/// Reads from `stream` until `done` holds for the bytes received so far (or the connection ends).
async fn read_until(stream: &mut TcpStream, done: impl Fn(&[u8]) -> bool) -> Vec<u8> {
    let mut received = Vec::new();
    let mut buffer = [0u8; 8192];
    let read = async {
        while !done(&received) {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => received.extend_from_slice(&buffer[..n]),
            }
        }
        received
    };
    tokio::time::timeout(PATIENCE, read).await.expect("the server answers")
}

fn has_head(received: &[u8]) -> bool {
    received.windows(4).any(|w| w == b"\r\n\r\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_turns_ready_503_keeps_serving_during_the_delay_and_finishes_requests_in_flight() {
    let workspace = Workspace::new();
    let settings = child_environment(
        &workspace.sqlite_url(),
        &[("SHUTDOWN_DRAIN_DELAY", DRAIN_DELAY), ("READ_TIMEOUT", "2m"), ("REQUEST_TIMEOUT", "2m")],
    );
    let server = ServerProcess::start(&workspace.dir, &env_pairs(&settings)).await;
    let port = server.api.address.rsplit(':').next().and_then(|p| p.parse::<u16>().ok()).expect("a port");

    // A login whose body the server asked for (100 Continue) but has not received: in flight.
    let body = json!({ "email": ADMIN_EMAIL, "password": ADMIN_PASSWORD }).to_string();
    let mut in_flight = TcpStream::connect(("127.0.0.1", port)).await.expect("the server accepts connections");
    let head = format!(
        "POST /api/v1/auth/login HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n",
        body.len()
    );
    in_flight.write_all(head.as_bytes()).await.expect("the head is sent");
    let interim = read_until(&mut in_flight, has_head).await;
    assert!(
        interim.starts_with(b"HTTP/1.1 100"),
        "the server asks for the body: {:?}",
        String::from_utf8_lossy(&interim)
    );

    server.terminate().await;

    // During the delay: /ready is 503 and new requests, on new connections, are served.
    let fresh = || ApiClient::new(server.api.address.clone());
    let ready = eventually("/ready to answer 503", PATIENCE, || async {
        let response = fresh().request(Method::GET, "/ready").send().await.ok()?;
        (response.status() == StatusCode::SERVICE_UNAVAILABLE).then_some(response)
    })
    .await;
    let ready: serde_json::Value = ready.json().await.expect("a JSON body");
    assert_eq!(ready["reason"], "shutting down");
    let login =
        fresh().post_json("/api/v1/auth/login", &json!({ "email": ADMIN_EMAIL, "password": ADMIN_PASSWORD })).await;
    assert_eq!(login.status(), StatusCode::OK, "a request sent during the drain delay is served");
    assert_eq!(
        login.headers().get("connection").map(|v| v.as_bytes()),
        Some(&b"close"[..]),
        "and closes its connection, so keep-alive clients move to another instance"
    );
    assert_eq!(fresh().get("/live").await.status(), StatusCode::OK);

    // After the delay the listener closes; the request in flight since SIGTERM still completes.
    eventually("the listener to close", PATIENCE, || async {
        TcpStream::connect(("127.0.0.1", port)).await.is_err().then_some(())
    })
    .await;
    in_flight.write_all(body.as_bytes()).await.expect("the body is sent");
    let answer = read_until(&mut in_flight, |_| false).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "the request in flight at SIGTERM completes: {answer}");
    assert!(answer.contains("access_token"), "with its answer: {answer}");

    let (status, output) = server.wait_for_exit().await;
    assert_eq!(status.code(), Some(0), "a graceful shutdown exits 0; stderr: {:?}", output.stderr);
}
