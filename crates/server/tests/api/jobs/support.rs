//! What the job scenarios share: one instance with a private Redis, Redis reads and writes of the
//! queue structures, job documents and their assertions, keyspace notifications.

use super::*;

// ---------------------------------------------------------------------------------------------
// One instance with a private Redis
// ---------------------------------------------------------------------------------------------

/// A SQLite instance whose `REDIS_URL` points at its own `redis-server`, a client of that Redis
/// and the administrator's session. Fields drop in order: the server stops before Redis does.
pub(super) struct JobEnv {
    pub(super) app: TestApp,
    pub(super) redis: RedisServer,
    pub(super) store: RedisClient,
    pub(super) admin: Account,
}

impl JobEnv {
    /// Starts a private Redis and an instance on it with [`settings`] plus `overrides`.
    pub(super) async fn start(overrides: &[(&str, &str)]) -> JobEnv {
        let redis = RedisServer::start().await;
        let app = spawn_app(Backend::Sqlite, &env_pairs(&settings(&redis, overrides))).await;
        let store = RedisClient::connect_to(&redis).await;
        let admin = app.sign_in_admin().await;
        JobEnv { app, redis, store, admin }
    }

    pub(super) fn token(&self) -> &str {
        self.admin.token()
    }

    /// Enqueues a job of `kind`, expecting 202.
    pub(super) async fn enqueue(&self, kind: &str, body: Value) -> Value {
        self.app.enqueued_job(self.token(), kind, &body).await
    }

    /// The `GET /cache/jobs` body for `query`.
    pub(super) async fn inspect(&self, query: Query<'_>) -> Value {
        self.app.cache_jobs_body(self.token(), query).await
    }
}

/// The overrides of an instance on `redis`: `REDIS_URL`, the test timeouts, the periodic warm-up
/// off (so nothing but the scenario enqueues work), then `overrides`.
pub(super) fn settings(redis: &RedisServer, overrides: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut settings = vec![("REDIS_URL".to_owned(), redis.url()), ("CACHE_WARM_INTERVAL".to_owned(), "0".to_owned())];
    settings
        .extend(REDIS_TIMEOUTS.iter().chain(overrides).map(|(key, value)| ((*key).to_owned(), (*value).to_owned())));
    settings
}

// ---------------------------------------------------------------------------------------------
// Redis helpers
// ---------------------------------------------------------------------------------------------

/// The JSON value of the L2 entry of `key` (a logical key), if there is one that parses.
pub(super) async fn l2_value(store: &RedisClient, key: &str) -> Option<Value> {
    let raw: Option<String> = store.cmd(&["GET", &format!("{PREFIX}{key}")]).await;
    raw.and_then(|text| serde_json::from_str(&text).ok())
}

/// Polls until the L2 entry of `key` holds `expected`, failing after `deadline`.
pub(super) async fn await_l2_value(store: &RedisClient, key: &str, expected: &Value, deadline: Duration) {
    let what = format!("Redis {PREFIX}{key} = {expected}");
    eventually(&what, deadline, || async { (l2_value(store, key).await.as_ref() == Some(expected)).then_some(()) })
        .await;
}

/// The remaining TTL of the L2 entry of `key`, in milliseconds.
pub(super) async fn l2_pttl(store: &RedisClient, key: &str) -> i64 {
    store.cmd(&["PTTL", &format!("{PREFIX}{key}")]).await
}

/// The members of the sorted set `set` with their scores, lowest score first.
pub(super) async fn scored_members(store: &RedisClient, set: &str) -> Vec<(Value, i64)> {
    let flat: Vec<String> = store.cmd(&["ZRANGE", set, "0", "-1", "WITHSCORES"]).await;
    flat.chunks(2)
        .map(|pair| {
            let job =
                serde_json::from_str(&pair[0]).unwrap_or_else(|error| panic!("{set} holds JSON ({error}): {pair:?}"));
            let score: f64 = pair[1].parse().unwrap_or_else(|_| panic!("{set} has a numeric score: {pair:?}"));
            // Scores are whole numbers below 2^53, so the conversion is exact.
            (job, score as i64)
        })
        .collect()
}

/// The member of `set` whose id is `id`, with its score.
pub(super) async fn scored_member(store: &RedisClient, set: &str, id: &str) -> Option<(Value, i64)> {
    scored_members(store, set).await.into_iter().find(|(job, _)| job["id"] == id)
}

