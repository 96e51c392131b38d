//! TTL input and output (docs/jobs.md#job-document) and the 400 rules of the job endpoints (docs/jobs.md#endpoints, F3–F8).

use std::time::Duration;

use serde_json::{Map, Value, json};
use taskify_core::job_requests::{
    RequestError, RequestErrorKind, batch_request, dlq_purge_request, dlq_retry_request, eviction_request, parse_limit,
    parse_offset, scheduled_request, validation_request, warmup_request,
};
use taskify_jobs::{DEFAULT_LONG_TTL, DEFAULT_TTL, DlqSelection, JobType, format_ttl, parse_ttl, validate_key};
use uuid::Uuid;

fn body(v: Value) -> Map<String, Value> {
    v.as_object().expect("object").clone()
}

fn rejected(result: Result<impl std::fmt::Debug, RequestError>, kind: RequestErrorKind, field: &str) -> String {
    let e = result.expect_err("rejected");
    assert_eq!(e.kind, kind, "{e:?}");
    let error = e.errors.iter().find(|f| f.field == field).unwrap_or_else(|| panic!("no error on {field}: {e:?}"));
    error.message.clone()
}

#[test]
fn ttl_inputs_parse_to_the_spec_values_and_render_go_style() {
    let m = |minutes: u64| Duration::from_secs(60 * minutes);
    let table: &[(Option<Value>, Duration, &str)] = &[
        (Some(json!(900_000_000_000u64)), m(15), "15m0s"),
        (Some(json!("15m")), m(15), "15m0s"),
        (Some(json!("1h30m")), m(90), "1h30m0s"),
        (Some(json!("90s")), Duration::from_secs(90), "1m30s"),
        (Some(json!("1500ms")), Duration::from_millis(1500), "1.5s"),
        (Some(json!("1s")), Duration::from_secs(1), "1s"),
        (Some(json!("1h")), m(60), "1h0m0s"),
        (Some(json!("720h")), m(720 * 60), "720h0m0s"),
        // Kept to millisecond precision.
        (Some(json!(1_000_000_500u64)), Duration::from_secs(1), "1s"),
        (Some(json!(1_500_999_999u64)), Duration::from_millis(1500), "1.5s"),
        // 0 and absent mean the endpoint's default.
        (Some(json!(0)), DEFAULT_TTL, "15m0s"),
        (Some(json!("0s")), DEFAULT_TTL, "15m0s"),
        (Some(Value::Null), DEFAULT_TTL, "15m0s"),
        (None, DEFAULT_TTL, "15m0s"),
    ];
    for (input, expected, text) in table {
        let ttl = parse_ttl(input.as_ref(), DEFAULT_TTL).unwrap_or_else(|e| panic!("{input:?}: {e}"));
        assert_eq!(ttl, *expected, "{input:?}");
        assert_eq!(format_ttl(ttl), *text, "{input:?}");
    }
    assert_eq!(parse_ttl(None, DEFAULT_LONG_TTL), Ok(DEFAULT_LONG_TTL));
    assert_eq!(format_ttl(DEFAULT_LONG_TTL), "1h0m0s");

    for bad in [json!("abc"), json!(-1), json!("-5s"), json!(1.5), json!(999_000_000), json!("999ms"), json!("721h")] {
        assert!(parse_ttl(Some(&bad), DEFAULT_TTL).is_err(), "{bad} is rejected");
    }
}

#[test]
fn warmup_bodies_follow_f3_and_f4() {
    let job =
        warmup_request(&body(json!({"key":"test:key","data":{"test":"data"},"ttl":900000000000u64,"priority":5})))
            .expect("valid");
    assert_eq!(job.kind, JobType::Warmup);
    assert_eq!(job.priority, 5);
    assert_eq!(job.payload, json!({"key":"test:key","data":{"test":"data"},"ttl":"15m0s"}));

    let job = warmup_request(&body(json!({"key":"k","ttl":"15m"}))).expect("valid");
    assert_eq!(job.payload["ttl"], "15m0s");
    assert_eq!(job.payload["data"], Value::Null, "data defaults to null");
    assert_eq!(job.priority, 5, "absent priority is 5");
    assert_eq!(warmup_request(&body(json!({"key":"k","priority":0}))).expect("valid").priority, 5);
    assert_eq!(warmup_request(&body(json!({"key":"k","priority":1}))).expect("valid").priority, 1);
    assert_eq!(warmup_request(&body(json!({"key":"k","priority":10}))).expect("valid").priority, 10);

    let v = RequestErrorKind::ValidationFailed;
    rejected(warmup_request(&body(json!({"key":"k","ttl":"abc"}))), v, "ttl");
    rejected(warmup_request(&body(json!({"key":"k","priority":11}))), v, "priority");
    rejected(warmup_request(&body(json!({"key":"k","priority":-1}))), v, "priority");
    assert_eq!(rejected(warmup_request(&body(json!({"key":"task:123"}))), v, "key"), "key uses a reserved prefix");
    rejected(warmup_request(&body(json!({"data":1}))), v, "key");
    rejected(warmup_request(&body(json!({"key":""}))), v, "key");
    // A member of the wrong JSON type is invalid_request (docs/http-contract.md#request-bodies-and-field-rules), and wins over rule errors.
    let i = RequestErrorKind::InvalidRequest;
    rejected(warmup_request(&body(json!({"key":"k","priority":"5"}))), i, "priority");
    rejected(warmup_request(&body(json!({"key":7}))), i, "key");
    rejected(warmup_request(&body(json!({"key":"k","ttl":true,"priority":11}))), i, "ttl");
}

