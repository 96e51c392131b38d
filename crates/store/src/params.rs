//! Bind values for SQL assembled at run time (filters, sorts, multi-row inserts).
//!
//! Dynamic SQL only ever concatenates whitelisted fragments; every value goes through a
//! placeholder handed out by [`Params::push`], so nothing a caller supplies is interpolated.

use taskify_domain::{PageRequest, Paged, Timestamp};
use uuid::Uuid;

/// One portable bind value.
#[derive(Debug, Clone)]
pub(crate) enum Param {
    Uuid(Uuid),
    OptUuid(Option<Uuid>),
    Time(Timestamp),
    OptTime(Option<Timestamp>),
    Text(String),
    OptText(Option<String>),
    Int(i64),
    Bool(bool),
    Json(serde_json::Value),
    OptJson(Option<serde_json::Value>),
}

/// Bind values in placeholder order.
#[derive(Debug, Default)]
pub(crate) struct Params {
    values: Vec<Param>,
}

impl Params {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Adds a value and returns its placeholder (`$n`), which works on both backends.
    pub(crate) fn push(&mut self, value: Param) -> String {
        self.values.push(value);
        format!("${}", self.values.len())
    }

    pub(crate) fn into_values(self) -> Vec<Param> {
        self.values
    }
}

/// The `LIKE` pattern for "contains `needle`, ASCII case folded, taken literally": `%`, `_` and
/// the escape character itself are escaped for `ESCAPE '\'`.
pub(crate) fn contains_pattern(needle: &str) -> String {
    let mut pattern = String::with_capacity(needle.len() + 2);
    pattern.push('%');
    for c in needle.to_ascii_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// Page offsets are at most 1 000 000 × 100, far inside `i64`.
pub(crate) fn offset_of(offset: u64) -> i64 {
    i64::try_from(offset).unwrap_or(i64::MAX)
}

/// A list page with the count that came with it. `count_limit` is where the count stopped
/// (`None`: it counted every match); a count that reached it is a lower bound, flagged as
/// `total_capped` (docs/http-contract.md#pagination).
pub(crate) fn counted_page<T>(items: Vec<T>, counted: i64, page: &PageRequest, count_limit: Option<u64>) -> Paged<T> {
    let total = u64::try_from(counted).unwrap_or(0);
    let total_capped = count_limit.is_some_and(|limit| total >= limit);
    Paged { items, total, page: page.page, page_size: page.page_size, total_capped }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_metacharacters_are_escaped_and_ascii_folded() {
        assert_eq!(contains_pattern(r"50%_A\b"), r"%50\%\_a\\b%");
        assert_eq!(contains_pattern("ÄB"), "%Äb%");
    }

    #[test]
    fn placeholders_count_up() {
        let mut p = Params::new();
        assert_eq!(p.push(Param::Int(1)), "$1");
        assert_eq!(p.push(Param::Bool(true)), "$2");
        assert_eq!(p.into_values().len(), 2);
    }
}
