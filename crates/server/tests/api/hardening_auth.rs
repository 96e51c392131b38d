//! Hardening of authentication: atomic refresh rotation under concurrency, password guessing
//! through the profile, conditional rehash, time-limited admins and the last-admin rule,
//! revocation across a lowered `ACCESS_TOKEN_TTL`, logout of any token string, and security
//! events audited before their effect.

use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::*;

// ---------------------------------------------------------------------------------------------
// Concurrent refreshes
// ---------------------------------------------------------------------------------------------

/// Sends the requests at once and returns their answers: `(status, body)` in sending order.
async fn all_at_once<F, Fut>(n: usize, request: F) -> Vec<(StatusCode, Value)>
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = Response> + Send + 'static,
{
    let handles: Vec<_> = (0..n)
        .map(|i| {
            let sent = request(i);
            tokio::spawn(async move {
                let response = sent.await;
                let status = response.status();
                (status, response.json::<Value>().await.unwrap_or(Value::Null))
            })
        })
        .collect();
    let mut answers = Vec::with_capacity(n);
    for handle in handles {
        answers.push(handle.await.expect("the request task completes"));
    }
    answers
}

/// Refreshes `refresh_token` `n` times at once.
async fn refresh_at_once(api: &ApiClient, refresh_token: &str, n: usize) -> Vec<(StatusCode, Value)> {
    all_at_once(n, |_| {
        let (api, token) = (api.clone(), refresh_token.to_owned());
        async move { api.refresh(&token).await }
    })
    .await
}

/// The token pairs of the successful refreshes; every other answer must be 401 `invalid_token`.
fn issued_pairs(answers: &[(StatusCode, Value)]) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    for (status, body) in answers {
        match *status {
            StatusCode::OK => pairs.push((string_at(body, "/access_token"), string_at(body, "/refresh_token"))),
            StatusCode::UNAUTHORIZED => assert_eq!(body["error"], "invalid_token", "{body}"),
            other => panic!("a refresh answered {other}: {body}"),
        }
    }
    pairs
}

/// Every pair is dead: its refresh token is refused, and so is its access token.
async fn assert_all_dead(api: &ApiClient, pairs: &[(String, String)]) {
    for (access, refresh) in pairs {
        assert_problem(api.refresh(refresh).await, StatusCode::UNAUTHORIZED, "invalid_token").await;
        assert_problem(api.profile(access).await, StatusCode::UNAUTHORIZED, "invalid_token").await;
    }
}

both_backends!(
    fifty_concurrent_refreshes_without_grace_let_one_win_and_then_revoke_it,
    overrides = &[("REFRESH_REUSE_GRACE", "0")],
    |app| async move {
        let alice = app.new_account("alice", None).await;
        let answers = refresh_at_once(&app.api, &alice.refresh_token, 50).await;
        let pairs = issued_pairs(&answers);
        // The first rotation wins; each later one is a reuse, which revokes the whole family,
        // the winner's new tokens included.
        assert_eq!(pairs.len(), 1, "exactly one refresh succeeds: {answers:?}");
        let mut pairs = pairs;
        pairs.push((alice.access_token.clone(), alice.refresh_token.clone()));
        assert_all_dead(&app.api, &pairs).await;
    }
);

both_backends!(fifty_concurrent_refreshes_within_the_grace_window_each_get_a_sibling, |app| async move {
    let alice = app.new_account("alice", None).await;
    let answers = refresh_at_once(&app.api, &alice.refresh_token, 50).await;
    let pairs = issued_pairs(&answers);
    assert_eq!(pairs.len(), 50, "every refresh within the grace window succeeds: {answers:?}");
    let mut refresh_tokens: Vec<&String> = pairs.iter().map(|(_, r)| r).collect();
    refresh_tokens.sort();
    refresh_tokens.dedup();
    assert_eq!(refresh_tokens.len(), 50, "each sibling is a token of its own");
    for (access, refresh) in &pairs {
        json_body(app.profile(access).await, StatusCode::OK).await;
        json_body(app.refresh(refresh).await, StatusCode::OK).await;
    }
});

/// How many rotations one chain may make: far more than it takes to meet a revocation, so a
/// chain that reaches it has survived one.
const MAX_LINKS: usize = 150;

