//! Keeping secrets out of text: the one placeholder, body previews with credential members redacted,
//! and log-safe truncation. Used by the error types and the secret wrappers alike.

use serde_json::Value;

/// What a secret is shown as, everywhere.
pub(crate) const REDACTED: &str = "[redacted]";

/// How many characters of a body an error keeps.
const PREVIEW_CHARS: usize = 256;

/// Members whose values are credentials, redacted before a body is previewed.
const SENSITIVE_MEMBERS: &[&str] = &[
    "access_token",
    "refresh_token",
    "id_token",
    "client_secret",
    "client_assertion",
    "code",
    "code_verifier",
    "assertion",
    "token",
    "password",
    "registration_access_token",
    "d",
    "p",
    "q",
    "dp",
    "dq",
    "qi",
    "k",
];

/// A short, printable start of a body, safe to log. Redaction works on the parsed value: JSON has its
/// credential members redacted, whatever escapes spell their names. A body that cannot be parsed is
/// shown only when it does not look like JSON (a truncated token response must not leak: its member
/// names may be `\u`-escaped past any substring check), holds no escape sequence, and mentions no
/// credential member; otherwise it is withheld entirely.
pub(crate) fn body_preview(body: &[u8]) -> String {
    if body.is_empty() {
        return String::new();
    }
    let text = match serde_json::from_slice::<Value>(body) {
        Ok(mut v) => {
            redact(&mut v);
            v.to_string()
        }
        Err(_) => {
            let lossy = String::from_utf8_lossy(body);
            let looks_like_json = lossy.trim_start().starts_with(['{', '[']);
            if looks_like_json
                || lossy.contains("\\u")
                || SENSITIVE_MEMBERS
                    .iter()
                    .filter(|m| m.len() > 4)
                    .any(|m| lossy.contains(m))
            {
                return format!("{REDACTED} (unparseable body that may hold a credential)");
            }
            lossy.into_owned()
        }
    };
    sanitize(&text, PREVIEW_CHARS)
}

/// Whether a member with this (decoded) name holds a credential.
pub(crate) fn is_sensitive_member(name: &str) -> bool {
    SENSITIVE_MEMBERS.contains(&name)
}

fn redact(v: &mut Value) {
    match v {
        Value::Object(map) => {
            for (k, val) in map.iter_mut() {
                if is_sensitive_member(k) {
                    *val = Value::String(REDACTED.to_owned());
                } else {
                    redact(val);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact),
        _ => {}
    }
}

/// At most `max` characters, control characters replaced, so a hostile body cannot forge log lines.
pub(crate) fn sanitize(text: &str, max: usize) -> String {
    let mut out: String = text
        .chars()
        .take(max)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if text.chars().nth(max).is_some() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preview_redacts_credentials_in_json() {
        let p = body_preview(br#"{"access_token":"eyJSECRET","token_type":"mac","nested":{"refresh_token":"rtSECRET"}}"#);
        assert!(!p.contains("SECRET"), "{p}");
        assert!(p.contains("token_type"));
    }

    #[test]
    fn preview_withholds_truncated_json_holding_a_credential() {
        let p = body_preview(br#"{"access_token":"eyJSECRET","tok"#);
        assert!(!p.contains("SECRET"), "{p}");
        // The member name escaped: no substring check can see it; the body is withheld all the same.
        let p = body_preview(br#"{"\u0061ccess_token":"eyJSECRET","tok"#);
        assert!(!p.contains("SECRET"), "{p}");
        let p = body_preview(br#"  [{"x":"eyJSECRET"#);
        assert!(!p.contains("SECRET"), "{p}");
        // A parseable body with an escaped name is redacted on the parsed value.
        let p = body_preview(br#"{"\u0061ccess_token":"eyJSECRET","token_type":"Bearer"}"#);
        assert!(!p.contains("SECRET") && p.contains("token_type"), "{p}");
        // Plain text without a credential member is still shown, to help debugging.
        assert_eq!(body_preview(b"Bad Gateway"), "Bad Gateway");
    }

    #[test]
    fn preview_is_bounded_and_has_no_control_characters() {
        let body = format!("<html>\n\r{}</html>", "x".repeat(10_000));
        let p = body_preview(body.as_bytes());
        assert!(p.chars().count() <= PREVIEW_CHARS + 1);
        assert!(!p.contains('\n') && !p.contains('\r'));
    }
}
