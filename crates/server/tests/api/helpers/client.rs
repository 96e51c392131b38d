//! The API client: one method per endpoint, and the fixture accounts.

use super::*;

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

    pub(super) async fn authed_json(&self, method: Method, path: &str, token: &str, body: &Value) -> Response {
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
