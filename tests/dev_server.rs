//! The embedded dev server: the typed client, the provider and the verifier all run against it, and
//! it rejects what oidc-provider rejects for the same bad requests.

mod support;

use std::time::Duration;

use serde_json::Value;
use telnyx_oauth::api::{
    AuthorizeRequest, ClientCreate, ClientListQuery, ClientType, ClientUpdate, GrantType, Telnyx,
};
use telnyx_oauth::dev_server::{DevClient, DevServer};
use telnyx_oauth::error::OAuthErrorCode;
use telnyx_oauth::verify::Verifier;
use telnyx_oauth::{
    ClientAuth, ClientCredentials, ClientSecret, Error, HttpClient, PkcePair, SigningAlgorithm,
    TokenEndpoint, TokenProvider,
};

const CALLBACK: &str = "http://127.0.0.1/callback";

/// The code a user's approval of `url` delivers to the redirect URI.
fn approved_code(dev: &DevServer, url: &url::Url) -> telnyx_oauth::AuthorizationCode {
    let redirect = dev.approve(url).unwrap();
    let code = redirect
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    telnyx_oauth::AuthorizationCode::new(code)
}

fn http() -> HttpClient {
    HttpClient::new().unwrap().allow_http_loopback(true)
}

fn telnyx(dev: &DevServer, auth: Option<ClientAuth>) -> Telnyx {
    let mut b = Telnyx::builder()
        .base_url(dev.api_base())
        .http(http())
        .api_key(ClientSecret::new(dev.api_key()));
    if let Some(a) = auth {
        b = b.client_auth(a);
    }
    b.build().unwrap()
}

#[tokio::test]
async fn the_typed_client_manages_clients_and_grants() {
    let dev = DevServer::start().await.unwrap();
    let t = telnyx(&dev, None);
    let created = t
        .clients()
        .create(&ClientCreate::new(
            "svc",
            ClientType::Confidential,
            [GrantType::ClientCredentials],
            ["read"],
        ))
        .await
        .unwrap();
    let secret = created.client_secret.clone().unwrap();
    for i in 0..4 {
        t.clients()
            .create(
                &ClientCreate::new(
                    format!("extra-{i}"),
                    ClientType::Public,
                    [GrantType::AuthorizationCode],
                    ["read"],
                )
                .redirect_uri(CALLBACK),
            )
            .await
            .unwrap();
    }
    let page = t
        .clients()
        .list_page(
            &ClientListQuery {
                page_size: Some(2),
                ..Default::default()
            },
            1,
        )
        .await
        .unwrap();
    assert_eq!(
        (
            page.data.len(),
            page.meta.total_pages,
            page.meta.total_results
        ),
        (2, Some(3), Some(5))
    );
    let mut stream = t.clients().list(ClientListQuery {
        page_size: Some(2),
        ..Default::default()
    });
    let mut n = 0;
    while let Some(c) =
        std::future::poll_fn(|cx| std::pin::Pin::new(&mut stream).poll_next(cx)).await
    {
        c.unwrap();
        n += 1;
    }
    assert_eq!(n, 5);
    let renamed = t
        .clients()
        .update(&created.client_id, &ClientUpdate::new().name("renamed"))
        .await
        .unwrap();
    assert_eq!(renamed.name, "renamed");
    assert!(
        renamed.client_secret.is_none(),
        "the secret is shown only at creation"
    );
    // The new client gets tokens.
    let endpoint = TokenEndpoint::new_with_http(
        http(),
        &dev.token_url(),
        ClientAuth::basic(created.client_id.clone(), secret),
    )
    .unwrap();
    assert_eq!(
        endpoint
            .client_credentials(&ClientCredentials::new())
            .await
            .unwrap()
            .scope(),
        Some("read")
    );
    t.clients().delete(&created.client_id).await.unwrap();
    let err = t.clients().retrieve(&created.client_id).await.unwrap_err();
    assert_eq!(err.status().map(|s| s.as_u16()), Some(404));
    let anonymous = Telnyx::builder()
        .base_url(dev.api_base())
        .http(http())
        .build()
        .unwrap();
    let Error::Api(e) = anonymous
        .clients()
        .list_page(&ClientListQuery::default(), 1)
        .await
        .unwrap_err()
    else {
        panic!()
    };
    assert_eq!(e.errors[0].code.as_deref(), Some("10009"));
}
use futures_core::Stream;

