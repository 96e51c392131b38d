//! The test harness: an isolated Taskify instance per test (`spawn_app`), a typed client with one
//! method per endpoint, the fixtures of docs/testing.md#fixtures, and the assertions every scenario shares.

use std::collections::HashMap;
use std::future::Future;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::header::HeaderMap;
use reqwest::{Client, Method, RequestBuilder, Response, StatusCode, Url};
use serde_json::{Value, json};
use tokio::sync::oneshot;
use uuid::Uuid;

pub const ADMIN_EMAIL: &str = "admin@example.com";
pub const ADMIN_PASSWORD: &str = "Admin@12345";
/// The password of every fixture user (docs/testing.md#fixtures).
pub const USER_PASSWORD: &str = "Test@123456";
/// The HS256 secret the test instances sign with.
pub const JWT_SECRET: &str = "taskify-api-tests-secret-0123456789abcde";
const _: () = assert!(JWT_SECRET.len() == 40);

/// How long a test instance may take to answer 200 on `/ready`.
pub const READY_DEADLINE: Duration = Duration::from_secs(30);

/// The sorted `resource:action` strings of the role `user` (docs/data-model.md#seed-data).
pub const USER_PERMISSIONS: [&str; 6] =
    ["profile:read", "profile:update", "task:create", "task:delete", "task:read", "task:update"];

/// The 17 distinct `resource:action` strings of the role `admin` (docs/data-model.md#seed-data).
pub const ADMIN_PERMISSIONS: [&str; 17] = [
    "audit:read",
    "profile:delete",
    "profile:read",
    "profile:update",
    "role:manage",
    "system:admin",
    "task:assign",
    "task:create",
    "task:delete",
    "task:read",
    "task:update",
    "user:assign_role",
    "user:create",
    "user:delete",
    "user:read",
    "user:revoke_role",
    "user:update",
];

/// The six security headers of docs/http-contract.md#security-headers, with their exact values.
pub const SECURITY_HEADERS: [(&str, &str); 6] = [
    ("strict-transport-security", "max-age=63072000; includeSubDomains"),
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("x-xss-protection", "1; mode=block"),
    ("referrer-policy", "no-referrer"),
    ("content-security-policy", "default-src 'self'"),
];

// ---------------------------------------------------------------------------------------------
// Scenario runner
// ---------------------------------------------------------------------------------------------

/// Defines a module named after the scenario with one `#[tokio::test]` per database backend, each
/// running the same body against a fresh instance.
///
/// ```ignore
/// both_backends!(registering_returns_the_welcome_message, |app| async move { ... });
/// both_backends!(lockout_expires, overrides = &[("LOGIN_LOCKOUT", "3s")], |app| async move { ... });
/// ```
#[macro_export]
macro_rules! both_backends {
    ($name:ident, overrides = $overrides:expr, $scenario:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                $crate::helpers::run_scenario($crate::helpers::Backend::Sqlite, $overrides, $scenario).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                $crate::helpers::run_scenario($crate::helpers::Backend::Postgres, $overrides, $scenario).await;
            }
        }
    };
    ($name:ident, $scenario:expr) => {
        $crate::both_backends!($name, overrides = &[], $scenario);
    };
}

/// Defines a `#[tokio::test]` running the scenario on SQLite only (the default backend of docs/testing.md#fixtures), for the
/// infrastructure checks that do not depend on the database.
#[macro_export]
macro_rules! sqlite_only {
    ($name:ident, overrides = $overrides:expr, $scenario:expr) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            $crate::helpers::run_scenario($crate::helpers::Backend::Sqlite, $overrides, $scenario).await;
        }
    };
    ($name:ident, $scenario:expr) => {
        $crate::sqlite_only!($name, overrides = &[], $scenario);
    };
}

/// Spawns an instance on `backend` with `overrides` and runs `scenario` against it.
pub async fn run_scenario<F, Fut>(backend: Backend, overrides: &[(&str, &str)], scenario: F)
where
    F: FnOnce(TestApp) -> Fut,
    Fut: Future<Output = ()>,
{
    let app = spawn_app(backend, overrides).await;
    scenario(app).await;
}

// ---------------------------------------------------------------------------------------------
// Databases
// ---------------------------------------------------------------------------------------------

/// The database engines every scenario runs against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// The name `/health` and `taskify_build_info` use for the backend.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// A database that exists only for one test and is removed (best effort) when dropped.
pub struct TestDatabase {
    url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    Directory(PathBuf),
    PostgresDatabase { server_url: String, name: String },
}

