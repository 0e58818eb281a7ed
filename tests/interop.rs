//! The protocol core against a real, independently written authorization server (oidc-provider).

mod support;

use support::{Peer, jwt_part, key_fixture, peer::REDIRECT_URI};
use telnyx_oauth::error::{OAuthErrorCode, UnexpectedReason};
use telnyx_oauth::{
    AuthorizationServerMetadata, ClientAuth, ClientCredentials, ClientSecret, Error, HttpClient,
    PkcePair, SigningAlgorithm, SigningKey, Token, TokenEndpoint,
};

fn http() -> HttpClient {
    HttpClient::new().unwrap().allow_http_loopback(true)
}

fn endpoint(peer: &Peer, auth: ClientAuth) -> TokenEndpoint {
    TokenEndpoint::new_with_http(http(), &peer.token_url(), auth).unwrap()
}

/// Checks the token is the peer's JWT access token for `client_id`, and returns its claims.
fn assert_client_token(peer: &Peer, token: &Token, client_id: &str) -> serde_json::Value {
    let jwt = token.access_token().secret();
    let header = jwt_part(jwt, 0);
    assert_eq!(header["typ"], "at+jwt");
    let claims = jwt_part(jwt, 1);
    assert_eq!(claims["iss"], peer.issuer.as_str());
    assert_eq!(claims["client_id"], client_id);
    assert_eq!(claims["sub"], client_id);
    assert!(token.expires_in().as_secs() > 0 && token.expires_in().as_secs() <= 300);
    claims
}

#[tokio::test]
async fn client_secret_basic_gets_a_token() {
    let peer = Peer::start();
    let ep = endpoint(
        &peer,
        ClientAuth::basic("basic-client", ClientSecret::new("basic-secret")),
    );
    let token = ep
        .client_credentials(&ClientCredentials::new().scope("read").scope("write"))
        .await
        .unwrap();
    let claims = assert_client_token(&peer, &token, "basic-client");
    assert_eq!(claims["scope"], "read write");
    assert_eq!(token.scope(), Some("read write"));
    assert_eq!(claims["aud"], "https://rs.test/rs256");
}

#[tokio::test]
async fn client_secret_post_gets_a_token() {
    let peer = Peer::start();
    let ep = endpoint(
        &peer,
        ClientAuth::post("post-client", ClientSecret::new("post-secret")),
    );
    let token = ep
        .client_credentials(&ClientCredentials::new().scope("read"))
        .await
        .unwrap();
    assert_client_token(&peer, &token, "post-client");
}

#[tokio::test]
async fn basic_auth_secret_with_special_characters_is_form_encoded() {
    let peer = Peer::start();
    let ep = endpoint(
        &peer,
        ClientAuth::basic("special-client", ClientSecret::new("p@ss:w/rd+%&= x")),
    );
    let token = ep
        .client_credentials(&ClientCredentials::new().scope("read"))
        .await
        .unwrap();
    assert_client_token(&peer, &token, "special-client");
}

#[tokio::test]
async fn client_secret_jwt_gets_a_token() {
    let peer = Peer::start();
    let secret = ClientSecret::new("a-client-secret-long-enough-for-hs256-0123456789");
    let ep = endpoint(
        &peer,
        ClientAuth::client_secret_jwt("secret-jwt-client", secret),
    );
    let token = ep
        .client_credentials(&ClientCredentials::new())
        .await
        .unwrap();
    assert_client_token(&peer, &token, "secret-jwt-client");
    // A fresh jti per attempt: a second request with the same client succeeds too (the peer accepts a jti once).
    let again = ep
        .client_credentials(&ClientCredentials::new())
        .await
        .unwrap();
    assert_client_token(&peer, &again, "secret-jwt-client");
}

