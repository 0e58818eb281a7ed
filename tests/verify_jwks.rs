//! The JWKS cache against a local key server that rotates keys, fails, hangs, or misbehaves on cue.

mod support;

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use support::verify_fixtures::{case, fixture};
use telnyx_oauth::HttpClient;
use telnyx_oauth::verify::{JwksPolicy, KeysHealth, Verifier, VerifyError};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const ISSUER: &str = "https://issuer.test";
const AUDIENCE: &str = "https://api.test";
const NOW: f64 = 1_800_000_000.0;

fn rotation_token(which: &str) -> String {
    fixture("rotation-tokens.json")[which]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn serve_jwks(server: &MockServer, jwks: &Value) {
    server.reset().await;
    Mock::given(method("GET"))
        .and(path("/jwks"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(jwks.to_string(), "application/json"))
        .mount(server)
        .await;
}

async fn serve(server: &MockServer, response: ResponseTemplate) {
    server.reset().await;
    Mock::given(method("GET"))
        .and(path("/jwks"))
        .respond_with(response)
        .mount(server)
        .await;
}

async fn jwks_requests(server: &MockServer) -> usize {
    server.received_requests().await.unwrap().len()
}

fn builder(server: &MockServer, policy: JwksPolicy) -> telnyx_oauth::verify::VerifierBuilder {
    Verifier::builder()
        .issuer_with_jwks_uri(ISSUER, format!("{}/jwks", server.uri()))
        .audience(AUDIENCE)
        .http(HttpClient::new().unwrap().allow_http_loopback(true))
        .jwks_policy(policy)
        .clock(|| NOW)
}

#[tokio::test]
async fn rotation_a_new_kid_verifies_after_exactly_one_fetch_and_a_removed_key_stops_verifying() {
    let server = MockServer::start().await;
    serve_jwks(&server, &fixture("jwks-rotation-a.json")).await;
    let v = builder(&server, JwksPolicy::default())
        .build()
        .await
        .unwrap();
    let (a, b) = (rotation_token("a"), rotation_token("b"));
    v.verify::<Value>(&a).await.unwrap();
    assert_eq!(v.jwks_fetches(), 1);

    // The issuer rotates: the set now holds only key B.
    serve_jwks(&server, &fixture("jwks-rotation-b.json")).await;
    let verified = v.verify::<Value>(&b).await.unwrap();
    assert_eq!(verified.kid(), Some("rot-b"));
    assert_eq!(v.jwks_fetches(), 2, "exactly one refetch for the new kid");
    assert_eq!(jwks_requests(&server).await, 1);
    // Key A left the set with that successful fetch: gone at once, and no refetch inside the cooldown.
    assert_eq!(
        v.verify::<Value>(&a).await.unwrap_err(),
        VerifyError::UnknownKey
    );
    assert_eq!(v.jwks_fetches(), 2);
}

fn random_kid_token(i: usize) -> String {
    use base64::Engine;
    let e = |s: String| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
    format!(
        "{}.{}.{}",
        e(format!(
            r#"{{"alg":"RS256","kid":"flood-{i}-{:x}"}}"#,
            i * 7919
        )),
        e(format!(
            r#"{{"iss":"{ISSUER}","aud":"{AUDIENCE}","exp":{}}}"#,
            NOW + 60.0
        )),
        e("signature".into())
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_unknown_kids_costs_at_most_one_fetch_per_cooldown() {
    // Bounded: a hang here fails the test instead of stalling the suite. Unconstrained by tokio's
    // coop budget: awaiting 10 000 handles spends it, and wiremock's `MockServer::drop` then runs
    // `futures::executor::block_on` on a tokio lock, which with no budget left is refused forever —
    // a busy loop inside a synchronous drop that no timeout can end (the "flood test hang").
    tokio::time::timeout(
        Duration::from_secs(60),
        tokio::task::unconstrained(async {
            let server = MockServer::start().await;
            serve_jwks(&server, &fixture("jwks-rotation-a.json")).await;
            let v = builder(&server, JwksPolicy::default())
                .build()
                .await
                .unwrap();
            let handles: Vec<_> = (0..10_000)
                .map(|i| {
                    let v = v.clone();
                    tokio::spawn(async move { v.verify::<Value>(&random_kid_token(i)).await })
                })
                .collect();
            for h in handles {
                assert_eq!(h.await.unwrap().unwrap_err(), VerifyError::UnknownKey);
            }
            assert!(v.jwks_fetches() <= 2, "{} fetches", v.jwks_fetches());
            assert!(jwks_requests(&server).await <= 2);
            // The valid key still works all along.
            v.verify::<Value>(&rotation_token("a")).await.unwrap();
        }),
    )
    .await
    .expect("the flood test finished within 60 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_keeps_the_last_good_keys_without_slowing_requests() {
    let server = MockServer::start().await;
    serve_jwks(&server, &fixture("jwks-rotation-a.json")).await;
    // Backoff while failing is capped by the cooldown: 1 s here, so every phase sees an attempt.
    let policy = JwksPolicy::default()
        .with_fresh(Duration::from_millis(100))
        .with_miss_cooldown(Duration::from_secs(1));
    let v = builder(&server, policy).build().await.unwrap();
    let token = rotation_token("a");
    let html = ResponseTemplate::new(200).set_body_raw("<html>maintenance</html>", "text/html");
    let huge =
        ResponseTemplate::new(200).set_body_raw(vec![b' '; 10 * 1024 * 1024], "application/json");
    let redirect = ResponseTemplate::new(302).insert_header("location", "/elsewhere");
    let hang = ResponseTemplate::new(200)
        .set_body_raw(
            fixture("jwks-rotation-a.json").to_string(),
            "application/json",
        )
        .set_delay(Duration::from_secs(30));
    let no_keys = ResponseTemplate::new(200).set_body_raw(r#"{"keys":[]}"#, "application/json");
    for (what, response) in [
        ("500", ResponseTemplate::new(500)),
        ("HTML", html),
        ("10 MB body", huge),
        ("redirect", redirect),
        ("empty key set", no_keys),
        ("hanging", hang),
    ] {
        serve(&server, response).await;
        let before = jwks_requests(&server).await;
        let deadline = tokio::time::Instant::now() + Duration::from_millis(1500);
        while tokio::time::Instant::now() < deadline {
            let started = tokio::time::Instant::now();
            v.verify::<Value>(&token)
                .await
                .unwrap_or_else(|e| panic!("{what}: {e}"));
            assert!(
                started.elapsed() < Duration::from_secs(1),
                "{what}: a request waited for the key server"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(
            jwks_requests(&server).await > before,
            "{what}: the cache kept trying"
        );
        assert!(
            matches!(v.health()[0].1, KeysHealth::Stale { .. }),
            "{what}: {:?}",
            v.health()
        );
    }
    // Back to normal: fresh again.
    serve_jwks(&server, &fixture("jwks-rotation-a.json")).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !matches!(v.health()[0].1, KeysHealth::Loaded { .. }) {
        assert!(tokio::time::Instant::now() < deadline, "{:?}", v.health());
        v.verify::<Value>(&token).await.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn past_max_stale_verification_fails_closed_then_recovers() {
    let server = MockServer::start().await;
    serve_jwks(&server, &fixture("jwks-rotation-a.json")).await;
    let policy = JwksPolicy::default()
        .with_fresh(Duration::from_millis(100))
        .with_max_stale(Duration::from_millis(600));
    let v = builder(&server, policy).build().await.unwrap();
    let token = rotation_token("a");
    v.verify::<Value>(&token).await.unwrap();
    serve(&server, ResponseTemplate::new(503)).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    let err = v.verify::<Value>(&token).await.unwrap_err();
    assert!(err.is_unavailable(), "{err:?}");
    let VerifyError::KeysUnavailable { retry_after } = err else {
        unreachable!()
    };
    assert!(retry_after >= Duration::from_secs(1));
    assert_eq!(v.health()[0].1, KeysHealth::Unavailable);
    serve_jwks(&server, &fixture("jwks-rotation-a.json")).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        match v.verify::<Value>(&token).await {
            Ok(_) => break,
            Err(e) => assert!(
                e.is_unavailable() && tokio::time::Instant::now() < deadline,
                "{e:?}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn startup_is_fail_fast_by_default_or_degraded_by_choice() {
    let server = MockServer::start().await;
    serve(&server, ResponseTemplate::new(503)).await;
    assert!(
        builder(&server, JwksPolicy::default())
            .build()
            .await
            .is_err()
    );
    let v = builder(&server, JwksPolicy::default())
        .fail_fast(false)
        .build()
        .await
        .unwrap();
    assert_eq!(v.health()[0].1, KeysHealth::Unavailable);
    let token = rotation_token("a");
    assert!(
        v.verify::<Value>(&token)
            .await
            .unwrap_err()
            .is_unavailable()
    );
    serve_jwks(&server, &fixture("jwks-rotation-a.json")).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        match v.verify::<Value>(&token).await {
            Ok(_) => break,
            Err(e) => assert!(
                e.is_unavailable() && tokio::time::Instant::now() < deadline,
                "{e:?}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(matches!(v.health()[0].1, KeysHealth::Loaded { .. }));
}

#[tokio::test]
async fn discovery_finds_the_jwks_and_refuses_a_look_alike_issuer() {
    let server = MockServer::start().await;
    let issuer = server.uri();
    Mock::given(path("/.well-known/oauth-authorization-server"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            format!(r#"{{"issuer":"{issuer}","jwks_uri":"{issuer}/jwks"}}"#),
            "application/json",
        ))
        .mount(&server)
        .await;
    Mock::given(path("/jwks"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            fixture("jwks-rotation-a.json").to_string(),
            "application/json",
        ))
        .mount(&server)
        .await;
    let http = HttpClient::new().unwrap().allow_http_loopback(true);
    let v = Verifier::builder()
        .issuer(issuer.clone())
        .audience(AUDIENCE)
        .http(http.clone())
        .build()
        .await
        .unwrap();
    assert!(matches!(v.health()[0].1, KeysHealth::Loaded { .. }));
    let look_alike = issuer.replace("127.0.0.1", "localhost");
    assert!(
        Verifier::builder()
            .issuer(look_alike)
            .audience(AUDIENCE)
            .http(http)
            .build()
            .await
            .is_err()
    );
    let _ = Arc::new(());
}

#[tokio::test]
async fn the_verified_token_cache_is_bounded_and_drops_expired_tokens_and_retired_keys() {
    use std::sync::atomic::{AtomicU64, Ordering};
    let server = MockServer::start().await;
    serve_jwks(&server, &fixture("jwks-rotation-a.json")).await;
    let clock = Arc::new(AtomicU64::new(NOW as u64));
    let c = clock.clone();
    let v = Verifier::builder()
        .issuer_with_jwks_uri(ISSUER, format!("{}/jwks", server.uri()))
        .audience(AUDIENCE)
        .http(HttpClient::new().unwrap().allow_http_loopback(true))
        .clock(move || c.load(Ordering::SeqCst) as f64)
        .verified_cache(2)
        .build()
        .await
        .unwrap();
    let a = rotation_token("a");
    v.verify::<Value>(&a).await.unwrap();
    assert_eq!(v.cached_tokens(), 1);
    let again = v.verify::<Value>(&a).await.unwrap();
    assert_eq!(again.kid(), Some("rot-a"));
    assert_eq!(v.cached_tokens(), 1);
    // A token that is not byte-for-byte the same is verified in full (and refused here).
    let mut bytes = a.clone().into_bytes();
    let i = a.find('.').unwrap() + 10;
    bytes[i] = if bytes[i] == b'x' { b'y' } else { b'x' };
    let tampered = String::from_utf8(bytes).unwrap();
    assert!(v.verify::<Value>(&tampered).await.is_err());

    // The key retires: the cached entry is not used once its kid leaves the set.
    serve_jwks(&server, &fixture("jwks-rotation-b.json")).await;
    v.verify::<Value>(&rotation_token("b")).await.unwrap();
    assert_eq!(v.cached_tokens(), 2);
    assert_eq!(
        v.verify::<Value>(&a).await.unwrap_err(),
        VerifyError::UnknownKey
    );
    assert_eq!(v.cached_tokens(), 1, "the retired key's entry was dropped");

    // Expiry: past exp (+ leeway) the entry is dropped and the token refused.
    let b = rotation_token("b");
    v.verify::<Value>(&b).await.unwrap();
    clock.store(NOW as u64 + 3600 + 31, Ordering::SeqCst);
    assert_eq!(
        v.verify::<Value>(&b).await.unwrap_err(),
        VerifyError::Expired
    );
    assert_eq!(v.cached_tokens(), 0);
}

/// A cache hit shares what the first verification established: the claims are the same allocation
/// for the same claims type (no copy per hit), and another type is still served, from the stored
/// claims object.
#[tokio::test]
async fn a_verified_token_cache_hit_shares_the_claims_instead_of_copying_them() {
    let tokens = fixture("tokens.json");
    let now = tokens["now"].as_f64().unwrap();
    // The hostile-input fixtures' keys and clock, with or without a verified-token cache.
    let verifier = |cache: bool| {
        let builder = Verifier::builder()
            .issuer_with_jwks(ISSUER, fixture("jwks.json"))
            .audience(AUDIENCE)
            .clock(move || now);
        let builder = if cache {
            builder.verified_cache(10)
        } else {
            builder
        };
        async move { builder.build().await.unwrap() }
    };
    let v = verifier(true).await;
    let token = case(&tokens, "valid RS256");
    let first = v.verify::<Value>(token).await.unwrap();
    let hit = v.verify::<Value>(token).await.unwrap();
    assert_eq!(v.cached_tokens(), 1);
    assert!(Arc::ptr_eq(&first.shared_claims(), &hit.shared_claims()));
    assert_eq!(hit.claims()["jti"], "j1");
    assert_eq!(hit.scopes(), ["read", "write"]);
    assert_eq!(hit.subject(), Some("user-1"));
    // Taking the claims out of a shared verification clones them; the cache keeps its copy.
    let taken: Value = hit.into_claims();
    assert_eq!(&taken, first.claims());
    assert!(Arc::ptr_eq(
        &first.shared_claims(),
        &v.verify::<Value>(token).await.unwrap().shared_claims()
    ));

    #[derive(serde::Deserialize, Debug, PartialEq)]
    struct Mine {
        client_id: String,
        jti: String,
    }
    let typed = v.verify::<Mine>(token).await.unwrap();
    assert_eq!(
        *typed.claims(),
        Mine {
            client_id: "client-1".into(),
            jti: "j1".into()
        }
    );
    // Another type than the one cached is deserialized from the stored claims on every hit.
    let again = v.verify::<Mine>(token).await.unwrap();
    assert_eq!(typed.claims(), again.claims());
    assert!(!Arc::ptr_eq(&typed.shared_claims(), &again.shared_claims()));
    assert_eq!(v.cached_tokens(), 1);

    // A verifier whose cache first saw `Mine` shares `Mine` and still answers `Value`.
    let v2 = verifier(true).await;
    let a = v2.verify::<Mine>(token).await.unwrap();
    let b = v2.verify::<Mine>(token).await.unwrap();
    assert!(Arc::ptr_eq(&a.shared_claims(), &b.shared_claims()));
    assert_eq!(
        v2.verify::<Value>(token).await.unwrap().claims()["client_id"],
        "client-1"
    );
    // Without the cache, the claims belong to the caller alone and are moved out.
    let plain = verifier(false).await;
    let own = plain.verify::<Value>(token).await.unwrap();
    assert_eq!(Arc::strong_count(&own.shared_claims()), 2);
    assert_eq!(own.into_claims()["sub"], "user-1");
}