#[tokio::test]
async fn provider_and_verifier_round_trip_in_every_algorithm() {
    for alg in [
        SigningAlgorithm::RS256,
        SigningAlgorithm::ES256,
        SigningAlgorithm::EdDSA,
    ] {
        let dev = DevServer::builder().algorithm(alg).start().await.unwrap();
        let (id, secret) = dev.add_client("svc", &["read", "write"]);
        let endpoint = TokenEndpoint::discover(
            http(),
            dev.issuer(),
            ClientAuth::basic(id.clone(), ClientSecret::new(secret)),
        )
        .await
        .unwrap();
        let provider =
            TokenProvider::client_credentials(endpoint, ClientCredentials::new().scope("read"))
                .build()
                .unwrap();
        let token = provider.token().await.unwrap();
        let verifier = Verifier::builder()
            .issuer(dev.issuer())
            .audience(dev.issuer())
            .http(http())
            .typ_profile(telnyx_oauth::verify::TypProfile::Strict)
            .build()
            .await
            .unwrap();
        let v = verifier
            .verify::<Value>(token.access_token().secret())
            .await
            .unwrap_or_else(|e| panic!("{alg}: {e}"));
        assert_eq!(v.alg(), Some(alg));
        assert_eq!(v.client_id(), Some(id.as_str()));
        assert_eq!(v.scopes(), ["read"]);
        // Key rotation: new tokens carry the new kid and still verify (one JWKS refetch).
        dev.rotate_keys().unwrap();
        assert!(provider.invalidate(&token));
        let fresh = provider.token().await.unwrap();
        let v2 = verifier
            .verify::<Value>(fresh.access_token().secret())
            .await
            .unwrap();
        assert_ne!(v2.kid(), v.kid());
        assert_eq!(dev.token_requests(), 2);
    }
}

#[tokio::test]
async fn code_flow_with_pkce_refresh_rotation_and_reuse_revoking_the_grant() {
    let dev = DevServer::start().await.unwrap();
    let (id, _) = dev.add_client_with(DevClient::public("app", &["read", "write"], CALLBACK));
    let t = telnyx(&dev, Some(ClientAuth::none(id.clone())));
    let (url, pending) = t
        .authorize_url(AuthorizeRequest::new(id.clone(), CALLBACK).scope("read"))
        .unwrap();
    let redirect = dev.approve(&url).unwrap();
    let code = pending.code_from_redirect(&redirect).unwrap();
    let endpoint = t.token_endpoint().unwrap();
    let first = endpoint
        .exchange_code(&code, CALLBACK, Some(pending.pkce().verifier()))
        .await
        .unwrap();
    assert_eq!(first.scope(), Some("read"));
    let rt1 = first.refresh_token().unwrap().clone();
    let second = endpoint.refresh(&rt1, &[]).await.unwrap();
    let rt2 = second.refresh_token().unwrap().clone();
    assert_ne!(rt1, rt2, "rotated");
    let grants = t.grants().list_page(None, 1).await.unwrap();
    assert_eq!(grants.data.len(), 1);
    // Replaying the rotated refresh token revokes the whole grant.
    assert_eq!(
        endpoint.refresh(&rt1, &[]).await.unwrap_err().oauth_code(),
        Some(&OAuthErrorCode::InvalidGrant)
    );
    assert_eq!(
        endpoint.refresh(&rt2, &[]).await.unwrap_err().oauth_code(),
        Some(&OAuthErrorCode::InvalidGrant)
    );
    assert!(t.grants().list_page(None, 1).await.unwrap().data.is_empty());
    // A code is single-use; PKCE is required of a public client.
    assert!(
        endpoint
            .exchange_code(&code, CALLBACK, Some(pending.pkce().verifier()))
            .await
            .is_err()
    );
    let no_pkce = url::Url::parse(&format!(
        "{}/v2/oauth/authorize?response_type=code&client_id={id}&redirect_uri={CALLBACK}",
        dev.issuer()
    ))
    .unwrap();
    assert!(dev.approve(&no_pkce).is_err());
}