impl TestDatabase {
    /// Creates a fresh, empty database: a SQLite file in a new temporary directory, or a new
    /// PostgreSQL database on the server named by `TEST_DATABASE_URL`.
    pub fn create(backend: Backend) -> TestDatabase {
        match backend {
            Backend::Sqlite => {
                let dir = fresh_temp_dir();
                let url = format!("sqlite://{}", dir.join("taskify.db").display());
                TestDatabase { url, cleanup: Cleanup::Directory(dir) }
            }
            Backend::Postgres => {
                let server_url = std::env::var("TEST_DATABASE_URL")
                    .ok()
                    .filter(|url| !url.is_empty())
                    .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
                let name = format!("taskify_api_{}", Uuid::new_v4().simple());
                psql(&server_url, &format!("CREATE DATABASE {name}"))
                    .unwrap_or_else(|error| panic!("cannot create the test database {name}: {error}"));
                let mut url = Url::parse(&server_url).expect("TEST_DATABASE_URL is a URL");
                url.set_path(&format!("/{name}"));
                TestDatabase { url: url.to_string(), cleanup: Cleanup::PostgresDatabase { server_url, name } }
            }
        }
    }

    /// The `DATABASE_URL` of this database.
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        match &self.cleanup {
            Cleanup::Directory(dir) => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Cleanup::PostgresDatabase { server_url, name } => {
                // WITH (FORCE) ends the connections of a server that is still shutting down.
                let _ = psql(server_url, &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
            }
        }
    }
}

pub fn psql(server_url: &str, sql: &str) -> Result<(), String> {
    let output = Command::new("psql")
        .arg(server_url)
        .args(["-v", "ON_ERROR_STOP=1", "-q", "-c", sql])
        .output()
        .map_err(|error| format!("cannot run psql: {error}"))?;
    if output.status.success() { Ok(()) } else { Err(String::from_utf8_lossy(&output.stderr).into_owned()) }
}

/// A new, empty directory under the system temporary directory.
pub fn fresh_temp_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("taskify-api-{}", Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("the temporary directory can be created");
    dir
}

// ---------------------------------------------------------------------------------------------
// Test instances
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// The API client
// ---------------------------------------------------------------------------------------------

/// A client for one Taskify instance, with one method per endpoint. Every method returns the raw
/// response, so the scenario decides what to assert.
#[derive(Clone)]
pub struct ApiClient {
    pub address: String,
    pub client: Client,
}

/// Query parameters, in order.
pub type Query<'a> = &'a [(&'a str, &'a str)];

impl ApiClient {
    /// A client for the instance at `address` (`http://host:port`). It never follows redirects.
    pub fn new(address: String) -> ApiClient {
        let client = Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .user_agent("taskify-api-tests")
            .build()
            .expect("the HTTP client can be built");
        ApiClient { address, client }
    }

    /// The absolute URL of `path` (which may carry percent-encoded characters) with `query`.
    pub fn url(&self, path: &str, query: Query<'_>) -> Url {
        let mut url = Url::parse(&format!("{}{path}", self.address)).expect("the test URL is valid");
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        url
    }

