//! The verifier against the real authorization server's own JWT access tokens, found by discovery.

mod support;

use serde_json::Value;
use support::Peer;
use telnyx_oauth::verify::{TypProfile, Verifier, VerifyError};
use telnyx_oauth::{
    ClientAuth, ClientCredentials, ClientSecret, HttpClient, SigningAlgorithm, TokenEndpoint,
};

fn http() -> HttpClient {
    HttpClient::new().unwrap().allow_http_loopback(true)
}

async fn token_for(peer: &Peer, resource: &str) -> String {
    let endpoint = TokenEndpoint::new_with_http(
        http(),
        &peer.token_url(),
        ClientAuth::basic("basic-client", ClientSecret::new("basic-secret")),
    )
    .unwrap();
    let token = endpoint
        .client_credentials(
            &ClientCredentials::new()
                .scope("read")
                .scope("write")
                .resource(resource),
        )
        .await
        .unwrap();
    token.access_token().secret().to_owned()
}

#[tokio::test]
async fn the_servers_tokens_verify_in_all_four_algorithms_on_the_right_audience_only() {
    let peer = Peer::start();
    for (resource, alg) in [
        ("https://rs.test/rs256", SigningAlgorithm::RS256),
        ("https://rs.test/ps256", SigningAlgorithm::PS256),
        ("https://rs.test/es256", SigningAlgorithm::ES256),
        ("https://rs.test/eddsa", SigningAlgorithm::EdDSA),
    ] {
        let token = token_for(&peer, resource).await;
        let right = Verifier::builder()
            .issuer(peer.issuer.clone())
            .audience(resource)
            .http(http())
            .typ_profile(TypProfile::Strict)
            .build()
            .await
            .unwrap();
        let verified = right
            .verify::<Value>(&token)
            .await
            .unwrap_or_else(|e| panic!("{resource}: {e}"));
        assert_eq!(verified.alg(), Some(alg));
        assert_eq!(verified.client_id(), Some("basic-client"));
        assert_eq!(verified.scopes(), ["read", "write"]);
        assert_eq!(verified.issuer(), peer.issuer);
        let wrong = Verifier::builder()
            .issuer(peer.issuer.clone())
            .audience("https://rs.test/other")
            .http(http())
            .build()
            .await
            .unwrap();
        assert_eq!(
            wrong.verify::<Value>(&token).await.unwrap_err(),
            VerifyError::AudienceMismatch
        );
    }
}

#[tokio::test]
async fn a_token_from_another_server_is_refused() {
    let (a, b) = (Peer::start(), Peer::start());
    let token = token_for(&b, "https://rs.test/rs256").await;
    let v = Verifier::builder()
        .issuer(a.issuer.clone())
        .audience("https://rs.test/rs256")
        .http(http())
        .build()
        .await
        .unwrap();
    // Same keys (the fixtures), but another issuer: refused on `iss` before any key is used.
    assert_eq!(
        v.verify::<Value>(&token).await.unwrap_err(),
        VerifyError::IssuerMismatch
    );
}
