//! PostgreSQL stops and starts under load. A private PostgreSQL cluster ([`PostgresServer`],
//! `initdb` and `pg_ctl` on a port and directory of its own) serves one `taskify serve` process
//! while workers send requests continuously. The cluster is stopped like a crash (`pg_ctl stop
//! -m immediate`) and started again, and the scenario checks that:
//!
//! - while it is down, requests answer 503 `database_unavailable` with `Retry-After`, and `/ready`
//!   answers 503; before the stop and after the recovery, neither happens;
//! - no request ever answers 500 (or any other 5xx than those 503s);
//! - Taskify recovers on its own, without a restart;
//! - nothing acknowledged is lost: every task answered with 201 is readable afterwards;
//! - a cached read (a task read just before the outage) is still served while the database is down.
//!
//! The counts are printed (visible with `--nocapture`) and are part of every assertion message.
//!
//! A smaller test, on the suite's own PostgreSQL, closes every connection of an instance from the
//! server side and checks that the next request does not notice.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::task::JoinHandle;

use crate::helpers::*;
use crate::server_process::{ServerProcess, child_environment, env_pairs};

/// Load workers sending at the same time.
const WORKERS: usize = 4;
/// Upper bound on the requests of one worker, so the load ends even if a phase never does.
const MAX_REQUESTS_PER_WORKER: usize = 20_000;
/// Responses to collect in a phase before moving on (before the stop, after the recovery).
const PHASE_RESPONSES: usize = 200;
/// 503s to collect while the database is down.
const DOWN_RESPONSES: usize = 50;
/// How long each phase may take.
const PHASE_DEADLINE: Duration = Duration::from_secs(60);

// ---------------------------------------------------------------------------------------------
// A private PostgreSQL
// ---------------------------------------------------------------------------------------------

/// A PostgreSQL cluster of its own (`initdb` in a temporary directory, `pg_ctl` on a free port,
/// its socket in that directory). As root (CI), the binaries run as the `postgres` user through
/// `runuser`, since PostgreSQL refuses to run as root. Dropping it stops the cluster and removes
/// the directory.
pub struct PostgresServer {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
    as_postgres_user: bool,
}

impl PostgresServer {
    /// Creates and starts a cluster (trust authentication for local TCP connections).
    pub fn start() -> PostgresServer {
        let bin = postgres_bin_dir();
        let dir = fresh_temp_dir();
        let as_postgres_user = running_as_root();
        if as_postgres_user {
            let chown = Command::new("chown").args(["-R", "postgres:"]).arg(&dir).status();
            assert!(chown.is_ok_and(|s| s.success()), "chown of {} to postgres failed", dir.display());
        }
        let server = PostgresServer { bin, dir, port: free_port(), as_postgres_user };
        let data = server.data_dir();
        server.run(
            "initdb",
            &["-D", &data, "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--no-sync", "--no-instructions"],
        );
        server.start_again();
        server
    }

    /// `DATABASE_URL` of the cluster's `postgres` database.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    fn data_dir(&self) -> String {
        self.dir.join("data").display().to_string()
    }

    /// Starts the cluster and waits (`pg_ctl -w`) until it accepts connections.
    pub fn start_again(&self) {
        let options = format!("-p {} -k {} -c listen_addresses=127.0.0.1", self.port, self.dir.display());
        let log = self.dir.join("postgres.log").display().to_string();
        self.run("pg_ctl", &["start", "-w", "-t", "60", "-D", &self.data_dir(), "-l", &log, "-o", &options]);
    }

    /// Stops the cluster at once, like a crash: backends are killed, nothing is checkpointed.
    /// Returns once the postmaster has exited.
    pub fn stop(&self) {
        self.run("pg_ctl", &["stop", "-w", "-t", "60", "-m", "immediate", "-D", &self.data_dir()]);
    }

    fn command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        if self.as_postgres_user {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(path);
            command
        } else {
            Command::new(path)
        }
    }

    fn run(&self, program: &str, args: &[&str]) -> Output {
        let output = self
            .command(program)
            .args(args)
            .current_dir(&self.dir)
            .output()
            .unwrap_or_else(|error| panic!("cannot run {program}: {error}"));
        assert!(
            output.status.success(),
            "{program} {args:?} failed: {}{}; log: {}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr),
            std::fs::read_to_string(self.dir.join("postgres.log")).unwrap_or_default()
        );
        output
    }
}