    /// A request for `path`, without credentials.
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.client.request(method, self.url(path, &[]))
    }

    /// A request for `path` with `Authorization: Bearer <token>`.
    pub fn authed(&self, method: Method, path: &str, token: &str) -> RequestBuilder {
        self.request(method, path).bearer_auth(token)
    }

    /// `GET path?query` with the bearer token.
    pub async fn get_with(&self, token: &str, path: &str, query: Query<'_>) -> Response {
        send(self.client.get(self.url(path, query)).bearer_auth(token)).await
    }

    /// `GET path` without credentials.
    pub async fn get(&self, path: &str) -> Response {
        send(self.request(Method::GET, path)).await
    }

    /// `POST path` with a JSON body and no credentials.
    pub async fn post_json(&self, path: &str, body: &Value) -> Response {
        send(self.request(Method::POST, path).json(body)).await
    }

    async fn authed_json(&self, method: Method, path: &str, token: &str, body: &Value) -> Response {
        send(self.authed(method, path, token).json(body)).await
    }

    async fn authed_empty(&self, method: Method, path: &str, token: &str) -> Response {
        send(self.authed(method, path, token)).await
    }

    // Authentication ---------------------------------------------------------------------------

    pub async fn register(&self, body: &Value) -> Response {
        self.post_json("/api/v1/auth/register", body).await
    }

    pub async fn login(&self, email: &str, password: &str) -> Response {
        self.post_json("/api/v1/auth/login", &json!({"email": email, "password": password})).await
    }

    pub async fn refresh(&self, refresh_token: &str) -> Response {
        self.post_json("/api/v1/auth/refresh", &json!({"refresh_token": refresh_token})).await
    }

    /// `POST /auth/logout`, with `Authorization` only when `access_token` is given.
    pub async fn logout(&self, refresh_token: &str, access_token: Option<&str>) -> Response {
        let mut request =
            self.request(Method::POST, "/api/v1/auth/logout").json(&json!({"refresh_token": refresh_token}));
        if let Some(token) = access_token {
            request = request.bearer_auth(token);
        }
        send(request).await
    }

    // Tasks ------------------------------------------------------------------------------------

    pub async fn create_task(&self, token: &str, body: &Value) -> Response {
        self.authed_json(Method::POST, "/api/v1/tasks", token, body).await
    }

    pub async fn get_task(&self, token: &str, id: &str) -> Response {
        self.authed_empty(Method::GET, &format!("/api/v1/tasks/{id}"), token).await
    }

    pub async fn update_task(&self, token: &str, id: &str, body: &Value) -> Response {
        self.authed_json(Method::PUT, &format!("/api/v1/tasks/{id}"), token, body).await
    }

    pub async fn delete_task(&self, token: &str, id: &str) -> Response {
        self.authed_empty(Method::DELETE, &format!("/api/v1/tasks/{id}"), token).await
    }

    pub async fn list_tasks(&self, token: &str, query: Query<'_>) -> Response {
        self.get_with(token, "/api/v1/tasks", query).await
    }

    pub async fn user_tasks(&self, token: &str, user_id: &str, query: Query<'_>) -> Response {
        self.get_with(token, &format!("/api/v1/users/{user_id}/tasks"), query).await
    }

    pub async fn put_task_attribute(&self, token: &str, task_id: &str, key: &str, body: &Value) -> Response {
        self.authed_json(Method::PUT, &format!("/api/v1/tasks/{task_id}/attributes/{key}"), token, body).await
    }

    pub async fn list_task_attributes(&self, token: &str, task_id: &str) -> Response {
        self.authed_empty(Method::GET, &format!("/api/v1/tasks/{task_id}/attributes"), token).await
    }

    pub async fn delete_task_attribute(&self, token: &str, task_id: &str, key: &str) -> Response {
        self.authed_empty(Method::DELETE, &format!("/api/v1/tasks/{task_id}/attributes/{key}"), token).await
    }

    // Profile ----------------------------------------------------------------------------------

    pub async fn profile(&self, token: &str) -> Response {
        self.authed_empty(Method::GET, "/api/v1/users/profile", token).await
    }

    pub async fn update_profile(&self, token: &str, body: &Value) -> Response {
        self.authed_json(Method::PUT, "/api/v1/users/profile", token, body).await
    }

    pub async fn profile_of(&self, token: &str, user_id: &str) -> Response {
        self.authed_empty(Method::GET, &format!("/api/v1/users/profile/{user_id}"), token).await
    }

    // Administration ---------------------------------------------------------------------------

    pub async fn list_users(&self, token: &str, query: Query<'_>) -> Response {
        self.get_with(token, "/api/v1/users", query).await
    }

    pub async fn patch_user(&self, token: &str, user_id: &str, body: &Value) -> Response {
        self.authed_json(Method::PATCH, &format!("/api/v1/users/{user_id}"), token, body).await
    }

    pub async fn delete_user(&self, token: &str, user_id: &str) -> Response {
        self.authed_empty(Method::DELETE, &format!("/api/v1/users/{user_id}"), token).await
    }

    pub async fn assign_role(&self, token: &str, user_id: &str, body: &Value) -> Response {
        self.authed_json(Method::POST, &format!("/api/v1/users/{user_id}/roles"), token, body).await
    }

    pub async fn revoke_role(&self, token: &str, user_id: &str, role: &str) -> Response {
        self.authed_empty(Method::DELETE, &format!("/api/v1/users/{user_id}/roles/{role}"), token).await
    }

    pub async fn put_user_attribute(&self, token: &str, user_id: &str, key: &str, body: &Value) -> Response {
        self.authed_json(Method::PUT, &format!("/api/v1/users/{user_id}/attributes/{key}"), token, body).await
    }

    pub async fn get_user_attribute(&self, token: &str, user_id: &str, key: &str) -> Response {
        self.authed_empty(Method::GET, &format!("/api/v1/users/{user_id}/attributes/{key}"), token).await
    }

    pub async fn list_user_attributes(&self, token: &str, user_id: &str) -> Response {
        self.authed_empty(Method::GET, &format!("/api/v1/users/{user_id}/attributes"), token).await
    }

    pub async fn delete_user_attribute(&self, token: &str, user_id: &str, key: &str) -> Response {
        self.authed_empty(Method::DELETE, &format!("/api/v1/users/{user_id}/attributes/{key}"), token).await
    }

    pub async fn audit_logs(&self, token: &str, query: Query<'_>) -> Response {
        self.get_with(token, "/api/v1/audit-logs", query).await
    }

    pub async fn roles(&self, token: &str) -> Response {
        self.authed_empty(Method::GET, "/api/v1/roles", token).await
    }

    /// The `total` of `GET /audit-logs` for `query` (fetching one-row pages), expecting 200.
    pub async fn audit_total(&self, admin_token: &str, query: Query<'_>) -> u64 {
        let mut query = query.to_vec();
        query.push(("pageSize", "1"));
        let body = json_body(self.audit_logs(admin_token, &query).await, StatusCode::OK).await;
        body["total"].as_u64().unwrap_or_else(|| panic!("no total in {body}"))
    }

    // Building blocks for scenarios ------------------------------------------------------------

    /// Registers `username` (email `<username>@example.com`, password [`USER_PASSWORD`]) and
    /// returns the new user's id.
    pub async fn register_user(&self, username: &str, department: Option<&str>) -> String {
        let response = self.register(&registration(username, department)).await;
        let body = json_body(response, StatusCode::CREATED).await;
        string_at(&body, "/user/id")
    }

    /// Logs in and returns the session.
    pub async fn sign_in(&self, email: &str, password: &str) -> Account {
        let body = json_body(self.login(email, password).await, StatusCode::OK).await;
        Account {
            id: string_at(&body, "/user/id"),
            email: email.to_owned(),
            access_token: string_at(&body, "/access_token"),
            refresh_token: string_at(&body, "/refresh_token"),
        }
    }

    /// Logs the bootstrap administrator in.
    pub async fn sign_in_admin(&self) -> Account {
        self.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await
    }

    /// Registers `username` and logs them in.
    pub async fn new_account(&self, username: &str, department: Option<&str>) -> Account {
        self.register_user(username, department).await;
        self.sign_in(&email_of(username), USER_PASSWORD).await
    }

    /// Creates a task from `body` as the holder of `token`, expecting 201, and returns it.
    pub async fn new_task(&self, token: &str, body: &Value) -> Value {
        json_body(self.create_task(token, body).await, StatusCode::CREATED).await
    }

    /// Creates a task titled `title` and returns its id.
    pub async fn new_task_id(&self, token: &str, title: &str) -> String {
        string_at(&self.new_task(token, &json!({"title": title})).await, "/id")
    }

    /// The ids of the tasks on a `GET /tasks` page, expecting 200.
    pub async fn listed_task_ids(&self, token: &str, query: Query<'_>) -> Vec<String> {
        task_ids(&json_body(self.list_tasks(token, query).await, StatusCode::OK).await)
    }

    /// The ids of every task of the caller's `GET /tasks` view, paging through it 100 at a time.
    pub async fn all_listed_task_ids(&self, token: &str) -> Vec<String> {
        let mut ids = Vec::new();
        for page in 1.. {
            let page_number = page.to_string();
            let query = [("pageSize", "100"), ("page", page_number.as_str())];
            let list = json_body(self.list_tasks(token, &query).await, StatusCode::OK).await;
            ids.extend(task_ids(&list));
            let total_pages = list["total_pages"].as_u64().unwrap_or_else(|| panic!("no total_pages in {list}"));
            if page >= total_pages {
                let total = list["total"].as_u64().unwrap_or_else(|| panic!("no total in {list}"));
                assert_eq!(ids.len() as u64, total, "the pages hold exactly `total` tasks");
                break;
            }
        }
        ids
    }

    /// The fixtures of docs/testing.md#fixtures: alice, bob (Engineering), carol (Sales), mike (Engineering, manager) and
    /// the admin, all logged in. Mike gets `manager` through the admin API.
    pub async fn fixtures(&self) -> Fixtures {
        let admin = self.sign_in_admin().await;
        let alice = self.new_account("alice", Some("Engineering")).await;
        let bob = self.new_account("bob", Some("Engineering")).await;
        let carol = self.new_account("carol", Some("Sales")).await;
        let mike_id = self.register_user("mike", Some("Engineering")).await;
        let assigned = self.assign_role(&admin.access_token, &mike_id, &json!({"role": "manager"})).await;
        json_body(assigned, StatusCode::CREATED).await;
        let mike = self.sign_in(&email_of("mike"), USER_PASSWORD).await;
        Fixtures { admin, alice, bob, carol, mike }
    }
}