/// Keeps one rotation in flight per start token (each worker refreshes its token, then the
/// token it got, and so on) until a refresh is refused; once every chain has rotated at least
/// once, runs `revocation`, which must end every chain. Whatever a chain's refresh was doing at
/// the moment the revocation committed, no token may outlive it.
async fn chains_racing<F, Fut>(app: &TestApp, start_tokens: Vec<String>, revocation: F)
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let rotations = Arc::new(AtomicUsize::new(0));
    let chains: Vec<_> = start_tokens
        .into_iter()
        .map(|token| {
            let (api, rotations) = (app.api.clone(), rotations.clone());
            tokio::spawn(async move {
                let mut pairs = Vec::new();
                let mut token = token;
                for _ in 0..MAX_LINKS {
                    let response = api.refresh(&token).await;
                    let status = response.status();
                    let body: Value = response.json().await.unwrap_or(Value::Null);
                    match status {
                        StatusCode::OK => {
                            token = string_at(&body, "/refresh_token");
                            pairs.push((string_at(&body, "/access_token"), token.clone()));
                            rotations.fetch_add(1, Ordering::Relaxed);
                        }
                        StatusCode::UNAUTHORIZED => return (true, pairs),
                        other => panic!("a refresh answered {other}: {body}"),
                    }
                }
                (false, pairs)
            })
        })
        .collect();
    let started = chains.len();
    eventually("every chain to rotate once", Duration::from_secs(20), || {
        let rotations = rotations.clone();
        async move { (rotations.load(Ordering::Relaxed) >= started).then_some(()) }
    })
    .await;
    revocation().await;
    let mut issued = Vec::new();
    for chain in chains {
        let (ended, pairs) = chain.await.expect("the chain task completes");
        assert!(ended, "a chain kept rotating after the revocation: {} rotations", pairs.len());
        issued.extend(pairs);
    }
    assert_all_dead(&app.api, &issued).await;
}

/// `n` live tokens of alice's family: siblings from refreshing her login token within the
/// grace window.
async fn siblings(app: &TestApp, alice: &Account, n: usize) -> Vec<String> {
    let pairs = issued_pairs(&refresh_at_once(&app.api, &alice.refresh_token, n).await);
    assert_eq!(pairs.len(), n, "siblings within the grace window");
    pairs.into_iter().map(|(_, refresh)| refresh).collect()
}

both_backends!(
    a_reuse_racing_thirty_refreshes_of_the_child_leaves_no_live_token,
    overrides = &[("REFRESH_REUSE_GRACE", "1s")],
    |app| async move {
        let alice = app.new_account("alice", None).await;
        let rotated = json_body(app.refresh(&alice.refresh_token).await, StatusCode::OK).await;
        let child = string_at(&rotated, "/refresh_token");
        // Past the grace window, presenting the first token again is a reuse.
        let_time_pass(Duration::from_millis(1100)).await;
        // Thirty refreshes of the child (siblings of one another), each going on as a chain.
        let api = app.api.clone();
        chains_racing(&app, vec![child.clone(); 30], || async move {
            assert_problem(api.refresh(&alice.refresh_token).await, StatusCode::UNAUTHORIZED, "invalid_token").await;
        })
        .await;
        assert_all_dead(&app.api, &[(string_at(&rotated, "/access_token"), child)]).await;
    }
);

both_backends!(a_logout_racing_refreshes_leaves_no_live_token, |app| async move {
    let alice = app.new_account("alice", None).await;
    let tokens = siblings(&app, &alice, 8).await;
    let api = app.api.clone();
    let refresh = alice.refresh_token.clone();
    chains_racing(&app, tokens, || async move {
        json_body(api.logout(&refresh, None).await, StatusCode::OK).await;
    })
    .await;
    assert_all_dead(&app.api, &[(alice.access_token.clone(), alice.refresh_token.clone())]).await;
});