impl Drop for PostgresServer {
    fn drop(&mut self) {
        let _ = self.command("pg_ctl").args(["stop", "-m", "immediate", "-D", &self.data_dir()]).output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The directory of `initdb` and `pg_ctl`: `pg_config --bindir` when it has them, else the
/// newest `/usr/lib/postgresql/<version>/bin` (Debian puts them outside `PATH`).
fn postgres_bin_dir() -> PathBuf {
    let has_tools = |dir: &Path| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file();
    if let Ok(output) = Command::new("pg_config").arg("--bindir").output() {
        let dir = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
        if output.status.success() && has_tools(&dir) {
            return dir;
        }
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
            Some((version, entry.path().join("bin")))
        })
        .filter(|(_, dir)| has_tools(dir))
        .collect();
    versions.sort();
    versions
        .pop()
        .map(|(_, dir)| dir)
        .expect("initdb and pg_ctl are installed (pg_config --bindir or /usr/lib/postgresql)")
}

fn running_as_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

// ---------------------------------------------------------------------------------------------
// The load
// ---------------------------------------------------------------------------------------------

/// Where the scenario is; each response is counted under the phase its request was sent in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
enum Phase {
    /// The database is up and has not been stopped yet.
    Before = 0,
    /// From just before `pg_ctl stop` until `pg_ctl start` has returned.
    Down = 1,
    /// PostgreSQL is up again; Taskify may not have noticed yet.
    Restarted = 2,
    /// A task created by a request sent after the restart: everything must succeed again.
    Recovered = 3,
}

impl Phase {
    fn from_u8(value: u8) -> Phase {
        match value {
            0 => Phase::Before,
            1 => Phase::Down,
            2 => Phase::Restarted,
            _ => Phase::Recovered,
        }
    }
}

/// What the load saw, by phase and outcome (`201`, `503 database_unavailable`, `transport`, …).
#[derive(Default)]
struct Tally {
    counts: BTreeMap<(Phase, String), usize>,
    /// Ids of tasks created with a 201: acknowledged, so they must survive.
    created: Vec<String>,
    /// 503s without `Retry-After` or with another code than `database_unavailable`.
    bad_503s: Vec<String>,
}

impl Tally {
    fn count(&self, phase: Phase, filter: impl Fn(&str) -> bool) -> usize {
        self.counts.iter().filter(|((p, outcome), _)| *p == phase && filter(outcome)).map(|(_, n)| n).sum()
    }

    fn total(&self, phase: Phase) -> usize {
        self.count(phase, |_| true)
    }

    fn report(&self) -> String {
        let mut lines = vec![format!("tasks acknowledged with 201: {}", self.created.len())];
        for ((phase, outcome), n) in &self.counts {
            lines.push(format!("{phase:?} {outcome}: {n}"));
        }
        lines.join("; ")
    }
}

struct Load {
    phase: Arc<AtomicU8>,
    stop: Arc<AtomicBool>,
    tally: Arc<Mutex<Tally>>,
    workers: Vec<JoinHandle<()>>,
}

impl Load {
    fn start(api: &ApiClient, token: &str) -> Load {
        let phase = Arc::new(AtomicU8::new(Phase::Before as u8));
        let stop = Arc::new(AtomicBool::new(false));
        let tally = Arc::new(Mutex::new(Tally::default()));
        let workers = (0..WORKERS)
            .map(|worker| {
                let (api, token) = (api.clone(), token.to_owned());
                let (phase, stop, tally) = (phase.clone(), stop.clone(), tally.clone());
                tokio::spawn(async move {
                    let mut last_created: Option<String> = None;
                    for n in 0..MAX_REQUESTS_PER_WORKER {
                        if stop.load(Ordering::Relaxed) {
                            break;
                        }
                        let sent_in = Phase::from_u8(phase.load(Ordering::SeqCst));
                        let (outcome, created) = one_request(&api, &token, worker, n, last_created.as_deref()).await;
                        // A request still in flight when the stop began is not "before the stop".
                        let sent_in = match Phase::from_u8(phase.load(Ordering::SeqCst)) {
                            Phase::Before => sent_in,
                            _ if sent_in == Phase::Before => Phase::Down,
                            _ => sent_in,
                        };
                        if outcome == "201" && sent_in == Phase::Restarted {
                            // Only a write sent after the restart proves the recovery (a read may
                            // have come from the cache).
                            let _ = phase.compare_exchange(
                                Phase::Restarted as u8,
                                Phase::Recovered as u8,
                                Ordering::SeqCst,
                                Ordering::SeqCst,
                            );
                        }
                        let mut tally = tally.lock().expect("the tally is not poisoned");
                        if let Some(id) = created {
                            tally.created.push(id.clone());
                            last_created = Some(id);
                        }
                        if outcome.starts_with("503") && !outcome.ends_with("database_unavailable retry-after") {
                            tally.bad_503s.push(format!("{sent_in:?}: {outcome}"));
                        }
                        *tally.counts.entry((sent_in, outcome)).or_default() += 1;
                    }
                })
            })
            .collect();
        Load { phase, stop, tally, workers }
    }

