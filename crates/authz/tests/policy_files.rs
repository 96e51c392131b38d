//! Replacement policy files (`POLICY_FILE`, docs/authorization.md#engine-and-policy-files): a custom policy changes decisions, and
//! every broken file is refused with a message that names the file, the policy and where.

mod common;

use common::{CONTEXT, MANAGER, principal, task_of};
use taskify_authz::{PolicyEngine, PolicyError, Resource};
use uuid::Uuid;

const DEFAULT: &str = include_str!("../../../policies/default.cedar");

fn load_error(source: &str) -> PolicyError {
    match PolicyEngine::from_source(source, "/etc/taskify/custom.cedar") {
        Ok(_) => panic!("the file should have been refused:\n{source}"),
        Err(error) => error,
    }
}

#[test]
fn a_policy_forbidding_department_reads_changes_the_decision() {
    let mike = principal("manager", MANAGER, "engineering");
    let task = task_of(Uuid::new_v4(), "engineering", None);
    let default = PolicyEngine::default_policies().expect("default set");
    assert!(default.decide(&mike, "task:read", &Resource::Task(task), &CONTEXT).allowed);

    let custom = format!(
        "{DEFAULT}\n\
         // Department readers may no longer read other people's tasks.\n\
         @id(\"forbid-department-reads\")\n\
         forbid (principal, action == Action::\"task:read\", resource is Task)\n\
         when {{ resource.owner != principal && resource.owner_department == principal.department }};\n"
    );
    let engine = PolicyEngine::from_source(&custom, "custom.cedar").expect("custom set");
    let decision = engine.decide(&mike, "task:read", &Resource::Task(task), &CONTEXT);
    assert!(!decision.allowed);
    assert_eq!(decision.policy_ids, ["forbid-department-reads"]);
    assert_eq!(decision.reason, "denied by forbid-department-reads");
    // The manager's own tasks are unaffected.
    let own = task_of(mike.user_id, "engineering", None);
    let decision = engine.decide(&mike, "task:read", &Resource::Task(own), &CONTEXT);
    assert_eq!(decision.policy_ids, ["task-department-read", "task-owner"]);
}

#[test]
fn the_default_file_is_also_accepted_as_a_replacement_file() {
    let engine = PolicyEngine::from_source(DEFAULT, "policies/default.cedar").expect("default file");
    assert_eq!(engine.policy_ids().count(), 11);
}

#[test]
fn a_syntax_error_names_the_file_and_position() {
    let source =
        "@id(\"a\")\npermit (principal, action, resource);\n\n@id(\"b\")\npermit (principal, action resource);\n";
    let error = load_error(source);
    let message = error.to_string();
    assert!(matches!(error, PolicyError::Syntax { .. }), "{error:?}");
    assert!(message.starts_with("/etc/taskify/custom.cedar: syntax error: "), "{message}");
    assert!(message.contains("line 5, column 27"), "{message}");
}

#[test]
fn a_policy_without_id_names_the_file_and_position() {
    let source = "@id(\"a\")\npermit (principal, action, resource);\n\n// no id\npermit (principal, action, resource)\nwhen { principal.active };\n";
    let error = load_error(source);
    let message = error.to_string();
    assert!(matches!(error, PolicyError::Identity { .. }), "{error:?}");
    assert!(message.starts_with("/etc/taskify/custom.cedar: "), "{message}");
    assert!(message.contains("at line 5, column 1: missing @id annotation"), "{message}");
    // An empty @id is no better than none.
    let message = load_error("@id(\"\")\npermit (principal, action, resource);").to_string();
    assert!(message.contains("line 1, column 1: missing @id"), "{message}");
}

#[test]
fn a_duplicate_id_names_the_policy_and_position() {
    let source =
        "@id(\"same\")\npermit (principal, action, resource);\n@id(\"same\")\nforbid (principal, action, resource);\n";
    let message = load_error(source).to_string();
    assert!(message.contains("policy \"same\" at line 3, column 1: another policy already has this @id"), "{message}");
}

#[test]
fn a_template_is_refused() {
    let source = "@id(\"t\")\npermit (principal == ?principal, action, resource);\n";
    let message = load_error(source).to_string();
    assert!(message.contains("policy \"t\" at line 1, column 1: templates"), "{message}");
}

#[test]
fn a_policy_that_does_not_validate_names_the_policy_and_position() {
    let source = "@id(\"ok\")\npermit (principal, action, resource);\n\
                  @id(\"nickname\")\npermit (principal, action == Action::\"task:read\", resource)\n\
                  when { principal.nickname == \"mike\" };\n";
    let error = load_error(source);
    let message = error.to_string();
    assert!(matches!(error, PolicyError::Validation { .. }), "{error:?}");
    assert!(
        message.starts_with("/etc/taskify/custom.cedar: does not validate against the entity schema: "),
        "{message}"
    );
    assert!(message.contains("policy \"nickname\" at line 5, column 8"), "{message}");
    assert!(message.contains("nickname"), "{message}");

    // Unknown actions and entity types are validation errors too.
    let message =
        load_error("@id(\"x\")\npermit (principal, action == Action::\"task:frobnicate\", resource);").to_string();
    assert!(message.contains("policy \"x\"") && message.contains("task:frobnicate"), "{message}");
}