#[tokio::test]
async fn private_key_jwt_with_every_key_format_and_algorithm() {
    let peer = Peer::start();
    let keys = [
        (
            "client-rs256.pem",
            SigningAlgorithm::RS256,
            "client-rs256",
            false,
        ),
        (
            "client-rs256.pkcs1.pem",
            SigningAlgorithm::RS256,
            "client-rs256",
            false,
        ),
        (
            "client-es256.pem",
            SigningAlgorithm::ES256,
            "client-es256",
            false,
        ),
        (
            "client-es256.sec1.pem",
            SigningAlgorithm::ES256,
            "client-es256",
            false,
        ),
        (
            "client-ps256.pem",
            SigningAlgorithm::PS256,
            "client-ps256",
            false,
        ),
        (
            "client-eddsa.pem",
            SigningAlgorithm::EdDSA,
            "client-eddsa",
            false,
        ),
        (
            "client-rs256.private.jwk.json",
            SigningAlgorithm::RS256,
            "client-rs256",
            true,
        ),
        (
            "client-es256.private.jwk.json",
            SigningAlgorithm::ES256,
            "client-es256",
            true,
        ),
        (
            "client-ps256.private.jwk.json",
            SigningAlgorithm::PS256,
            "client-ps256",
            true,
        ),
        (
            "client-eddsa.private.jwk.json",
            SigningAlgorithm::EdDSA,
            "client-eddsa",
            true,
        ),
    ];
    for (file, alg, kid, is_jwk) in keys {
        let bytes = key_fixture(file);
        let key = if is_jwk {
            let key = SigningKey::from_jwk(&bytes, None).unwrap();
            assert_eq!(key.algorithm(), alg, "{file}");
            assert_eq!(key.key_id(), Some(kid), "{file}");
            key
        } else {
            SigningKey::from_pem(&bytes, alg).unwrap().with_key_id(kid)
        };
        let ep = endpoint(
            &peer,
            ClientAuth::private_key_jwt("private-key-jwt-client", key),
        );
        let token = ep
            .client_credentials(&ClientCredentials::new().scope("read"))
            .await
            .unwrap_or_else(|e| panic!("{file}: {e}\n{}", peer.stderr()));
        assert_client_token(&peer, &token, "private-key-jwt-client");
    }
}

#[tokio::test]
async fn private_key_jwt_with_the_issuer_as_audience() {
    let peer = Peer::start();
    let key =
        SigningKey::from_pem(&key_fixture("client-es256.pem"), SigningAlgorithm::ES256).unwrap();
    let auth = ClientAuth::private_key_jwt("private-key-jwt-client", key)
        .with_assertion_audience(peer.issuer.clone());
    let token = endpoint(&peer, auth)
        .client_credentials(&ClientCredentials::new())
        .await
        .unwrap();
    assert_client_token(&peer, &token, "private-key-jwt-client");
}

#[tokio::test]
async fn an_unregistered_key_is_rejected_as_invalid_client() {
    let peer = Peer::start();
    // A key the client never registered: the PS256 private key under the RS256 key's kid.
    let key = SigningKey::from_pem(&key_fixture("client-ps256.pem"), SigningAlgorithm::RS256)
        .unwrap()
        .with_key_id("client-rs256");
    let err = endpoint(
        &peer,
        ClientAuth::private_key_jwt("private-key-jwt-client", key),
    )
    .client_credentials(&ClientCredentials::new())
    .await
    .unwrap_err();
    assert_eq!(err.oauth_code(), Some(&OAuthErrorCode::InvalidClient));
    assert!(err.is_permanent());
}

#[tokio::test]
async fn resource_indicator_selects_the_token_audience_and_algorithm() {
    let peer = Peer::start();
    let ep = endpoint(
        &peer,
        ClientAuth::basic("basic-client", ClientSecret::new("basic-secret")),
    );
    for (resource, alg) in [
        ("https://rs.test/es256", "ES256"),
        ("https://rs.test/eddsa", "EdDSA"),
        ("https://rs.test/ps256", "PS256"),
    ] {
        let token = ep
            .client_credentials(&ClientCredentials::new().resource(resource))
            .await
            .unwrap();
        let jwt = token.access_token().secret();
        assert_eq!(jwt_part(jwt, 0)["alg"], alg);
        assert_eq!(jwt_part(jwt, 1)["aud"], resource);
    }
}

#[tokio::test]
async fn bad_secret_is_a_permanent_invalid_client_with_status_401() {
    let peer = Peer::start();
    let ep = endpoint(
        &peer,
        ClientAuth::basic("basic-client", ClientSecret::new("wrong-secret")),
    );
    let err = ep
        .client_credentials(&ClientCredentials::new())
        .await
        .unwrap_err();
    let Error::OAuth(e) = &err else {
        panic!("expected an OAuth error, got {err:?}")
    };
    assert_eq!(e.code, OAuthErrorCode::InvalidClient);
    assert_eq!(e.status.as_u16(), 401);
    assert!(
        e.www_authenticate
            .as_deref()
            .unwrap_or("")
            .starts_with("Basic")
    );
    assert!(err.is_permanent());
    assert!(!err.to_string().contains("wrong-secret"));
    assert!(!format!("{err:?}").contains("wrong-secret"));
}

