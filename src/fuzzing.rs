//! Entry points for the `cargo fuzz` targets in `fuzz/` (feature `fuzzing`). Not a public API: it
//! exists so that the fuzzers reach the crate's internal parsers as they are, not copies of them.
//! Every function panics only when a property the crate promises is broken (a leaked secret, an
//! unbounded error text); the parsers themselves must never panic.

// Setting up the fixture verifier may panic: a fuzz target that cannot start must fail loudly.
#![allow(clippy::expect_used)]

use std::sync::OnceLock;
use std::time::SystemTime;

use http::{HeaderMap, HeaderValue, StatusCode};
use serde_json::Value;

use crate::http::Response;
use crate::jose::SigningAlgorithm;

/// The marker a secret-carrying input holds; it must never appear in any error text.
pub const SECRET: &str = "S3CR3T-MARKER-9f2c";

/// Error texts are bounded: a hostile body cannot make a log line grow without limit.
const MAX_ERROR_TEXT: usize = 4096;

fn response(status: u16, body: &[u8]) -> Response {
    let mut headers = HeaderMap::new();
    headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Response {
        status: StatusCode::from_u16(status).unwrap_or(StatusCode::OK),
        headers,
        body: body.to_vec(),
    }
}

fn check_bounded(err: &crate::Error) {
    for text in [err.to_string(), format!("{err:?}")] {
        assert!(text.len() <= MAX_ERROR_TEXT, "unbounded error text");
    }
}

fn check_error_text(err: &crate::Error) {
    check_bounded(err);
    for text in [err.to_string(), format!("{err:?}")] {
        assert!(!text.contains(SECRET), "a secret reached an error: {text}");
    }
}

/// A token response (status from the first byte) parsed as the token endpoint does.
pub fn token_response(data: &[u8]) {
    let (status, body) = match data.split_first() {
        Some((s, rest)) => (if s % 2 == 0 { 200 } else { 400 }, rest),
        None => (200, data),
    };
    let resp = response(status, body);
    if let Err(e) = crate::token::parse_token_response(
        &resp,
        tokio::time::Instant::now(),
        Response::error,
        false,
    ) {
        // Arbitrary text that is not a credential may be previewed; the secret-carrying target
        // checks redaction.
        check_bounded(&e);
    }
}

