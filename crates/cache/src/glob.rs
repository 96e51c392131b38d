//! Glob patterns with exactly the semantics of Redis `SCAN MATCH` / `KEYS` (`stringmatchlen` in
//! Redis' `util.c`), so that one pattern selects the same logical keys in L1 and in L2
//! (docs/cache.md#cross-instance-invalidation).
//!
//! `*` matches any run of bytes (also none), `?` exactly one byte, `[abc]`, `[a-z]` and `[^…]`
//! one byte of (or not of) a set, and `\x` the byte `x` literally (also inside brackets).
//! Matching is byte-wise and case-sensitive, as in Redis.

use std::fmt;

/// A pattern that is not a valid glob.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GlobError {
    /// The pattern is empty.
    #[error("the pattern is empty")]
    Empty,
    /// A `[` is never closed by `]`.
    #[error("unclosed '[' in pattern")]
    UnclosedBracket,
    /// The pattern ends with a lone `\`.
    #[error("the pattern ends with a lone '\\'")]
    TrailingBackslash,
}

/// True when `key` contains a glob metacharacter (`*`, `?` or `[`): docs/cache.md#administration-endpoints treats such an
/// eviction key as a pattern.
pub fn is_glob(key: &str) -> bool {
    key.bytes().any(|b| matches!(b, b'*' | b'?' | b'['))
}

/// Escapes every glob metacharacter of `literal`, so that it matches only itself (used for the
/// key prefix in `SCAN MATCH`).
pub fn escape(literal: &str) -> String {
    let mut out = String::with_capacity(literal.len() + 4);
    for c in literal.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Star,
    AnyByte,
    Byte(u8),
    Class { negated: bool, items: Vec<ClassItem> },
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum ClassItem {
    Byte(u8),
    Range(u8, u8),
}

/// A compiled glob pattern.
#[derive(Clone, PartialEq, Eq)]
pub struct Glob {
    source: String,
    tokens: Vec<Token>,
}

impl Glob {
    /// Compiles a pattern, rejecting what Redis would silently reinterpret: an empty pattern, an
    /// unclosed `[` and a trailing lone `\`.
    pub fn new(pattern: &str) -> Result<Self, GlobError> {
        if pattern.is_empty() {
            return Err(GlobError::Empty);
        }
        let (tokens, unclosed, trailing_backslash) = tokenize(pattern.as_bytes());
        if unclosed {
            return Err(GlobError::UnclosedBracket);
        }
        if trailing_backslash {
            return Err(GlobError::TrailingBackslash);
        }
        Ok(Self { source: pattern.to_owned(), tokens })
    }

    /// Compiles any pattern the way Redis reads it (used for patterns received from other
    /// instances, which validated them already).
    pub fn lenient(pattern: &str) -> Self {
        let (tokens, _, _) = tokenize(pattern.as_bytes());
        Self { source: pattern.to_owned(), tokens }
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Whether the pattern matches the whole of `text`.
    pub fn matches(&self, text: &str) -> bool {
        matches_tokens(&self.tokens, text.as_bytes())
    }

    /// Whether the pattern matches the whole of `bytes` (Redis keys are byte strings).
    pub fn matches_bytes(&self, bytes: &[u8]) -> bool {
        matches_tokens(&self.tokens, bytes)
    }
}

impl fmt::Debug for Glob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Glob({:?})", self.source)
    }
}

impl fmt::Display for Glob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

/// Reads the pattern exactly as `stringmatchlen` walks it. Returns the tokens, whether a bracket
/// was left unclosed and whether the pattern ends with a lone backslash.
fn tokenize(p: &[u8]) -> (Vec<Token>, bool, bool) {
    let mut tokens = Vec::new();
    let mut unclosed = false;
    let mut trailing_backslash = false;
    let mut i = 0;
    while i < p.len() {
        match p[i] {
            b'*' => {
                if tokens.last() != Some(&Token::Star) {
                    tokens.push(Token::Star);
                }
                i += 1;
            }
            b'?' => {
                tokens.push(Token::AnyByte);
                i += 1;
            }
            b'[' => {
                i += 1;
                let negated = p.get(i) == Some(&b'^');
                if negated {
                    i += 1;
                }
                let mut items = Vec::new();
                loop {
                    let remaining = p.len() - i;
                    if remaining == 0 {
                        // Redis treats the end of the pattern as the end of the class.
                        unclosed = true;
                        break;
                    }
                    if p[i] == b'\\' && remaining >= 2 {
                        items.push(ClassItem::Byte(p[i + 1]));
                        i += 2;
                    } else if p[i] == b']' {
                        i += 1;
                        break;
                    } else if remaining >= 3 && p[i + 1] == b'-' {
                        let (a, b) = (p[i], p[i + 2]);
                        items.push(ClassItem::Range(a.min(b), a.max(b)));
                        i += 3;
                    } else {
                        items.push(ClassItem::Byte(p[i]));
                        i += 1;
                    }
                }
                tokens.push(Token::Class { negated, items });
            }
            b'\\' => {
                if i + 1 < p.len() {
                    tokens.push(Token::Byte(p[i + 1]));
                    i += 2;
                } else {
                    trailing_backslash = true;
                    tokens.push(Token::Byte(b'\\'));
                    i += 1;
                }
            }
            b => {
                tokens.push(Token::Byte(b));
                i += 1;
            }
        }
    }
    (tokens, unclosed, trailing_backslash)
}

