//! The `taskify` binary as a child process, for the scenarios that observe the process itself:
//! the bootstrap password line on stdout (B23, B24), the log output (no secrets in logs), startup
//! errors, graceful shutdown on SIGTERM and several instances on one database.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::StatusCode;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};
use tokio::task::JoinHandle;

use crate::helpers::{ApiClient, READY_DEADLINE, default_settings, free_port};

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
        let mut process = ServerProcess::spawn(workdir, envs);
        process.wait_until_ready().await;
        process
    }

    /// Starts `taskify serve` like [`ServerProcess::start`] but returns at once, so that several
    /// processes can start at the same moment; call [`ServerProcess::wait_until_ready`] next.
    pub fn spawn(workdir: &Path, envs: &[(&str, &str)]) -> ServerProcess {
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
        ServerProcess { api: ApiClient::new(format!("http://127.0.0.1:{port}")), child, stdout, stderr, readers }
    }

    /// Waits until `/ready` answers 200, failing if the process exits or takes longer than
    /// [`READY_DEADLINE`].
    pub async fn wait_until_ready(&mut self) {
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

/// How long a process that was sent SIGTERM may take to exit (its drain time is `SHUTDOWN_TIMEOUT`,
/// 30 s, plus at most 10 s of audit flushing, docs/operations.md#graceful-shutdown).
const EXIT_DEADLINE: Duration = Duration::from_secs(45);

impl ServerProcess {
    /// Sends SIGTERM and returns at once (the graceful shutdown of docs/operations.md#graceful-shutdown starts).
    pub async fn terminate(&self) {
        if let Some(pid) = self.child.id() {
            let status = Command::new("kill").args(["-TERM", &pid.to_string()]).status().await;
            assert!(status.is_ok_and(|status| status.success()), "SIGTERM can be sent to taskify ({pid})");
        }
    }

    /// Waits for the process to exit on its own (failing after [`EXIT_DEADLINE`]) and returns its
    /// exit status with everything it wrote.
    pub async fn wait_for_exit(mut self) -> (std::process::ExitStatus, ProcessOutput) {
        let status = match tokio::time::timeout(EXIT_DEADLINE, self.child.wait()).await {
            Ok(status) => status.expect("the exit status of taskify can be read"),
            Err(_) => {
                let _ = self.child.kill().await;
                panic!("taskify did not exit within {EXIT_DEADLINE:?}; stderr: {:?}", lines(&self.stderr));
            }
        };
        for reader in self.readers.drain(..) {
            let _ = reader.await;
        }
        (status, ProcessOutput { stdout: lines(&self.stdout), stderr: lines(&self.stderr) })
    }
}

/// How long `taskify serve` may take to give up on a startup error.
const STARTUP_FAILURE_DEADLINE: Duration = Duration::from_secs(30);

/// Runs `taskify serve` in `workdir` with `envs` (plus `HOST` and a free `PORT`) for a
/// configuration that must stop the startup, and returns its output once it has exited. Fails as
/// soon as the process answers `/ready` instead, or if it is still running after
/// [`STARTUP_FAILURE_DEADLINE`] (it is killed either way).
pub async fn serve_expecting_startup_failure(workdir: &Path, envs: &[(&str, &str)]) -> std::process::Output {
    let port = free_port().to_string();
    let mut command = command(workdir, envs);
    command.envs([("HOST", "127.0.0.1"), ("PORT", port.as_str())]).arg("serve");
    command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let exited = command.spawn().expect("the taskify binary starts").wait_with_output();
    let api = ApiClient::new(format!("http://127.0.0.1:{port}"));
    let served = async {
        loop {
            if let Ok(response) = api.request(reqwest::Method::GET, "/ready").send().await
                && response.status() == StatusCode::OK
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    // Dropping the `exited` future kills the process (`kill_on_drop`).
    tokio::select! {
        output = exited => output.expect("the output of taskify can be read"),
        () = served => panic!("taskify started serving instead of refusing to start"),
        () = tokio::time::sleep(STARTUP_FAILURE_DEADLINE) => {
            panic!("taskify still runs after {STARTUP_FAILURE_DEADLINE:?} instead of refusing to start")
        }
    }
}

/// The environment of a child server on `database_url`: the default test settings, then
/// `overrides`, where an empty value removes the variable.
pub fn child_environment(database_url: &str, overrides: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut settings: BTreeMap<String, String> =
        default_settings().into_iter().map(|(key, value)| (key.to_owned(), value.to_owned())).collect();
    settings.insert("DATABASE_URL".to_owned(), database_url.to_owned());
    for (key, value) in overrides {
        if value.is_empty() {
            settings.remove(*key);
        } else {
            settings.insert((*key).to_owned(), (*value).to_owned());
        }
    }
    settings.into_iter().collect()
}

/// Borrowed pairs of an owned environment, for [`ServerProcess::start`].
pub fn env_pairs(settings: &[(String, String)]) -> Vec<(&str, &str)> {
    settings.iter().map(|(key, value)| (key.as_str(), value.as_str())).collect()
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