/// A logged-in user.
#[derive(Clone, Debug)]
pub struct Account {
    pub id: String,
    pub email: String,
    pub access_token: String,
    pub refresh_token: String,
}

impl Account {
    /// The access token, for the `token` parameter of the client methods.
    pub fn token(&self) -> &str {
        &self.access_token
    }
}

/// The users of docs/testing.md#fixtures: U1 alice, U2 bob, U3 carol, M mike and A the admin.
pub struct Fixtures {
    pub admin: Account,
    pub alice: Account,
    pub bob: Account,
    pub carol: Account,
    pub mike: Account,
}

/// The email of a test user.
pub fn email_of(username: &str) -> String {
    format!("{username}@example.com")
}

/// A valid registration body for `username`.
pub fn registration(username: &str, department: Option<&str>) -> Value {
    let mut first_name = username.to_owned();
    if let Some(first) = first_name.get_mut(0..1) {
        first.make_ascii_uppercase();
    }
    json!({
        "username": username,
        "email": email_of(username),
        "password": USER_PASSWORD,
        "first_name": first_name,
        "last_name": "Tester",
        "department": department,
    })
}

/// Sends a request, failing the test if the server cannot be reached.
pub async fn send(request: RequestBuilder) -> Response {
    request.send().await.expect("the request reaches the server")
}

