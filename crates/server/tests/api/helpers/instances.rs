//! Test instances: an isolated Taskify per test, on its own runtime.

use super::*;

/// The configuration every test instance starts from (docs/testing.md#fixtures, fast password hashing).
pub fn default_settings() -> Vec<(&'static str, &'static str)> {
    vec![
        ("RATE_LIMIT_ENABLED", "false"),
        ("ADMIN_EMAIL", ADMIN_EMAIL),
        ("ADMIN_PASSWORD", ADMIN_PASSWORD),
        ("JWT_SECRET", JWT_SECRET),
        ("ARGON2_MEMORY_KIB", "1024"),
        ("ARGON2_ITERATIONS", "1"),
        ("LOG_LEVEL", "warn"),
        // Test instances stop at once; the drain tests set their own delay.
        ("SHUTDOWN_DRAIN_DELAY", "0"),
    ]
}

/// A running Taskify instance with its own database. Dropping it shuts the server down and
/// removes the database.
pub struct TestApp {
    pub api: ApiClient,
    pub backend: Backend,
    pub port: u16,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<std::thread::JoinHandle<anyhow::Result<()>>>,
    /// Always `Some` until [`TestApp::restart`] hands it to the next instance.
    database: Option<TestDatabase>,
}

impl std::ops::Deref for TestApp {
    type Target = ApiClient;
    fn deref(&self) -> &ApiClient {
        &self.api
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.stop_server();
    }
}

impl TestApp {
    /// Stops this instance and starts a new one on the same database, with the default settings
    /// plus `overrides` (for configurations under which the data cannot be set up through the API,
    /// such as `REQUEST_TIMEOUT=1ms`). Tokens stay valid: the JWT secret is the same.
    pub async fn restart(mut self, overrides: &[(&str, &str)]) -> TestApp {
        self.stop_server();
        let database = self.database.take().expect("the instance still owns its database");
        start_app(database, self.backend, overrides).await
    }

    /// The `DATABASE_URL` of this instance, for scenarios that must act on the database itself.
    pub fn database_url(&self) -> &str {
        self.database.as_ref().expect("the instance still owns its database").url()
    }

    /// Runs one SQL statement on this instance's database (for data the API would take too
    /// long to create, such as ten thousand tasks). Blocks until it is done.
    pub fn execute_sql(&self, sql: &str) {
        let database = self.database.as_ref().expect("the instance still owns its database");
        database.execute(sql).unwrap_or_else(|error| panic!("SQL on the test database: {error}"));
    }

    /// Sends the shutdown signal (SIGTERM's effect) without waiting: the drain begins.
    pub fn begin_shutdown(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }

    /// Sends the shutdown signal and waits (bounded) for the server thread to end.
    fn stop_server(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        // Give the graceful shutdown a moment, so the database is removed after the server let go
        // of it; a server that takes longer is left to finish on its own.
        if let Some(server) = self.server.take() {
            let give_up = std::time::Instant::now() + SHUTDOWN_WAIT;
            while !server.is_finished() && std::time::Instant::now() < give_up {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

/// How long dropping a [`TestApp`] waits for its server to stop.
const SHUTDOWN_WAIT: Duration = Duration::from_secs(10);

/// Runs `serve` on a thread with its own runtime: the `serve` future is not `Send`, so it cannot go
/// through `tokio::spawn`, and a runtime of its own keeps the server independent of the test's.
fn start_server(
    config: taskify_server::Config,
    listener: std::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::thread::JoinHandle<anyhow::Result<()>> {
    std::thread::Builder::new()
        .name("taskify-test-server".to_owned())
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
            runtime.block_on(async move {
                listener.set_nonblocking(true)?;
                let listener = tokio::net::TcpListener::from_std(listener)?;
                taskify_server::serve(config, listener, shutdown).await
            })
        })
        .expect("the server thread starts")
}

/// Starts `taskify_server::serve` on a random local port over a fresh database, with the default
/// settings plus `overrides` (an empty value means "unset"), and waits until `/ready` answers 200.
pub async fn spawn_app(backend: Backend, overrides: &[(&str, &str)]) -> TestApp {
    start_app(TestDatabase::create(backend), backend, overrides).await
}

/// Starts `taskify_server::serve` on `database` as [`spawn_app`] describes.
async fn start_app(database: TestDatabase, backend: Backend, overrides: &[(&str, &str)]) -> TestApp {
    let mut settings: HashMap<String, String> =
        default_settings().into_iter().map(|(key, value)| (key.to_owned(), value.to_owned())).collect();
    settings.insert("DATABASE_URL".to_owned(), database.url().to_owned());
    for (key, value) in overrides {
        settings.insert((*key).to_owned(), (*value).to_owned());
    }
    let config =
        taskify_server::Config::from_lookup(move |key| settings.get(key).filter(|value| !value.is_empty()).cloned())
            .expect("the test configuration is valid");

    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a local port is free");
    let port = listener.local_addr().expect("the listener has an address").port();
    let (shutdown, shutdown_signal) = oneshot::channel::<()>();
    let server = start_server(config, listener, async move {
        let _ = shutdown_signal.await;
    });

    let api = ApiClient::new(format!("http://127.0.0.1:{port}"));
    let deadline = tokio::time::Instant::now() + READY_DEADLINE;
    loop {
        if server.is_finished() {
            match server.join() {
                Ok(Ok(())) => panic!("the server stopped before it was ready"),
                Ok(Err(error)) => panic!("the server failed to start: {error:#}"),
                Err(_) => panic!("the server thread panicked"),
            }
        }
        if let Ok(response) = api.request(Method::GET, "/ready").send().await
            && response.status() == StatusCode::OK
        {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "/ready did not answer 200 within {READY_DEADLINE:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    TestApp { api, backend, port, shutdown: Some(shutdown), server: Some(server), database: Some(database) }
}
