//! The local cluster: N `taskify serve` child processes on fixed loopback ports, one fresh
//! PostgreSQL database migrated once by `taskify migrate` (the nodes run with
//! `DB_MIGRATE_ON_START=false`, as in the Kubernetes manifests), a private `redis-server`, and
//! nginx with the shipped configuration in front. Every process is a child of the test and is
//! stopped when the [`Cluster`] is dropped; files live in a fresh temporary directory.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use reqwest::StatusCode;
use tokio::time::Instant;

use taskify_test_support::RedisServer;

use crate::helpers::{ApiClient, Backend, TestDatabase, default_settings, free_port, fresh_temp_dir};

/// How long a node, nginx or Redis may take to come up.
const START_DEADLINE: Duration = Duration::from_secs(45);
/// How long a node that got SIGTERM may take to exit: the drain delay, `SHUTDOWN_TIMEOUT` and
/// the job and audit shutdown.
pub const EXIT_DEADLINE: Duration = Duration::from_secs(45);
/// Between two polls of a condition.
pub const POLL: Duration = Duration::from_millis(25);
/// The drain delay of the nodes (`SHUTDOWN_DRAIN_DELAY`): shorter than the 5 s default, so the
/// rolling restart of three nodes stays quick, and still long enough to be observed.
pub const DRAIN_DELAY: &str = "2s";

/// The settings every node gets besides [`default_settings`]: Redis calls that tolerate a
/// loaded 2-core machine, a quick circuit breaker, no periodic warm-up.
const CLUSTER_SETTINGS: &[(&str, &str)] = &[
    ("TRUSTED_PROXIES", "127.0.0.1/32"),
    ("DB_MIGRATE_ON_START", "false"),
    ("SHUTDOWN_DRAIN_DELAY", DRAIN_DELAY),
    ("SHUTDOWN_TIMEOUT", "30s"),
    // An `in_progress` idempotency claim of a killed replica is taken over after REQUEST_TIMEOUT
    // + 10 s; 5 s (instead of 30 s) keeps the failover scenario's client retries short.
    ("REQUEST_TIMEOUT", "5s"),
    ("REDIS_READ_TIMEOUT", "2s"),
    ("REDIS_WRITE_TIMEOUT", "2s"),
    ("CACHE_BREAKER_TIMEOUT", "2s"),
    ("CACHE_WARM_INTERVAL", "0"),
];

/// The repository root (two levels above this crate).
fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

// ---------------------------------------------------------------------------------------------
// The cluster
// ---------------------------------------------------------------------------------------------

pub struct Cluster {
    /// nginx, the way clients reach the cluster.
    pub entry: ApiClient,
    pub nodes: Vec<Node>,
    pub redis: RedisServer,
    nginx: Nginx,
    environment: Vec<(String, String)>,
    dir: PathBuf,
    // Dropped last: the nodes are stopped first (fields drop in declaration order).
    _database: TestDatabase,
    /// One cluster at a time on this machine, also under `cargo test`, which runs the scenarios
    /// as threads of one process (nextest runs them one at a time through a test group).
    _turn: std::fs::File,
}

impl Cluster {
    /// Starts `replicas` nodes behind nginx with the cluster settings plus `overrides`. Returns
    /// `None`, after printing why, when nginx is not installed and cannot be installed.
    pub async fn start(replicas: usize, overrides: &[(&str, &str)]) -> Option<Cluster> {
        let Some(nginx_bin) = nginx_binary() else {
            println!(
                "SKIPPED: nginx is not installed and could not be installed (apt-get install nginx); \
                 the cluster scenarios need Debian's nginx"
            );
            return None;
        };
        let turn = std::fs::File::create(std::env::temp_dir().join("taskify-cluster-tests.lock"))
            .expect("the lock file can be created");
        turn.lock().expect("the cluster lock can be taken");
        let dir = fresh_temp_dir();
        let database = TestDatabase::create(Backend::Postgres);
        let redis = RedisServer::start_persistent().await;

        let mut environment: Vec<(String, String)> =
            default_settings().into_iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
        let fixed = [("DATABASE_URL", database.url().to_owned()), ("REDIS_URL", redis.url())];
        environment.extend(fixed.into_iter().map(|(k, v)| (k.to_owned(), v)));
        for (key, value) in CLUSTER_SETTINGS.iter().chain(overrides) {
            environment.retain(|(k, _)| k != key);
            environment.push(((*key).to_owned(), (*value).to_owned()));
        }

        migrate(&dir, &environment).await;
        let mut nodes: Vec<Node> =
            (1..=replicas).map(|index| Node::spawn(index, free_port(), &dir, &environment)).collect();
        for node in &mut nodes {
            node.wait_until_ready().await;
        }
        let ports: Vec<u16> = nodes.iter().map(|node| node.port).collect();
        let nginx = Nginx::start(&nginx_bin, &dir.join("nginx"), free_port(), &ports).await;
        let entry = ApiClient::new(format!("http://127.0.0.1:{}", nginx.port));
        let cluster = Cluster { entry, nodes, redis, nginx, environment, dir, _database: database, _turn: turn };
        cluster.wait_for_entry().await;
        Some(cluster)
    }

