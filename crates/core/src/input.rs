//! Reading request members and query parameters at the edge of the use cases.
//!
//! The server guarantees a JSON object; this module tells absent from `null` from a value and
//! collects wrong JSON types (400 `invalid_request`) separately from rule violations
//! (400 `validation_failed`), because docs/http-contract.md#order-of-checks orders the first before the second.

use crate::error::{CoreError, CoreResult};
use serde_json::{Map, Value};
use taskify_domain::FieldError;
use taskify_domain::audit::context_limits;

/// A request member: absent, explicitly `null`, or a value.
#[derive(Debug, Clone, PartialEq)]
pub enum Field<T> {
    Absent,
    Null,
    Value(T),
}

impl<T> Field<T> {
    /// The value, treating `null` like absence.
    pub fn into_option(self) -> Option<T> {
        match self {
            Self::Value(v) => Some(v),
            _ => None,
        }
    }
    pub fn is_present(&self) -> bool {
        !matches!(self, Self::Absent)
    }
}

/// A JSON object body being read member by member.
#[derive(Debug)]
pub struct JsonInput {
    map: Map<String, Value>,
    type_errors: Vec<FieldError>,
}

impl JsonInput {
    pub fn new(map: Map<String, Value>) -> Self {
        Self { map, type_errors: Vec::new() }
    }

    fn take<T>(&mut self, name: &str, expected: &str, convert: impl FnOnce(Value) -> Option<T>) -> Field<T> {
        match self.map.get(name).cloned() {
            None => Field::Absent,
            Some(Value::Null) => Field::Null,
            Some(v) => match convert(v) {
                Some(t) => Field::Value(t),
                None => {
                    self.type_errors.push(FieldError::new(name, format!("must be {expected}")));
                    Field::Absent
                }
            },
        }
    }

    /// The whole object (for fingerprints).
    pub fn as_map(&self) -> &Map<String, Value> {
        &self.map
    }

    /// A string member.
    pub fn string(&mut self, name: &str) -> Field<String> {
        self.take(name, "a string", |v| match v {
            Value::String(s) => Some(s),
            _ => None,
        })
    }

    /// A boolean member.
    pub fn boolean(&mut self, name: &str) -> Field<bool> {
        self.take(name, "a boolean", |v| v.as_bool())
    }

    /// An integer member.
    pub fn integer(&mut self, name: &str) -> Field<i64> {
        self.take(name, "an integer", |v| v.as_i64())
    }

    /// Any JSON value.
    pub fn value(&mut self, name: &str) -> Field<Value> {
        self.take(name, "a value", Some)
    }

    /// Members outside `allowed`, each as `is not allowed` (allow-list endpoints).
    pub fn disallowed(&self, allowed: &[&str]) -> Vec<FieldError> {
        let mut errors: Vec<FieldError> = self
            .map
            .keys()
            .filter(|k| !allowed.contains(&k.as_str()))
            .map(|k| FieldError::new(k.clone(), "is not allowed"))
            .collect();
        errors.sort_by(|a, b| a.field.cmp(&b.field));
        errors
    }

    /// Fails with `invalid_request` naming every member of the wrong JSON type.
    pub fn finish(self) -> CoreResult<()> {
        if self.type_errors.is_empty() {
            Ok(())
        } else {
            Err(CoreError::InvalidRequest { message: "Invalid request format".into(), errors: self.type_errors })
        }
    }
}

/// Query parameters in arrival order. Unknown ones are ignored; for a repeated one the first wins.
#[derive(Debug, Clone, Default)]
pub struct QueryInput(Vec<(String, String)>);

impl QueryInput {
    pub fn new(pairs: Vec<(String, String)>) -> Self {
        Self(pairs)
    }

    /// Decodes a raw query string (`a=1&b=x%20y`); an undecodable one counts as empty.
    pub fn parse(raw: Option<&str>) -> Self {
        Self(raw.and_then(|q| serde_urlencoded::from_str(q).ok()).unwrap_or_default())
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// The parameters as a JSON object, for audit contexts: the first value of each name, and
    /// no more names than an audit context keeps plus one, so that a query of thousands of
    /// parameters costs no more than a short one and the cut still shows (the audit row is
    /// bounded, and marked as such, by `bounded_context`).
    pub fn to_json(&self) -> Value {
        let mut map = Map::new();
        for (k, v) in &self.0 {
            if map.len() > context_limits::ENTRIES {
                break;
            }
            map.entry(k.clone()).or_insert_with(|| Value::String(v.clone()));
        }
        Value::Object(map)
    }
}