// ---------------------------------------------------------------------------------------------
// Assertions
// ---------------------------------------------------------------------------------------------

/// The value of a response header, if present and textual.
pub fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get(name).and_then(|value| value.to_str().ok()).map(str::to_owned)
}

/// Asserts the status, then reads the body as text.
pub async fn body_text(response: Response, expected: StatusCode) -> (HeaderMap, String) {
    let status = response.status();
    let url = response.url().clone();
    let headers = response.headers().clone();
    let body = response.text().await.expect("the body can be read");
    assert_eq!(status, expected, "unexpected status for {url}; body: {body}");
    (headers, body)
}

/// Asserts the status and a JSON success body (`application/json`), and returns the body.
pub async fn json_body(response: Response, expected: StatusCode) -> Value {
    json_with_headers(response, expected).await.1
}

/// Like [`json_body`], also returning the headers.
pub async fn json_with_headers(response: Response, expected: StatusCode) -> (HeaderMap, Value) {
    let (headers, body) = body_text(response, expected).await;
    let content_type = header(&headers, "content-type").unwrap_or_default();
    assert!(content_type.starts_with("application/json"), "expected application/json, got {content_type:?}");
    let value = serde_json::from_str(&body).unwrap_or_else(|error| panic!("invalid JSON ({error}): {body}"));
    (headers, value)
}

/// Asserts an empty-bodied answer (204, 304) and returns its headers.
pub async fn assert_no_body(response: Response, expected: StatusCode) -> HeaderMap {
    let (headers, body) = body_text(response, expected).await;
    assert!(body.is_empty(), "a {expected} has no body, got {body:?}");
    headers
}

/// Asserts a problem+json error (docs/http-contract.md#errors, docs/testing.md#fixtures): status, content type, `status`, `error`,
/// `type`, `title`, `detail` = `message`, `request_id` = `X-Request-Id`, `instance` = the path.
/// Returns the body.
pub async fn assert_problem(response: Response, status: StatusCode, code: &str) -> Value {
    assert_problem_with_headers(response, status, code).await.1
}

/// Like [`assert_problem`], also returning the headers.
pub async fn assert_problem_with_headers(response: Response, status: StatusCode, code: &str) -> (HeaderMap, Value) {
    let path = response.url().path().to_owned();
    let (headers, body) = body_text(response, status).await;
    let content_type = header(&headers, "content-type").unwrap_or_default();
    assert!(
        content_type.starts_with("application/problem+json"),
        "expected application/problem+json, got {content_type:?}; body: {body}"
    );
    let problem: Value = serde_json::from_str(&body).unwrap_or_else(|error| panic!("invalid JSON ({error}): {body}"));
    assert_eq!(problem["error"], code, "error code; body: {problem}");
    assert_eq!(problem["status"], status.as_u16(), "status member; body: {problem}");
    assert_eq!(problem["type"], format!("urn:taskify:problem:{code}"), "type; body: {problem}");
    assert_eq!(
        problem["title"],
        status.canonical_reason().expect("a standard status"),
        "title is the reason phrase; body: {problem}"
    );
    assert!(problem["message"].is_string(), "message; body: {problem}");
    assert_eq!(problem["detail"], problem["message"], "detail equals message; body: {problem}");
    assert_eq!(problem["instance"], path, "instance is the request path; body: {problem}");
    let request_id = header(&headers, "x-request-id").expect("every response carries X-Request-Id");
    assert_eq!(problem["request_id"], request_id, "request_id equals X-Request-Id; body: {problem}");
    (headers, problem)
}

