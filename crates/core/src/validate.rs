//! Validation of identity fields and passwords (docs/authentication.md#endpoints, docs/authentication.md#passwords-and-identity-fields), shared by register, profile
//! updates, the CLI and the admin bootstrap.

use taskify_domain::text::{char_len, check_line};

/// Characters that count as "special" for the password rules.
const SPECIAL: &str = "!@#$%^&*()_+-=[]{}|;:,.<>?";

/// Checks the password rules: 8–128 characters with an uppercase letter, a lowercase letter,
/// a digit and a special character. The message names the missing classes in the documented order.
pub fn password_problem(password: &str) -> Option<String> {
    let len = char_len(password);
    if !(8..=128).contains(&len) {
        return Some("must be between 8 and 128 characters".into());
    }
    let classes = [
        (password.chars().any(|c| c.is_ascii_uppercase()), "uppercase letter"),
        (password.chars().any(|c| c.is_ascii_lowercase()), "lowercase letter"),
        (password.chars().any(|c| c.is_ascii_digit()), "number"),
        (password.chars().any(|c| SPECIAL.contains(c)), "special character"),
    ];
    let missing: Vec<&str> = classes.iter().filter(|(ok, _)| !ok).map(|(_, name)| *name).collect();
    if missing.is_empty() { None } else { Some(format!("must contain at least one {}", missing.join(", "))) }
}

/// Trims and lowercases an email (ASCII only).
pub fn normalise_email(email: &str) -> String {
    email.trim().to_ascii_lowercase()
}

/// Checks a normalised email: `local@domain`, at most 254 printable ASCII characters, local part
/// 1–64 characters without `()<>[]\,;:"@`, domain of `[A-Za-z0-9-]` labels not starting or
/// ending with `-`, the last label with at least 2 letters.
pub fn email_problem(email: &str) -> Option<String> {
    let invalid = Some("must be a valid email address".to_owned());
    if email.len() > 254 {
        return Some("must be at most 254 characters".into());
    }
    if !email.chars().all(|c| c.is_ascii_graphic()) {
        return invalid;
    }
    let Some((local, domain)) = email.split_once('@') else {
        return invalid;
    };
    let local_ok = (1..=64).contains(&local.len()) && !local.chars().any(|c| "()<>[]\\,;:\"@".contains(c));
    let labels: Vec<&str> = domain.split('.').collect();
    let labels_ok = labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
    let tld_ok = labels.last().is_some_and(|l| l.chars().filter(|c| c.is_ascii_alphabetic()).count() >= 2);
    if local_ok && labels_ok && tld_ok { None } else { invalid }
}

/// Username: 3–50 characters of `[A-Za-z0-9_]` (after trimming).
pub fn username_problem(username: &str) -> Option<String> {
    if !(3..=50).contains(&char_len(username)) {
        Some("must be between 3 and 50 characters".into())
    } else if !username.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        Some("may contain only letters, digits and underscores".into())
    } else {
        None
    }
}

/// First or last name: 1–50 characters, single line.
pub fn name_problem(name: &str) -> Option<String> {
    check_line(name, 1, 50)
}

/// Department or position: at most 100 characters, single line.
pub fn org_field_problem(value: &str) -> Option<String> {
    check_line(value, 0, 100)
}

/// Login password: 1–128 characters (the rules are not re-checked at login).
pub fn login_password_problem(password: &str) -> Option<String> {
    let len = char_len(password);
    if (1..=128).contains(&len) { None } else { Some("must be between 1 and 128 characters".into()) }
}

/// `Some(trimmed)` or `None` for an optional org field where `""` means "no value".
pub fn optional_trimmed(value: Option<&str>) -> Option<String> {
    value.map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_messages_name_missing_classes_in_order() {
        assert_eq!(
            password_problem("weakpass").as_deref(),
            Some("must contain at least one uppercase letter, number, special character")
        );
        assert_eq!(password_problem("Test@123456"), None);
        assert!(password_problem(&format!("Aa1!{}", "x".repeat(125))).is_some());
    }

    #[test]
    fn emails_follow_the_spec_form() {
        for ok in ["john@example.com", "a.b+c@sub.example.co"] {
            assert_eq!(email_problem(ok), None, "{ok}");
        }
        for bad in ["nope", "a@b", "a@-x.com", "a b@x.com", "' or ''='", "a@x.c1", "@x.com", "a@x..com"] {
            assert!(email_problem(bad).is_some(), "{bad}");
        }
    }

    #[test]
    fn usernames_are_word_characters() {
        assert!(username_problem("john_doe").is_none());
        assert!(username_problem("ab").is_some());
        assert!(username_problem("admin'--").is_some());
    }
}
