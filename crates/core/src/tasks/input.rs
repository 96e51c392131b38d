//! Task request members and list query parameters (docs/http-contract.md#tasks, docs/http-contract.md#pagination), validated into domain types.

use crate::error::{CoreResult, Violations};
use crate::input::{Field, JsonInput, QueryInput};
use taskify_domain::text::{char_len, check_line};
use taskify_domain::time::parse_rfc3339;
use taskify_domain::{Order, PageRequest, TaskChanges, TaskListQuery, TaskPriority, TaskSort, TaskStatus, Timestamp};
use uuid::Uuid;

pub const MAX_TITLE: usize = 255;
pub const MAX_DESCRIPTION: usize = 10_000;
pub const MAX_Q: usize = 200;

/// A validated `POST /tasks` body.
#[derive(Debug, Clone, PartialEq)]
pub struct NewTaskInput {
    pub title: String,
    pub description: String,
    pub status: TaskStatus,
    pub priority: TaskPriority,
    pub due_date: Option<Timestamp>,
}

fn title(v: &mut Violations, raw: &str) -> String {
    let title = raw.trim().to_owned();
    v.check("title", check_line(&title, 1, MAX_TITLE));
    title
}

fn description(v: &mut Violations, raw: String) -> String {
    if char_len(&raw) > MAX_DESCRIPTION {
        v.add("description", format!("must be at most {MAX_DESCRIPTION} characters"));
    } else if raw.contains('\0') {
        v.add("description", "must not contain NUL characters");
    }
    raw
}

fn parse_enum<T>(v: &mut Violations, field: &str, raw: &str, parse: fn(&str) -> Option<T>, all: &[T]) -> Option<T>
where
    T: Copy + std::fmt::Display,
{
    let parsed = parse(raw);
    if parsed.is_none() {
        let names: Vec<String> = all.iter().map(ToString::to_string).collect();
        v.add(field, format!("must be one of {}", names.join(", ")));
    }
    parsed
}

fn due_date(v: &mut Violations, raw: &str) -> Option<Timestamp> {
    let parsed = parse_rfc3339(raw);
    if parsed.is_none() {
        v.add("due_date", "must be an RFC 3339 date-time");
    }
    parsed
}

/// The five task members, each absent, null or a string.
type TaskMembers = (Field<String>, Field<String>, Field<String>, Field<String>, Field<String>);

fn task_members(body: &mut JsonInput) -> TaskMembers {
    let mut member = |name| body.string(name);
    (member("title"), member("description"), member("status"), member("priority"), member("due_date"))
}

impl NewTaskInput {
    /// Reads a create body; server-owned members (`id`, `user_id`, `version`, …) are ignored.
    pub fn from_json(mut body: JsonInput) -> CoreResult<Self> {
        let (t, d, s, p, due) = task_members(&mut body);
        body.finish()?;
        let mut v = Violations::default();
        let title = match t {
            Field::Value(raw) => title(&mut v, &raw),
            _ => {
                v.add("title", "is required");
                String::new()
            }
        };
        let description = description(&mut v, d.into_option().unwrap_or_default());
        let status =
            s.into_option().and_then(|raw| parse_enum(&mut v, "status", &raw, TaskStatus::parse, TaskStatus::ALL));
        let priority = p
            .into_option()
            .and_then(|raw| parse_enum(&mut v, "priority", &raw, TaskPriority::parse, TaskPriority::ALL));
        let due_date = due.into_option().and_then(|raw| due_date(&mut v, &raw));
        v.finish(Self {
            title,
            description,
            status: status.unwrap_or_default(),
            priority: priority.unwrap_or_default(),
            due_date,
        })
    }

    /// The canonical fingerprint source is the raw body; this is only for tests.
    #[cfg(test)]
    fn parse(json: serde_json::Value) -> CoreResult<Self> {
        match json {
            serde_json::Value::Object(map) => Self::from_json(JsonInput::new(map)),
            _ => Err(crate::error::CoreError::invalid("not an object")),
        }
    }
}

/// Reads a `PUT /tasks/{id}` body into the changes it asks for.
pub fn task_changes(mut body: JsonInput) -> CoreResult<TaskChanges> {
    let (t, d, s, p, due) = task_members(&mut body);
    body.finish()?;
    let mut v = Violations::default();
    let mut changes = TaskChanges::default();
    let not_null = |v: &mut Violations, field: &str| v.add(field, "must not be null");
    match t {
        Field::Value(raw) => changes.title = Some(title(&mut v, &raw)),
        Field::Null => not_null(&mut v, "title"),
        Field::Absent => {}
    }
    match d {
        Field::Value(raw) => changes.description = Some(description(&mut v, raw)),
        Field::Null => changes.description = Some(String::new()),
        Field::Absent => {}
    }
    match s {
        Field::Value(raw) => changes.status = parse_enum(&mut v, "status", &raw, TaskStatus::parse, TaskStatus::ALL),
        Field::Null => not_null(&mut v, "status"),
        Field::Absent => {}
    }
    match p {
        Field::Value(raw) => {
            changes.priority = parse_enum(&mut v, "priority", &raw, TaskPriority::parse, TaskPriority::ALL);
        }
        Field::Null => not_null(&mut v, "priority"),
        Field::Absent => {}
    }
    match due {
        Field::Value(raw) => changes.due_date = due_date(&mut v, &raw).map(Some),
        Field::Null => changes.due_date = Some(None),
        Field::Absent => {}
    }
    v.finish(changes)
}

