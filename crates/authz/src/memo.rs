//! The decision memo (docs/performance.md#decision-memo): a bounded map from everything a
//! decision reads to the decision, so that the same principal doing the same thing to the same
//! resource is decided by Cedar once, not on every request (~24 µs each, BENCHMARKS.md).
//!
//! The key is not a digest but the inputs themselves, serialised (key_encoding.rs): the whole principal (so a role,
//! permission, attribute, department or activation change gives a new key at once, and the old
//! entries become unreachable and age out), the action, the whole resource (a task's id, owner,
//! owner department and deletion, required clearance and active attributes; a collection's
//! owner facts) and the request context fields the policies read. Two inputs that differ in
//! anything the entity builder could look at never share an entry, so a memoised decision is
//! always the one Cedar would make.
//!
//! Time and the client address reach the policies only through the context (the principal and
//! the task attributes are already filtered by expiry before a decision). Which context fields
//! the loaded policies mention is found once, at load: the default set mentions none, so its
//! decisions do not depend on the request at all. A policy that reads `context.now` puts the
//! second into the key; one that uses the context in any other way (`context has …`, the whole
//! record) puts every field in it, `request_id` included, which turns the memo off in effect.

use crate::{Decision, DecisionContext, Resource};
use moka::sync::Cache;
use serde::Serialize;
use taskify_domain::Principal;

/// Upper bound of the memo, in bytes of keys and decisions (about 8 000 typical entries).
pub(crate) const MEMO_BYTES: u64 = 8 << 20;

/// Cost of an entry beyond its key and texts (moka's bookkeeping, the decision's vectors).
const ENTRY_OVERHEAD: usize = 96;

/// The fields of the request context (docs/authorization.md#entities), in key order.
const CONTEXT_FIELDS: [&str; 5] = ["now", "ip", "request_id", "method", "path"];

/// Which context fields the loaded policies can read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ContextUse([bool; 5]);

impl ContextUse {
    /// Scans the policy source (comments included: a mention there only costs memo hits) for
    /// the identifier `context`. `context.<field>` marks that field; any other use marks all.
    pub(crate) fn of_source(source: &str) -> Self {
        let mut used = [false; 5];
        let bytes = source.as_bytes();
        let is_ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
        let mut from = 0;
        while let Some(found) = source[from..].find("context") {
            let start = from + found;
            let end = start + "context".len();
            from = end;
            if (start > 0 && is_ident(bytes[start - 1])) || bytes.get(end).is_some_and(|b| is_ident(*b)) {
                continue;
            }
            let rest = source[end..].trim_start();
            let field = rest.strip_prefix('.').map(|r| {
                let r = r.trim_start();
                &r[..r.bytes().take_while(|b| is_ident(*b)).count()]
            });
            match field.and_then(|f| CONTEXT_FIELDS.iter().position(|known| *known == f)) {
                Some(i) => used[i] = true,
                None => return Self([true; 5]),
            }
        }
        Self(used)
    }
}

/// The context fields the policies read; the others are `None` in every key.
#[derive(Serialize)]
struct ContextKey<'a> {
    now: Option<i64>,
    ip: Option<Option<&'a str>>,
    request_id: Option<&'a str>,
    method: Option<&'a str>,
    path: Option<&'a str>,
}

/// Memoised decisions of one policy set (a new engine starts with an empty memo).
pub(crate) struct DecisionMemo {
    /// Hashed with foldhash: a key is the better part of a kilobyte, and SipHash over it was a
    /// visible share of a memoised decision (the map is seeded per process like SipHash's).
    decisions: Cache<Vec<u8>, Decision, foldhash::fast::RandomState>,
    context_use: ContextUse,
}

impl std::fmt::Debug for DecisionMemo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DecisionMemo").field("context_use", &self.context_use).finish_non_exhaustive()
    }
}

impl DecisionMemo {
    pub(crate) fn new(context_use: ContextUse, max_bytes: u64) -> Self {
        let decisions = Cache::builder()
            .max_capacity(max_bytes)
            .weigher(|key: &Vec<u8>, d: &Decision| {
                let texts = d.reason.len() + d.policy_ids.iter().map(String::len).sum::<usize>();
                u32::try_from(key.len() + texts + ENTRY_OVERHEAD).unwrap_or(u32::MAX)
            })
            .build_with_hasher(foldhash::fast::RandomState::default());
        Self { decisions, context_use }
    }

    /// The key of a decision: every input it reads, serialised. `None` if serialisation fails
    /// (it cannot for these types; the decision is then simply not memoised).
    pub(crate) fn key(
        &self,
        principal: &Principal,
        action: &str,
        resource: &Resource<'_>,
        ctx: &DecisionContext<'_>,
    ) -> Option<Vec<u8>> {
        let [now, ip, request_id, method, path] = self.context_use.0;
        let context = ContextKey {
            now: now.then_some(ctx.now_unix),
            ip: ip.then_some(ctx.ip),
            request_id: request_id.then_some(ctx.request_id),
            method: method.then_some(ctx.method),
            path: path.then_some(ctx.path),
        };
        let mut key = Vec::with_capacity(1024);
        crate::key_encoding::encode(&(principal, action, resource, context), &mut key).ok()?;
        Some(key)
    }

    pub(crate) fn get(&self, key: &[u8]) -> Option<Decision> {
        self.decisions.get(key)
    }

    pub(crate) fn insert(&self, key: Vec<u8>, decision: Decision) {
        self.decisions.insert(key, decision);
    }

    #[cfg(test)]
    pub(crate) fn entry_count(&self) -> u64 {
        self.decisions.run_pending_tasks();
        self.decisions.entry_count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_fields_are_found_and_other_uses_mark_all() {
        assert_eq!(ContextUse::of_source("permit (principal, action, resource);"), ContextUse([false; 5]));
        let now = ContextUse::of_source("permit (principal, action, resource) when { context.now > 5 };");
        assert_eq!(now, ContextUse([true, false, false, false, false]));
        let spaced = ContextUse::of_source("when { context . ip == \"1\" && context.path == \"/\" }");
        assert_eq!(spaced, ContextUse([false, true, false, false, true]));
        for whole in ["when { context has ip }", "when { context == {} }", "when { context.unknown }"] {
            assert_eq!(ContextUse::of_source(whole), ContextUse([true; 5]), "{whole}");
        }
        // Other identifiers that contain the word are not uses.
        assert_eq!(ContextUse::of_source("resource.contexts && my_context"), ContextUse([false; 5]));
    }
}