/// The `field` names of a problem's `errors`.
pub fn error_fields(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .map(|errors| errors.iter().filter_map(|error| error["field"].as_str().map(str::to_owned)).collect())
        .unwrap_or_default()
}

/// The message of the error on `field` in a problem's `errors`.
pub fn error_message<'a>(problem: &'a Value, field: &str) -> &'a str {
    problem["errors"]
        .as_array()
        .and_then(|errors| errors.iter().find(|error| error["field"] == field))
        .and_then(|error| error["message"].as_str())
        .unwrap_or_else(|| panic!("no error on field {field}: {problem}"))
}

/// Asserts that `errors` names `field`.
pub fn assert_field_error(problem: &Value, field: &str) {
    let fields = error_fields(problem);
    assert!(fields.iter().any(|name| name == field), "expected an error on {field}, got {fields:?}: {problem}");
}

/// Asserts the six security headers of docs/http-contract.md#security-headers.
pub fn assert_security_headers(headers: &HeaderMap) {
    for (name, value) in SECURITY_HEADERS {
        assert_eq!(header(headers, name).as_deref(), Some(value), "security header {name}");
    }
}

/// Asserts that no member anywhere in `value` looks like a password or a hash.
pub fn assert_no_secret_members(value: &Value) {
    match value {
        Value::Object(members) => {
            for (key, member) in members {
                let key = key.to_ascii_lowercase();
                assert!(!key.contains("password") && !key.contains("hash"), "secret member {key} exposed: {value}");
                assert_no_secret_members(member);
            }
        }
        Value::Array(items) => items.iter().for_each(assert_no_secret_members),
        _ => {}
    }
}

/// The string at a JSON pointer, failing with the document when absent.
pub fn string_at(value: &Value, pointer: &str) -> String {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no string at {pointer} in {value}"))
        .to_owned()
}

/// The ids of the `tasks` of a list body.
pub fn task_ids(list: &Value) -> Vec<String> {
    list["tasks"]
        .as_array()
        .unwrap_or_else(|| panic!("no tasks array in {list}"))
        .iter()
        .map(|task| string_at(task, "/id"))
        .collect()
}

/// Sorted copies of ids, to compare sets.
pub fn sorted(mut ids: Vec<String>) -> Vec<String> {
    ids.sort();
    ids
}

/// Asserts an output timestamp: RFC 3339, UTC with `Z`, exactly 6 fractional digits (docs/http-contract.md#times-identifiers-and-durations).
pub fn parse_timestamp(value: &Value) -> DateTime<Utc> {
    let text = value.as_str().unwrap_or_else(|| panic!("timestamp expected, got {value}"));
    let fraction = text.rsplit_once('.').map(|(_, fraction)| fraction).unwrap_or_default();
    assert!(
        text.ends_with('Z') && fraction.len() == 7 && fraction[..6].bytes().all(|b| b.is_ascii_digit()),
        "timestamp {text} is not UTC with 6 fractional digits"
    );
    DateTime::parse_from_rfc3339(text).unwrap_or_else(|error| panic!("bad timestamp {text}: {error}")).to_utc()
}

/// Asserts that a timestamp is within a minute of now.
pub fn assert_recent(value: &Value) {
    let age = Utc::now().signed_duration_since(parse_timestamp(value));
    assert!(age.num_seconds().abs() < 60, "timestamp {value} is not close to now");
}

/// Polls `probe` every 100 ms until it yields a value, failing after `deadline`.
pub async fn eventually<T, F, Fut>(what: &str, deadline: Duration, probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    eventually_every(what, deadline, Duration::from_millis(100), probe).await
}