/// The DLQ list, head (newest) first.
pub(super) async fn dlq_entries(store: &RedisClient) -> Vec<Value> {
    let raw: Vec<String> = store.cmd(&["LRANGE", DLQ, "0", "-1"]).await;
    raw.iter()
        .map(|text| serde_json::from_str(text).unwrap_or_else(|error| panic!("{DLQ} holds JSON ({error}): {text}")))
        .collect()
}

/// `ZADD set score job`.
pub(super) async fn zadd(store: &RedisClient, set: &str, score: i64, job: &Value) {
    let added: i64 = store.cmd(&["ZADD", set, &score.to_string(), &job.to_string()]).await;
    assert_eq!(added, 1, "the job was added to {set}");
}

/// A job document as docs/jobs.md#job-document shapes it, never attempted.
pub(super) fn job_document(id: Uuid, kind: &str, payload: Value, priority: i64, process_at: DateTime<Utc>) -> Value {
    json!({"id": id, "type": kind, "payload": payload, "attempts": 0, "max_tries": 3, "priority": priority,
           "created_at": timestamp_text(Utc::now()), "process_at": timestamp_text(process_at), "last_error": null})
}

/// A `cache_warmup` document writing `data` under `key` for 15 minutes.
pub(super) fn warmup_document(id: Uuid, key: &str, data: Value, priority: i64, process_at: DateTime<Utc>) -> Value {
    job_document(id, "cache_warmup", json!({"key": key, "data": data, "ttl": "15m0s"}), priority, process_at)
}

/// The score of a ready job (docs/jobs.md#redis-structures).
pub(super) fn ready_score(priority: i64, ready_at: DateTime<Utc>) -> i64 {
    priority * PRIORITY_FACTOR + ready_at.timestamp_millis()
}

/// `moment` truncated to whole milliseconds, the precision of the Redis scores.
pub(super) fn whole_millis(moment: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(moment.timestamp_millis()).expect("a representable time")
}

/// Sets `member` of `job` (a JSON object).
pub(super) fn with_member(mut job: Value, member: &str, value: Value) -> Value {
    job.as_object_mut().expect("a job is an object").insert(member.to_owned(), value);
    job
}

/// The id of a job document or 202 body member, as text.
pub(super) fn id_of(job: &Value, member: &str) -> String {
    string_at(job, &format!("/{member}"))
}

/// The member names every job document carries (docs/jobs.md#job-document).
pub(super) const JOB_MEMBERS: [&str; 9] =
    ["id", "type", "payload", "attempts", "max_tries", "priority", "created_at", "process_at", "last_error"];

pub(super) fn assert_job_document(job: &Value) {
    for member in JOB_MEMBERS {
        assert!(job.get(member).is_some(), "a job document carries {member}: {job}");
    }
    Uuid::parse_str(&id_of(job, "id")).unwrap_or_else(|_| panic!("the job id is a UUID: {job}"));
    parse_timestamp(&job["created_at"]);
    parse_timestamp(&job["process_at"]);
}

/// Asserts the common members of a 202 (docs/jobs.md#endpoints) and returns `(job_id, queue)`.
pub(super) fn assert_accepted(body: &Value, message: &str) -> (String, String) {
    assert_eq!(body["status"], "success", "{body}");
    assert_eq!(body["message"], message, "{body}");
    let job_id = id_of(body, "job_id");
    let parsed = Uuid::parse_str(&job_id).unwrap_or_else(|_| panic!("job_id is a UUID: {body}"));
    assert_eq!(
        job_id,
        parsed.hyphenated().to_string(),
        "job_id is lowercase hyphenated text (docs/http-contract.md#times-identifiers-and-durations)"
    );
    let queue = id_of(body, "queue");
    assert!(queue == "local" || queue == "redis", "queue is local or redis: {body}");
    (job_id, queue)
}

/// The ids of the jobs of the list `name` of a `GET /cache/jobs` body.
pub(super) fn listed_ids(body: &Value, name: &str) -> Vec<String> {
    listed(body, name).iter().map(|job| id_of(job, "id")).collect()
}

pub(super) fn listed<'a>(body: &'a Value, name: &str) -> &'a Vec<Value> {
    body[name].as_array().unwrap_or_else(|| panic!("{name} is a list: {body}"))
}

/// The priorities of the jobs of the list `name`.
pub(super) fn listed_priorities(body: &Value, name: &str) -> Vec<i64> {
    listed(body, name).iter().map(|job| job["priority"].as_i64().unwrap_or_else(|| panic!("priority: {job}"))).collect()
}