both_backends!(a_password_change_racing_refreshes_leaves_no_live_token, |app| async move {
    let alice = app.new_account("alice", None).await;
    let tokens = siblings(&app, &alice, 8).await;
    let other = app.sign_in(&alice.email, USER_PASSWORD).await;
    let change = json!({"current_password": USER_PASSWORD, "new_password": "Changed@12345"});
    let api = app.api.clone();
    let changed = Arc::new(std::sync::Mutex::new(Value::Null));
    let slot = changed.clone();
    chains_racing(&app, tokens, || async move {
        let body = json_body(api.update_profile(other.token(), &change).await, StatusCode::OK).await;
        *slot.lock().expect("the slot") = body;
    })
    .await;
    assert_all_dead(&app.api, &[(alice.access_token.clone(), alice.refresh_token.clone())]).await;
    // The session that made the change continues.
    let changed = changed.lock().expect("the slot").clone();
    json_body(app.profile(&string_at(&changed, "/access_token")).await, StatusCode::OK).await;
    json_body(app.refresh(&string_at(&changed, "/refresh_token")).await, StatusCode::OK).await;
});

// ---------------------------------------------------------------------------------------------
// Password guessing through the profile
// ---------------------------------------------------------------------------------------------

fn password_change(current: &str) -> Value {
    json!({"current_password": current, "new_password": "Changed@12345"})
}

/// Asserts the answer of a locked login throttle, as login gives it.
async fn assert_locked(response: Response, lockout_secs: u64) {
    let (headers, problem) = assert_problem_with_headers(response, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    assert_eq!(problem["message"], "Too many failed login attempts, try again later");
    let retry_after: u64 = header(&headers, "retry-after").expect("Retry-After").parse().expect("whole seconds");
    assert!((1..=lockout_secs).contains(&retry_after), "Retry-After {retry_after}");
}

both_backends!(
    wrong_current_passwords_lock_the_account_as_failed_logins_do,
    overrides = &[("LOGIN_MAX_FAILURES", "3"), ("LOGIN_LOCKOUT", "60s")],
    |app| async move {
        let admin = app.sign_in_admin().await;
        let alice = app.new_account("alice", None).await;
        for _ in 0..3 {
            let problem = assert_problem(
                app.update_profile(alice.token(), &password_change("Wrong@123456")).await,
                StatusCode::BAD_REQUEST,
                "validation_failed",
            )
            .await;
            assert_eq!(error_message(&problem, "current_password"), "is incorrect");
        }
        // Locked: even the right current password is not checked, and login is locked too.
        assert_locked(app.update_profile(alice.token(), &password_change(USER_PASSWORD)).await, 60).await;
        assert_locked(app.login(&alice.email, USER_PASSWORD).await, 60).await;
        // The password did not change.
        assert_problem(app.login(&alice.email, "Changed@12345").await, StatusCode::TOO_MANY_REQUESTS, "rate_limited")
            .await;

        let alice_id = alice.id.clone();
        let query = [("action", "auth:password_change"), ("pageSize", "100")];
        let denied = eventually("the audited password failures", Duration::from_secs(5), || async {
            let body = json_body(app.audit_logs(admin.token(), &query).await, StatusCode::OK).await;
            let rows = body["audit_logs"].as_array().cloned().unwrap_or_default();
            let mine: Vec<Value> =
                rows.into_iter().filter(|r| r["user_id"] == alice_id.as_str() && r["decision"] == "denied").collect();
            (mine.len() >= 4).then_some(mine)
        })
        .await;
        let reasons: Vec<&str> = denied.iter().filter_map(|r| r["reason"].as_str()).collect();
        assert_eq!(reasons.iter().filter(|r| **r == "invalid_credentials").count(), 3, "{reasons:?}");
        assert_eq!(reasons.iter().filter(|r| **r == "locked").count(), 1, "{reasons:?}");
    }
);

both_backends!(
    a_locked_client_ip_cannot_guess_through_the_profile,
    overrides = &[("LOGIN_IP_MAX_FAILURES", "5"), ("LOGIN_LOCKOUT", "60s")],
    |app| async move {
        let bob = app.new_account("bob", None).await;
        for attempt in 0..5 {
            let email = format!("unknown{attempt}@example.com");
            assert_problem(app.login(&email, "Wrong@123456").await, StatusCode::UNAUTHORIZED, "invalid_credentials")
                .await;
        }
        assert_locked(app.update_profile(bob.token(), &password_change(USER_PASSWORD)).await, 60).await;
        // Other profile changes are not password guesses and go through.
        json_body(app.update_profile(bob.token(), &json!({"first_name": "Robert"})).await, StatusCode::OK).await;
    }
);

// ---------------------------------------------------------------------------------------------
// Admins, token lifetimes, logout input
// ---------------------------------------------------------------------------------------------

both_backends!(a_time_limited_admin_does_not_keep_the_last_admin_rule_satisfied, |app| async move {
    let admin = app.sign_in_admin().await;
    let bob_id = app.register_user("bob", None).await;
    let until = timestamp_text(seconds_from_now(3600));
    let assigned = app.assign_role(admin.token(), &bob_id, &json!({"role": "admin", "expires_at": until})).await;
    json_body(assigned, StatusCode::CREATED).await;
    let bob = app.sign_in(&email_of("bob"), USER_PASSWORD).await;

    let problem =
        assert_problem(app.revoke_role(admin.token(), &admin.id, "admin").await, StatusCode::CONFLICT, "conflict")
            .await;
    assert_eq!(problem["message"], "Cannot remove the admin role from the last active admin");
    let problem = assert_problem(app.delete_user(bob.token(), &admin.id).await, StatusCode::CONFLICT, "conflict").await;
    assert_eq!(problem["message"], "Cannot delete the last active admin");
    let deactivate = json!({"is_active": false});
    let problem =
        assert_problem(app.patch_user(bob.token(), &admin.id, &deactivate).await, StatusCode::CONFLICT, "conflict")
            .await;
    assert_eq!(problem["message"], "Cannot deactivate the last active admin");
    // The time-limited admin can be removed: the permanent one stays.
    json_body(app.revoke_role(admin.token(), &bob_id, "admin").await, StatusCode::OK).await;
});

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revocation_holds_for_access_tokens_issued_before_the_ttl_was_lowered() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let app = spawn_app(backend, &[("ACCESS_TOKEN_TTL", "1h")]).await;
        let alice = app.new_account("alice", None).await;
        let rotated = json_body(app.refresh(&alice.refresh_token).await, StatusCode::OK).await;
        let (access, refresh) = (string_at(&rotated, "/access_token"), string_at(&rotated, "/refresh_token"));
        // The operator lowers the TTL; both tokens were issued under the old one, for an hour.
        let app = app.restart(&[("ACCESS_TOKEN_TTL", "1s")]).await;
        let_time_pass(Duration::from_millis(1100)).await;
        json_body(app.profile(&access).await, StatusCode::OK).await;
        json_body(app.profile(alice.token()).await, StatusCode::OK).await;

        json_body(app.logout(&refresh, None).await, StatusCode::OK).await;
        for token in [&access, alice.token()] {
            let problem = assert_problem(app.profile(token).await, StatusCode::UNAUTHORIZED, "invalid_token").await;
            assert_eq!(problem["message"], "Token has been revoked", "{backend:?}");
        }
    }
}