#[tokio::test]
async fn opaque_tokens_introspect_until_their_grant_is_revoked() {
    let dev = DevServer::builder()
        .opaque_tokens(true)
        .start()
        .await
        .unwrap();
    let (app, _) = dev.add_client_with(DevClient::public("app", &["read"], CALLBACK));
    let (rs, rs_secret) = dev.add_client("resource-server", &[]);
    let pkce = PkcePair::generate().unwrap();
    let url = url::Url::parse(&format!(
        "{}/v2/oauth/authorize?response_type=code&client_id={app}&redirect_uri={CALLBACK}&scope=read&code_challenge={}&code_challenge_method=S256",
        dev.issuer(),
        pkce.challenge()
    ))
    .unwrap();
    let code = approved_code(&dev, &url);
    let endpoint =
        TokenEndpoint::new_with_http(http(), &dev.token_url(), ClientAuth::none(app)).unwrap();
    let token = endpoint
        .exchange_code(&code, CALLBACK, Some(pkce.verifier()))
        .await
        .unwrap();
    let t = telnyx(
        &dev,
        Some(ClientAuth::basic(rs, ClientSecret::new(rs_secret))),
    );
    let answer = t.introspect(token.access_token()).await.unwrap();
    assert!(answer.active);
    assert_eq!(answer.scope.as_deref(), Some("read"));
    let grant = t.grants().list_page(None, 1).await.unwrap().data.remove(0);
    t.grants().revoke(&grant.id).await.unwrap();
    assert!(!t.introspect(token.access_token()).await.unwrap().active);
}

#[tokio::test]
async fn fault_injection_reaches_the_library_as_typed_errors() {
    let dev = DevServer::start().await.unwrap();
    let (id, secret) = dev.add_client("svc", &["read"]);
    let endpoint = TokenEndpoint::new_with_http(
        http(),
        &dev.token_url(),
        ClientAuth::basic(id, ClientSecret::new(secret)),
    )
    .unwrap();
    dev.fail_next_token_requests(1, 503);
    let err = endpoint
        .client_credentials(&ClientCredentials::new())
        .await
        .unwrap_err();
    assert!(err.is_transient() && err.status().map(|s| s.as_u16()) == Some(503));
    dev.garbage_next_token_requests(1);
    assert!(matches!(
        endpoint
            .client_credentials(&ClientCredentials::new())
            .await
            .unwrap_err(),
        Error::UnexpectedResponse(_)
    ));
    dev.set_token_latency(Duration::from_millis(300));
    let slow = TokenEndpoint::new_with_http(
        http().with_timeout(Duration::from_millis(100)),
        &dev.token_url(),
        endpoint.client_auth().clone(),
    )
    .unwrap();
    assert!(
        slow.client_credentials(&ClientCredentials::new())
            .await
            .unwrap_err()
            .is_transient()
    );
    dev.set_token_latency(Duration::ZERO);
    assert!(
        endpoint
            .client_credentials(&ClientCredentials::new())
            .await
            .is_ok()
    );
    dev.set_jwks_unavailable(true);
    assert!(
        Verifier::builder()
            .issuer(dev.issuer())
            .audience("x")
            .http(http())
            .build()
            .await
            .is_err()
    );
    assert!(dev.jwks_requests() >= 1);
}

