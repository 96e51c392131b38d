//! Text rules shared by every layer (SPEC §0.3): lengths in code points, ASCII-only case folding,
//! control characters in single-line fields.

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
