//! The Telnyx API client against a local fake loaded with the contract's example payloads: request
//! shape (method, path, bracketed query, headers, body) and every field decoded; pagination; retries
//! with the delays recorded through the client's sleep seam; both error formats.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use telnyx_oauth::api::{
    ClientCreate, ClientListQuery, ClientType, ClientUpdate, GrantType, ManagementPaths,
    RegistrationRequest, RetryPolicy, Telnyx, TokenEndpointAuthMethod,
};
use telnyx_oauth::error::OAuthErrorCode;
use telnyx_oauth::{AccessToken, ClientAuth, ClientSecret, Error, HttpClient};
use wiremock::matchers::{body_json, header, method, path, query_param};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

type Delays = Arc<Mutex<Vec<Duration>>>;

fn client(server: &MockServer) -> (Telnyx, Delays) {
    let delays: Delays = Arc::default();
    let d = delays.clone();
    let retry = RetryPolicy::default()
        .with_jitter(|| 0.0)
        .with_sleep(move |delay| {
            d.lock().unwrap().push(delay);
            Box::pin(async {})
        });
    let telnyx = Telnyx::builder()
        .base_url(format!("{}/v2", server.uri()))
        .http(HttpClient::new().unwrap().allow_http_loopback(true))
        .api_key(ClientSecret::new("KEY123"))
        .client_auth(ClientAuth::basic("cid", ClientSecret::new("csecret")))
        .retry(retry)
        .build()
        .unwrap();
    (telnyx, delays)
}

fn client_json(id: &str) -> Value {
    json!({
        "record_type": "oauth_client",
        "client_id": id,
        "name": "My App",
        "org_id": "org-1",
        "user_id": "user-1",
        "client_type": "confidential",
        "require_pkce": true,
        "created_at": "2025-09-10T12:00:00Z",
        "updated_at": "2025-09-10T12:30:00Z",
        "allowed_grant_types": ["client_credentials", "authorization_code"],
        "allowed_scopes": ["admin"],
        "redirect_uris": ["https://app.example/cb"],
        "client_secret": null,
        "logo_uri": null,
        "tos_uri": null,
        "policy_uri": "https://app.example/policy"
    })
}

fn grant_json(id: &str) -> Value {
    json!({"id": id, "record_type": "oauth_grant", "client_id": "c1", "scopes": ["admin"], "created_at": "2025-09-10T12:00:00Z", "last_used_at": null})
}

fn ok(body: Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(body.to_string(), "application/json")
}

fn with(mut v: Value, key: &str, value: Value) -> Value {
    v[key] = value;
    v
}

