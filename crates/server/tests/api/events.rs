//! docs/live-updates.md: `GET /api/v1/events` delivers task changes to exactly the subscribers
//! that may read them, applies principal changes at once, ends on logout, revocation,
//! deactivation, deletion and drain, resumes after `Last-Event-ID` or asks for a `resync`, beats,
//! and refuses streams beyond the per-user limit.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::both_backends;
use crate::helpers::*;

/// Patience for something that must happen (a loaded machine is slow, never this slow).
const WAIT: Duration = Duration::from_secs(10);

/// The next event, which must be of `event_type` about task `id`.
async fn expect_task_event(stream: &mut SseReader, event_type: &str, id: &str) -> SseEvent {
    let event = stream.event(WAIT).await;
    assert_eq!(event.event, event_type, "unexpected event {event:?}");
    assert_eq!(event.data["id"], id, "unexpected event {event:?}");
    event
}

/// Creates a task as `owner` that only `owner` (and those who may read it) should see, then a
/// marker task as `subscriber` itself: the subscriber's next task event must be the marker, which
/// proves that the other event was not delivered before it (events arrive in order).
async fn assert_not_delivered(app: &TestApp, stream: &mut SseReader, subscriber: &Account, hidden_id: &str) {
    let marker = app.new_task_id(subscriber.token(), "marker").await;
    let event = stream.event(WAIT).await;
    assert_ne!(event.data["id"], hidden_id, "the subscriber received an event it may not read: {event:?}");
    assert_eq!(event.data["id"], marker.as_str(), "unexpected event {event:?}");
}

both_backends!(a_stream_receives_created_updated_and_deleted_tasks_as_get_returns_them, |app| async move {
    let alice = app.new_account("alice", Some("Engineering")).await;
    let mut stream = app.open_events(alice.token(), None).await;
    assert_eq!(header(stream.headers(), "cache-control").as_deref(), Some("no-store"));
    assert_eq!(header(stream.headers(), "x-accel-buffering").as_deref(), Some("no"));
    assert_eq!(header(stream.headers(), "content-encoding"), None);

    let id = app.new_task_id(alice.token(), "live").await;
    let created = expect_task_event(&mut stream, "task.created", &id).await;
    let read = json_body(app.get_task(alice.token(), &id).await, StatusCode::OK).await;
    assert_eq!(created.data, json!({ "id": id, "version": 1, "task": read }));

    let updated =
        json_body(app.update_task(alice.token(), &id, &json!({"title": "renamed"})).await, StatusCode::OK).await;
    let event = expect_task_event(&mut stream, "task.updated", &id).await;
    assert_eq!(event.data["version"], 2);
    assert_eq!(event.data["task"], updated["task"]);
    assert!(event.id > created.id, "ids increase: {} then {}", created.id, event.id);

    assert_no_body(app.delete_task(alice.token(), &id).await, StatusCode::NO_CONTENT).await;
    let deleted = expect_task_event(&mut stream, "task.deleted", &id).await;
    assert_eq!(deleted.data, json!({ "id": id, "version": 2 }));
});

both_backends!(a_subscriber_receives_only_the_tasks_it_may_read, |app| async move {
    let f = app.fixtures().await;
    let mut carol = app.open_events(f.carol.token(), None).await;
    let mut mike = app.open_events(f.mike.token(), None).await;
    let mut admin = app.open_events(f.admin.token(), None).await;

    let alices = app.new_task_id(f.alice.token(), "engineering work").await;
    expect_task_event(&mut mike, "task.created", &alices).await;
    expect_task_event(&mut admin, "task.created", &alices).await;
    assert_not_delivered(&app, &mut carol, &f.carol, &alices).await;

    // Deleted tasks are judged on their last state: the Sales user does not learn of it either.
    assert_no_body(app.delete_task(f.alice.token(), &alices).await, StatusCode::NO_CONTENT).await;
    expect_task_event(&mut mike, "task.deleted", &alices).await;
    assert_not_delivered(&app, &mut carol, &f.carol, &alices).await;
});

/// A task of `writer` does not reach `subscriber`; once `change` is done, the next one does.
async fn change_reveals(
    app: &TestApp,
    stream: &mut SseReader,
    subscriber: &Account,
    writer: &Account,
    change: impl std::future::Future<Output = ()>,
) {
    let hidden = app.new_task_id(writer.token(), "before").await;
    assert_not_delivered(app, stream, subscriber, &hidden).await;
    change.await;
    let shown = app.new_task_id(writer.token(), "after").await;
    expect_task_event(stream, "task.created", &shown).await;
}

