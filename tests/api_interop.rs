//! The Telnyx API client against the real authorization server: discovery, JWKS, dynamic
//! registration (then a token for the new client), introspection of an opaque token, and the
//! authorize URL driving the scripted code flow with PKCE to a token.

mod support;

use support::Peer;
use support::peer::REDIRECT_URI;
use telnyx_oauth::api::{
    AuthorizeRequest, GrantType, RegistrationRequest, Telnyx, TokenEndpointAuthMethod,
};
use telnyx_oauth::{ClientAuth, ClientCredentials, ClientSecret, HttpClient, TokenEndpoint};

fn http() -> HttpClient {
    HttpClient::new().unwrap().allow_http_loopback(true)
}

fn telnyx(peer: &Peer, auth: ClientAuth) -> Telnyx {
    Telnyx::builder()
        .base_url(peer.issuer.clone())
        .http(http())
        .client_auth(auth)
        .build()
        .unwrap()
}

#[tokio::test]
async fn discovery_jwks_registration_and_introspection() {
    let peer = Peer::start();
    let t = telnyx(
        &peer,
        ClientAuth::basic("post-client", ClientSecret::new("post-secret")),
    );
    let metadata = t.authorization_server_metadata().await.unwrap();
    assert_eq!(metadata.issuer, peer.issuer);
    assert_eq!(
        metadata.introspection_endpoint.as_deref(),
        Some(peer.url("/oauth/introspect").as_str())
    );
    let jwks = t.jwks().await.unwrap();
    let mut kids: Vec<_> = jwks.keys.iter().filter_map(|k| k.kid.clone()).collect();
    kids.sort();
    assert_eq!(
        kids,
        [
            "server-eddsa",
            "server-es256",
            "server-ps256",
            "server-rs256"
        ]
    );
    assert!(
        jwks.keys.iter().all(|k| !k.extra.contains_key("d")),
        "public keys only"
    );

    let registered = t
        .register(
            &RegistrationRequest::new()
                .client_name("registered by the test")
                .redirect_uri(REDIRECT_URI)
                .grant_type(GrantType::AuthorizationCode)
                .grant_type(GrantType::ClientCredentials)
                .token_endpoint_auth_method(TokenEndpointAuthMethod::ClientSecretBasic)
                .scope("read"),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", peer.stderr()));
    let secret = registered
        .client_secret
        .clone()
        .expect("a confidential client gets a secret");
    assert!(!format!("{registered:?}").contains(secret.secret()));
    let endpoint = TokenEndpoint::new_with_http(
        http(),
        &peer.token_url(),
        ClientAuth::basic(registered.client_id.clone(), secret),
    )
    .unwrap();
    let token = endpoint
        .client_credentials(&ClientCredentials::new().scope("read"))
        .await
        .unwrap();
    assert_eq!(
        support::jwt_part(token.access_token().secret(), 1)["client_id"],
        registered.client_id.as_str()
    );

    let opaque = TokenEndpoint::new_with_http(
        http(),
        &peer.token_url(),
        ClientAuth::basic("basic-client", ClientSecret::new("basic-secret")),
    )
    .unwrap()
    .client_credentials(
        &ClientCredentials::new()
            .scope("read")
            .resource("https://rs.test/opaque"),
    )
    .await
    .unwrap();
    let answer = t.introspect(opaque.access_token()).await.unwrap();
    assert!(answer.active);
    assert_eq!(answer.client_id.as_deref(), Some("basic-client"));
    assert_eq!(answer.scope.as_deref(), Some("read"));
    let garbage = t
        .introspect(&telnyx_oauth::AccessToken::new("not-a-token"))
        .await
        .unwrap();
    assert!(!garbage.active);
}

#[tokio::test]
async fn the_authorize_url_drives_the_code_flow_with_pkce_to_a_token() {
    let peer = Peer::start();
    let t = telnyx(&peer, ClientAuth::none("public-client"));
    let (url, pending) = t
        .authorize_url(
            AuthorizeRequest::new("public-client", REDIRECT_URI)
                .scope("openid")
                .scope("read")
                .param("resource", "https://rs.test/rs256"),
        )
        .unwrap();
    let redirect = support::peer::follow_authorization(&url).await;
    let code = pending.code_from_redirect(&redirect).unwrap();
    let token = t
        .token_endpoint()
        .unwrap()
        .exchange_code(
            &code,
            pending.redirect_uri(),
            Some(pending.pkce().verifier()),
        )
        .await
        .unwrap();
    let claims = support::jwt_part(token.access_token().secret(), 1);
    assert_eq!(claims["sub"], "test-user");
    assert_eq!(claims["client_id"], "public-client");
}