#[tokio::test]
async fn clients_crud_request_shapes_and_decoding() {
    let server = MockServer::start().await;
    let (telnyx, delays) = client(&server);
    Mock::given(method("POST"))
        .and(path("/v2/oauth_clients"))
        .and(header("authorization", "Bearer KEY123"))
        .and(header("content-type", "application/json"))
        .and(body_json(json!({
            "name": "My App", "client_type": "confidential", "allowed_grant_types": ["client_credentials", "authorization_code"],
            "allowed_scopes": ["admin"], "redirect_uris": ["https://app.example/cb"], "require_pkce": true
        })))
        .respond_with(ResponseTemplate::new(201).set_body_raw(json!({"data": with(client_json("c1"), "client_secret", json!("shown-once"))}).to_string(), "application/json"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v2/oauth_clients/c1"))
        .and(header("authorization", "Bearer KEY123"))
        .respond_with(ok(json!({"data": client_json("c1")})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path("/v2/oauth_clients/c1"))
        .and(body_json(
            json!({"name": "Renamed", "allowed_scopes": ["a", "b"]}),
        ))
        .respond_with(ok(
            json!({"data": with(client_json("c1"), "name", json!("Renamed"))}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path("/v2/oauth_clients/c1"))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;

    let create = ClientCreate::new(
        "My App",
        ClientType::Confidential,
        [GrantType::ClientCredentials, GrantType::AuthorizationCode],
        ["admin"],
    )
    .redirect_uri("https://app.example/cb")
    .require_pkce(true);
    let created = telnyx.clients().create(&create).await.unwrap();
    assert_eq!(
        created.client_secret.as_ref().unwrap().secret(),
        "shown-once"
    );
    let c = telnyx.clients().retrieve("c1").await.unwrap();
    assert_eq!(c.client_id, "c1");
    assert_eq!(c.name, "My App");
    assert_eq!(c.org_id, "org-1");
    assert_eq!(c.user_id, "user-1");
    assert_eq!(c.record_type, "oauth_client");
    assert_eq!(c.client_type, ClientType::Confidential);
    assert!(c.require_pkce);
    assert_eq!(c.created_at.unix_timestamp(), 1_757_505_600);
    assert_eq!(c.updated_at.unix_timestamp(), 1_757_507_400);
    assert_eq!(
        c.allowed_grant_types,
        [GrantType::ClientCredentials, GrantType::AuthorizationCode]
    );
    assert_eq!(c.allowed_scopes, ["admin"]);
    assert_eq!(c.redirect_uris, ["https://app.example/cb"]);
    assert!(c.client_secret.is_none() && c.logo_uri.is_none() && c.tos_uri.is_none());
    assert_eq!(c.policy_uri.as_deref(), Some("https://app.example/policy"));
    let updated = telnyx
        .clients()
        .update(
            "c1",
            &ClientUpdate::new()
                .name("Renamed")
                .allowed_scopes(["a", "b"]),
        )
        .await
        .unwrap();
    assert_eq!(updated.name, "Renamed");
    telnyx.clients().delete("c1").await.unwrap();
    assert!(delays.lock().unwrap().is_empty());
    let ua = &server.received_requests().await.unwrap()[0].headers["user-agent"];
    assert!(ua.to_str().unwrap().starts_with("telnyx-oauth-rust/"));
}

#[tokio::test]
async fn the_slash_management_paths_are_one_setting_away() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v2/oauth/grants/g1"))
        .respond_with(ok(json!({"data": grant_json("g1")})))
        .expect(1)
        .mount(&server)
        .await;
    let telnyx = Telnyx::builder()
        .base_url(format!("{}/v2", server.uri()))
        .http(HttpClient::new().unwrap().allow_http_loopback(true))
        .api_key(ClientSecret::new("K"))
        .management_paths(ManagementPaths::Slash)
        .build()
        .unwrap();
    let g = telnyx.grants().retrieve("g1").await.unwrap();
    assert_eq!(g.id, "g1");
    assert!(g.last_used_at.is_none());
}

#[tokio::test]
async fn pagination_walks_three_pages_keeping_filters() {
    use futures_core::Stream;
    let server = MockServer::start().await;
    for (page, ids) in [(1, vec!["a", "b"]), (2, vec!["c", "d"]), (3, vec!["e"])] {
        Mock::given(method("GET"))
            .and(path("/v2/oauth_clients"))
            .and(query_param("page[number]", page.to_string()))
            .and(query_param("page[size]", "2"))
            .and(query_param("filter[client_type]", "public"))
            .and(query_param("filter[name][contains]", "app"))
            .and(query_param(
                "filter[allowed_grant_types][contains]",
                "authorization_code",
            ))
            .respond_with(ok(json!({
                "data": ids.iter().map(|i| client_json(i)).collect::<Vec<_>>(),
                "meta": {"page_number": page, "page_size": 2, "total_pages": 3, "total_results": 5}
            })))
            .expect(1)
            .mount(&server)
            .await;
    }
    let (telnyx, _) = client(&server);
    let query = ClientListQuery {
        page_size: Some(2),
        client_type: Some(ClientType::Public),
        name_contains: Some("app".into()),
        allowed_grant_type: Some(GrantType::AuthorizationCode),
        ..Default::default()
    };
    let ids = collect(telnyx.clients().list(query)).await;
    assert_eq!(
        ids.iter().map(|c| c.client_id.as_str()).collect::<Vec<_>>(),
        ["a", "b", "c", "d", "e"]
    );
    fn _assert_stream<S: Stream>(_: &S) {}
}

async fn collect<T: Unpin>(mut stream: telnyx_oauth::api::ListStream<T>) -> Vec<T> {
    use futures_core::Stream;
    let mut out = Vec::new();
    // Bounded: the stream itself stops after MAX_PAGES.
    while let Some(item) =
        std::future::poll_fn(|cx| std::pin::Pin::new(&mut stream).poll_next(cx)).await
    {
        out.push(item.unwrap());
    }
    out
}

#[tokio::test]
async fn pagination_without_total_pages_stops_on_an_empty_page_and_an_empty_first_page_yields_nothing()
 {
    let server = MockServer::start().await;
    Mock::given(path("/v2/oauth_grants"))
        .and(query_param("page[number]", "1"))
        .respond_with(ok(
            json!({"data": [grant_json("g1")], "meta": {"page_number": 1}}),
        ))
        .mount(&server)
        .await;
    Mock::given(path("/v2/oauth_grants"))
        .and(query_param("page[number]", "2"))
        .respond_with(ok(json!({"data": [grant_json("g2")]})))
        .mount(&server)
        .await;
    Mock::given(path("/v2/oauth_grants"))
        .and(query_param("page[number]", "3"))
        .respond_with(ok(json!({"data": [], "meta": {"page_number": 3}})))
        .mount(&server)
        .await;
    let (telnyx, _) = client(&server);
    let grants = collect(telnyx.grants().list(None)).await;
    assert_eq!(grants.len(), 2);
    assert_eq!(server.received_requests().await.unwrap().len(), 3);

    let empty = MockServer::start().await;
    Mock::given(path("/v2/oauth_clients"))
        .respond_with(ok(json!({"data": [], "meta": {"total_pages": 0}})))
        .expect(1)
        .mount(&empty)
        .await;
    let (telnyx, _) = client(&empty);
    assert!(
        collect(telnyx.clients().list(ClientListQuery::default()))
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn idempotent_calls_retry_with_the_sdk_delays_and_retry_after() {
    let server = MockServer::start().await;
    let seq = Arc::new(Mutex::new(0));
    let s = seq.clone();
    Mock::given(method("GET"))
        .and(path("/v2/oauth_grants/g1"))
        .respond_with(move |_: &Request| {
            let mut n = s.lock().unwrap();
            *n += 1;
            match *n {
                1 | 2 => ResponseTemplate::new(503),
                _ => ok(json!({"data": grant_json("g1")})),
            }
        })
        .mount(&server)
        .await;
    let (telnyx, delays) = client(&server);
    assert_eq!(telnyx.grants().retrieve("g1").await.unwrap().id, "g1");
    assert_eq!(
        *delays.lock().unwrap(),
        [Duration::from_millis(500), Duration::from_millis(1000)]
    );

    let server = MockServer::start().await;
    Mock::given(method("DELETE"))
        .and(path("/v2/oauth_grants/g2"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "2"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path("/v2/oauth_grants/g2"))
        .respond_with(ok(json!({"data": grant_json("g2")})))
        .mount(&server)
        .await;
    let (telnyx, delays) = client(&server);
    assert_eq!(telnyx.grants().revoke("g2").await.unwrap().id, "g2");
    assert_eq!(*delays.lock().unwrap(), [Duration::from_secs(2)]);
}

#[tokio::test]
async fn creation_is_never_retried_and_404_is_typed_not_retried() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v2/oauth_clients"))
        .respond_with(ResponseTemplate::new(503))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET")).and(path("/v2/oauth_clients/nope"))
        .respond_with(ResponseTemplate::new(404).set_body_raw(r#"{"errors":[{"code":"10005","title":"Resource not found","detail":"no such client"}]}"#, "application/json"))
        .expect(1)
        .mount(&server)
        .await;
    let (telnyx, delays) = client(&server);
    let err = telnyx
        .clients()
        .create(&ClientCreate::new(
            "x",
            ClientType::Public,
            [GrantType::AuthorizationCode],
            ["a"],
        ))
        .await
        .unwrap_err();
    assert_eq!(err.status().map(|s| s.as_u16()), Some(503));
    let err = telnyx.clients().retrieve("nope").await.unwrap_err();
    let Error::Api(e) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(e.status.as_u16(), 404);
    assert_eq!(e.errors[0].code.as_deref(), Some("10005"));
    assert!(delays.lock().unwrap().is_empty());
}

#[tokio::test]
async fn both_error_formats_and_an_html_502() {
    let server = MockServer::start().await;
    Mock::given(method("POST")).and(path("/v2/oauth/register"))
        .respond_with(ResponseTemplate::new(400).set_body_raw(
            r#"{"error":"invalid_client_metadata","error_description":"bad redirect","invalid_fields":{"redirect_uris":["must use https"]}}"#,
            "application/json",
        ))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v2/oauth_clients/c1"))
        .respond_with(
            ResponseTemplate::new(502)
                .set_body_raw("<html><h1>502 Bad Gateway</h1></html>", "text/html"),
        )
        .mount(&server)
        .await;
    let (telnyx, delays) = client(&server);
    let err = telnyx
        .register(&RegistrationRequest::new().redirect_uri("http://x"))
        .await
        .unwrap_err();
    let Error::OAuth(e) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(e.code, OAuthErrorCode::InvalidClientMetadata);
    assert_eq!(e.invalid_fields["redirect_uris"], ["must use https"]);
    let err = telnyx.clients().retrieve("c1").await.unwrap_err();
    let Error::UnexpectedResponse(e) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(e.status.as_u16(), 502);
    assert!(e.preview.contains("502 Bad Gateway"));
    assert_eq!(
        delays.lock().unwrap().len(),
        2,
        "a 502 on a GET is retried twice first"
    );
}

#[tokio::test]
async fn protocol_endpoints() {
    let server = MockServer::start().await;
    let root = server.uri();
    Mock::given(method("GET")).and(path("/.well-known/oauth-authorization-server"))
        .respond_with(ok(json!({"issuer": root, "token_endpoint": format!("{root}/v2/oauth/token"), "code_challenge_methods_supported": ["S256"], "agent_auth": {}})))
        .mount(&server).await;
    Mock::given(method("GET"))
        .and(path("/.well-known/oauth-protected-resource"))
        .respond_with(ok(
            json!({"resource": root, "authorization_servers": [root]}),
        ))
        .mount(&server)
        .await;
    Mock::given(method("GET")).and(path("/v2/oauth/consent/ct-1")).and(header("authorization", "Bearer KEY123"))
        .respond_with(ok(json!({"data": {"client_id": "c1", "name": "App", "logo_uri": null, "redirect_uri": "https://app/cb", "verified": true,
            "requested_scopes": [{"id": "s1", "name": "admin", "description": "Admin"}]}})))
        .mount(&server).await;
    Mock::given(method("POST"))
        .and(path("/v2/oauth/grants"))
        .and(body_json(json!({"allowed": true, "consent_token": "ct-1"})))
        .respond_with(ok(
            json!({"redirect_uri": "https://app/cb?code=abc&state=s"}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST")).and(path("/v2/oauth/introspect")).and(header("content-type", "application/x-www-form-urlencoded"))
        .respond_with(|req: &Request| {
            let basic = req.headers["authorization"].to_str().unwrap().to_owned();
            assert_eq!(basic, "Basic Y2lkOmNzZWNyZXQ=");
            assert_eq!(String::from_utf8_lossy(&req.body), "token=tok-1");
            ok(json!({"active": true, "scope": "admin", "client_id": "c1", "exp": 1_900_000_000, "iat": 1_800_000_000, "iss": "https://api.telnyx.com", "aud": "https://api.telnyx.com"}))
        })
        .mount(&server).await;
    Mock::given(method("GET")).and(path("/v2/oauth/jwks"))
        .respond_with(ok(json!({"keys": [{"kty": "RSA", "kid": "k1", "alg": "RS256", "use": "sig", "n": "abc", "e": "AQAB"}]}))).mount(&server).await;
    Mock::given(method("POST")).and(path("/v2/oauth/register"))
        .and(body_json(json!({"client_name": "My OAuth Application", "redirect_uris": ["https://app/cb"], "grant_types": ["authorization_code"], "token_endpoint_auth_method": "client_secret_basic"})))
        .respond_with(ResponseTemplate::new(201).set_body_raw(json!({"client_id": "abc123def456", "client_id_issued_at": 1_757_505_600, "client_secret": "sec",
            "client_name": "My OAuth Application", "token_endpoint_auth_method": "client_secret_basic", "grant_types": ["authorization_code"],
            "response_types": ["code"], "redirect_uris": ["https://app/cb"]}).to_string(), "application/json"))
        .expect(1)
        .mount(&server).await;
    let (telnyx, _) = client(&server);
    let m = telnyx.authorization_server_metadata().await.unwrap();
    assert_eq!(m.issuer, root);
    assert!(m.extra.contains_key("agent_auth"));
    assert_eq!(
        telnyx.protected_resource_metadata().await.unwrap().resource,
        root
    );
    let consent = telnyx.consent("ct-1").await.unwrap();
    assert_eq!(consent.requested_scopes[0].name.as_deref(), Some("admin"));
    assert_eq!(consent.verified, Some(true));
    assert_eq!(
        telnyx.decide_consent("ct-1", true).await.unwrap(),
        "https://app/cb?code=abc&state=s"
    );
    let i = telnyx.introspect(&AccessToken::new("tok-1")).await.unwrap();
    assert!(i.active);
    assert_eq!(
        (i.scope.as_deref(), i.client_id.as_deref(), i.exp, i.iat),
        (
            Some("admin"),
            Some("c1"),
            Some(1_900_000_000),
            Some(1_800_000_000)
        )
    );
    let jwks = telnyx.jwks().await.unwrap();
    assert_eq!(jwks.keys[0].kid.as_deref(), Some("k1"));
    assert_eq!(jwks.keys[0].use_.as_deref(), Some("sig"));
    assert_eq!(jwks.keys[0].extra["e"], "AQAB");
    let reg = telnyx
        .register(
            &RegistrationRequest::new()
                .client_name("My OAuth Application")
                .redirect_uri("https://app/cb")
                .grant_type(GrantType::AuthorizationCode)
                .token_endpoint_auth_method(TokenEndpointAuthMethod::ClientSecretBasic),
        )
        .await
        .unwrap();
    assert_eq!(reg.client_id, "abc123def456");
    assert_eq!(reg.client_secret.unwrap().secret(), "sec");
    assert_eq!(reg.response_types, ["code"]);
    assert_eq!(
        telnyx.token_endpoint().unwrap().url().as_str(),
        format!("{root}/v2/oauth/token")
    );
    let (url, pending) = telnyx
        .authorize_url(
            telnyx_oauth::api::AuthorizeRequest::new("c1", "https://app/cb").scope("admin"),
        )
        .unwrap();
    assert!(url.as_str().starts_with(&format!(
        "{root}/v2/oauth/authorize?response_type=code&client_id=c1"
    )));
    let redirect = url::Url::parse(&format!(
        "https://app/cb?code=xyz&state={}",
        pending.state()
    ))
    .unwrap();
    assert_eq!(
        pending.code_from_redirect(&redirect).unwrap().secret(),
        "xyz"
    );
    let forged = url::Url::parse("https://app/cb?code=xyz&state=other").unwrap();
    assert!(pending.code_from_redirect(&forged).is_err());
}