#[test]
fn reserved_prefixes_are_refused_for_writes_and_allowed_for_eviction() {
    for key in ["task:1", "tasks_paginated:all:g1:x", "principal:u", "user:u", "revoked:j"] {
        assert_eq!(validate_key(key, false), Err("key uses a reserved prefix".to_owned()));
        assert_eq!(validate_key(key, true), Ok(()));
        let v = RequestErrorKind::ValidationFailed;
        rejected(batch_request(&body(json!({"keys":["ok", key]}))), v, "keys[1]");
        rejected(scheduled_request(&body(json!({"key":key,"process_at":"2030-01-01T00:00:00Z"}))), v, "key");
        rejected(validation_request(&body(json!({"key":key,"expected_data":1}))), v, "key");
        assert!(eviction_request(&body(json!({"key":key}))).is_ok());
    }
    assert_eq!(validate_key("tasks:1", false), Ok(()), "only the exact prefixes are reserved");
}

#[test]
fn keys_are_1_to_512_characters_without_whitespace_or_controls() {
    assert!(validate_key(&"k".repeat(512), false).is_ok());
    assert!(validate_key(&"é".repeat(512), false).is_ok(), "characters, not bytes");
    assert!(validate_key(&"k".repeat(513), false).is_err());
    assert!(validate_key("", false).is_err());
    for bad in ["a b", "a\tb", "a\nb", "a\u{7f}b", "a\u{0}b", "a\u{a0}b"] {
        assert!(validate_key(bad, false).is_err(), "{bad:?}");
    }
}

#[test]
fn batch_keys_are_required_and_bounded() {
    let job =
        batch_request(&body(json!({"keys":["batch:1","batch:2","batch:3"],"data":{},"priority":5}))).expect("valid");
    assert_eq!(job.payload["keys"], json!(["batch:1", "batch:2", "batch:3"]));
    assert_eq!(job.payload["ttl"], "1h0m0s", "batch default TTL is 1 h");
    assert!(batch_request(&body(json!({"keys":[]}))).is_ok(), "0 keys are allowed");
    let thousand: Vec<String> = (0..1000).map(|i| format!("k:{i}")).collect();
    assert!(batch_request(&body(json!({ "keys": thousand }))).is_ok());

    let v = RequestErrorKind::ValidationFailed;
    rejected(batch_request(&body(json!({"keys":null}))), v, "keys");
    rejected(batch_request(&body(json!({"data":{}}))), v, "keys");
    let too_many: Vec<String> = (0..1001).map(|i| format!("k:{i}")).collect();
    rejected(batch_request(&body(json!({ "keys": too_many }))), v, "keys");
    rejected(batch_request(&body(json!({"keys":["ok","a b"]}))), v, "keys[1]");
    let i = RequestErrorKind::InvalidRequest;
    rejected(batch_request(&body(json!({"keys":"batch:1"}))), i, "keys");
    rejected(batch_request(&body(json!({"keys":["ok", 3]}))), i, "keys[1]");
}

#[test]
fn scheduled_jobs_need_an_rfc3339_process_at() {
    let job = scheduled_request(&body(json!({"key":"s","process_at":"2030-01-01T10:00:00+02:00","priority":3})))
        .expect("valid");
    assert_eq!(job.kind, JobType::Scheduled);
    assert_eq!(job.priority, 3);
    assert_eq!(job.process_at.map(|t| t.to_rfc3339()), Some("2030-01-01T08:00:00+00:00".to_owned()));
    assert_eq!(job.payload["ttl"], "15m0s");
    assert!(scheduled_request(&body(json!({"key":"s","process_at":"2000-01-01T00:00:00Z"}))).is_ok(), "past = now");

    let v = RequestErrorKind::ValidationFailed;
    rejected(scheduled_request(&body(json!({"key":"s"}))), v, "process_at");
    rejected(scheduled_request(&body(json!({"key":"s","process_at":null}))), v, "process_at");
    rejected(scheduled_request(&body(json!({"key":"s","process_at":"2025-12-01"}))), v, "process_at");
    rejected(scheduled_request(&body(json!({"key":"s","process_at":"tomorrow"}))), v, "process_at");
    rejected(
        scheduled_request(&body(json!({"key":"s","process_at":1}))),
        RequestErrorKind::InvalidRequest,
        "process_at",
    );
}

