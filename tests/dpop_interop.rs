//! DPoP (RFC 9449) against oidc-provider, which binds tokens to the key of the proof it receives:
//! our client's proofs accepted (with and without the server's nonce), the bound tokens checked by
//! our verifier with our proofs, and refused when replayed or presented as bearer tokens.

mod support;

use serde_json::Value;
use support::dpop::proof_headers;
use support::{Peer, jwt_part};
use telnyx_oauth::dpop::DpopKey;
use telnyx_oauth::verify::{DpopPolicy, DpopReason, Verifier, VerifyError};
use telnyx_oauth::{
    AccessToken, ClientAuth, ClientCredentials, ClientSecret, HttpClient, SigningAlgorithm,
    TokenEndpoint,
};

const RESOURCE: &str = "https://rs.test/rs256";

fn http() -> HttpClient {
    HttpClient::new().unwrap().allow_http_loopback(true)
}

fn endpoint(peer: &Peer, key: DpopKey) -> TokenEndpoint {
    TokenEndpoint::new_with_http(
        http(),
        &peer.token_url(),
        ClientAuth::basic("basic-client", ClientSecret::new("basic-secret")),
    )
    .unwrap()
    .with_dpop(key)
}

async fn verifier(peer: &Peer) -> Verifier {
    Verifier::builder()
        .issuer(peer.issuer.clone())
        .audience(RESOURCE)
        .http(http())
        .dpop(DpopPolicy::default())
        .build()
        .await
        .unwrap()
}

#[tokio::test]
async fn client_credentials_with_a_proof_gets_a_token_bound_to_our_key() {
    let peer = Peer::start();
    for alg in [SigningAlgorithm::ES256, SigningAlgorithm::EdDSA] {
        let key = DpopKey::generate(alg).unwrap();
        let jkt = key.thumbprint().to_owned();
        let token = endpoint(&peer, key)
            .client_credentials(&ClientCredentials::new().scope("read").resource(RESOURCE))
            .await
            .unwrap();
        assert!(
            token.is_dpop_bound(),
            "{alg}: token_type {}",
            token.token_type()
        );
        let at = token.access_token().secret().to_owned();
        assert_eq!(
            jwt_part(&at, 1)["cnf"]["jkt"],
            jkt.as_str(),
            "{alg}: bound to our key"
        );
        assert_eq!(jwt_part(&at, 1)["aud"], RESOURCE);
    }
}

#[tokio::test]
async fn a_bound_token_is_accepted_with_a_fresh_proof_refused_on_replay_and_refused_as_bearer() {
    let peer = Peer::start();
    // The client's key, loaded twice: one copy for the token endpoint, one for the API calls.
    let jwk = support::key_fixture("client-es256.private.jwk.json");
    let key = DpopKey::from_jwk(&jwk).unwrap();
    let client = endpoint(&peer, DpopKey::from_jwk(&jwk).unwrap());
    let token = client
        .client_credentials(&ClientCredentials::new().scope("read").resource(RESOURCE))
        .await
        .unwrap();
    assert!(token.is_dpop_bound());
    let at = token.access_token().secret();
    let verifier = verifier(&peer).await;
    let url = url::Url::parse("https://api.rs.test/v1/things?page=2").unwrap();
    let headers = proof_headers(&key, &http::Method::GET, &url, at);
    let verified = verifier
        .verify_dpop::<Value>(at, &http::Method::GET, &url, &headers)
        .await
        .unwrap();
    assert_eq!(verified.claims()["cnf"]["jkt"], key.thumbprint());
    // The same proof again: a replay.
    assert_eq!(
        verifier
            .verify_dpop::<Value>(at, &http::Method::GET, &url, &headers)
            .await
            .unwrap_err(),
        VerifyError::Dpop(DpopReason::Replayed)
    );
    // A proof for another method, and one from another key.
    let post = proof_headers(&key, &http::Method::POST, &url, at);
    assert_eq!(
        verifier
            .verify_dpop::<Value>(at, &http::Method::GET, &url, &post)
            .await
            .unwrap_err(),
        VerifyError::Dpop(DpopReason::Htm)
    );
    let thief = DpopKey::generate(SigningAlgorithm::ES256).unwrap();
    let stolen = proof_headers(&thief, &http::Method::GET, &url, at);
    assert_eq!(
        verifier
            .verify_dpop::<Value>(at, &http::Method::GET, &url, &stolen)
            .await
            .unwrap_err(),
        VerifyError::Dpop(DpopReason::Thumbprint)
    );
    // Presented as a bearer token (a downgrade, RFC 9449 §7.2): refused.
    assert_eq!(
        verifier.verify::<Value>(at).await.unwrap_err(),
        VerifyError::SenderConstrained
    );
    // A bearer token sent with the DPoP scheme: not bound.
    let bearer = TokenEndpoint::new_with_http(
        http(),
        &peer.token_url(),
        ClientAuth::basic("basic-client", ClientSecret::new("basic-secret")),
    )
    .unwrap()
    .client_credentials(&ClientCredentials::new().scope("read").resource(RESOURCE))
    .await
    .unwrap();
    assert!(!bearer.is_dpop_bound());
    let b = bearer.access_token().secret();
    let headers = proof_headers(&key, &http::Method::GET, &url, b);
    assert_eq!(
        verifier
            .verify_dpop::<Value>(b, &http::Method::GET, &url, &headers)
            .await
            .unwrap_err(),
        VerifyError::Dpop(DpopReason::NotBound)
    );
    verifier
        .verify::<Value>(b)
        .await
        .expect("bearer tokens are still accepted by default");
}