/// A token response whose first member — the name chosen by the fuzzer, escapes and all — holds
/// [`SECRET`], followed by whatever the fuzzer writes (truncations, duplicates, garbage). When the
/// name means a credential, the secret must stay out of every error.
pub fn secret_in_token_response(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let (name, tail) = text.split_once('\u{0}').unwrap_or((&text, ""));
    let body = format!(r#"{{"{name}":"{SECRET}"{tail}"#);
    // The fuzzer learns the marker and may write it into the name or the tail itself (say, inside
    // another member's name): that copy is the fuzzer's text, not the secret under test.
    if name.contains(SECRET) || tail.contains(SECRET) {
        return;
    }
    // What the member holding the secret is called, decoded. A name that stays in its string but
    // does not decode (a bad escape) may still mean a credential: judged as one. A name that leaves
    // its string (an unescaped `"`, as in `x":"y","access_token`) adds members: then the member
    // whose value is the secret decides, when the document up to the secret parses; otherwise the
    // secret's place (a member name, a nested value, garbage) cannot be judged and the input is
    // skipped.
    let names_a_credential = if breaks_out_of_its_string(name) {
        let probe = format!(r#"{{"{name}":"{SECRET}"}}"#);
        let Ok(serde_json::Value::Object(members)) = crate::json::parse(probe.as_bytes()) else {
            return;
        };
        let holders: Vec<&String> = members
            .iter()
            .filter(|(_, v)| v.as_str() == Some(SECRET))
            .map(|(k, _)| k)
            .collect();
        match holders.as_slice() {
            [holder] => crate::redact::is_sensitive_member(holder),
            _ => return,
        }
    } else {
        match crate::json::parse(format!(r#""{name}""#).as_bytes()) {
            Ok(serde_json::Value::String(decoded)) => crate::redact::is_sensitive_member(&decoded),
            _ => true,
        }
    };
    if !names_a_credential {
        return;
    }
    let resp = response(200, body.as_bytes());
    if let Err(e) = crate::token::parse_token_response(
        &resp,
        tokio::time::Instant::now(),
        Response::error,
        false,
    ) {
        check_error_text(&e);
    }
    let preview = crate::redact::body_preview(body.as_bytes());
    assert!(
        !preview.contains(SECRET),
        "a secret reached a preview: {preview}"
    );
}

/// Whether `name`, put between quotes, ends its JSON string early: an unescaped `"`.
fn breaks_out_of_its_string(name: &str) -> bool {
    let mut escaped = false;
    for c in name.chars() {
        match (escaped, c) {
            (true, _) => escaped = false,
            (false, '\\') => escaped = true,
            (false, '"') => return true,
            _ => {}
        }
    }
    // A trailing lone backslash escapes the closing quote: the string does not end where meant.
    escaped
}

/// A JSON document read as every security-relevant document is: strict JSON (and a token's claims
/// read in one pass, agreeing with it), then authorization-server and protected-resource metadata,
/// a JWK Set, and an introspection answer's shape.
pub fn documents(data: &[u8]) {
    // A token's claims are read in one pass that keeps only the registered claims: it must agree
    // with the full parser on every text.
    if let Ok(text) = std::str::from_utf8(data) {
        crate::verify::check_claims_read_agrees(text);
    }
    let Ok(value) = crate::json::parse(data) else {
        return;
    };
    let _ = serde_json::from_value::<crate::AuthorizationServerMetadata>(value.clone());
    let _ = serde_json::from_value::<crate::ProtectedResourceMetadata>(value.clone());
    let (keys, _) = crate::verify::ingest_jwks(&value, &SigningAlgorithm::ALL, 100);
    assert!(keys <= 100, "more keys than the limit");
    let resp = response(200, data);
    if let Err(e) = resp.json_value() {
        check_bounded(&e);
    }
}

/// `WWW-Authenticate` values as the bearer layer reads them after a 401.
pub fn www_authenticate(data: &[u8]) {
    let Ok(value) = HeaderValue::from_bytes(data) else {
        return;
    };
    let mut headers = HeaderMap::new();
    headers.append(http::header::WWW_AUTHENTICATE, value);
    let challenges = crate::bearer::parse_challenges(&headers);
    assert!(challenges.len() <= data.len() + 1);
    let _ = crate::http::retry_after(&headers, SystemTime::now());
}

/// `verify()` over arbitrary text, against the hostile-input fixtures' key set at their pinned time.
pub fn verify(data: &[u8]) {
    static VERIFIER: OnceLock<(tokio::runtime::Runtime, crate::verify::Verifier)> = OnceLock::new();
    let (rt, verifier) = VERIFIER.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("a runtime");
        let jwks: Value =
            serde_json::from_str(include_str!("../tests/fixtures/verify/jwks.json")).expect("jwks");
        let verifier = rt
            .block_on(
                crate::verify::Verifier::builder()
                    .issuer_with_jwks("https://issuer.test", jwks)
                    .audience("https://api.test")
                    .clock(|| 1_800_000_000.0)
                    .build(),
            )
            .expect("a verifier");
        (rt, verifier)
    });
    let Ok(token) = std::str::from_utf8(data) else {
        return;
    };
    // A refusal's text is built from static parts only (`VerifyError` holds no string of the token),
    // so it is checked for its bound, not searched for the token (fuzzed "tokens" are often words of
    // the messages themselves).
    if let Err(e) = rt.block_on(verifier.verify::<Value>(token)) {
        assert!(!e.code().is_empty());
        assert!(format!("{e} {e:?}").len() <= MAX_ERROR_TEXT);
    }
}
