//! Property tests for the parsers of untrusted input in the use-case layer: JSON bodies (task
//! create and update, register, refresh/logout, profile, the admin bodies), query strings (task
//! list, user list, audit filters) and the `Authorization` header. None may panic, whatever the
//! input; where a printer exists, what it prints parses back to the same value.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use proptest::prelude::*;
use serde_json::{Map, Value, json};
use taskify_core::AuthFailure;
use taskify_core::CoreError;
use taskify_core::admin::{AttributeInput, audit_query, role_assignment, user_list_query, user_patch};
use taskify_core::auth::jwt::JwtCodec;
use taskify_core::auth::{AuthService, Registration, bearer_token};
use taskify_core::input::{JsonInput, QueryInput};
use taskify_core::profile::ProfileUpdate;
use taskify_core::tasks::input::{NewTaskInput, task_changes, task_list_query};

const SECRET: &[u8] = b"property-tests-secret-0123456789abcdef";

fn codec() -> JwtCodec {
    JwtCodec::new(SECRET, std::time::Duration::from_secs(900)).unwrap_or_else(|e| panic!("codec: {e}"))
}

/// Few cases: each runs in microseconds, and the suite must stay fast.
fn config() -> ProptestConfig {
    ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() }
}

/// Any JSON value, a few levels deep, with strings that include control characters and NULs.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(|f| json!(f)),
        any::<String>().prop_map(Value::String),
        "[\\x00-\\x1f a-z]{0,8}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(any::<String>(), inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// The member names the parsers look for, plus arbitrary ones.
fn member_name() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "title",
            "description",
            "status",
            "priority",
            "due_date",
            "username",
            "email",
            "password",
            "first_name",
            "last_name",
            "department",
            "position",
            "refresh_token",
            "current_password",
            "new_password",
            "is_active",
            "role",
            "expires_at",
            "value",
            "data_type",
        ])
        .prop_map(str::to_owned),
        any::<String>(),
    ]
}

/// A JSON object body mixing known members (with any JSON value) and unknown ones.
fn body() -> impl Strategy<Value = Map<String, Value>> {
    prop::collection::btree_map(member_name(), any_json(), 0..8).prop_map(|m| m.into_iter().collect())
}

