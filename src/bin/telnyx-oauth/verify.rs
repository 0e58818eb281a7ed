//! `verify` (the library's verifier, one JSON line per token) and `decode` (no verification).

use std::io;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use clap::{Args, ValueEnum};
use serde::Serialize;
use serde_json::{Map, Value, json};
use telnyx_oauth::SigningAlgorithm;
use telnyx_oauth::verify::{TypProfile, Verified, Verifier, VerifyError};

use crate::common::{
    BoundedLines, EXIT_FAILED, EXIT_USAGE, Failure, Line, Outcome, algorithm, check_url,
    http_client, print_json, print_line, read_file, token_argument,
};

pub const VERIFY_HELP: &str = "\
Examples:
  telnyx-oauth verify --issuer https://as.example --audience https://api.example \"$TOKEN\"
  cat tokens.txt | telnyx-oauth verify --issuer https://as.example --audience api --jwks-file jwks.json

For each token prints exactly one JSON line, never the token itself:
  {\"valid\":true,\"iss\":…,\"sub\":…,\"aud\":…,\"scope\":…,\"exp\":…,\"kid\":…,\"alg\":…}
  {\"valid\":false,\"error\":\"<reason code>\",\"description\":\"…\"}
Reason codes are stable: too_large, malformed_segments, malformed_base64, malformed_json,
duplicate_member, alg_none, alg_not_allowed, alg_key_mismatch, crit, unsupported_header,
header_key, typ, invalid_kid, unknown_key, ambiguous_key, bad_signature, expired, not_yet_valid,
issued_in_future, missing_claim, invalid_claim, invalid_numeric_date, issuer_mismatch,
audience_mismatch, sender_constrained, keys_unavailable, introspection_unavailable.
Exit 0 when every token is valid, 1 when any is not, 2 on a usage or configuration error (e.g. an
unreadable JWKS).";

pub const DECODE_HELP: &str = "\
Example:
  telnyx-oauth decode \"$TOKEN\"

Prints {\"verified\":false,\"header\":{…},\"claims\":{…}}. Nothing is checked: use `verify` before
trusting any of it.";

/// `--typ`
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Typ {
    /// typ absent, JWT, at+jwt or application/at+jwt.
    Compat,
    /// RFC 9068: typ at+jwt and its required claims.
    Strict,
}

/// `verify`
#[derive(Args)]
pub struct VerifyArgs {
    /// The issuer: the required `iss`, and where keys are discovered unless --jwks-file or --jwks-uri
    /// says otherwise.
    #[arg(long, value_name = "URL")]
    issuer: String,
    /// An accepted audience (repeatable; at least one).
    #[arg(long = "audience", value_name = "AUDIENCE", required = true)]
    audiences: Vec<String>,
    /// A JWK Set file to take the keys from.
    #[arg(long, value_name = "FILE", conflicts_with = "jwks_uri")]
    jwks_file: Option<PathBuf>,
    /// A JWK Set URL to take the keys from.
    #[arg(long, value_name = "URL")]
    jwks_uri: Option<String>,
    /// An accepted algorithm (repeatable; default RS256, PS256, ES256, EdDSA and their longer variants).
    #[arg(long = "alg", value_name = "ALG")]
    algs: Vec<String>,
    /// Clock skew tolerated on exp, nbf and iat, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 30)]
    leeway: u64,
    /// Which `typ` headers are accepted.
    #[arg(long, value_enum, default_value_t = Typ::Compat)]
    typ: Typ,
    /// Verifies as if the time were this (seconds since the epoch), e.g. for a token from a log.
    #[arg(long, value_name = "UNIX_SECONDS")]
    now: Option<f64>,
    /// Tokens to verify (default: one per line on stdin).
    #[arg(value_name = "TOKEN")]
    tokens: Vec<String>,
}

pub async fn verify(args: VerifyArgs, allow_http: bool) -> Outcome {
    let mut builder = Verifier::builder();
    builder = match (&args.jwks_file, &args.jwks_uri) {
        (Some(path), _) => {
            let bytes = read_file(path, "JWKS")?;
            let jwks: Value = serde_json::from_slice(&bytes).map_err(|e| {
                Failure::usage(format!(
                    "the JWKS file `{}` is not JSON: {e}",
                    path.display()
                ))
            })?;
            builder.issuer_with_jwks(args.issuer.clone(), jwks)
        }
        (None, Some(uri)) => {
            check_url(uri, allow_http, "--jwks-uri")?;
            builder.issuer_with_jwks_uri(args.issuer.clone(), uri.clone())
        }
        (None, None) => {
            check_url(&args.issuer, allow_http, "--issuer")?;
            builder.issuer(args.issuer.clone())
        }
    };
    for audience in &args.audiences {
        builder = builder.audience(audience.clone());
    }
    if !args.algs.is_empty() {
        let algs = args
            .algs
            .iter()
            .map(|name| algorithm(name))
            .collect::<Result<Vec<_>, _>>()?;
        builder = builder.algorithms(algs);
    }
    builder = builder
        .leeway(Duration::from_secs(args.leeway))
        .typ_profile(match args.typ {
            Typ::Compat => TypProfile::Compat,
            Typ::Strict => TypProfile::Strict,
        })
        .http(http_client(allow_http)?)
        .fail_fast(true);
    if let Some(now) = args.now {
        builder = builder.clock(move || now);
    }
    // Without keys nothing can be judged: that is the configuration's fault, not the tokens'.
    let verifier = builder.build().await.map_err(|e| {
        Failure::from(e)
            .context("cannot load the keys")
            .exit_with(EXIT_USAGE)
    })?;

    let mut worst = 0u8;
    if args.tokens.is_empty() {
        let mut lines = BoundedLines::new(io::stdin().lock());
        while let Some(line) = lines.next_line()? {
            let (line, exit) = match line {
                Line::Text(text) if text.trim().is_empty() => continue,
                Line::Text(text) => judge(&verifier, text.trim()).await,
                Line::TooLong => (invalid_line(&VerifyError::TooLarge), EXIT_FAILED),
            };
            worst = worst.max(exit);
            print_line(&line)?;
        }
    } else {
        for token in &args.tokens {
            let (line, exit) = judge(&verifier, token).await;
            worst = worst.max(exit);
            print_line(&line)?;
        }
    }
    Ok(ExitCode::from(worst))
}

/// The line for one token, and the exit status it asks for.
async fn judge(verifier: &Verifier, token: &str) -> (String, u8) {
    match verifier.verify::<Value>(token).await {
        Ok(verified) => (valid_line(&verified), 0),
        // The keys went away mid-run: the verifier's outage, not the token's fault.
        Err(e) if e.is_unavailable() => (invalid_line(&e), EXIT_USAGE),
        Err(e) => (invalid_line(&e), EXIT_FAILED),
    }
}

/// One verified token, in the documented member order.
#[derive(Serialize)]
struct ValidLine<'a> {
    valid: bool,
    iss: &'a str,
    sub: Option<&'a str>,
    aud: Option<&'a Value>,
    scope: Option<String>,
    exp: Value,
    kid: Option<&'a str>,
    alg: Option<&'static str>,
}

/// One refused token: the stable reason code and a sentence (never the token).
#[derive(Serialize)]
struct InvalidLine<'a> {
    valid: bool,
    error: &'static str,
    description: &'a str,
}

fn valid_line(verified: &Verified<Value>) -> String {
    let scopes = verified.scopes();
    let line = ValidLine {
        valid: true,
        iss: verified.issuer(),
        sub: verified.subject(),
        aud: verified.claims().get("aud"),
        scope: (!scopes.is_empty()).then(|| scopes.join(" ")),
        exp: number(verified.standard().exp),
        kid: verified.kid(),
        alg: verified.alg().map(SigningAlgorithm::as_str),
    };
    serde_json::to_string(&line).unwrap_or_default()
}

fn invalid_line(error: &VerifyError) -> String {
    let description = error.to_string();
    let line = InvalidLine {
        valid: false,
        error: error.code(),
        description: &description,
    };
    serde_json::to_string(&line).unwrap_or_default()
}

/// Whole seconds print as integers.
fn number(seconds: f64) -> Value {
    // Whole seconds below 2^53 (every NumericDate the verifier accepts) are exact as integers.
    if seconds.fract() == 0.0 && seconds.abs() < 9_007_199_254_740_992.0 {
        json!(seconds as i64)
    } else {
        json!(seconds)
    }
}

/// `decode`
#[derive(Args)]
pub struct DecodeArgs {
    /// The token (default: the first line of stdin).
    #[arg(value_name = "TOKEN", allow_hyphen_values = true)]
    token: Option<String>,
}

pub fn decode(args: DecodeArgs) -> Outcome {
    let token = token_argument(args.token)?;
    let segments: Vec<&str> = token.split('.').collect();
    match segments.len() {
        3 => {}
        5 => {
            return Err(Failure::failed(
                "this is an encrypted token (JWE): its claims cannot be read without the key",
            ));
        }
        n => {
            return Err(Failure::failed(format!(
                "not a JWT: expected three dot-separated parts, found {n}"
            )));
        }
    }
    let header = part(segments[0], "header")?;
    let claims = part(segments[1], "payload")?;
    print_json(&Decoded {
        verified: false,
        header,
        claims,
    })?;
    Ok(ExitCode::SUCCESS)
}

/// What `decode` prints: labelled unverified first.
#[derive(Serialize)]
struct Decoded {
    verified: bool,
    header: Map<String, Value>,
    claims: Map<String, Value>,
}

fn part(segment: &str, name: &str) -> Result<Map<String, Value>, Failure> {
    let bytes = URL_SAFE_NO_PAD
        .decode(segment.trim_end_matches('='))
        .map_err(|_| Failure::failed(format!("not a JWT: the {name} is not base64url")))?;
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(Failure::failed(format!(
            "not a JWT: the {name} is not a JSON object"
        ))),
    }
}
