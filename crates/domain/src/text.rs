//! Text rules shared by every layer (docs/http-contract.md#request-bodies-and-field-rules): lengths in code points, ASCII-only case folding,
//! control characters in single-line fields.

use std::borrow::Cow;
use std::fmt::Write as _;

/// Length in Unicode scalar values, as PostgreSQL `char_length` and SQLite `length` count.
pub fn char_len(s: &str) -> usize {
    s.chars().count()
}

/// True when `s` holds U+0000–U+001F or U+007F, which single-line fields reject.
pub fn has_control_chars(s: &str) -> bool {
    s.chars().any(|c| (c as u32) < 0x20 || c as u32 == 0x7f)
}

/// Checks a single-line text field: trimmed length within `min..=max` and no control characters.
/// Returns the message for the field error, or `None` when the value is fine.
pub fn check_line(value: &str, min: usize, max: usize) -> Option<String> {
    let len = char_len(value);
    if has_control_chars(value) {
        Some("must not contain control characters".into())
    } else if len < min || len > max {
        Some(if min == 0 {
            format!("must be at most {max} characters")
        } else {
            format!("must be between {min} and {max} characters")
        })
    } else {
        None
    }
}

/// `s` with every control character (C0, DEL and C1: Unicode category Cc) written as `\uXXXX`.
///
/// PostgreSQL refuses U+0000 in text and JSONB, and the others make log and terminal output
/// misleading; an escape keeps what the client sent readable without storing it raw.
pub fn escape_controls(s: &str) -> Cow<'_, str> {
    if !s.chars().any(char::is_control) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if c.is_control() {
            // Writing to a String cannot fail.
            let _ = write!(out, "\\u{:04X}", c as u32);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// At most `max` characters: a longer `s` is cut to `max - 1` and ends with `…`, so a cut value
/// can be told from a complete one.
pub fn truncate_chars(s: &str, max: usize) -> Cow<'_, str> {
    match s.char_indices().nth(max) {
        None => Cow::Borrowed(s),
        Some(_) if max == 0 => Cow::Owned(String::new()),
        Some(_) => {
            let cut = s.char_indices().nth(max - 1).map_or(s.len(), |(i, _)| i);
            Cow::Owned(format!("{}…", &s[..cut]))
        }
    }
}

/// Text recorded as the client sent it, in the form both databases store: control characters
/// escaped, then capped at `max` characters. `Cow::Owned` means the value was changed.
pub fn storable(s: &str, max: usize) -> Cow<'_, str> {
    match escape_controls(s) {
        Cow::Borrowed(b) => truncate_chars(b, max),
        Cow::Owned(o) => Cow::Owned(truncate_chars(&o, max).into_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_are_escaped_and_plain_text_is_borrowed() {
        assert!(matches!(escape_controls("plain text ü"), Cow::Borrowed("plain text ü")));
        assert_eq!(escape_controls("a\0b\tc\u{7f}\u{85}"), "a\\u0000b\\u0009c\\u007F\\u0085");
    }

    #[test]
    fn truncation_counts_characters_and_marks_the_cut() {
        assert!(matches!(truncate_chars("äbc", 3), Cow::Borrowed("äbc")));
        assert_eq!(truncate_chars("äbcd", 3), "äb…");
        assert_eq!(char_len(&truncate_chars(&"ü".repeat(600), 512)), 512);
        assert_eq!(truncate_chars("abc", 0), "");
    }

    #[test]
    fn storable_text_has_no_controls_and_fits() {
        let nuls = "\0".repeat(100);
        let stored = storable(&nuls, 10);
        assert_eq!(char_len(&stored), 10);
        assert!(!stored.chars().any(char::is_control), "{stored}");
        assert!(matches!(storable("/api/v1/tasks", 2048), Cow::Borrowed(_)));
    }
}