/// Polls `GET /audit-logs` (as `admin_token`, with `query`) for up to 5 s until a row satisfies
/// `matches`, and returns it.
pub async fn await_audit_row(
    api: &ApiClient,
    admin_token: &str,
    query: Query<'_>,
    matches: impl Fn(&Value) -> bool,
) -> Value {
    eventually("the audit row", Duration::from_secs(5), || async {
        let body = json_body(api.audit_logs(admin_token, query).await, StatusCode::OK).await;
        body["audit_logs"].as_array().and_then(|rows| rows.iter().find(|row| matches(row)).cloned())
    })
    .await
}

/// Waits until wall-clock time has passed `duration` (for TTLs and lockouts; never to synchronise
/// with the server).
pub async fn let_time_pass(duration: Duration) {
    tokio::time::sleep(duration).await;
}

/// Waits until the wall clock is past `moment` (an expiry the test set), plus a few milliseconds
/// so that the server's clock reading is past it too.
pub async fn let_time_pass_until(moment: DateTime<Utc>) {
    let remaining = moment.signed_duration_since(Utc::now()).to_std().unwrap_or_default();
    let_time_pass(remaining + Duration::from_millis(50)).await;
}

/// Polls `probe` every `interval` until it yields a value, failing after `deadline`. For servers
/// whose rate limits make the 100 ms of [`eventually`] too eager.
pub async fn eventually_every<T, F, Fut>(what: &str, deadline: Duration, interval: Duration, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let give_up = tokio::time::Instant::now() + deadline;
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(tokio::time::Instant::now() < give_up, "timed out after {deadline:?} waiting for {what}");
        tokio::time::sleep(interval).await;
    }
}

/// A timestamp as request input: RFC 3339 in UTC with microseconds, the precision of the output.
pub fn timestamp_text(moment: DateTime<Utc>) -> String {
    moment.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// The moment `seconds` from now, truncated to microseconds (so it survives a round trip).
pub fn seconds_from_now(seconds: i64) -> DateTime<Utc> {
    let moment = Utc::now() + chrono::Duration::seconds(seconds);
    DateTime::parse_from_rfc3339(&timestamp_text(moment)).expect("a formatted timestamp parses").to_utc()
}

/// Finds a free local port (bind to port 0, read it, release it).
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a local port is free");
    listener.local_addr().expect("the listener has an address").port()
}

// ---------------------------------------------------------------------------------------------
// Prometheus text (docs/operations.md#metrics)
// ---------------------------------------------------------------------------------------------

/// One sample of the Prometheus text format: `name{labels} value`.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: std::collections::BTreeMap<String, String>,
    pub value: f64,
}

/// The samples of a Prometheus text exposition (comment and blank lines skipped). Fails the test
/// on a line it cannot read.
pub fn metric_samples(text: &str) -> Vec<Sample> {
    text.lines().map(str::trim).filter(|line| !line.is_empty() && !line.starts_with('#')).map(parse_sample).collect()
}

fn parse_sample(line: &str) -> Sample {
    let name_end = line.find(['{', ' ']).unwrap_or_else(|| panic!("no value in metrics line {line:?}"));
    let name = line[..name_end].to_owned();
    let mut labels = std::collections::BTreeMap::new();
    let mut rest = &line[name_end..];
    if let Some(after_brace) = rest.strip_prefix('{') {
        let mut chars = after_brace.char_indices();
        let mut key = String::new();
        let mut end = None;
        while let Some((index, c)) = chars.next() {
            match c {
                '}' => {
                    end = Some(index + 1);
                    break;
                }
                ',' | ' ' => {}
                '=' => {
                    assert_eq!(chars.next().map(|(_, c)| c), Some('"'), "quoted label value in {line:?}");
                    let mut value = String::new();
                    loop {
                        match chars.next().map(|(_, c)| c) {
                            Some('\\') => match chars.next().map(|(_, c)| c) {
                                Some('n') => value.push('\n'),
                                Some(other) => value.push(other),
                                None => panic!("unterminated label value in {line:?}"),
                            },
                            Some('"') => break,
                            Some(other) => value.push(other),
                            None => panic!("unterminated label value in {line:?}"),
                        }
                    }
                    labels.insert(std::mem::take(&mut key), value);
                }
                other => key.push(other),
            }
        }
        let end = end.unwrap_or_else(|| panic!("unclosed labels in {line:?}"));
        rest = &after_brace[end..];
    }
    let value_text = rest.split_whitespace().next().unwrap_or_else(|| panic!("no value in metrics line {line:?}"));
    let value = match value_text {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        text => text.parse().unwrap_or_else(|_| panic!("bad sample value in {line:?}")),
    };
    Sample { name, labels, value }
}