/// The same bad requests against the dev server and oidc-provider get the same OAuth error codes.
#[tokio::test]
async fn the_dev_server_rejects_what_oidc_provider_rejects() {
    let peer = support::Peer::start_with(serde_json::json!({ "rotateRefreshToken": true }));
    let dev = DevServer::start().await.unwrap();
    let (dev_app, _) = dev.add_client_with(DevClient::public("app", &["openid", "read"], CALLBACK));
    let (dev_svc, _) = dev.add_client("svc", &["read"]);

    // A wrong secret.
    let bad = |url: &str, id: &str| {
        TokenEndpoint::new_with_http(
            http(),
            url,
            ClientAuth::basic(id, ClientSecret::new("wrong")),
        )
        .unwrap()
    };
    let e1 = bad(&peer.token_url(), "basic-client")
        .client_credentials(&ClientCredentials::new())
        .await
        .unwrap_err();
    let e2 = bad(&dev.token_url(), &dev_svc)
        .client_credentials(&ClientCredentials::new())
        .await
        .unwrap_err();
    assert_eq!(e1.oauth_code(), e2.oauth_code());
    assert_eq!(e1.status(), e2.status());

    // A PKCE mismatch, a wrong redirect URI at the exchange, and a reused refresh token.
    let dev_code = |pkce: &PkcePair| {
        let url = url::Url::parse(&format!(
            "{}/v2/oauth/authorize?response_type=code&client_id={dev_app}&redirect_uri={CALLBACK}&scope=openid+read&code_challenge={}&code_challenge_method=S256",
            dev.issuer(), pkce.challenge()
        )).unwrap();
        approved_code(&dev, &url)
    };
    let peer_ep =
        TokenEndpoint::new_with_http(http(), &peer.token_url(), ClientAuth::none("public-client"))
            .unwrap();
    let dev_ep =
        TokenEndpoint::new_with_http(http(), &dev.token_url(), ClientAuth::none(dev_app.clone()))
            .unwrap();
    let (p1, p2, other) = (
        PkcePair::generate().unwrap(),
        PkcePair::generate().unwrap(),
        PkcePair::generate().unwrap(),
    );
    let peer_code = peer
        .authorize("public-client", "openid read", None, Some(&p1))
        .await;
    let e1 = peer_ep
        .exchange_code(&peer_code, CALLBACK, Some(other.verifier()))
        .await
        .unwrap_err();
    let e2 = dev_ep
        .exchange_code(&dev_code(&p2), CALLBACK, Some(other.verifier()))
        .await
        .unwrap_err();
    assert_eq!(e1.oauth_code(), e2.oauth_code(), "PKCE mismatch");

    let peer_code = peer
        .authorize("public-client", "openid read", None, Some(&p1))
        .await;
    let e1 = peer_ep
        .exchange_code(
            &peer_code,
            "http://127.0.0.1/elsewhere",
            Some(p1.verifier()),
        )
        .await
        .unwrap_err();
    let e2 = dev_ep
        .exchange_code(
            &dev_code(&p2),
            "http://127.0.0.1/elsewhere",
            Some(p2.verifier()),
        )
        .await
        .unwrap_err();
    assert_eq!(e1.oauth_code(), e2.oauth_code(), "wrong redirect URI");

    let peer_code = peer
        .authorize("public-client", "openid read", None, Some(&p1))
        .await;
    let peer_rt = peer_ep
        .exchange_code(&peer_code, CALLBACK, Some(p1.verifier()))
        .await
        .unwrap()
        .refresh_token()
        .unwrap()
        .clone();
    let dev_rt = dev_ep
        .exchange_code(&dev_code(&p2), CALLBACK, Some(p2.verifier()))
        .await
        .unwrap()
        .refresh_token()
        .unwrap()
        .clone();
    peer_ep.refresh(&peer_rt, &[]).await.unwrap();
    dev_ep.refresh(&dev_rt, &[]).await.unwrap();
    let e1 = peer_ep.refresh(&peer_rt, &[]).await.unwrap_err();
    let e2 = dev_ep.refresh(&dev_rt, &[]).await.unwrap_err();
    assert_eq!(e1.oauth_code(), e2.oauth_code(), "reused refresh token");
    assert_eq!(e1.oauth_code(), Some(&OAuthErrorCode::InvalidGrant));
}

/// README command 1: the quickstart runs on a fresh machine with no credentials and says what it did.
#[tokio::test]
async fn the_quickstart_succeeds_step_by_step() {
    let exe = std::env::current_exe().unwrap();
    let quickstart = exe
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("examples")
        .join("quickstart");
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(quickstart)
            .output()
            .expect("run the quickstart (cargo test builds it)")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for n in 1..=10 {
        assert!(
            stdout.contains(&format!("[{n}] ")),
            "step {n} missing:\n{stdout}"
        );
    }
    assert_eq!(stdout.matches("    ok: ").count(), 7, "{stdout}");
    assert!(stdout.contains("401 Unauthorized WWW-Authenticate: Bearer realm=\"quickstart\""));
    assert!(stdout.contains("60 requests over 6 s: 60 succeeded"));
    assert!(stdout.ends_with("quickstart: every step succeeded\n"));
}

fn example_path(name: &str) -> std::path::PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("examples")
        .join(name)
}