    /// Waits until nginx answers `/ready` with 200 (from a replica).
    async fn wait_for_entry(&self) {
        let deadline = Instant::now() + START_DEADLINE;
        loop {
            if let Ok(response) = self.entry.request(reqwest::Method::GET, "/ready").send().await
                && response.status() == StatusCode::OK
            {
                return;
            }
            assert!(Instant::now() < deadline, "nginx did not pass /ready within {START_DEADLINE:?}: {}", self.logs());
            tokio::time::sleep(POLL).await;
        }
    }

    /// Starts node `index` (1-based) again on its port and waits until it is ready.
    pub async fn restart_node(&mut self, index: usize) {
        let node = &mut self.nodes[index - 1];
        assert!(!node.is_running(), "node{index} is still running");
        let fresh = Node::spawn(index, node.port, &self.dir, &self.environment);
        *node = fresh;
        node.wait_until_ready().await;
    }

    /// The distinct `upstream=` addresses in nginx's access log (the shipped log format), that
    /// is the replicas that served at least one request through nginx.
    pub fn upstreams_used(&self) -> std::collections::BTreeSet<String> {
        let log = std::fs::read_to_string(self.nginx.dir.join("logs/access.log")).unwrap_or_default();
        // `upstream=127.0.0.1:1, 127.0.0.1:2 upstream_status=...` when nginx tried several.
        log.lines()
            .filter_map(|line| line.split_once(" upstream=").and_then(|(_, rest)| rest.split_once(" upstream_status=")))
            .flat_map(|(upstreams, _)| upstreams.split([',', ' ']).map(str::to_owned).collect::<Vec<_>>())
            .filter(|address| address.starts_with("127.0.0.1:"))
            .collect()
    }

