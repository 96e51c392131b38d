//! A private `redis-server` child process on a port of its own.
//!
//! Tests that stop Redis, or that use keys fixed by design outside any prefix (`taskify:gen:*`,
//! `rate_limit:*`, `cache_jobs*`, see docs/cache.md and docs/jobs.md), cannot use the shared Redis
//! of the machine: they start their own server here, and it is killed when dropped.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::{free_port, fresh_temp_dir};

/// How long a `redis-server` child may take to answer PING.
const READY_DEADLINE: Duration = Duration::from_secs(15);

/// A `redis-server` child process on its own port and directory. Dropping it kills the process
/// and removes the directory.
pub struct RedisServer {
    port: u16,
    dir: PathBuf,
    persistent: bool,
    child: Option<Child>,
}

impl RedisServer {
    /// Starts a memory-only Redis (`--save "" --appendonly no`) on a free port.
    pub async fn start() -> RedisServer {
        RedisServer::launch(free_port(), false).await
    }

    /// Starts a Redis that writes an append-only file with an fsync on every write, so that a
    /// [`RedisServer::start_again`] after [`RedisServer::stop`] (even a kill) restores its data,
    /// as a production Redis would (docs/cache.md#redis-outages).
    pub async fn start_persistent() -> RedisServer {
        RedisServer::launch(free_port(), true).await
    }

    /// A memory-only Redis that will listen on `port` but is not started yet: for clients that
    /// start while Redis is down. Call [`RedisServer::start_again`] to bring it up.
    pub fn not_started_on(port: u16) -> RedisServer {
        RedisServer { port, dir: fresh_temp_dir(), persistent: false, child: None }
    }

    async fn launch(port: u16, persistent: bool) -> RedisServer {
        let mut server = RedisServer { port, dir: fresh_temp_dir(), persistent, child: None };
        server.start_again().await;
        server
    }

    /// The port the server listens on (also while it is stopped).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `redis://127.0.0.1:<port>`, for `REDIS_URL`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Whether the child process is running.
    pub fn is_running(&mut self) -> bool {
        self.child.as_mut().is_some_and(|child| matches!(child.try_wait(), Ok(None)))
    }

    /// Kills the server (SIGKILL, like a crash) and waits for the process to end. Its port is
    /// closed afterwards: connections are refused at once.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server (again) on the same port and directory, and waits until it answers PING.
    /// A persistent server reloads its append-only file first.
    pub async fn start_again(&mut self) {
        assert!(self.child.is_none(), "the Redis on port {} is already running", self.port);
        let port = self.port.to_string();
        let mut command = Command::new("redis-server");
        command.args(["--port", &port, "--bind", "127.0.0.1", "--save", ""]);
        command.arg("--dir").arg(&self.dir).arg("--logfile").arg(self.dir.join("redis.log"));
        if self.persistent {
            command.args(["--appendonly", "yes", "--appendfsync", "always"]);
        } else {
            command.args(["--appendonly", "no"]);
        }
        command.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
        let child = command
            .spawn()
            .unwrap_or_else(|error| panic!("cannot run redis-server (install the redis-server package): {error}"));
        self.child = Some(child);
        self.wait_until_up().await;
    }

    async fn wait_until_up(&mut self) {
        let deadline = tokio::time::Instant::now() + READY_DEADLINE;
        loop {
            if !self.is_running() {
                panic!("redis-server on port {} exited at start; its log:\n{}", self.port, self.log());
            }
            if self.answers_ping().await {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "redis-server on port {} did not answer PING within {READY_DEADLINE:?}; its log:\n{}",
                self.port,
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// PING in the inline protocol, without a Redis client library.
    async fn answers_ping(&self) -> bool {
        let exchange = async {
            let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", self.port)).await?;
            stream.write_all(b"PING\r\n").await?;
            let mut answer = [0_u8; 7];
            stream.read_exact(&mut answer).await?;
            Ok::<_, std::io::Error>(&answer == b"+PONG\r\n")
        };
        matches!(tokio::time::timeout(Duration::from_secs(1), exchange).await, Ok(Ok(true)))
    }

    /// The server's log file, for failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("redis.log")).unwrap_or_default()
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