#[tokio::test]
async fn the_servers_nonce_challenge_costs_one_retry_then_the_nonce_is_remembered() {
    let peer = Peer::start_with(serde_json::json!({ "dpopNonce": true }));
    let client = endpoint(&peer, DpopKey::generate(SigningAlgorithm::ES256).unwrap());
    let request = ClientCredentials::new().scope("read").resource(RESOURCE);
    let first = client.client_credentials(&request).await.unwrap();
    assert!(first.is_dpop_bound());
    assert_eq!(
        peer.count("/oauth/token").await,
        2,
        "one use_dpop_nonce answer, one retry"
    );
    let second = client.client_credentials(&request).await.unwrap();
    assert!(second.is_dpop_bound());
    assert_eq!(
        peer.count("/oauth/token").await,
        3,
        "the remembered nonce was accepted at once"
    );
    // Without DPoP the same server still issues bearer tokens: the nonce is only for proofs.
    let plain = TokenEndpoint::new_with_http(
        http(),
        &peer.token_url(),
        ClientAuth::basic("basic-client", ClientSecret::new("basic-secret")),
    )
    .unwrap();
    assert!(
        !plain
            .client_credentials(&request)
            .await
            .unwrap()
            .is_dpop_bound()
    );
}

#[tokio::test]
async fn a_bound_refresh_token_is_refreshed_with_a_proof_and_stays_bound_to_the_same_key() {
    let peer = Peer::start();
    let key = DpopKey::generate(SigningAlgorithm::ES256).unwrap();
    let jkt = key.thumbprint().to_owned();
    let (endpoint, seed) = peer.refresh_grant_with(|e| e.with_dpop(key)).await;
    assert!(seed.is_dpop_bound(), "the code exchange carried a proof");
    assert_eq!(
        jwt_part(seed.access_token().secret(), 1)["cnf"]["jkt"],
        jkt.as_str()
    );
    let refreshed = endpoint
        .refresh(seed.refresh_token().unwrap(), &[])
        .await
        .unwrap();
    assert!(refreshed.is_dpop_bound());
    assert_eq!(
        jwt_part(refreshed.access_token().secret(), 1)["cnf"]["jkt"],
        jkt.as_str()
    );
}