/// Asserts a 400 problem (`invalid_request` or `validation_failed`, the design leaving the choice
/// open for these inputs) whose `errors` name `field`, and returns it.
pub(super) async fn assert_bad_request(response: Response, field: &str) -> Value {
    // Starts like administration.rs assert_bad_request, but checks type and the field error where that one checks
    // status and request_id: each suite asserts its own facts.
    let path = response.url().path().to_owned();
    let (headers, body) = body_text(response, StatusCode::BAD_REQUEST).await;
    let content_type = header(&headers, "content-type").unwrap_or_default();
    assert!(content_type.starts_with("application/problem+json"), "a problem, got {content_type:?}: {body}");
    let problem: Value = serde_json::from_str(&body).unwrap_or_else(|error| panic!("invalid JSON ({error}): {body}"));
    let code = problem["error"].as_str().unwrap_or_default();
    assert!(code == "invalid_request" || code == "validation_failed", "a 400 input error: {problem}");
    assert_eq!(problem["type"], format!("urn:taskify:problem:{code}"), "{problem}");
    assert_eq!(problem["instance"], path, "{problem}");
    assert_field_error(&problem, field);
    problem
}

/// Asserts a 400 `validation_failed` naming `field`, and returns it.
pub(super) async fn assert_invalid(response: Response, field: &str) -> Value {
    let problem = assert_problem(response, StatusCode::BAD_REQUEST, "validation_failed").await;
    assert_field_error(&problem, field);
    problem
}

/// Asserts a 403 `insufficient_role`.
pub(super) async fn assert_admin_only(response: Response) {
    let problem = assert_problem(response, StatusCode::FORBIDDEN, "insufficient_role").await;
    assert_eq!(problem["message"], ADMIN_REQUIRED);
}

// ---------------------------------------------------------------------------------------------
// Keyspace notifications: the order in which keys are written
// ---------------------------------------------------------------------------------------------

/// A raw `PSUBSCRIBE` connection to a test Redis that records every keyspace notification, so a
/// scenario can tell in which order jobs wrote their keys (they run too fast to poll).
pub(super) struct KeyspaceEvents {
    pub(super) received: Arc<Mutex<String>>,
    pub(super) reader: tokio::task::JoinHandle<()>,
}

impl KeyspaceEvents {
    /// Turns keyspace notifications on and subscribes to the keyspace channels of the logical keys
    /// matching `pattern`.
    pub(super) async fn subscribe(redis: &RedisServer, store: &RedisClient, pattern: &str) -> KeyspaceEvents {
        let _: String = store.cmd(&["CONFIG", "SET", "notify-keyspace-events", "KA"]).await;
        let address = redis.url().trim_start_matches("redis://").to_owned();
        let mut stream = tokio::net::TcpStream::connect(&address).await.expect("the test Redis accepts connections");
        let channel = format!("__keyspace@0__:{PREFIX}{pattern}");
        let command = format!("*2\r\n$10\r\nPSUBSCRIBE\r\n${}\r\n{channel}\r\n", channel.len());
        stream.write_all(command.as_bytes()).await.expect("PSUBSCRIBE can be sent");
        let received = Arc::new(Mutex::new(String::new()));
        let sink = Arc::clone(&received);
        let reader = tokio::spawn(async move {
            let mut buffer = vec![0_u8; 4096];
            while let Ok(read) = stream.read(&mut buffer).await {
                if read == 0 {
                    break;
                }
                sink.lock().expect("not poisoned").push_str(&String::from_utf8_lossy(&buffer[..read]));
            }
        });
        let events = KeyspaceEvents { received, reader };
        eventually("the PSUBSCRIBE confirmation", Duration::from_secs(5), || async {
            events.text().contains("psubscribe").then_some(())
        })
        .await;
        events
    }

    pub(super) fn text(&self) -> String {
        self.received.lock().expect("not poisoned").clone()
    }

    /// `keys` (logical keys) sorted by their first notification; keys never notified are left out.
    pub(super) fn first_written(&self, keys: &[&str]) -> Vec<String> {
        let text = self.text();
        let mut seen: Vec<(usize, String)> = keys
            .iter()
            .filter_map(|key| {
                text.find(&format!("__keyspace@0__:{PREFIX}{key}\r\n")).map(|position| (position, (*key).to_owned()))
            })
            .collect();
        seen.sort();
        seen.into_iter().map(|(_, key)| key).collect()
    }
}

impl Drop for KeyspaceEvents {
    fn drop(&mut self) {
        self.reader.abort();
    }
}