fn single_matches(token: &Token, c: u8) -> bool {
    match token {
        Token::Star => true,
        Token::AnyByte => true,
        Token::Byte(b) => *b == c,
        Token::Class { negated, items } => {
            let hit = items.iter().any(|item| match *item {
                ClassItem::Byte(b) => b == c,
                ClassItem::Range(lo, hi) => (lo..=hi).contains(&c),
            });
            hit != *negated
        }
    }
}

/// Classic wildcard matching with backtracking to the last star: every token other than `*`
/// consumes exactly one byte, so this decides the same language as Redis' recursive matcher.
fn matches_tokens(tokens: &[Token], s: &[u8]) -> bool {
    let (mut t, mut i) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while i < s.len() {
        if t < tokens.len() && tokens[t] == Token::Star {
            star = Some((t, i));
            t += 1;
        } else if t < tokens.len() && single_matches(&tokens[t], s[i]) {
            t += 1;
            i += 1;
        } else if let Some((st, si)) = star {
            t = st + 1;
            i = si + 1;
            star = Some((st, si + 1));
        } else {
            return false;
        }
    }
    tokens[t..].iter().all(|tok| *tok == Token::Star)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, s: &str) -> bool {
        Glob::new(p).expect("valid").matches(s)
    }

    #[test]
    fn stars_and_question_marks() {
        assert!(m("*", ""));
        assert!(m("*", "anything"));
        assert!(m("user:*", "user:123"));
        assert!(m("user:*", "user:"));
        assert!(!m("user:*", "users:1"));
        assert!(m("a*b*c", "axxbyyc"));
        assert!(!m("a*b*c", "axxbyy"));
        assert!(m("h?llo", "hello"));
        assert!(!m("h?llo", "hllo"));
        assert!(m("*:*:x", "a:b:c:x"));
        assert!(m("**a", "bba"));
    }

    #[test]
    fn brackets_ranges_negation_and_escapes() {
        assert!(m("h[ae]llo", "hallo"));
        assert!(!m("h[ae]llo", "hillo"));
        assert!(m("h[^e]llo", "hallo"));
        assert!(!m("h[^e]llo", "hello"));
        assert!(m("h[a-b]llo", "hbllo"));
        assert!(m("h[b-a]llo", "hallo"), "Redis swaps reversed ranges");
        assert!(m("a\\*b", "a*b"));
        assert!(!m("a\\*b", "axb"));
        assert!(m("[\\]]", "]"));
        assert!(!m("x[]]", "x]"), "Redis reads `[]` as an empty class");
    }

    #[test]
    fn invalid_patterns_are_rejected() {
        assert_eq!(Glob::new(""), Err(GlobError::Empty));
        assert_eq!(Glob::new("user:[ab"), Err(GlobError::UnclosedBracket));
        assert_eq!(Glob::new("user:\\"), Err(GlobError::TrailingBackslash));
    }

    #[test]
    fn escape_makes_a_literal() {
        let prefix = "t*e?s[t]\\:";
        let g = Glob::new(&format!("{}*", escape(prefix))).expect("valid");
        assert!(g.matches(&format!("{prefix}key")));
        assert!(!g.matches("tXe?s[t]\\:key"));
    }

    #[test]
    fn detects_glob_keys() {
        assert!(is_glob("user:*"));
        assert!(is_glob("a?"));
        assert!(is_glob("a[b]"));
        assert!(!is_glob("user:123"));
    }
}