/// Kills the child process when the test ends, however it ends.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn the_axum_protected_example_protects_its_routes() {
    use std::io::BufRead;
    let dev = DevServer::start().await.unwrap();
    let mut child = Child(
        std::process::Command::new(example_path("axum_protected"))
            .env("ISSUER", dev.issuer())
            .env("AUDIENCE", dev.issuer())
            .env("ALLOW_HTTP", "1")
            .env("BIND", "127.0.0.1:0")
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("run the example (cargo test builds it)"),
    );
    let stdout = child.0.stdout.take().unwrap();
    let line = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        std::io::BufReader::new(stdout)
            .read_line(&mut line)
            .unwrap();
        line
    })
    .await
    .unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("{line}"))
        .to_owned();
    let (id, secret) = dev.add_client("caller", &["read"]);
    let token = TokenEndpoint::new_with_http(
        http(),
        &dev.token_url(),
        ClientAuth::basic(id.clone(), ClientSecret::new(secret)),
    )
    .unwrap()
    .client_credentials(&ClientCredentials::new())
    .await
    .unwrap();
    let bearer = format!("Bearer {}", token.access_token().secret());
    let client = reqwest::Client::new();
    let call = |path: &str, auth: bool| {
        let mut r = client.get(format!("http://{addr}{path}"));
        if auth {
            r = r.header("authorization", &bearer);
        }
        r.send()
    };
    assert_eq!(
        call("/public", false).await.unwrap().text().await.unwrap(),
        "public"
    );
    let me: Value = call("/me", true).await.unwrap().json().await.unwrap();
    assert_eq!(me["client_id"], id.as_str());
    assert_eq!(
        call("/read", true).await.unwrap().text().await.unwrap(),
        "read ok"
    );
    assert_eq!(call("/admin", true).await.unwrap().status(), 403);
    assert_eq!(
        call("/maybe", false).await.unwrap().text().await.unwrap(),
        "anonymous"
    );
    assert!(
        call("/maybe", true)
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
            .starts_with("authenticated as")
    );
    let denied = call("/me", false).await.unwrap();
    assert_eq!(denied.status(), 401);
    let challenge = denied.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(challenge.contains("resource_metadata=\""), "{challenge}");
    let doc: Value = call("/.well-known/oauth-protected-resource", false)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["resource"], dev.issuer());
}

