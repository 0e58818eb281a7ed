//! The hostile-input catalogue (DESIGN §5): every token minted by an independent implementation
//! (`tests/interop/mint-hostile.mjs`: jose and Node's OpenSSL), each with the outcome it must get.

mod support;

use serde_json::Value;
use support::verify_fixtures::{case, fixture};
use telnyx_oauth::verify::{TypProfile, Verifier, VerifyError};

async fn verifier(profile: TypProfile) -> Verifier {
    let tokens = fixture("tokens.json");
    let now = tokens["now"].as_f64().unwrap();
    Verifier::builder()
        .issuer_with_jwks(tokens["issuer"].as_str().unwrap(), fixture("jwks.json"))
        .audience(tokens["audience"].as_str().unwrap())
        .typ_profile(profile)
        .clock(move || now)
        .build()
        .await
        .unwrap()
}

fn code(result: &Result<telnyx_oauth::verify::Verified<Value>, VerifyError>) -> &'static str {
    match result {
        Ok(_) => "ok",
        Err(e) => e.code(),
    }
}

/// The cases of the catalogue, in `order`, that `v` judged otherwise than expected.
async fn wrong_outcomes<'a>(v: &Verifier, order: impl Iterator<Item = &'a Value>) -> Vec<String> {
    let mut failures = Vec::new();
    for case in order {
        let (name, token, expect) = (
            case["name"].as_str().unwrap(),
            case["token"].as_str().unwrap(),
            case["expect"].as_str().unwrap(),
        );
        let result = v.verify::<Value>(token).await;
        if code(&result) != expect {
            failures.push(format!("{name}: expected {expect}, got {}", code(&result)));
        }
        if let Err(e) = &result {
            // The reason never carries the token.
            assert!(
                !e.to_string().contains(token)
                    && !format!("{e:?}").contains(&token[..20.min(token.len())]),
                "{name}"
            );
        }
    }
    failures
}