/// Parses `page` and `pageSize` (docs/http-contract.md#pagination): nothing is silently replaced with a default.
pub fn page_request(v: &mut Violations, query: &QueryInput) -> PageRequest {
    let mut number = |name: &str, max: u32, default: u32| match query.get(name) {
        None => default,
        Some(raw) => match raw.parse::<u32>() {
            Ok(n) if (1..=max).contains(&n) => n,
            _ => {
                v.add(name, format!("must be an integer from 1 to {max}"));
                default
            }
        },
    };
    let page = number("page", PageRequest::MAX_PAGE, 1);
    let page_size = number("pageSize", PageRequest::MAX_PAGE_SIZE, 10);
    PageRequest { page, page_size }
}

/// Parses `order` (default `desc`).
pub fn order(v: &mut Violations, query: &QueryInput) -> Order {
    query.get("order").map_or(Order::Desc, |raw| {
        Order::parse(raw).unwrap_or_else(|| {
            v.add("order", "must be asc or desc");
            Order::Desc
        })
    })
}

/// Parses a UUID query parameter.
pub fn uuid_param(v: &mut Violations, query: &QueryInput, name: &str) -> Option<Uuid> {
    query.get(name).and_then(|raw| {
        let parsed = Uuid::parse_str(raw).ok();
        if parsed.is_none() {
            v.add(name, "must be a UUID");
        }
        parsed
    })
}

/// Parses an RFC 3339 query parameter.
pub fn time_param(v: &mut Violations, query: &QueryInput, name: &str) -> Option<Timestamp> {
    query.get(name).and_then(|raw| {
        let parsed = parse_rfc3339(raw);
        if parsed.is_none() {
            v.add(name, "must be an RFC 3339 date-time");
        }
        parsed
    })
}

/// Parses a free-text search parameter `q` (1–`max` characters, single line).
pub fn search_param(v: &mut Violations, query: &QueryInput, max: usize) -> Option<String> {
    query.get("q").map(|raw| {
        v.check("q", check_line(raw, 1, max));
        raw.to_owned()
    })
}

/// Parses the list query of `GET /tasks` and `GET /users/{id}/tasks`.
pub fn task_list_query(query: &QueryInput) -> CoreResult<TaskListQuery> {
    let mut v = Violations::default();
    let status =
        query.get("status").and_then(|raw| parse_enum(&mut v, "status", raw, TaskStatus::parse, TaskStatus::ALL));
    let priority = query
        .get("priority")
        .and_then(|raw| parse_enum(&mut v, "priority", raw, TaskPriority::parse, TaskPriority::ALL));
    let due_after = time_param(&mut v, query, "due_after");
    let due_before = time_param(&mut v, query, "due_before");
    let q = search_param(&mut v, query, MAX_Q);
    let owner = uuid_param(&mut v, query, "user_id");
    // Same sortBy/order/page tail as the user list query (core/src/admin.rs): each list parses its
    // own sort enum with its own message.
    let sort_by = query.get("sortBy").map_or(TaskSort::CreatedAt, |raw| {
        TaskSort::parse(raw).unwrap_or_else(|| {
            v.add("sortBy", "must be one of created_at, updated_at, title, due_date, priority, status");
            TaskSort::CreatedAt
        })
    });
    let order = order(&mut v, query);
    let page = page_request(&mut v, query);
    v.finish(TaskListQuery { status, priority, due_after, due_before, q, owner, sort_by, order, page })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::CoreError;
    use serde_json::json;

    fn fields(err: CoreError) -> Vec<String> {
        match err {
            CoreError::Validation(errors) => errors.into_iter().map(|e| e.field).collect(),
            other => panic!("expected validation, got {other:?}"),
        }
    }

    #[test]
    fn create_reports_every_bad_field() {
        let err = NewTaskInput::parse(json!({"title": "x".repeat(256), "status": "done", "priority": "critical",
            "due_date": "2025-13-01T00:00:00Z", "description": "d".repeat(10_001)}))
        .expect_err("invalid");
        assert_eq!(fields(err).len(), 5);
        assert!(matches!(NewTaskInput::parse(json!({"title": 5})), Err(CoreError::InvalidRequest { .. })));
        let ok = NewTaskInput::parse(json!({"title": " x ", "description": null})).expect("valid");
        assert_eq!((ok.title.as_str(), ok.status, ok.priority), ("x", TaskStatus::Pending, TaskPriority::Medium));
    }

    #[test]
    fn list_parameters_are_strict() {
        for (k, val) in [
            ("page", "0"),
            ("pageSize", "101"),
            ("pageSize", "abc"),
            ("sortBy", "foo"),
            ("order", "up"),
            ("status", "done"),
            ("due_before", "tomorrow"),
            ("user_id", "xyz"),
            ("page", ""),
        ] {
            let q = QueryInput::new(vec![(k.into(), val.into())]);
            assert_eq!(fields(task_list_query(&q).expect_err("invalid")), [k], "{k}={val}");
        }
        let q = QueryInput::new(vec![("sortBy".into(), "priority".into()), ("pageSize".into(), "2".into())]);
        let parsed = task_list_query(&q).expect("valid");
        assert_eq!((parsed.sort_by, parsed.page.page_size), (TaskSort::Priority, 2));
    }
}