both_backends!(a_role_change_applies_to_the_stream_at_once, |app| async move {
    let f = app.fixtures().await;
    let mut bob = app.open_events(f.bob.token(), None).await;
    let assign = async {
        json_body(app.assign_role(f.admin.token(), &f.bob.id, &json!({"role": "manager"})).await, StatusCode::CREATED)
            .await;
    };
    change_reveals(&app, &mut bob, &f.bob, &f.alice, assign).await;

    json_body(app.revoke_role(f.admin.token(), &f.bob.id, "manager").await, StatusCode::OK).await;
    let after = app.new_task_id(f.alice.token(), "after the revocation").await;
    assert_not_delivered(&app, &mut bob, &f.bob, &after).await;
});

both_backends!(a_department_change_applies_to_the_stream_at_once, |app| async move {
    let f = app.fixtures().await;
    let mut mike = app.open_events(f.mike.token(), None).await;
    let moved = async {
        json_body(app.patch_user(f.admin.token(), &f.mike.id, &json!({"department": "Sales"})).await, StatusCode::OK)
            .await;
    };
    change_reveals(&app, &mut mike, &f.mike, &f.carol, moved).await;
});

both_backends!(logout_revocation_deactivation_and_deletion_end_the_stream, |app| async move {
    let f = app.fixtures().await;

    let mut alice = app.open_events(f.alice.token(), None).await;
    json_body(app.logout(&f.alice.refresh_token, None).await, StatusCode::OK).await;
    alice.assert_ends(WAIT).await;
    assert_problem(app.events(f.alice.token(), None).await, StatusCode::UNAUTHORIZED, "invalid_token").await;

    let mut bob = app.open_events(f.bob.token(), None).await;
    json_body(app.patch_user(f.admin.token(), &f.bob.id, &json!({"is_active": false})).await, StatusCode::OK).await;
    bob.assert_ends(WAIT).await;

    let mut carol = app.open_events(f.carol.token(), None).await;
    json_body(app.delete_user(f.admin.token(), &f.carol.id).await, StatusCode::OK).await;
    carol.assert_ends(WAIT).await;

    // A second session of the same user is not closed by the first one's logout.
    let mike_again = app.sign_in(&f.mike.email, USER_PASSWORD).await;
    let mut mike = app.open_events(f.mike.token(), None).await;
    let mut other = app.open_events(mike_again.token(), None).await;
    json_body(app.logout(&mike_again.refresh_token, Some(mike_again.token())).await, StatusCode::OK).await;
    other.assert_ends(WAIT).await;
    let id = app.new_task_id(f.mike.token(), "still live").await;
    expect_task_event(&mut mike, "task.created", &id).await;
});

both_backends!(last_event_id_resumes_and_an_unknown_or_old_id_gets_a_resync, |app| async move {
    let alice = app.new_account("alice", None).await;
    let mut stream = app.open_events(alice.token(), None).await;
    let first = app.new_task_id(alice.token(), "one").await;
    let seen = expect_task_event(&mut stream, "task.created", &first).await;
    drop(stream);

    let second = app.new_task_id(alice.token(), "two").await;
    let third = app.new_task_id(alice.token(), "three").await;
    let mut resumed = app.open_events(alice.token(), Some(&seen.id)).await;
    expect_task_event(&mut resumed, "task.created", &second).await;
    expect_task_event(&mut resumed, "task.created", &third).await;
    let fourth = app.new_task_id(alice.token(), "four").await;
    expect_task_event(&mut resumed, "task.created", &fourth).await;

    for stale in ["1-0", "not an id"] {
        let mut stream = app.open_events(alice.token(), Some(stale)).await;
        let resync = stream.event(WAIT).await;
        assert_eq!(resync.event, "resync");
        assert_eq!(resync.data, json!({ "reason": "expired" }));
        // Each stream test ends the same way (create a task, expect its event) to prove the stream is live after its
        // scenario.
        // Live from there on.
        let id = app.new_task_id(alice.token(), "after resync").await;
        expect_task_event(&mut stream, "task.created", &id).await;
    }
});