#[tokio::test]
async fn every_case_of_the_catalogue_gets_its_outcome() {
    let v = verifier(TypProfile::Compat).await;
    let tokens = fixture("tokens.json");
    let cases = tokens["tokens"].as_array().unwrap();
    assert!(cases.len() >= 80);
    let failures = wrong_outcomes(&v, cases.iter()).await;
    assert!(
        failures.is_empty(),
        "{} of {} cases wrong:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// The verifier remembers the headers of tokens that verified and does not read them again: a
/// verifier that has seen every header — in either order — judges every case as a fresh one does.
#[tokio::test]
async fn remembered_headers_change_no_outcome() {
    let tokens = fixture("tokens.json");
    let cases = tokens["tokens"].as_array().unwrap();
    let v = verifier(TypProfile::Compat).await;
    for pass in ["first", "second"] {
        let failures = wrong_outcomes(&v, cases.iter()).await;
        assert!(failures.is_empty(), "{pass} pass:\n{}", failures.join("\n"));
    }
    let v = verifier(TypProfile::Compat).await;
    for pass in ["reversed", "reversed again"] {
        let failures = wrong_outcomes(&v, cases.iter().rev()).await;
        assert!(failures.is_empty(), "{pass} pass:\n{}", failures.join("\n"));
    }
}

#[tokio::test]
async fn valid_tokens_carry_their_claims_and_scopes() {
    let v = verifier(TypProfile::Compat).await;
    let tokens = fixture("tokens.json");
    let token = case(&tokens, "valid ES256");
    let verified = v.verify::<Value>(token).await.unwrap();
    assert_eq!(verified.issuer(), "https://issuer.test");
    assert_eq!(verified.subject(), Some("user-1"));
    assert_eq!(verified.client_id(), Some("client-1"));
    assert_eq!(verified.scopes(), ["read", "write"]);
    assert!(verified.has_scope("write") && !verified.has_scope("admin"));
    assert_eq!(verified.kid(), Some("es256"));
    assert_eq!(verified.claims()["jti"], "j1");
    #[derive(serde::Deserialize)]
    struct Mine {
        client_id: String,
    }
    assert_eq!(
        v.verify::<Mine>(token).await.unwrap().claims().client_id,
        "client-1"
    );
    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct Wrong {
        tenant: String,
    }
    assert_eq!(
        v.verify::<Wrong>(token).await.unwrap_err(),
        VerifyError::CustomClaims
    );
}

/// Claims as a `Value` are built on first read (verification reads only the registered ones): every
/// token of the catalogue that verifies carries exactly its payload, as an independent parse of it
/// reads it, built once and shared by every clone of its verification.
#[tokio::test]
async fn every_valid_token_carries_exactly_its_payload_built_once() {
    use base64::Engine;
    use std::sync::Arc;
    let v = verifier(TypProfile::Compat).await;
    let tokens = fixture("tokens.json");
    let mut valid = 0;
    for case in tokens["tokens"].as_array().unwrap() {
        let token = case["token"].as_str().unwrap();
        let Ok(verified) = v.verify::<Value>(token).await else {
            continue;
        };
        valid += 1;
        let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(token.split('.').nth(1).unwrap())
            .unwrap();
        let expected: Value = serde_json::from_slice(&payload).unwrap();
        let clone = verified.clone();
        assert_eq!(clone.claims(), &expected, "{}", case["name"]);
        assert!(Arc::ptr_eq(
            &verified.shared_claims(),
            &clone.shared_claims()
        ));
        drop(clone);
        assert_eq!(verified.into_claims(), expected);
        // Read only through `into_claims`, and once into another type.
        let unread = v.verify::<Value>(token).await.unwrap();
        assert_eq!(unread.into_claims(), expected);
        let unread = v.verify::<Value>(token).await.unwrap();
        type Map = std::collections::BTreeMap<String, Value>;
        let typed = unread.into_typed::<Map>().unwrap();
        let expected: Map = serde_json::from_value(expected).unwrap();
        assert_eq!(typed.claims(), &expected);
    }
    assert!(valid >= 10, "only {valid} valid cases");
}

#[tokio::test]
async fn the_strict_rfc_9068_profile_refuses_plain_jwt_types() {
    let v = verifier(TypProfile::Strict).await;
    let tokens = fixture("tokens.json");
    let by_name = |n: &str| case(&tokens, n).to_owned();
    assert!(v.verify::<Value>(&by_name("valid RS256")).await.is_ok());
    assert_eq!(
        v.verify::<Value>(&by_name("valid typ JWT"))
            .await
            .unwrap_err(),
        VerifyError::Typ
    );
    assert_eq!(
        v.verify::<Value>(&by_name("valid, no typ"))
            .await
            .unwrap_err(),
        VerifyError::Typ
    );
    // typ is a media type: `application/at+jwt` in any casing is `at+jwt`; `application/jwt` is `JWT`.
    for name in [
        "valid typ application/at+jwt",
        "valid typ Application/AT+JWT",
    ] {
        assert!(v.verify::<Value>(&by_name(name)).await.is_ok(), "{name}");
    }
    assert_eq!(
        v.verify::<Value>(&by_name("valid typ application/jwt"))
            .await
            .unwrap_err(),
        VerifyError::Typ
    );
}

#[tokio::test]
async fn header_supplied_keys_are_refused_by_default_and_only_ignored_on_request() {
    let tokens = fixture("tokens.json");
    let now = tokens["now"].as_f64().unwrap();
    let strict = verifier(TypProfile::Compat).await;
    let lenient = Verifier::builder()
        .issuer_with_jwks(tokens["issuer"].as_str().unwrap(), fixture("jwks.json"))
        .audience(tokens["audience"].as_str().unwrap())
        .ignore_header_keys(true)
        .clock(move || now)
        .build()
        .await
        .unwrap();
    for (name, member) in [
        ("jku on a token our key signed", "jku"),
        ("jwk on a token our key signed", "jwk"),
    ] {
        let t = case(&tokens, name);
        assert_eq!(
            strict.verify::<Value>(t).await.unwrap_err(),
            VerifyError::HeaderKey(member),
            "{name}"
        );
        // Ignored, not used: the issuer's own key verifies it.
        assert!(lenient.verify::<Value>(t).await.is_ok(), "{name}");
    }
    // An attacker's key named in the header is never used, ignored or not.
    for name in [
        "jku to the attacker",
        "x5c from the attacker",
        "embedded jwk, our kid",
    ] {
        assert_eq!(
            lenient
                .verify::<Value>(case(&tokens, name))
                .await
                .unwrap_err(),
            VerifyError::BadSignature,
            "{name}"
        );
    }
}

#[tokio::test]
async fn one_kid_may_name_keys_of_different_types_and_the_alg_chooses_between_them() {
    let tokens = fixture("shared-kid-tokens.json");
    let now = tokens["now"].as_f64().unwrap();
    let v = Verifier::builder()
        .issuer_with_jwks(
            tokens["issuer"].as_str().unwrap(),
            fixture("jwks-shared-kid.json"),
        )
        .audience(tokens["audience"].as_str().unwrap())
        .clock(move || now)
        .build()
        .await
        .unwrap();
    let cases = tokens["tokens"].as_array().unwrap();
    assert!(cases.len() >= 7);
    for c in cases {
        let (name, token, expect) = (
            c["name"].as_str().unwrap(),
            c["token"].as_str().unwrap(),
            c["expect"].as_str().unwrap(),
        );
        assert_eq!(code(&v.verify::<Value>(token).await), expect, "{name}");
    }
}

#[tokio::test]
async fn a_verifier_needs_an_issuer_and_an_audience() {
    let err = Verifier::builder().audience("a").build().await.unwrap_err();
    assert!(err.to_string().contains("issuer"));
    let err = Verifier::builder()
        .issuer_with_jwks("https://i", fixture("jwks.json"))
        .build()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("audience"));
}

#[tokio::test]
async fn hmac_issuers_verify_only_hmac_and_never_share_keys() {
    use base64::Engine;
    let secret = "a-local-secret-that-is-long-enough-for-hs256";
    let header =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256","typ":"JWT"}"#);
    let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(r#"{"iss":"https://local","aud":"api","exp":4102444800}"#);
    let input = format!("{header}.{payload}");
    let tag = aws_lc_rs::hmac::sign(
        &aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret.as_bytes()),
        input.as_bytes(),
    );
    let token = format!(
        "{input}.{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(tag.as_ref())
    );
    let v = Verifier::builder()
        .issuer_with_hmac(
            "https://local",
            telnyx_oauth::ClientSecret::new(secret),
            telnyx_oauth::SigningAlgorithm::HS256,
        )
        .issuer_with_jwks("https://issuer.test", fixture("jwks.json"))
        .audience("api")
        .build()
        .await
        .unwrap();
    assert!(v.verify::<Value>(&token).await.is_ok());
    // The same HMAC token claiming the JWKS issuer is refused: HS256 is never checked against JWKS keys.
    let other = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(r#"{"iss":"https://issuer.test","aud":"api","exp":4102444800}"#);
    let input = format!("{header}.{other}");
    let tag = aws_lc_rs::hmac::sign(
        &aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret.as_bytes()),
        input.as_bytes(),
    );
    let forged = format!(
        "{input}.{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(tag.as_ref())
    );
    assert_eq!(
        v.verify::<Value>(&forged).await.unwrap_err(),
        VerifyError::AlgNotAllowed
    );
}