/// The value of the first sample named `name` whose labels include `labels`.
pub fn metric_value(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    metric_samples(text)
        .into_iter()
        .find(|sample| {
            sample.name == name
                && labels.iter().all(|(key, value)| sample.labels.get(*key).is_some_and(|found| found == value))
        })
        .map(|sample| sample.value)
}

/// `GET /metrics`, expecting 200, as text.
pub async fn metrics_text(api: &ApiClient) -> String {
    body_text(api.get("/metrics").await, StatusCode::OK).await.1
}

// ---------------------------------------------------------------------------------------------
// Cache administration (docs/cache.md#administration-endpoints)
// ---------------------------------------------------------------------------------------------

impl ApiClient {
    pub async fn cache_stats(&self, token: &str) -> Response {
        send(self.authed(Method::GET, "/api/v1/cache/stats", token)).await
    }

    pub async fn cache_health(&self, token: &str) -> Response {
        send(self.authed(Method::GET, "/api/v1/cache/health", token)).await
    }

    pub async fn cache_clear(&self, token: &str) -> Response {
        send(self.authed(Method::DELETE, "/api/v1/cache/clear", token)).await
    }

    pub async fn cache_warm(&self, token: &str) -> Response {
        send(self.authed(Method::POST, "/api/v1/cache/warm", token)).await
    }

    /// `DELETE /cache/jobs/evict/{key}`, with `key` percent-encoded as one path segment.
    pub async fn cache_evict(&self, token: &str, key: &str) -> Response {
        let path = format!("/api/v1/cache/jobs/evict/{}", percent_encode_segment(key));
        send(self.authed(Method::DELETE, &path, token)).await
    }

    /// The `GET /cache/stats` body of an administrator, expecting 200.
    pub async fn cache_stats_body(&self, admin_token: &str) -> Value {
        json_body(self.cache_stats(admin_token).await, StatusCode::OK).await
    }

    /// The `GET /health` body, expecting 200.
    pub async fn health_body(&self) -> Value {
        json_body(self.get("/health").await, StatusCode::OK).await
    }
}

/// Percent-encodes everything but the unreserved characters of RFC 3986 and `:`.
pub fn percent_encode_segment(text: &str) -> String {
    let mut encoded = String::new();
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~:".contains(&byte) {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

// ---------------------------------------------------------------------------------------------
// Cache-warming jobs (docs/jobs.md#endpoints)
// ---------------------------------------------------------------------------------------------

impl ApiClient {
    /// `POST /cache/jobs/{kind}` (`warmup`, `batch`, `scheduled`, `validation` or `eviction`).
    pub async fn enqueue_job(&self, token: &str, kind: &str, body: &Value) -> Response {
        self.authed_json(Method::POST, &format!("/api/v1/cache/jobs/{kind}"), token, body).await
    }

    /// `GET /cache/jobs?query`: the queue inspection.
    pub async fn cache_jobs(&self, token: &str, query: Query<'_>) -> Response {
        self.get_with(token, "/api/v1/cache/jobs", query).await
    }

    /// `GET /cache/jobs/dlq?query`.
    pub async fn dlq(&self, token: &str, query: Query<'_>) -> Response {
        self.get_with(token, "/api/v1/cache/jobs/dlq", query).await
    }

    /// `POST /cache/jobs/dlq/retry` with `body`.
    pub async fn dlq_retry(&self, token: &str, body: &Value) -> Response {
        self.authed_json(Method::POST, "/api/v1/cache/jobs/dlq/retry", token, body).await
    }

    /// `DELETE /cache/jobs/dlq?query`.
    pub async fn dlq_purge(&self, token: &str, query: Query<'_>) -> Response {
        send(self.client.delete(self.url("/api/v1/cache/jobs/dlq", query)).bearer_auth(token)).await
    }

    /// Enqueues a job of `kind`, expecting 202, and returns the body.
    pub async fn enqueued_job(&self, admin_token: &str, kind: &str, body: &Value) -> Value {
        json_body(self.enqueue_job(admin_token, kind, body).await, StatusCode::ACCEPTED).await
    }

    /// The `GET /cache/jobs` body for `query`, expecting 200.
    pub async fn cache_jobs_body(&self, admin_token: &str, query: Query<'_>) -> Value {
        json_body(self.cache_jobs(admin_token, query).await, StatusCode::OK).await
    }

    /// The `GET /cache/jobs/dlq` body for `query`, expecting 200.
    pub async fn dlq_body(&self, admin_token: &str, query: Query<'_>) -> Value {
        json_body(self.dlq(admin_token, query).await, StatusCode::OK).await
    }
}
