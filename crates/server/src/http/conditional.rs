//! Entity tags and the conditional headers of docs/http-contract.md#conditional-requests.

use axum::http::HeaderMap;
use taskify_core::CoreError;
use taskify_core::tasks::IfMatch;

use super::problem::ApiError;

/// One entity tag: weak or strong, with its opaque text.
struct Tag<'a> {
    weak: bool,
    opaque: &'a str,
}

/// Parses `*` (`None` returned as `Ok(None)`) or a comma-separated list of entity tags. The
/// opaque part of a tag may itself hold commas (RFC 9110 `etagc`), so tags are read quote to quote
/// rather than split on commas.
fn parse_tags(value: &str) -> Result<Option<Vec<Tag<'_>>>, ()> {
    let value = value.trim();
    if value == "*" {
        return Ok(None);
    }
    let separators: &[char] = &[',', ' ', '\t'];
    let mut tags = Vec::new();
    let mut rest = value.trim_start_matches(separators);
    while !rest.is_empty() {
        let (weak, quoted) = match rest.strip_prefix("W/") {
            Some(after) => (true, after),
            None => (false, rest),
        };
        let body = quoted.strip_prefix('"').ok_or(())?;
        let end = body.find('"').ok_or(())?;
        tags.push(Tag { weak, opaque: &body[..end] });
        let after = body[end + 1..].trim_start_matches([' ', '\t']);
        if !after.is_empty() && !after.starts_with(',') {
            return Err(());
        }
        rest = after.trim_start_matches(separators);
    }
    if tags.is_empty() { Err(()) } else { Ok(Some(tags)) }
}

/// `If-None-Match` against a version, compared weakly. An unparsable header never matches.
pub fn if_none_match(headers: &HeaderMap, version: i64) -> bool {
    let Some(value) = headers.get(axum::http::header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    match parse_tags(value) {
        Ok(None) => true,
        Ok(Some(tags)) => tags.iter().any(|t| t.opaque.parse::<i64>() == Ok(version)),
        Err(()) => false,
    }
}

/// `If-Match`, compared strongly (weak tags never match). A malformed value is 400.
pub fn if_match(headers: &HeaderMap) -> Result<Option<IfMatch>, ApiError> {
    let Some(value) = headers.get(axum::http::header::IF_MATCH) else {
        return Ok(None);
    };
    let malformed = || ApiError::Core(CoreError::invalid("Invalid If-Match header"));
    let value = value.to_str().map_err(|_| malformed())?;
    match parse_tags(value).map_err(|()| malformed())? {
        None => Ok(Some(IfMatch::Any)),
        Some(tags) => Ok(Some(IfMatch::Versions(
            tags.iter().filter(|t| !t.weak).filter_map(|t| t.opaque.parse::<i64>().ok()).collect(),
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(name: &'static str, value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(name, HeaderValue::from_str(value).expect("header"));
        h
    }

    #[test]
    fn if_none_match_is_weak_and_accepts_lists() {
        assert!(if_none_match(&headers("if-none-match", "W/\"3\""), 3));
        assert!(if_none_match(&headers("if-none-match", "\"1\", \"3\""), 3));
        assert!(if_none_match(&headers("if-none-match", "*"), 3));
        assert!(!if_none_match(&headers("if-none-match", "\"0\""), 3));
    }

    #[test]
    fn if_match_is_strong_and_rejects_garbage() {
        assert_eq!(if_match(&headers("if-match", "\"2\"")).ok().flatten(), Some(IfMatch::Versions(vec![2])));
        assert_eq!(if_match(&headers("if-match", "W/\"2\"")).ok().flatten(), Some(IfMatch::Versions(vec![])));
        assert_eq!(if_match(&headers("if-match", "*")).ok().flatten(), Some(IfMatch::Any));
        assert!(if_match(&headers("if-match", "2")).is_err());
    }
}
