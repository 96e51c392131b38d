//! The `taskify` binary as a child process, for the scenarios that observe the process itself:
//! the bootstrap password line on stdout (B23, B24) and the log output (no secrets in logs).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::StatusCode;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};
use tokio::task::JoinHandle;

use crate::helpers::{ApiClient, READY_DEADLINE, free_port};

/// A running `taskify serve` child process with its output captured line by line.
pub struct ServerProcess {
    pub api: ApiClient,
    child: Child,
    stdout: Arc<Mutex<Vec<String>>>,
    stderr: Arc<Mutex<Vec<String>>>,
    readers: Vec<JoinHandle<()>>,
}

/// What a stopped server process wrote.
pub struct ProcessOutput {
    pub stdout: Vec<String>,
    pub stderr: Vec<String>,
}

impl ProcessOutput {
    /// Every line, stdout first.
    pub fn all_lines(&self) -> impl Iterator<Item = &String> {
        self.stdout.iter().chain(self.stderr.iter())
    }
}

/// A fresh working directory with a SQLite database URL inside it.
pub struct Workspace {
    pub dir: PathBuf,
}

impl Workspace {
    pub fn new() -> Workspace {
        Workspace { dir: crate::helpers::fresh_temp_dir() }
    }

    /// `DATABASE_URL` for a SQLite file in this directory.
    pub fn sqlite_url(&self) -> String {
        format!("sqlite://{}", self.dir.join("taskify.db").display())
    }
}

impl Drop for Workspace {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Runs `taskify` with `args` in `workdir` with exactly `envs` (plus `PATH`), captures its output
/// and returns it once the process has exited.
pub async fn run_to_completion(workdir: &Path, args: &[&str], envs: &[(&str, &str)]) -> std::process::Output {
    let run = command(workdir, envs).args(args).output();
    tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .expect("the command finishes within a minute")
        .expect("the taskify binary runs")
}

fn command(workdir: &Path, envs: &[(&str, &str)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_taskify"));
    // Only the variables a scenario sets: the developer's own environment must not leak in.
    command.env_clear().current_dir(workdir).kill_on_drop(true);
    if let Ok(path) = std::env::var("PATH") {
        command.env("PATH", path);
    }
    command.envs(envs.iter().copied());
    command
}

impl ServerProcess {
    /// Starts `taskify serve` in `workdir` with `envs` (plus `HOST`, a free `PORT` and `PATH`) and
    /// waits until `/ready` answers 200.
    pub async fn start(workdir: &Path, envs: &[(&str, &str)]) -> ServerProcess {
        let port = free_port().to_string();
        let mut command = command(workdir, envs);
        command.envs([("HOST", "127.0.0.1"), ("PORT", port.as_str())]).arg("serve");
        command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = command.spawn().expect("the taskify binary starts");

        let stdout = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let readers = vec![
            capture(child.stdout.take().expect("stdout is piped"), Arc::clone(&stdout)),
            capture(child.stderr.take().expect("stderr is piped"), Arc::clone(&stderr)),
        ];
        let mut process =
            ServerProcess { api: ApiClient::new(format!("http://127.0.0.1:{port}")), child, stdout, stderr, readers };
        process.wait_until_ready().await;
        process
    }

    async fn wait_until_ready(&mut self) {
        let deadline = tokio::time::Instant::now() + READY_DEADLINE;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "taskify exited with {status} before it was ready; stdout: {:?}; stderr: {:?}",
                    self.stdout_lines(),
                    lines(&self.stderr)
                );
            }
            if let Ok(response) = self.api.request(reqwest::Method::GET, "/ready").send().await
                && response.status() == StatusCode::OK
            {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "taskify was not ready within {READY_DEADLINE:?}; stderr: {:?}",
                lines(&self.stderr)
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The stdout lines captured so far.
    pub fn stdout_lines(&self) -> Vec<String> {
        lines(&self.stdout)
    }

    /// Sends SIGTERM, waits for the exit (killing the process after 30 s) and returns everything
    /// it wrote.
    pub async fn stop(mut self) -> ProcessOutput {
        if let Some(pid) = self.child.id() {
            let _ = Command::new("kill").args(["-TERM", &pid.to_string()]).status().await;
        }
        if tokio::time::timeout(Duration::from_secs(30), self.child.wait()).await.is_err() {
            let _ = self.child.kill().await;
        }
        for reader in self.readers.drain(..) {
            let _ = reader.await;
        }
        ProcessOutput { stdout: lines(&self.stdout), stderr: lines(&self.stderr) }
    }
}

fn capture(stream: impl AsyncRead + Unpin + Send + 'static, sink: Arc<Mutex<Vec<String>>>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut lines = BufReader::new(stream).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            sink.lock().expect("the output buffer is not poisoned").push(line);
        }
    })
}

fn lines(buffer: &Arc<Mutex<Vec<String>>>) -> Vec<String> {
    buffer.lock().expect("the output buffer is not poisoned").clone()
}