/// A parse result is a value or one of the two input-error kinds (never anything the HTTP layer
/// would answer with 5xx).
fn is_input_outcome<T>(result: &Result<T, CoreError>) -> bool {
    matches!(result, Ok(_) | Err(CoreError::InvalidRequest { .. } | CoreError::Validation(_)))
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn json_bodies_never_panic_and_only_fail_as_bad_input(map in body()) {
        let input = || JsonInput::new(map.clone());
        prop_assert!(is_input_outcome(&NewTaskInput::from_json(input())));
        prop_assert!(is_input_outcome(&task_changes(input())));
        prop_assert!(is_input_outcome(&Registration::from_json(input())));
        prop_assert!(is_input_outcome(&AuthService::refresh_token_member(input())));
        prop_assert!(is_input_outcome(&ProfileUpdate::from_json(input())));
        prop_assert!(is_input_outcome(&user_patch(input())));
        prop_assert!(is_input_outcome(&role_assignment(input())));
        for key in ["clearance_level", "region", "department"] {
            let parsed = AttributeInput::from_json(input(), key, &["clearance_level"], &["department"]);
            prop_assert!(is_input_outcome(&parsed));
        }
    }

    #[test]
    fn a_valid_task_body_is_accepted_as_written(
        title in "[A-Za-z0-9][A-Za-z0-9 ]{0,60}[A-Za-z0-9]",
        description in "[^\\x00]{0,200}",
        status in prop::sample::select(vec!["pending", "in_progress", "completed", "cancelled"]),
        priority in prop::sample::select(vec!["low", "medium", "high", "urgent"]),
        padding in "[ \\t]{0,3}",
    ) {
        let mut map = Map::new();
        map.insert("title".into(), json!(format!("{padding}{title}{padding}")));
        map.insert("description".into(), json!(description));
        map.insert("status".into(), json!(status));
        map.insert("priority".into(), json!(priority));
        let parsed = NewTaskInput::from_json(JsonInput::new(map));
        prop_assert!(parsed.is_ok(), "{parsed:?}");
        let parsed = parsed.unwrap_or_else(|_| unreachable!());
        prop_assert_eq!(parsed.title, title);
        prop_assert_eq!(parsed.description, description);
        prop_assert_eq!(parsed.status.to_string(), status);
        prop_assert_eq!(parsed.priority.to_string(), priority);
    }

    #[test]
    fn query_strings_never_panic(raw in any::<String>()) {
        let query = QueryInput::parse(Some(&raw));
        prop_assert!(is_input_outcome(&task_list_query(&query)));
        prop_assert!(is_input_outcome(&user_list_query(&query)));
        prop_assert!(is_input_outcome(&audit_query(&query)));
        let _ = query.to_json();
    }

    #[test]
    fn known_parameters_with_any_value_never_panic(
        pairs in prop::collection::vec(
            (
                prop::sample::select(vec![
                    "status", "priority", "due_after", "due_before", "q", "user_id", "sortBy", "order",
                    "page", "pageSize", "department", "is_active", "role", "resource", "action",
                    "decision", "from", "to",
                ]),
                any::<String>(),
            ),
            0..6,
        ),
    ) {
        let query = QueryInput::new(pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect());
        prop_assert!(is_input_outcome(&task_list_query(&query)));
        prop_assert!(is_input_outcome(&user_list_query(&query)));
        prop_assert!(is_input_outcome(&audit_query(&query)));
    }

    #[test]
    fn encoded_query_strings_decode_to_what_was_encoded(
        pairs in prop::collection::vec(("[a-zA-Z_]{1,8}", any::<String>()), 0..5),
    ) {
        let raw = serde_urlencoded::to_string(&pairs).unwrap_or_default();
        let query = QueryInput::parse(Some(&raw));
        for (name, value) in &pairs {
            let first = pairs.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
            prop_assert_eq!(query.get(name), first, "{} in {}", value, raw);
        }
    }

    #[test]
    fn authorization_headers_never_panic(header in any::<String>()) {
        let _ = bearer_token(Some(&header));
    }

    #[test]
    fn a_bearer_header_yields_its_token(scheme in "(?i)bearer", token in "[A-Za-z0-9._~+/=-]{1,300}") {
        let header = format!("{scheme} {token}");
        prop_assert_eq!(bearer_token(Some(&header)), Ok(token.as_str()));
    }

    #[test]
    fn tokens_with_any_header_never_panic_and_are_refused(
        header in any_json(),
        claims in any_json(),
        signature in "[A-Za-z0-9_-]{0,64}",
    ) {
        let encode = |v: &Value| URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap_or_default());
        let token = format!("{}.{}.{signature}", encode(&header), encode(&claims));
        // Not signed with the secret (or not even a header object): refused, never a panic.
        prop_assert_eq!(codec().verify(&token, 1_700_000_000).err(), Some(AuthFailure::InvalidToken));
    }

    #[test]
    fn any_token_text_never_panics(token in any::<String>()) {
        prop_assert!(codec().verify(&token, 1_700_000_000).is_err());
    }

    #[test]
    fn an_issued_token_verifies_to_its_user(user in any::<u128>(), now in 1_000_000_000i64..4_000_000_000) {
        let codec = codec();
        let user_id = uuid::Uuid::from_u128(user);
        let issued = codec.issue(user_id, &["user".to_owned()], &[], now);
        prop_assert!(issued.is_ok());
        let issued = issued.unwrap_or_else(|_| unreachable!());
        let verified = codec.verify(&issued.token, now);
        prop_assert!(verified.is_ok(), "{:?}", verified.err());
        prop_assert_eq!(verified.map(|c| c.user_id).ok(), Some(user_id));
    }
}