#[tokio::test]
async fn public_client_code_flow_with_pkce_then_refresh() {
    let peer = Peer::start();
    let pkce = PkcePair::generate().unwrap();
    let code = peer
        .authorize(
            "public-client",
            "openid read write",
            Some("https://rs.test/rs256"),
            Some(&pkce),
        )
        .await;
    let ep = endpoint(&peer, ClientAuth::none("public-client"));
    let token = ep
        .exchange_code(&code, REDIRECT_URI, Some(pkce.verifier()))
        .await
        .unwrap();
    let claims = jwt_part(token.access_token().secret(), 1);
    assert_eq!(claims["sub"], "test-user");
    assert_eq!(claims["client_id"], "public-client");
    let refresh = token
        .refresh_token()
        .expect("a refresh token after the code flow")
        .clone();

    let refreshed = ep.refresh(&refresh, &[]).await.unwrap();
    assert_eq!(
        jwt_part(refreshed.access_token().secret(), 1)["sub"],
        "test-user"
    );
    assert_ne!(refreshed.access_token(), token.access_token());
}

#[tokio::test]
async fn pkce_mismatch_is_invalid_grant() {
    let peer = Peer::start();
    let pkce = PkcePair::generate().unwrap();
    let code = peer
        .authorize("public-client", "openid read", None, Some(&pkce))
        .await;
    let other = PkcePair::generate().unwrap();
    let err = endpoint(&peer, ClientAuth::none("public-client"))
        .exchange_code(&code, REDIRECT_URI, Some(other.verifier()))
        .await
        .unwrap_err();
    assert_eq!(err.oauth_code(), Some(&OAuthErrorCode::InvalidGrant));
    assert!(err.is_permanent());
}

#[tokio::test]
async fn confidential_code_flow_refresh_can_narrow_but_not_widen_scope() {
    let peer = Peer::start();
    let (ep, token) = peer.refresh_grant().await;
    // With resource indicators the access token carries the resource's scopes only (not `openid`).
    assert_eq!(token.scope(), Some("read write"));
    let refresh = token.refresh_token().unwrap().clone();
    let narrowed = ep.refresh(&refresh, &["openid", "read"]).await.unwrap();
    assert_eq!(narrowed.scope(), Some("read"));
    assert_eq!(
        jwt_part(narrowed.access_token().secret(), 1)["scope"],
        "read"
    );
    let err = ep
        .refresh(&refresh, &["openid", "read", "admin"])
        .await
        .unwrap_err();
    assert_eq!(err.oauth_code(), Some(&OAuthErrorCode::InvalidScope));
}

#[tokio::test]
async fn discovery_finds_the_token_endpoint() {
    let peer = Peer::start();
    let metadata = AuthorizationServerMetadata::discover(&http(), &peer.issuer)
        .await
        .unwrap();
    assert_eq!(metadata.issuer, peer.issuer);
    assert_eq!(
        metadata.token_endpoint.as_deref(),
        Some(peer.token_url().as_str())
    );
    assert_eq!(
        metadata.jwks_uri.as_deref(),
        Some(peer.url("/oauth/jwks").as_str())
    );
    assert!(
        metadata
            .grant_types_supported
            .as_ref()
            .unwrap()
            .contains(&"client_credentials".to_owned())
    );
    assert!(
        metadata.extra.contains_key("claims_supported"),
        "unknown members are kept"
    );

    let ep = TokenEndpoint::discover(
        http(),
        &peer.issuer,
        ClientAuth::basic("basic-client", ClientSecret::new("basic-secret")),
    )
    .await
    .unwrap();
    assert_eq!(ep.url().as_str(), peer.token_url());
    let token = ep
        .client_credentials(&ClientCredentials::new())
        .await
        .unwrap();
    assert_client_token(&peer, &token, "basic-client");
}

#[tokio::test]
async fn discovery_rejects_an_issuer_mismatch() {
    let peer = Peer::start();
    // Same server, but an issuer string that differs from the one in its document.
    let other = peer.issuer.replace("127.0.0.1", "localhost");
    let err = AuthorizationServerMetadata::discover(&http(), &other)
        .await
        .unwrap_err();
    let Error::UnexpectedResponse(e) = &err else {
        panic!("expected a mismatch error, got {err:?}")
    };
    assert!(matches!(
        e.reason,
        UnexpectedReason::InvalidField {
            field: "issuer",
            ..
        }
    ));
    // A trailing slash is a different issuer too (RFC 8414 §3.3: exact comparison).
    assert!(
        AuthorizationServerMetadata::discover(&http(), &format!("{}/", peer.issuer))
            .await
            .is_err()
    );
}

#[tokio::test]
async fn plain_http_needs_the_loopback_opt_in() {
    let peer = Peer::start();
    let err = TokenEndpoint::new_with_http(
        HttpClient::new().unwrap(),
        &peer.token_url(),
        ClientAuth::basic("basic-client", ClientSecret::new("basic-secret")),
    )
    .unwrap_err();
    assert!(matches!(err, Error::Config(_)));
    assert!(err.to_string().contains("allow_http_loopback"));
}
