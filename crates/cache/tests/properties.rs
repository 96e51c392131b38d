//! Property tests for the glob patterns of cache eviction (`DELETE /cache/jobs/evict/{key}` and
//! eviction jobs): compiling and matching never panic, whatever the pattern or the text, and an
//! escaped literal matches exactly itself.

use proptest::prelude::*;
use taskify_cache::{Glob, escape_glob as escape, is_glob};

fn config() -> ProptestConfig {
    ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() }
}

/// Patterns rich in glob syntax, plus arbitrary text.
fn pattern() -> impl Strategy<Value = String> {
    prop_oneof!["[a-c*?\\[\\]\\\\^!-]{0,16}", any::<String>()]
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn compiling_and_matching_never_panic(pattern in pattern(), text in pattern(), bytes in prop::collection::vec(any::<u8>(), 0..24)) {
        let _ = is_glob(&pattern);
        if let Ok(glob) = Glob::new(&pattern) {
            let _ = glob.matches(&text);
            let _ = glob.matches_bytes(&bytes);
        }
        let lenient = Glob::lenient(&pattern);
        let _ = lenient.matches(&text);
    }

    #[test]
    fn an_escaped_literal_matches_itself_only(literal in pattern(), other in pattern()) {
        let glob = Glob::new(&escape(&literal));
        if literal.is_empty() {
            prop_assert!(glob.is_err());
        } else {
            let glob = glob.map_err(|e| TestCaseError::fail(format!("{literal:?}: {e}")))?;
            prop_assert!(glob.matches(&literal));
            prop_assert_eq!(glob.matches(&other), other == literal);
        }
    }

    #[test]
    fn a_star_suffix_matches_every_extension(prefix in "[a-z:]{1,10}", rest in any::<String>()) {
        let glob = Glob::new(&format!("{}*", escape(&prefix))).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let text = format!("{prefix}{rest}");
        prop_assert!(glob.matches(&text));
    }
}
