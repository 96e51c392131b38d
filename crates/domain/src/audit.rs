//! Audit log entries (docs/data-model.md#tables, docs/authorization.md#audit).

use crate::page::{Order, PageRequest};
use crate::text::storable;
use crate::time::{Timestamp, serde_micros};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

// A table of caps, one const per column; `context_limits` below has the same shape for the context
// JSON.
/// Widths of the audit columns, in characters: the `VARCHAR(n)` of the PostgreSQL schema (SQLite
/// does not enforce them, so the writer must). `reason` is `TEXT`; its cap keeps rows bounded.
pub mod width {
    pub const ACTION: usize = 64;
    pub const RESOURCE: usize = 50;
    pub const RESOURCE_ID: usize = 64;
    pub const REASON: usize = 1000;
    pub const POLICY_ID: usize = 64;
    pub const REQUEST_ID: usize = 128;
    pub const IP_ADDRESS: usize = 45;
    pub const USER_AGENT: usize = 512;
    pub const METHOD: usize = 10;
    pub const PATH: usize = 2048;
}

// Same table shape as `width` above, for the context JSON.
/// Caps on the `context` JSON of one audit row. A request's query string lands there, so without
/// them one request could write an arbitrarily large row.
pub mod context_limits {
    /// Characters of one string value.
    pub const STRING: usize = 512;
    /// Characters of one object key.
    pub const KEY: usize = 64;
    /// Members of one object or items of one array.
    pub const ENTRIES: usize = 32;
    /// Nesting of objects and arrays.
    pub const DEPTH: usize = 4;
    /// Characters of all keys and strings together.
    pub const TOTAL: usize = 8192;
    /// Policy ids kept per row.
    pub const POLICY_IDS: usize = 32;
}

/// `value` within [`context_limits`], every key and string in [`storable`] form. The flag says
/// whether anything was escaped or cut (the caller records that in the row).
pub fn bounded_context(value: &Value) -> (Value, bool) {
    let mut bounder = Bounder { budget: context_limits::TOTAL, changed: false };
    let bounded = bounder.value(value, 0);
    (bounded, bounder.changed)
}

/// The state of one [`bounded_context`] walk: characters left and whether anything changed.
struct Bounder {
    budget: usize,
    changed: bool,
}

impl Bounder {
    fn text(&mut self, s: &str, max: usize) -> String {
        let stored = storable(s, max.min(self.budget));
        self.changed |= matches!(stored, std::borrow::Cow::Owned(_));
        self.budget = self.budget.saturating_sub(crate::text::char_len(&stored));
        stored.into_owned()
    }

    /// False (and the walk marked as changed) once a container is full or the budget is spent.
    fn room(&mut self, taken: usize) -> bool {
        let room = taken < context_limits::ENTRIES && self.budget > 0;
        self.changed |= !room;
        room
    }

    fn value(&mut self, value: &Value, depth: usize) -> Value {
        match value {
            Value::String(s) => Value::String(self.text(s, context_limits::STRING)),
            Value::Array(items) if !items.is_empty() && depth >= context_limits::DEPTH => self.too_deep(),
            Value::Object(members) if !members.is_empty() && depth >= context_limits::DEPTH => self.too_deep(),
            Value::Array(items) => {
                let mut out = Vec::with_capacity(items.len().min(context_limits::ENTRIES));
                for item in items {
                    if !self.room(out.len()) {
                        break;
                    }
                    out.push(self.value(item, depth + 1));
                }
                Value::Array(out)
            }
            Value::Object(members) => {
                let mut out = Map::new();
                for (key, member) in members {
                    if !self.room(out.len()) {
                        break;
                    }
                    let key = self.text(key, context_limits::KEY);
                    let member = self.value(member, depth + 1);
                    out.insert(key, member);
                }
                Value::Object(out)
            }
            scalar => scalar.clone(),
        }
    }

    fn too_deep(&mut self) -> Value {
        self.changed = true;
        Value::String("…".into())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Allowed,
    Denied,
}

impl Decision {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "allowed" => Some(Self::Allowed),
            "denied" => Some(Self::Denied),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Allowed => "allowed",
            Self::Denied => "denied",
        }
    }
}

/// One audit row, as written and as `GET /audit-logs` shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub id: Uuid,
    #[serde(with = "serde_micros")]
    pub timestamp: Timestamp,
    pub user_id: Option<Uuid>,
    // The audit table's columns. Optional-text runs like this recur in other row and query types
    // (store's RefreshToken, TaskListQuery): same shape, different data.
    /// `resource:action`, e.g. `task:update` or `auth:login`.
    pub action: String,
    pub resource: String,
    pub resource_id: Option<String>,
    pub decision: Decision,
    pub reason: Option<String>,
    /// Sorted ids of the deciding policies.
    pub policy_ids: Vec<String>,
    pub request_id: Option<String>,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
    pub method: Option<String>,
    pub path: Option<String>,
    pub context: Option<serde_json::Value>,
}

/// An entry before it has been written; the same shape.
pub type NewAuditEntry = AuditEntry;

// Query structs (this, TaskListQuery, UserListQuery) share the filters-then-order-then-page shape
// by design: each is its own endpoint's validated query.
/// A validated `GET /audit-logs` query. `from` is inclusive, `to` exclusive.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditQuery {
    pub user_id: Option<Uuid>,
    pub resource: Option<String>,
    pub action: Option<String>,
    pub decision: Option<Decision>,
    pub from: Timestamp,
    pub to: Option<Timestamp>,
    pub order: Order,
    pub page: PageRequest,
}

/// `total` stops counting here (docs/http-contract.md#administration).
pub const AUDIT_TOTAL_CAP: u64 = 10_000;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn contexts_within_the_limits_pass_unchanged() {
        let context = json!({"query": {"page": "1", "q": "milk"}, "scope": "own", "n": 3});
        assert_eq!(bounded_context(&context), (context, false));
    }

    #[test]
    fn controls_are_escaped_in_keys_and_values() {
        let (bounded, changed) = bounded_context(&json!({"query": {"x\u{0}": "a\u{0}b"}}));
        assert!(changed);
        assert_eq!(bounded, json!({"query": {"x\\u0000": "a\\u0000b"}}));
    }

    #[test]
    fn large_contexts_are_cut_to_the_limits() {
        let many: Map<String, Value> = (0..1000).map(|i| (format!("k{i}"), Value::String("v".repeat(2000)))).collect();
        let (bounded, changed) = bounded_context(&json!({ "query": many }));
        assert!(changed);
        let query = bounded["query"].as_object().expect("an object");
        assert!(query.len() <= context_limits::ENTRIES);
        let chars: usize =
            query.iter().map(|(k, v)| k.chars().count() + v.as_str().map_or(0, |s| s.chars().count())).sum();
        assert!(chars <= context_limits::TOTAL, "{chars}");
        assert!(query.values().all(|v| v.as_str().is_some_and(|s| s.chars().count() <= context_limits::STRING)));

        let deep = json!({"a": {"b": {"c": {"d": {"e": 1}}}}});
        let (bounded, changed) = bounded_context(&deep);
        assert!(changed);
        assert_eq!(bounded, json!({"a": {"b": {"c": {"d": "…"}}}}));
    }
}