    fn set_phase(&self, phase: Phase) {
        self.phase.store(phase as u8, Ordering::SeqCst);
    }

    fn phase(&self) -> Phase {
        Phase::from_u8(self.phase.load(Ordering::SeqCst))
    }

    fn count(&self, phase: Phase, filter: impl Fn(&str) -> bool) -> usize {
        self.tally.lock().expect("the tally is not poisoned").count(phase, filter)
    }

    fn report(&self) -> String {
        self.tally.lock().expect("the tally is not poisoned").report()
    }

    async fn finish(self) -> Tally {
        self.stop.store(true, Ordering::Relaxed);
        for worker in self.workers {
            worker.await.expect("a load worker does not panic");
        }
        Arc::try_unwrap(self.tally).ok().expect("the workers have ended").into_inner().expect("not poisoned")
    }
}

/// One request of the mix: create a task (every other request), read the last one created, or
/// list. Returns the outcome label and the id of a created task.
async fn one_request(
    api: &ApiClient,
    token: &str,
    worker: usize,
    n: usize,
    last_created: Option<&str>,
) -> (String, Option<String>) {
    let request = match (n % 4, last_created) {
        (0 | 2, _) | (1, None) => {
            api.authed(Method::POST, "/api/v1/tasks", token).json(&json!({"title": format!("outage {worker}-{n}")}))
        }
        (1, Some(id)) => api.authed(Method::GET, &format!("/api/v1/tasks/{id}"), token),
        _ => api.authed(Method::GET, "/api/v1/tasks?pageSize=5", token),
    };
    // A bound well above every server-side timeout, so a hung request is counted, not waited for.
    let response = match request.timeout(Duration::from_secs(30)).send().await {
        Ok(response) => response,
        Err(_) => return ("transport".to_owned(), None),
    };
    let status = response.status();
    let retry_after = response.headers().contains_key("retry-after");
    let body: Value = response.json().await.unwrap_or(Value::Null);
    let outcome = if status.is_success() {
        status.as_u16().to_string()
    } else {
        let code = body["error"].as_str().unwrap_or("?");
        format!("{} {code}{}", status.as_u16(), if retry_after { " retry-after" } else { "" })
    };
    let created = (status == StatusCode::CREATED).then(|| body["id"].as_str().map(str::to_owned)).flatten();
    (outcome, created)
}

async fn ready_status(api: &ApiClient) -> StatusCode {
    api.get("/ready").await.status()
}

// ---------------------------------------------------------------------------------------------
// The scenario
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_stops_and_starts_under_load() {
    let postgres = PostgresServer::start();
    let workdir = fresh_temp_dir();
    let settings = child_environment(&postgres.url(), &[("DB_ACQUIRE_TIMEOUT", "2s"), ("LOG_LEVEL", "error")]);
    let server = ServerProcess::start(&workdir, &env_pairs(&settings)).await;
    let api = server.api.clone();
    let user = api.new_account("outage", None).await;

    // A task read twice before the outage is in the cache: reading it needs no database.
    let cached = api.new_task_id(user.token(), "cached before the outage").await;
    json_body(api.get_task(user.token(), &cached).await, StatusCode::OK).await;
    json_body(api.get_task(user.token(), &cached).await, StatusCode::OK).await;

    let load = Load::start(&api, user.token());
    eventually("responses before the stop", PHASE_DEADLINE, || async {
        (load.count(Phase::Before, |_| true) >= PHASE_RESPONSES).then_some(())
    })
    .await;
    assert_eq!(ready_status(&api).await, StatusCode::OK, "/ready before the stop; {}", load.report());

    load.set_phase(Phase::Down);
    postgres.stop();
    eventually("503 database_unavailable while the database is down", PHASE_DEADLINE, || async {
        (load.count(Phase::Down, |o| o.starts_with("503 database_unavailable")) >= DOWN_RESPONSES).then_some(())
    })
    .await;
    let ready_while_down = ready_status(&api).await;
    let cached_while_down = api.get_task(user.token(), &cached).await.status();
    let health_while_down = api.get("/health").await.status();

    postgres.start_again();
    load.set_phase(Phase::Restarted);
    eventually("a task created by a request sent after the restart", PHASE_DEADLINE, || async {
        (load.phase() == Phase::Recovered).then_some(())
    })
    .await;
    eventually("responses after the recovery", PHASE_DEADLINE, || async {
        (load.count(Phase::Recovered, |_| true) >= PHASE_RESPONSES).then_some(())
    })
    .await;
    let ready_after = eventually("/ready to answer 200 again", PHASE_DEADLINE, || async {
        (ready_status(&api).await == StatusCode::OK).then_some(StatusCode::OK)
    })
    .await;
    let tally = load.finish().await;

    // Nothing acknowledged is lost.
    let mut missing = Vec::new();
    for id in &tally.created {
        let status = api.get_task(user.token(), id).await.status();
        if status != StatusCode::OK {
            missing.push(format!("{id}: {status}"));
        }
    }
    let report = format!(
        "{}; /ready while down: {ready_while_down:?}; /health while down: {health_while_down}; \
         cached read while down: {cached_while_down}",
        tally.report()
    );
    println!("database outage under load: {report}");
    eprintln!("database outage under load: {report}");

    let is_error = |o: &str| !o.starts_with('2');
    let server_errors = |o: &str| o.starts_with('5') && !o.starts_with("503 database_unavailable");
    for phase in [Phase::Before, Phase::Down, Phase::Restarted, Phase::Recovered] {
        assert_eq!(tally.count(phase, server_errors), 0, "no 5xx but 503 database_unavailable ({phase:?}); {report}");
        assert_eq!(tally.count(phase, |o| o == "transport"), 0, "every request got an answer; {report}");
    }
    assert_eq!(tally.count(Phase::Before, is_error), 0, "everything succeeds before the stop; {report}");
    assert_eq!(tally.count(Phase::Recovered, is_error), 0, "everything succeeds after the recovery; {report}");
    assert!(
        tally.bad_503s.is_empty(),
        "every 503 is database_unavailable with Retry-After: {:?}; {report}",
        tally.bad_503s
    );
    assert!(tally.count(Phase::Down, |o| o.starts_with("503")) >= DOWN_RESPONSES, "{report}");
    assert!(
        tally.total(Phase::Down) > 0 && tally.total(Phase::Recovered) >= PHASE_RESPONSES,
        "the load ran through every phase; {report}"
    );
    assert_eq!(ready_while_down, StatusCode::SERVICE_UNAVAILABLE, "/ready while down; {report}");
    assert_eq!(health_while_down, StatusCode::SERVICE_UNAVAILABLE, "/health while down; {report}");
    assert_eq!(ready_after, StatusCode::OK, "{report}");
    assert_eq!(cached_while_down, StatusCode::OK, "a cached read needs no database; {report}");
    assert!(!tally.created.is_empty(), "tasks were created; {report}");
    assert!(missing.is_empty(), "every acknowledged task is readable afterwards: {missing:?}; {report}");

    let output = server.stop().await;
    let _ = std::fs::remove_dir_all(&workdir);
    assert!(!output.all_lines().any(|line| line.contains("panicked")), "taskify did not panic; {report}");
}

/// Connections that PostgreSQL closes while they sit in the pool (a restart, a failover, an
/// idle-connection killer) are replaced before a request gets them: the pool pings each one it
/// hands out (docs/performance.md, "Uncached read"). Without that ping, the next request to get
/// each dead connection answered 503.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_the_server_closed_are_replaced_before_a_request_gets_them() {
    let app = spawn_app(Backend::Postgres, &[]).await;
    let alice = app.new_account("alice", None).await;
    for round in 1..=3 {
        app.execute_sql(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid()",
        );
        // A login reads the account from the database every time: no cache can answer it.
        let response = app.login(&alice.email, USER_PASSWORD).await;
        assert_eq!(response.status(), StatusCode::OK, "login after the server closed every connection, round {round}");
    }
}
