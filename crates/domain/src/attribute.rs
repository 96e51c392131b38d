//! ABAC attributes of users and tasks: typed scalar values stored in a canonical text form.

use crate::time::{Timestamp, format_micros, parse_rfc3339, serde_micros};
use serde::{Deserialize, Serialize};

/// The declared type of an attribute value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DataType {
    String,
    Number,
    Boolean,
    Datetime,
}

impl DataType {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "string" => Some(Self::String),
            "number" => Some(Self::Number),
            "boolean" => Some(Self::Boolean),
            "datetime" => Some(Self::Datetime),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Self::String => "string",
            Self::Number => "number",
            Self::Boolean => "boolean",
            Self::Datetime => "datetime",
        }
    }
}

/// A typed attribute value. Serialises to the JSON type matching its data type
/// (a datetime as an RFC 3339 string).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum AttributeValue {
    Boolean(bool),
    Number(serde_json::Number),
    #[serde(with = "serde_micros")]
    Datetime(Timestamp),
    String(String),
}

/// Longest accepted attribute value, in characters of its canonical text.
pub const MAX_VALUE_CHARS: usize = 1000;

impl AttributeValue {
    pub fn data_type(&self) -> DataType {
        match self {
            Self::Boolean(_) => DataType::Boolean,
            Self::Number(_) => DataType::Number,
            Self::Datetime(_) => DataType::Datetime,
            Self::String(_) => DataType::String,
        }
    }

    /// Builds a value from request JSON. Without `data_type` the type is inferred from the JSON
    /// type (a string is a `string`). Errors are the field message for `value`.
    pub fn from_json(value: &serde_json::Value, data_type: Option<DataType>) -> Result<Self, String> {
        use serde_json::Value as J;
        let parsed = match (data_type, value) {
            (None | Some(DataType::String), J::String(s)) => Self::String(s.clone()),
            (None | Some(DataType::Number), J::Number(n)) => Self::Number(n.clone()),
            (None | Some(DataType::Boolean), J::Bool(b)) => Self::Boolean(*b),
            (Some(DataType::Datetime), J::String(s)) => {
                Self::Datetime(parse_rfc3339(s).ok_or("must be an RFC 3339 date-time")?)
            }
            (None, _) => return Err("must be a string, number or boolean".into()),
            (Some(t), _) => return Err(format!("does not match data_type {}", t.as_str())),
        };
        if crate::text::char_len(&parsed.to_stored()) > MAX_VALUE_CHARS {
            return Err(format!("must be at most {MAX_VALUE_CHARS} characters"));
        }
        Ok(parsed)
    }

    /// The canonical text stored in the `value` column.
    pub fn to_stored(&self) -> String {
        match self {
            Self::Boolean(b) => b.to_string(),
            Self::Number(n) => n.to_string(),
            Self::Datetime(t) => format_micros(t),
            Self::String(s) => s.clone(),
        }
    }

    /// Reads the stored text back; `None` when it does not match the declared type.
    pub fn from_stored(text: &str, data_type: DataType) -> Option<Self> {
        Some(match data_type {
            DataType::String => Self::String(text.to_owned()),
            DataType::Number => Self::Number(text.parse().ok()?),
            DataType::Boolean => Self::Boolean(text.parse().ok()?),
            DataType::Datetime => Self::Datetime(parse_rfc3339(text)?),
        })
    }

    /// The value as a whole number, when it is one (`3` or `3.0`).
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Self::Number(n) => {
                n.as_i64().or_else(|| n.as_f64().filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15).map(|f| f as i64))
            }
            _ => None,
        }
    }
}

/// An attribute as the API shows it (docs/http-contract.md#shared-objects).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attribute {
    pub key: String,
    pub value: AttributeValue,
    pub data_type: DataType,
    pub source: String,
    #[serde(with = "serde_micros::option", default)]
    pub expires_at: Option<Timestamp>,
    pub active: bool,
    #[serde(with = "serde_micros")]
    pub created_at: Timestamp,
    #[serde(with = "serde_micros")]
    pub updated_at: Timestamp,
}

/// True for keys matching `^[a-z][a-z0-9_]{0,63}$`.
pub fn is_valid_key(key: &str) -> bool {
    let mut chars = key.chars();
    matches!(chars.next(), Some('a'..='z'))
        && key.len() <= 64
        && chars.all(|c| matches!(c, 'a'..='z' | '0'..='9' | '_'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn infers_and_round_trips_types() {
        let v = AttributeValue::from_json(&json!(2), None).expect("number");
        assert_eq!(v.data_type(), DataType::Number);
        assert_eq!(AttributeValue::from_stored(&v.to_stored(), DataType::Number), Some(v.clone()));
        assert_eq!(serde_json::to_value(&v).expect("json"), json!(2));
        assert!(AttributeValue::from_json(&json!("x"), Some(DataType::Number)).is_err());
        assert_eq!(AttributeValue::from_json(&json!(3.0), None).expect("n").as_i64(), Some(3));
    }

    #[test]
    fn keys_follow_the_pattern() {
        assert!(is_valid_key("clearance_level"));
        assert!(!is_valid_key("Bad Key"));
        assert!(!is_valid_key("1abc"));
        assert!(!is_valid_key(&"a".repeat(65)));
    }
}
