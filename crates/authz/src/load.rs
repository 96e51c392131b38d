//! Loading a policy file: parse, require an `@id` on every policy, re-key the set by those ids,
//! and validate it in strict mode against the schema (docs/authorization.md#engine-and-policy-files).
//!
//! Re-keying matters twice: Cedar reports the satisfied policies by their key, so the audit
//! log gets the `@id`s without a lookup per decision; and validation errors name the `@id`
//! instead of Cedar's generated `policy3`.

use crate::error::{PolicyError, Position, describe, first_label_offset, message_with_help};
use cedar_policy::{PolicyId, PolicySet, Schema, ValidationMode, Validator};
use std::str::FromStr;

/// The annotation that names a policy in decisions and in the audit log.
const ID_ANNOTATION: &str = "id";

/// Parses and validates `source`; `origin` names it in errors (a file path).
pub(crate) fn load(source: &str, origin: &str, schema: &Schema) -> Result<PolicySet, PolicyError> {
    let parsed = PolicySet::from_str(source).map_err(|errors| {
        let details = errors
            .iter()
            .map(|e| describe(None, first_label_offset(e).map(|o| Position::of(source, o)), &message_with_help(e)))
            .collect::<Vec<_>>()
            .join("; ");
        PolicyError::Syntax { origin: origin.to_owned(), details }
    })?;
    let keyed = key_by_annotation(&parsed, source, origin)?;
    validate(&keyed, schema, source, origin)?;
    Ok(keyed)
}

/// Cedar names parsed policies `policy0`, `policy1`… in source order, templates included:
/// the number orders them.
fn source_order(id: &PolicyId) -> usize {
    AsRef::<str>::as_ref(id).strip_prefix("policy").and_then(|n| n.parse().ok()).unwrap_or(usize::MAX)
}

/// Finds where each policy starts in `source`. A policy displays as its exact source text,
/// so searching in source order, each search starting where the previous policy ended,
/// finds every policy even when two have the same text.
fn positions<'a>(
    items: impl Iterator<Item = (&'a PolicyId, String)>,
    source: &str,
) -> Vec<(PolicyId, Option<Position>)> {
    let mut items: Vec<(&PolicyId, String)> = items.collect();
    items.sort_by_key(|(id, _)| source_order(id));
    let mut cursor = 0;
    items
        .into_iter()
        .map(|(id, text)| {
            let found = source.get(cursor..).and_then(|rest| rest.find(&text)).map(|i| cursor + i);
            if let Some(start) = found {
                cursor = start + text.len();
            }
            (id.clone(), found.map(|start| Position::of(source, start)))
        })
        .collect()
}

/// Rebuilds the set with each policy keyed by its `@id`, or reports every policy that lacks
/// one, repeats one, or is a template.
fn key_by_annotation(parsed: &PolicySet, source: &str, origin: &str) -> Result<PolicySet, PolicyError> {
    let texts =
        parsed.policies().map(|p| (p.id(), p.to_string())).chain(parsed.templates().map(|t| (t.id(), t.to_string())));
    let mut problems = Vec::new();
    let mut keyed = PolicySet::new();
    for (generated, position) in positions(texts, source) {
        if let Some(template) = parsed.template(&generated) {
            let id = template.annotation(ID_ANNOTATION);
            let message = "templates (policies with ?principal or ?resource) are not supported: nothing links them";
            problems.push(describe(id, position, message));
            continue;
        }
        let Some(policy) = parsed.policy(&generated) else { continue };
        match policy.annotation(ID_ANNOTATION).map(str::trim) {
            None | Some("") => {
                let message = "missing @id annotation: every policy must start with @id(\"<policy id>\")";
                problems.push(describe(None, position, message));
            }
            Some(id) => {
                if keyed.add(policy.new_id(PolicyId::new(id))).is_err() {
                    problems.push(describe(Some(id), position, "another policy already has this @id"));
                }
            }
        }
    }
    if problems.is_empty() {
        Ok(keyed)
    } else {
        Err(PolicyError::Identity { origin: origin.to_owned(), details: problems.join("; ") })
    }
}

/// Strict validation: policies that would fail at run time (a missing attribute, a type
/// mismatch, an unknown action or entity type) are refused at start-up instead.
fn validate(policies: &PolicySet, schema: &Schema, source: &str, origin: &str) -> Result<(), PolicyError> {
    let result = Validator::new(schema.clone()).validate(policies, ValidationMode::Strict);
    for warning in result.validation_warnings() {
        let position = first_label_offset(warning).map(|o| Position::of(source, o).to_string()).unwrap_or_default();
        tracing::warn!(origin, policy = %warning.policy_id(), %position, %warning, "policy validation warning");
    }
    let problems: Vec<String> = result
        .validation_errors()
        .map(|e| {
            let position = first_label_offset(e).map(|o| Position::of(source, o));
            let id = AsRef::<str>::as_ref(e.policy_id());
            let message = message_with_help(e);
            // Cedar starts its messages with "for policy `<id>`, ": the id is already in front.
            let message = message.strip_prefix(&format!("for policy `{id}`, ")).unwrap_or(&message);
            describe(Some(id), position, message)
        })
        .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(PolicyError::Validation { origin: origin.to_owned(), details: problems.join("; ") })
    }
}