    /// The tails of every log, for failure messages.
    pub fn logs(&self) -> String {
        let mut out = String::new();
        for node in &self.nodes {
            out.push_str(&format!("\n--- node{} log (tail) ---\n{}", node.index, tail(&node.log, 20)));
        }
        out.push_str(&format!(
            "\n--- nginx error.log (tail) ---\n{}",
            tail(&self.nginx.dir.join("logs/error.log"), 20)
        ));
        out
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // Nodes (their Drop kills them) before the database is dropped, nginx and Redis after.
        self.nodes.clear();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// A `taskify` command with exactly `environment` (plus `PATH`) in `dir`.
fn taskify(dir: &Path, environment: &[(String, String)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_taskify"));
    command.env_clear().current_dir(dir).stdin(Stdio::null());
    if let Ok(path) = std::env::var("PATH") {
        command.env("PATH", path);
    }
    command.envs(environment.iter().map(|(k, v)| (k, v)));
    command
}

/// `taskify migrate`: the migrations and the admin bootstrap, once for the cluster.
async fn migrate(dir: &Path, environment: &[(String, String)]) {
    let mut command = tokio::process::Command::from(taskify(dir, environment));
    command.arg("migrate").kill_on_drop(true);
    let output = tokio::time::timeout(START_DEADLINE, command.output())
        .await
        .expect("taskify migrate finishes in time")
        .expect("taskify migrate runs");
    assert!(output.status.success(), "taskify migrate failed: {}", String::from_utf8_lossy(&output.stderr));
}

// ---------------------------------------------------------------------------------------------
// Nodes
// ---------------------------------------------------------------------------------------------

/// One `taskify serve` child process, its output appended to `node<i>.log`.
pub struct Node {
    pub index: usize,
    pub port: u16,
    /// The node itself, bypassing nginx.
    pub api: ApiClient,
    log: PathBuf,
    child: Option<Child>,
}

impl Node {
    fn spawn(index: usize, port: u16, dir: &Path, environment: &[(String, String)]) -> Node {
        let log = dir.join(format!("node{index}.log"));
        let file = std::fs::OpenOptions::new().create(true).append(true).open(&log).expect("the node log opens");
        let mut command = taskify(dir, environment);
        command.envs([
            ("HOST", "127.0.0.1".to_owned()),
            ("PORT", port.to_string()),
            ("INSTANCE_ID", format!("node{index}")),
        ]);
        command.arg("serve").stdout(file.try_clone().expect("the log handle clones")).stderr(file);
        let child = command.spawn().expect("the taskify binary starts");
        Node { index, port, api: ApiClient::new(format!("http://127.0.0.1:{port}")), log, child: Some(child) }
    }

    pub fn is_running(&mut self) -> bool {
        self.child.as_mut().is_some_and(|child| matches!(child.try_wait(), Ok(None)))
    }

    pub async fn wait_until_ready(&mut self) {
        let deadline = Instant::now() + START_DEADLINE;
        loop {
            assert!(self.is_running(), "node{} exited before it was ready:\n{}", self.index, tail(&self.log, 30));
            if self.ready_status().await == Some(StatusCode::OK) {
                return;
            }
            assert!(Instant::now() < deadline, "node{} not ready in time:\n{}", self.index, tail(&self.log, 30));
            tokio::time::sleep(POLL).await;
        }
    }

    /// The status of this node's `/ready`, `None` when it does not answer.
    pub async fn ready_status(&self) -> Option<StatusCode> {
        let request = self.api.request(reqwest::Method::GET, "/ready").timeout(Duration::from_secs(2));
        request.send().await.ok().map(|response| response.status())
    }

    /// Sends `signal` (`KILL`, `TERM`) to the process.
    pub fn signal(&mut self, signal: &str) {
        let pid = self.child.as_ref().map(Child::id).expect("the node was started");
        let status = Command::new("kill").args([&format!("-{signal}"), &pid.to_string()]).status();
        assert!(status.is_ok_and(|s| s.success()), "kill -{signal} node{}", self.index);
    }

    /// Waits (bounded by [`EXIT_DEADLINE`]) until the process has exited.
    pub async fn wait_for_exit(&mut self) -> std::process::ExitStatus {
        let deadline = Instant::now() + EXIT_DEADLINE;
        loop {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                return status;
            }
            assert!(Instant::now() < deadline, "node{} did not exit in time:\n{}", self.index, tail(&self.log, 30));
            tokio::time::sleep(POLL).await;
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

// ---------------------------------------------------------------------------------------------
// nginx
// ---------------------------------------------------------------------------------------------

/// nginx in the foreground (`daemon off`) with the shipped configuration, rendered into `dir`.
struct Nginx {
    port: u16,
    dir: PathBuf,
    child: Child,
}

impl Nginx {
    async fn start(binary: &Path, dir: &Path, port: u16, upstreams: &[u16]) -> Nginx {
        let render = repository().join("deploy/nginx/render-local.sh");
        let output = Command::new("sh")
            .arg(&render)
            .arg(dir)
            .arg(port.to_string())
            .args(upstreams.iter().map(u16::to_string))
            .env_remove("REAL_IP_FROM")
            .output()
            .expect("render-local.sh runs");
        assert!(output.status.success(), "render-local.sh failed: {}", String::from_utf8_lossy(&output.stderr));
        let error_log = dir.join("logs/error.log");
        let child = Command::new(binary)
            .arg("-p")
            .arg(dir)
            .arg("-e")
            .arg(&error_log)
            .arg("-c")
            .arg(dir.join("nginx.conf"))
            .args(["-g", "daemon off;"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nginx starts");
        let mut nginx = Nginx { port, dir: dir.to_owned(), child };
        let health = ApiClient::new(format!("http://127.0.0.1:{port}"));
        let deadline = Instant::now() + START_DEADLINE;
        loop {
            assert!(
                matches!(nginx.child.try_wait(), Ok(None)),
                "nginx exited at start: {}",
                std::fs::read_to_string(&error_log).unwrap_or_default()
            );
            if let Ok(response) = health.request(reqwest::Method::GET, "/nginx-health").send().await
                && response.status() == StatusCode::OK
            {
                return nginx;
            }
            assert!(Instant::now() < deadline, "nginx did not answer /nginx-health in time");
            tokio::time::sleep(POLL).await;
        }
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // SIGTERM (fast shutdown) so the master takes its workers down; a SIGKILLed master would
        // leave them holding the port. SIGKILL only if it has not exited after 5 s.
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let give_up = std::time::Instant::now() + Duration::from_secs(5);
        while matches!(self.child.try_wait(), Ok(None)) && std::time::Instant::now() < give_up {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// nginx from `NGINX_BIN`, the `PATH` or `/usr/sbin`; when missing and running as root, installed
/// with apt-get (serialised with `flock`, since the scenarios may run in parallel processes).
fn nginx_binary() -> Option<PathBuf> {
    if let Ok(bin) = std::env::var("NGINX_BIN") {
        let bin = PathBuf::from(bin);
        return bin.is_file().then_some(bin);
    }
    let find = || -> Option<PathBuf> {
        let path = std::env::var("PATH").unwrap_or_default();
        std::env::split_paths(&path)
            .chain([PathBuf::from("/usr/sbin")])
            .map(|dir| dir.join("nginx"))
            .find(|candidate| candidate.is_file())
    };
    if let Some(found) = find() {
        return Some(found);
    }
    let root = Command::new("id").arg("-u").output().is_ok_and(|out| out.stdout.starts_with(b"0\n"));
    if root {
        let install = "command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || \
            { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nginx || \
              { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nginx; }; }";
        let lock = std::env::temp_dir().join("taskify-nginx-install.lock");
        let _ = Command::new("flock").arg(lock).args(["sh", "-c", install]).stdout(Stdio::null()).status();
    }
    find()
}