both_backends!(
    streams_beyond_the_per_user_limit_are_refused_with_429,
    overrides = &[("EVENTS_MAX_PER_USER", "2")],
    |app| async move {
        let alice = app.new_account("alice", None).await;
        let bob = app.new_account("bob", None).await;
        let first = app.open_events(alice.token(), None).await;
        let _second = app.open_events(alice.token(), None).await;
        let (headers, problem) = assert_problem_with_headers(
            app.events(alice.token(), None).await,
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_streams",
        )
        .await;
        assert!(header(&headers, "retry-after").is_some_and(|v| v.parse::<u64>().is_ok()), "{headers:?}");
        assert!(problem["retry_after"].is_u64());
        let _bobs = app.open_events(bob.token(), None).await;
        drop(first);
        // The slot is freed once the server notices the closed connection.
        eventually("a freed slot", WAIT, || async {
            let response = app.events(alice.token(), None).await;
            (response.status() == StatusCode::OK).then_some(())
        })
        .await;
        assert_problem(app.events("not-a-token", None).await, StatusCode::UNAUTHORIZED, "invalid_token").await;
    }
);

both_backends!(
    heartbeats_keep_an_idle_stream_open,
    overrides = &[("EVENTS_HEARTBEAT", "200ms"), ("WRITE_TIMEOUT", "1s"), ("REQUEST_TIMEOUT", "1s")],
    |app| async move {
        let alice = app.new_account("alice", None).await;
        let mut stream = app.open_events(alice.token(), None).await;
        // Beyond REQUEST_TIMEOUT and WRITE_TIMEOUT: neither cuts a stream that beats.
        for _ in 0..12 {
            match stream.next(WAIT).await {
                Next::Item(SseItem::Comment(text)) => assert_eq!(text, "keep-alive"),
                other => panic!("expected a heartbeat, got {other:?}"),
            }
        }
        // Same live-after check as the resync test above.
        let id = app.new_task_id(alice.token(), "after beats").await;
        expect_task_event(&mut stream, "task.created", &id).await;
    }
);

both_backends!(
    a_drain_ends_every_stream_at_its_start,
    overrides = &[("SHUTDOWN_DRAIN_DELAY", "5s")],
    |app| async move {
        let mut app = app;
        let alice = app.new_account("alice", None).await;
        let mut stream = app.open_events(alice.token(), None).await;
        app.begin_shutdown();
        stream.assert_ends(WAIT).await;
        // Still within the drain delay: the instance answers, refusing new streams.
        let (headers, _) = assert_problem_with_headers(
            app.events(alice.token(), None).await,
            StatusCode::SERVICE_UNAVAILABLE,
            "service_unavailable",
        )
        .await;
        assert!(header(&headers, "retry-after").is_some());
    }
);

both_backends!(a_burst_of_changes_reaches_every_subscriber_in_order, |app| async move {
    const CHANGES: usize = 1_000;
    let admin = app.sign_in_admin().await;
    let alice = app.new_account("alice", None).await;
    let mut streams = vec![
        app.open_events(alice.token(), None).await,
        app.open_events(alice.token(), None).await,
        app.open_events(admin.token(), None).await,
    ];
    let id = app.new_task_id(alice.token(), "burst").await;
    let writer = {
        let api = app.api.clone();
        let (token, id) = (alice.access_token.clone(), id.clone());
        tokio::spawn(async move {
            for n in 0..CHANGES {
                let response = api.update_task(&token, &id, &json!({ "title": format!("burst {n}") })).await;
                assert_eq!(response.status(), StatusCode::OK);
            }
        })
    };
    for stream in &mut streams {
        expect_task_event(stream, "task.created", &id).await;
        let mut expected_version = 2;
        while expected_version <= CHANGES as i64 + 1 {
            let event = stream.event(WAIT).await;
            if event.event == "resync" {
                // Allowed by the contract; the subscriber then refetches, so the versions
                // restart from whatever comes next.
                let next = stream.event(WAIT).await;
                expected_version = next.data["version"].as_i64().expect("a version");
                assert!(expected_version > 1);
            } else {
                assert_eq!(event.event, "task.updated");
                assert_eq!(event.data["version"].as_i64(), Some(expected_version), "in order, none lost");
            }
            expected_version += 1;
        }
    }
    writer.await.expect("the writer finished");
    // The recorder is shared by every server of this test binary: only the series are checked.
    let metrics = metrics_text(&app.api).await;
    assert!(metric_value(&metrics, "events_sent_total", &[("type", "task.updated")]).is_some_and(|n| n >= 1.0));
    assert!(metric_value(&metrics, "events_streams_open", &[]).is_some());
    assert!(metric_value(&metrics, "events_dropped_total", &[("reason", "lagged")]).is_some());
});