#[test]
fn validation_jobs_need_expected_data_which_may_be_null() {
    let job = validation_request(&body(json!({"key":"test:val","expected_data":{"v":1}}))).expect("valid");
    assert_eq!(job.payload, json!({"key":"test:val","expected_data":{"v":1},"ttl":"1h0m0s"}));
    let job = validation_request(&body(json!({"key":"test:val","expected_data":null}))).expect("null is a value");
    assert_eq!(job.payload["expected_data"], Value::Null);
    rejected(validation_request(&body(json!({"key":"test:val"}))), RequestErrorKind::ValidationFailed, "expected_data");
}

#[test]
fn eviction_takes_exactly_one_of_key_or_a_valid_glob() {
    let job = eviction_request(&body(json!({"pattern":"batch:*","priority":2}))).expect("valid");
    assert_eq!((job.kind, job.priority), (JobType::Eviction, 2));
    assert_eq!(job.payload, json!({"pattern":"batch:*"}));
    let job = eviction_request(&body(json!({"key":"user:123"}))).expect("valid");
    assert_eq!(job.payload, json!({"key":"user:123"}));
    assert!(eviction_request(&body(json!({"key":"k","pattern":null}))).is_ok(), "null counts as absent");

    let v = RequestErrorKind::ValidationFailed;
    rejected(eviction_request(&body(json!({"key":"k","pattern":"batch:*"}))), v, "pattern");
    rejected(eviction_request(&body(json!({"priority":1}))), v, "key");
    rejected(eviction_request(&body(json!({"pattern":"batch:["}))), v, "pattern");
    rejected(eviction_request(&body(json!({"pattern":"a\\"}))), v, "pattern");
    rejected(eviction_request(&body(json!({"key":"k","priority":12}))), v, "priority");
}

#[test]
fn dlq_selections_take_exactly_one_form() {
    let id = Uuid::new_v4();
    assert_eq!(dlq_retry_request(&body(json!({"all":true}))), Ok(DlqSelection::All));
    assert_eq!(
        dlq_retry_request(&body(json!({"job_ids":[id, id.to_string().to_uppercase()]}))),
        Ok(DlqSelection::Ids(vec![id])),
        "ids are matched case-insensitively and deduplicated"
    );
    let v = RequestErrorKind::ValidationFailed;
    rejected(dlq_retry_request(&body(json!({}))), v, "job_ids");
    rejected(dlq_retry_request(&body(json!({"all":true,"job_ids":[id]}))), v, "job_ids");
    rejected(dlq_retry_request(&body(json!({"all":false}))), v, "all");
    rejected(dlq_retry_request(&body(json!({"job_ids":["nope"]}))), v, "job_ids[0]");
    rejected(dlq_retry_request(&body(json!({"all":"yes"}))), RequestErrorKind::InvalidRequest, "all");
    rejected(dlq_retry_request(&body(json!({"job_ids":"x"}))), RequestErrorKind::InvalidRequest, "job_ids");

    assert_eq!(dlq_purge_request(None, Some("true")), Ok(DlqSelection::All));
    assert_eq!(dlq_purge_request(Some(&id.to_string()), None), Ok(DlqSelection::Ids(vec![id])));
    for (job_id, all) in
        [(None, None), (Some("x"), None), (None, Some("false")), (Some(&*id.to_string()), Some("true"))]
    {
        assert!(dlq_purge_request(job_id, all).is_err(), "{job_id:?} {all:?}");
    }
}

#[test]
fn limits_and_offsets_are_strict() {
    assert_eq!(parse_limit(None, 20, 200), Ok(20));
    assert_eq!(parse_limit(Some("200"), 20, 200), Ok(200));
    for bad in ["0", "201", "abc", "", "-1"] {
        assert!(parse_limit(Some(bad), 20, 200).is_err(), "{bad:?}");
    }
    assert_eq!(parse_offset(None), Ok(0));
    assert_eq!(parse_offset(Some("7")), Ok(7));
    assert!(parse_offset(Some("-1")).is_err());
}