both_backends!(logout_answers_200_for_any_refresh_token_string, |app| async move {
    let long = "x".repeat(100_000);
    for token in ["", " ", "\u{0}", "é\u{7}\n", "not-a-token", long.as_str()] {
        let body = json_body(app.logout(token, None).await, StatusCode::OK).await;
        assert_eq!(body["message"], "Successfully logged out");
    }
    for (body, code) in [
        (json!({}), "validation_failed"),
        (json!({"refresh_token": null}), "validation_failed"),
        (json!({"refresh_token": 7}), "invalid_request"),
    ] {
        let problem =
            assert_problem(app.post_json("/api/v1/auth/logout", &body).await, StatusCode::BAD_REQUEST, code).await;
        assert_field_error(&problem, "refresh_token");
    }
});

// ---------------------------------------------------------------------------------------------
// Security events are audited before their effect
// ---------------------------------------------------------------------------------------------

/// A PostgreSQL session holding `LOCK TABLE audit_logs` in an open transaction: the audit
/// writer's next insert waits on it, so the audit buffer fills up. Dropping the guard closes the
/// session, which ends the transaction and the lock.
struct AuditTableLock {
    psql: Child,
}

impl AuditTableLock {
    async fn take(database_url: &str) -> AuditTableLock {
        let mut psql = Command::new("psql")
            .arg(database_url)
            .args(["-v", "ON_ERROR_STOP=1", "-q"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("psql starts");
        let stdin = psql.stdin.as_mut().expect("psql has a stdin");
        stdin.write_all(b"BEGIN;\nLOCK TABLE audit_logs IN ACCESS EXCLUSIVE MODE;\n").expect("the lock is sent");
        stdin.flush().expect("the lock is sent");
        let lock = AuditTableLock { psql };
        let url = database_url.to_owned();
        eventually("the audit table lock", Duration::from_secs(10), || {
            let url = url.clone();
            async move { audit_table_locked(&url).then_some(()) }
        })
        .await;
        lock
    }
}

impl Drop for AuditTableLock {
    fn drop(&mut self) {
        // End of input ends psql, and with it the session and the lock.
        drop(self.psql.stdin.take());
        let give_up = std::time::Instant::now() + Duration::from_secs(5);
        while matches!(self.psql.try_wait(), Ok(None)) && std::time::Instant::now() < give_up {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.psql.kill();
        let _ = self.psql.wait();
    }
}

/// Whether some session of this database holds the exclusive lock on `audit_logs`.
fn audit_table_locked(database_url: &str) -> bool {
    let query = "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation \
                 WHERE c.relname = 'audit_logs' AND l.mode = 'AccessExclusiveLock' AND l.granted \
                   AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())";
    Command::new("psql")
        .arg(database_url)
        .args(["-tA", "-c", query])
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "1")
}

/// PostgreSQL only: a table lock is the one way to stall the audit writer without stalling
/// everything else (SQLite has a single database-wide write lock).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_audit_buffer_full_login_logout_and_reuse_answer_503_and_change_nothing() {
    let settings = [
        ("AUDIT_BUFFER_SIZE", "1"),
        ("AUDIT_BATCH_SIZE", "1"),
        ("AUDIT_ENQUEUE_TIMEOUT", "200ms"),
        ("REFRESH_REUSE_GRACE", "0"),
        ("LOGIN_MAX_FAILURES", "1"),
    ];
    let app = spawn_app(Backend::Postgres, &settings).await;
    let alice = app.new_account("alice", None).await;
    let bob = app.new_account("bob", None).await;
    let carol = app.new_account("carol", None).await;
    let bob_child =
        string_at(&json_body(app.refresh(&bob.refresh_token).await, StatusCode::OK).await, "/refresh_token");
    let last_login = json_body(app.profile(alice.token()).await, StatusCode::OK).await["last_login_at"].clone();
    assert!(last_login.is_string(), "alice has logged in: {last_login}");

    let lock = AuditTableLock::take(app.database_url()).await;
    // Fill the buffer with denials that change nothing (alice may not list users).
    eventually("a full audit buffer", Duration::from_secs(20), || async {
        (app.list_users(alice.token(), &[]).await.status() == StatusCode::SERVICE_UNAVAILABLE).then_some(())
    })
    .await;

    let unavailable = StatusCode::SERVICE_UNAVAILABLE;
    assert_problem(app.login(&alice.email, USER_PASSWORD).await, unavailable, "service_unavailable").await;
    assert_problem(app.login(&alice.email, "Wrong@123456").await, unavailable, "service_unavailable").await;
    assert_problem(app.logout(&carol.refresh_token, Some(carol.token())).await, unavailable, "service_unavailable")
        .await;
    assert_problem(app.refresh(&bob.refresh_token).await, unavailable, "service_unavailable").await;
    // Reads of one's own profile are not audited: the login above did not touch last_login_at.
    let profile = json_body(app.profile(alice.token()).await, StatusCode::OK).await;
    assert_eq!(profile["last_login_at"], last_login);
    drop(lock);

    // Once the writer catches up: the refused wrong password was not counted (one failure
    // would lock alice), the logout revoked nothing, and the reuse revoked no family.
    let login = eventually("the audit buffer to drain", Duration::from_secs(30), || async {
        let response = app.login(&alice.email, USER_PASSWORD).await;
        (response.status() != unavailable).then_some(response)
    })
    .await;
    json_body(login, StatusCode::OK).await;
    json_body(app.profile(carol.token()).await, StatusCode::OK).await;
    json_body(app.refresh(&carol.refresh_token).await, StatusCode::OK).await;
    json_body(app.refresh(&bob_child).await, StatusCode::OK).await;
}