/// Through `VerifyLayer`: `Authorization: DPoP` with a proof is let in; a replayed proof, no proof,
/// or the bound token as a bearer token are answered 401 with the challenge RFC 9449 §7.1 describes.
#[tokio::test]
async fn verify_layer_takes_the_dpop_scheme_and_answers_with_dpop_challenges() {
    use tower::{Layer, ServiceExt};
    let peer = Peer::start();
    let jwk = support::key_fixture("client-es256.private.jwk.json");
    let key = DpopKey::from_jwk(&jwk).unwrap();
    let token = endpoint(&peer, DpopKey::from_jwk(&jwk).unwrap())
        .client_credentials(&ClientCredentials::new().scope("read").resource(RESOURCE))
        .await
        .unwrap();
    let at = token.access_token().secret().to_owned();
    let external = url::Url::parse("https://api.rs.test/base").unwrap();
    let layer =
        telnyx_oauth::verify::VerifyLayer::new(verifier(&peer).await).external_url(external);
    let service = layer.layer(tower::service_fn(|req: http::Request<()>| async move {
        let verified = req
            .extensions()
            .get::<telnyx_oauth::verify::Verified>()
            .is_some();
        Ok::<_, std::convert::Infallible>(http::Response::new(format!("verified={verified}")))
    }));
    let target = url::Url::parse("https://api.rs.test/base/v1/things").unwrap();
    let request = |scheme: &str, proof: Option<&str>| {
        let mut b = http::Request::get("/v1/things?page=1")
            .header("host", "internal:8080")
            .header("authorization", format!("{scheme} {at}"));
        if let Some(p) = proof {
            b = b.header("dpop", p);
        }
        b.body(()).unwrap()
    };
    let proof = key
        .proof(
            &http::Method::GET,
            &target,
            Some(&AccessToken::new(&at)),
            None,
        )
        .unwrap();
    let ok = service
        .clone()
        .oneshot(request("DPoP", Some(&proof)))
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.body(), "verified=true");
    let challenge =
        |r: &http::Response<String>| r.headers()["www-authenticate"].to_str().unwrap().to_owned();
    let replayed = service
        .clone()
        .oneshot(request("DPoP", Some(&proof)))
        .await
        .unwrap();
    assert_eq!(replayed.status(), 401);
    let c = challenge(&replayed);
    assert!(
        c.starts_with("DPoP realm=\"api\", error=\"invalid_dpop_proof\""),
        "{c}"
    );
    assert!(c.contains("algs=\"ES256 ES384 EdDSA RS256 PS256\""), "{c}");
    let missing = service
        .clone()
        .oneshot(request("DPoP", None))
        .await
        .unwrap();
    assert_eq!(missing.status(), 401);
    assert!(challenge(&missing).contains("invalid_dpop_proof"));
    let downgraded = service
        .clone()
        .oneshot(request("Bearer", None))
        .await
        .unwrap();
    assert_eq!(downgraded.status(), 401);
    let c = challenge(&downgraded);
    assert!(
        c.starts_with("Bearer realm=\"api\", error=\"invalid_token\""),
        "{c}"
    );
    assert!(
        c.contains(", DPoP realm=\"api\", algs="),
        "both schemes offered: {c}"
    );
}

/// A refresh-token provider over a DPoP endpoint: the bound seed is served with its key, each refresh
/// carries a proof, and the refreshed token stays bound to the same key. A bound seed without the key
/// is refused at `build` rather than sent as a bearer token.
#[tokio::test]
async fn a_refresh_token_provider_keeps_a_bound_grant_bound_to_its_key() {
    let peer = Peer::start();
    let key = DpopKey::generate(SigningAlgorithm::ES256).unwrap();
    let jkt = key.thumbprint().to_owned();
    let (endpoint, seed) = peer.refresh_grant_with(|e| e.with_dpop(key)).await;
    let err = telnyx_oauth::TokenProvider::refresh_token(
        TokenEndpoint::new_with_http(
            http(),
            &peer.token_url(),
            ClientAuth::basic("code-client", ClientSecret::new("code-secret")),
        )
        .unwrap(),
        seed.clone(),
    )
    .unwrap()
    .build()
    .unwrap_err();
    assert!(err.to_string().contains("DPoP-bound"), "{err}");
    let provider = telnyx_oauth::TokenProvider::refresh_token(endpoint, seed)
        .unwrap()
        .build()
        .unwrap();
    let first = provider.token().await.unwrap();
    assert!(first.is_dpop_bound());
    let refreshed = provider.refresh().await.unwrap();
    assert_ne!(
        refreshed.access_token().secret(),
        first.access_token().secret()
    );
    assert!(refreshed.header().to_str().unwrap().starts_with("DPoP "));
    assert_eq!(
        jwt_part(refreshed.access_token().secret(), 1)["cnf"]["jkt"],
        jkt.as_str()
    );
}