#[tokio::test]
async fn the_pkce_example_completes_the_code_flow_through_its_redirect_listener() {
    let out = tokio::task::spawn_blocking(|| {
        std::process::Command::new(example_path("authorization_code_pkce"))
            .env_remove("TELNYX_CLIENT_ID")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("redirect received with a code and the expected state"),
        "{stdout}"
    );
    assert!(stdout.contains("refresh token issued"), "{stdout}");
}

fn run_example(name: &str) -> String {
    let out = std::process::Command::new(example_path(name))
        .output()
        .expect("run the example (cargo test builds it)");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[tokio::test]
async fn the_outbound_examples_send_tokens_and_share_one_fetch() {
    let hyper = tokio::task::spawn_blocking(|| run_example("outbound_hyper"))
        .await
        .unwrap();
    assert_eq!(hyper.matches("bearer token of ").count(), 3, "{hyper}");
    assert!(!hyper.contains("of 0 characters"), "{hyper}");
    assert!(hyper.contains("token requests for 3 calls: 1"), "{hyper}");
    #[cfg(feature = "reqwest-middleware")]
    {
        let reqwest = tokio::task::spawn_blocking(|| run_example("outbound_reqwest"))
            .await
            .unwrap();
        assert!(
            reqwest.contains("BearerLayer over reqwest::Client: 200 OK"),
            "{reqwest}"
        );
        assert!(reqwest.contains("BearerMiddleware: 200 OK"), "{reqwest}");
        assert!(
            reqwest.contains("token requests for both calls: 1"),
            "{reqwest}"
        );
    }
}

#[test]
fn the_live_quickstart_says_which_credentials_it_needs() {
    let out = std::process::Command::new(example_path("quickstart"))
        .arg("--live")
        .env_remove("TELNYX_API_KEY")
        .env_remove("TELNYX_CLIENT_ID")
        .env_remove("TELNYX_CLIENT_SECRET")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("--live needs TELNYX_API_KEY, TELNYX_CLIENT_ID, TELNYX_CLIENT_SECRET")
    );
}

/// The dev server binds tokens to the key of a DPoP proof, as oidc-provider does: a provider with a
/// key gets bound tokens that our verifier takes with a proof and refuses as bearer tokens; a bad or
/// replayed proof is refused; a bound refresh token refreshes only with a proof by its key.
#[tokio::test]
async fn dpop_proofs_bind_tokens_and_refresh_tokens_to_the_key() {
    use telnyx_oauth::dpop::DpopKey;
    use telnyx_oauth::verify::DpopPolicy;
    let dev = DevServer::start().await.unwrap();
    let (id, secret) = dev.add_client("svc", &["read"]);
    let key = DpopKey::generate(SigningAlgorithm::ES256).unwrap();
    let jkt = key.thumbprint().to_owned();
    let auth = || ClientAuth::basic(id.clone(), ClientSecret::new(secret.clone()));
    let endpoint = TokenEndpoint::new_with_http(http(), &dev.token_url(), auth())
        .unwrap()
        .with_dpop(key);
    let provider = TokenProvider::client_credentials(endpoint, ClientCredentials::new())
        .build()
        .unwrap();
    let token = provider.token().await.unwrap();
    assert!(token.is_dpop_bound());
    let at = token.access_token().secret();
    assert_eq!(support::jwt_part(at, 1)["cnf"]["jkt"], jkt.as_str());
    let verifier = Verifier::builder()
        .issuer(dev.issuer())
        .audience(dev.issuer())
        .http(http())
        .dpop(DpopPolicy::default())
        .build()
        .await
        .unwrap();
    let url = url::Url::parse("https://api.example/v2/calls").unwrap();
    let mut headers = http::HeaderMap::new();
    let proof = token.dpop_proof(&http::Method::GET, &url).unwrap().unwrap();
    headers.insert("dpop", proof);
    verifier
        .verify_dpop::<Value>(at, &http::Method::GET, &url, &headers)
        .await
        .unwrap();
    assert!(verifier.verify::<Value>(at).await.is_err(), "not as bearer");

    // Proofs the token endpoint refuses: one for another URL, and one replayed.
    let other = DpopKey::generate(SigningAlgorithm::EdDSA).unwrap();
    let wrong_url = url::Url::parse("http://127.0.0.1:1/v2/oauth/token").unwrap();
    let token_url = url::Url::parse(&dev.token_url()).unwrap();
    let good = other
        .proof(&http::Method::POST, &token_url, None, None)
        .unwrap();
    for (proof, why) in [
        (
            other
                .proof(&http::Method::POST, &wrong_url, None, None)
                .unwrap(),
            "the DPoP proof is for another URL",
        ),
        (good.clone(), ""),
        (good, "the DPoP proof was already used"),
    ] {
        let response = reqwest::Client::new()
            .post(dev.token_url())
            .basic_auth(&id, Some(&secret))
            .header("dpop", proof)
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap();
        if why.is_empty() {
            assert_eq!((status, body["token_type"].as_str()), (200, Some("DPoP")));
        } else {
            assert_eq!(status, 400, "{body}");
            assert_eq!(body["error"], "invalid_dpop_proof");
            assert_eq!(body["error_description"], why);
        }
    }

    // The code flow with a proof: the refresh token is bound, and refreshes only with the key.
    let (public, _) = dev.add_client_with(DevClient::public("app", &["read"], CALLBACK));
    let t = telnyx(&dev, Some(ClientAuth::none(public.clone())));
    let (url, pending) = t
        .authorize_url(AuthorizeRequest::new(public.clone(), CALLBACK).scope("read"))
        .unwrap();
    let code = pending
        .code_from_redirect(&dev.approve(&url).unwrap())
        .unwrap();
    let bare = t.token_endpoint().unwrap();
    let bound = bare
        .clone()
        .with_dpop(DpopKey::generate(SigningAlgorithm::ES256).unwrap());
    let first = bound
        .exchange_code(&code, CALLBACK, Some(pending.pkce().verifier()))
        .await
        .unwrap();
    assert!(first.is_dpop_bound());
    let rt = first.refresh_token().unwrap();
    let err = bare.refresh(rt, &[]).await.unwrap_err();
    assert!(err.to_string().contains("invalid_dpop_proof"), "{err}");
    let refreshed = bound.refresh(rt, &[]).await.unwrap();
    assert!(refreshed.is_dpop_bound());
}
