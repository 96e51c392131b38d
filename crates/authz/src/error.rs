//! Start-up errors of a policy set, worded for the operator who wrote the file: which file,
//! which policy (its `@id`), where (line and column), and what Cedar said.

use miette::Diagnostic;

/// Why a policy set could not be loaded. Every variant is a start-up error (docs/authorization.md#engine-and-policy-files).
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// The built-in entity schema does not parse: a bug in this crate, caught by its tests.
    #[error("entity schema (policies/schema.cedarschema): {0}")]
    Schema(String),
    /// The file is not valid Cedar.
    #[error("{origin}: syntax error: {details}")]
    Syntax { origin: String, details: String },
    /// A policy has no `@id` (or an empty one), shares its `@id` with another, or is a template
    /// (nothing links templates, so they would silently never apply).
    #[error("{origin}: {details}")]
    Identity { origin: String, details: String },
    /// A policy fails strict validation against the entity schema.
    #[error("{origin}: does not validate against the entity schema: {details}")]
    Validation { origin: String, details: String },
}

/// A 1-based line and column in a source text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Position {
    pub line: usize,
    pub column: usize,
}

impl Position {
    /// The position of byte `offset` in `source` (columns count characters, not bytes).
    pub(crate) fn of(source: &str, offset: usize) -> Self {
        let mut end = offset.min(source.len());
        while !source.is_char_boundary(end) {
            end -= 1;
        }
        let before = &source[..end];
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        Self { line: before.matches('\n').count() + 1, column: before[line_start..].chars().count() + 1 }
    }
}

impl std::fmt::Display for Position {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}, column {}", self.line, self.column)
    }
}

/// One problem: `policy "<id>" at line L, column C: <message>`, leaving out what is unknown.
pub(crate) fn describe(policy: Option<&str>, position: Option<Position>, message: &str) -> String {
    let mut out = String::new();
    if let Some(id) = policy {
        out.push_str(&format!("policy \"{id}\""));
    }
    if let Some(position) = position {
        out.push_str(if out.is_empty() { "at " } else { " at " });
        out.push_str(&position.to_string());
    }
    if out.is_empty() { message.to_owned() } else { format!("{out}: {message}") }
}

/// The message of a Cedar diagnostic followed by its help, if any.
pub(crate) fn message_with_help(diagnostic: &dyn Diagnostic) -> String {
    match diagnostic.help() {
        Some(help) => format!("{diagnostic} ({help})"),
        None => diagnostic.to_string(),
    }
}

/// Where a Cedar diagnostic points: the start of its first labelled span.
pub(crate) fn first_label_offset(diagnostic: &dyn Diagnostic) -> Option<usize> {
    diagnostic.labels()?.next().map(|label| label.offset())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based_lines_and_character_columns() {
        let source = "ab\ncdé\nfg";
        assert_eq!(Position::of(source, 0), Position { line: 1, column: 1 });
        assert_eq!(Position::of(source, 4), Position { line: 2, column: 2 });
        // 'é' is two bytes: the column of 'g' counts it once.
        assert_eq!(Position::of(source, source.len() - 1), Position { line: 3, column: 2 });
        assert_eq!(Position::of(source, 7), Position { line: 2, column: 4 });
        assert_eq!(
            describe(Some("x"), Some(Position { line: 1, column: 2 }), "bad"),
            "policy \"x\" at line 1, column 2: bad"
        );
        assert_eq!(describe(None, None, "bad"), "bad");
    }
}
