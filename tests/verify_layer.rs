//! VerifyLayer protecting a real axum 0.8 router on 127.0.0.1, driven by an HTTP client: every RFC 6750
//! status and challenge byte for byte, scopes per route, optional mode, extractors, problem+json,
//! RFC 9728 metadata, the hostile catalogue through the layer, and the real server's tokens.

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use reqwest::StatusCode;
use serde_json::{Value, json};
use support::verify_fixtures::{case, fixture, fixture_verifier};
use telnyx_oauth::bearer::parse_challenges;
use telnyx_oauth::verify::{
    Claims, Introspector, ProtectedResourceRoute, RequireScopes, Verifier, VerifyLayer,
    protected_resource_metadata_path, protected_resource_metadata_url,
};
use telnyx_oauth::{
    ClientAuth, ClientCredentials, ClientSecret, HttpClient, ProtectedResourceMetadata,
    TokenEndpoint,
};

const RESOURCE: &str = "https://api.test";

fn catalogue() -> Vec<(String, String, String)> {
    fixture("tokens.json")["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap().into(),
                c["token"].as_str().unwrap().into(),
                c["expect"].as_str().unwrap().into(),
            )
        })
        .collect()
}

fn token(name: &str) -> String {
    case(&fixture("tokens.json"), name).to_owned()
}

async fn serve(app: Router) -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (addr, task)
}

async fn me(Claims(v): Claims) -> String {
    json!({"sub": v.subject(), "client_id": v.client_id(), "scopes": v.scopes(), "iss": v.issuer()})
        .to_string()
}

async fn maybe(claims: Option<Claims>) -> String {
    match claims {
        Some(c) => format!("token for {}", c.subject().unwrap_or("?")),
        None => "no token".into(),
    }
}

fn metadata() -> ProtectedResourceMetadata {
    let mut m = ProtectedResourceMetadata::default();
    m.resource = RESOURCE.into();
    m.authorization_servers = Some(vec!["https://issuer.test".into()]);
    m.scopes_supported = Some(vec!["read".into(), "write".into(), "admin".into()]);
    m.bearer_methods_supported = Some(vec!["header".into()]);
    m
}

fn app(layer: VerifyLayer) -> Router {
    let protected = Router::new()
        .route("/me", get(me))
        .route(
            "/read",
            get(|| async { "read ok" }).layer(RequireScopes::all(["read"])),
        )
        .route(
            "/admin",
            get(|| async { "admin ok" }).layer(RequireScopes::all(["admin"])),
        )
        .route(
            "/read-and-admin",
            get(|| async { "both" }).layer(RequireScopes::all(["read", "admin"])),
        )
        .route(
            "/admin-or-write",
            get(|| async { "either" }).layer(RequireScopes::any(["admin", "write"])),
        )
        .route(
            "/client-1-only",
            get(|| async { "client ok" }).layer(RequireScopes::predicate(
                |v: &telnyx_oauth::verify::Verified| v.client_id() == Some("client-1"),
            )),
        )
        .layer(layer.clone());
    let optional = Router::new()
        .route("/maybe", get(maybe))
        .layer(layer.optional(true));
    Router::new()
        .route("/public", get(|| async { "public" }))
        .merge(protected)
        .merge(optional)
        .route_service(
            &protected_resource_metadata_path(RESOURCE).unwrap(),
            ProtectedResourceRoute::new(&metadata()),
        )
}

fn layer(v: Verifier) -> VerifyLayer {
    VerifyLayer::new(v)
        .realm("test-api")
        .resource_metadata(protected_resource_metadata_url(RESOURCE).unwrap())
}

struct Answer {
    status: StatusCode,
    challenge: Option<String>,
    headers: reqwest::header::HeaderMap,
    body: String,
}

async fn call(addr: SocketAddr, path: &str, auth: &[&str]) -> Answer {
    let mut req = reqwest::Client::new().get(format!("http://{addr}{path}"));
    for a in auth {
        req = req.header("authorization", *a);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let challenge = headers
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned());
    Answer {
        status,
        challenge,
        headers,
        body: resp.text().await.unwrap(),
    }
}

const META: &str = "https://api.test/.well-known/oauth-protected-resource";

#[tokio::test]
async fn missing_or_foreign_credentials_get_a_bare_challenge() {
    let (addr, _t) = serve(app(layer(fixture_verifier().await))).await;
    let expected = format!(r#"Bearer realm="test-api", resource_metadata="{META}""#);
    for auth in [&[][..], &["Basic dXNlcjpwdw=="][..], &["Negotiate abc"][..]] {
        let a = call(addr, "/me", auth).await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{auth:?}");
        assert_eq!(a.challenge.as_deref(), Some(expected.as_str()), "{auth:?}");
        let parsed = parse_challenges(&a.headers);
        assert_eq!(parsed[0].param("error"), None);
    }
    assert_eq!(call(addr, "/public", &[]).await.body, "public");
}

#[tokio::test]
async fn malformed_requests_are_400_invalid_request() {
    let (addr, _t) = serve(app(layer(fixture_verifier().await))).await;
    let good = format!("Bearer {}", token("valid RS256"));
    for auth in [
        &[good.as_str(), good.as_str()][..],
        &["Bearer "][..],
        &["Bearer a,b"][..],
        &["Bearer two words"][..],
        &["Bearer"][..],
    ] {
        let a = call(addr, "/me", auth).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{auth:?}");
        let c = &parse_challenges(&a.headers)[0];
        assert_eq!(c.scheme, "Bearer");
        assert_eq!(c.param("error"), Some("invalid_request"));
        assert_eq!(c.param("realm"), Some("test-api"));
        assert_eq!(c.param("resource_metadata"), Some(META));
    }
}

#[tokio::test]
async fn the_hostile_catalogue_through_the_layer() {
    let (addr, _t) = serve(app(layer(fixture_verifier().await))).await;
    for (name, token, expect) in catalogue() {
        // Tokens that are not even token68 are malformed requests; a few are not valid header values.
        let Ok(header) = http::HeaderValue::from_str(&format!("Bearer {token}")) else {
            continue;
        };
        let a = call(addr, "/me", &[header.to_str().unwrap()]).await;
        let token68 = token
            .trim_end_matches('=')
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b));
        if expect == "ok" {
            assert_eq!(a.status, StatusCode::OK, "{name}");
            continue;
        }
        let c = &parse_challenges(&a.headers)[0];
        if token68 {
            assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{name}");
            assert_eq!(c.param("error"), Some("invalid_token"), "{name}");
            assert_eq!(
                c.param("error_description"),
                Some("The access token is not valid"),
                "{name}"
            );
        } else {
            assert_eq!(a.status, StatusCode::BAD_REQUEST, "{name}");
            assert_eq!(c.param("error"), Some("invalid_request"), "{name}");
        }
        let echo = &token[token.len().saturating_sub(16)..];
        assert!(
            !a.body.contains(echo) && !a.challenge.unwrap_or_default().contains(echo),
            "{name}: the token was echoed"
        );
    }
}

#[tokio::test]
async fn scopes_per_route_and_the_claims_extractor() {
    let (addr, _t) = serve(app(layer(fixture_verifier().await))).await;
    let auth = format!("Bearer {}", token("valid ES256"));
    let a = call(addr, "/me", &[&auth]).await;
    assert_eq!(a.status, StatusCode::OK);
    let me: Value = serde_json::from_str(&a.body).unwrap();
    assert_eq!(
        me,
        json!({"sub": "user-1", "client_id": "client-1", "scopes": ["read", "write"], "iss": "https://issuer.test"})
    );
    assert_eq!(call(addr, "/read", &[&auth]).await.body, "read ok");
    assert_eq!(call(addr, "/admin-or-write", &[&auth]).await.body, "either");
    assert_eq!(
        call(addr, "/client-1-only", &[&auth]).await.body,
        "client ok"
    );
    for (path, scope) in [("/admin", "admin"), ("/read-and-admin", "read admin")] {
        let a = call(addr, path, &[&auth]).await;
        assert_eq!(a.status, StatusCode::FORBIDDEN, "{path}");
        assert_eq!(
            a.challenge.as_deref(),
            Some(format!(r#"Bearer realm="test-api", error="insufficient_scope", error_description="The access token does not grant the required scope", scope="{scope}", resource_metadata="{META}""#).as_str())
        );
    }
}

#[tokio::test]
async fn optional_mode_passes_anonymous_requests_but_still_refuses_bad_tokens() {
    let (addr, _t) = serve(app(layer(fixture_verifier().await))).await;
    assert_eq!(call(addr, "/maybe", &[]).await.body, "no token");
    let good = format!("Bearer {}", token("valid EdDSA"));
    assert_eq!(
        call(addr, "/maybe", &[&good]).await.body,
        "token for user-1"
    );
    let bad = call(
        addr,
        "/maybe",
        &[&format!("Bearer {}", token("exp past the leeway"))],
    )
    .await;
    assert_eq!(bad.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        parse_challenges(&bad.headers)[0].param("error"),
        Some("invalid_token")
    );
}

#[tokio::test]
async fn problem_json_bodies_and_a_custom_rejection_hook() {
    let v = fixture_verifier().await;
    let (addr, _t) = serve(app(layer(v.clone()).problem_json(true))).await;
    let a = call(addr, "/me", &[&format!("Bearer {}", token("unknown kid"))]).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert_eq!(a.headers["content-type"], "application/problem+json");
    let body: Value = serde_json::from_str(&a.body).unwrap();
    assert_eq!(
        body,
        json!({"type": "about:blank", "title": "Unauthorized", "status": 401, "detail": "The access token is not valid"})
    );

    let custom = layer(v).on_reject(|r| {
        (r.reason() == "expired").then(|| {
            http::Response::builder()
                .status(419)
                .body("renew your token".to_owned())
                .unwrap()
        })
    });
    let (addr, _t2) = serve(app(custom)).await;
    let a = call(
        addr,
        "/me",
        &[&format!("Bearer {}", token("exp past the leeway"))],
    )
    .await;
    assert_eq!(a.status.as_u16(), 419);
    assert_eq!(a.body, "renew your token");
    assert_eq!(
        call(addr, "/me", &[&format!("Bearer {}", token("unknown kid"))])
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn the_protected_resource_document_comes_from_configuration_not_the_host_header() {
    let (addr, _t) = serve(app(layer(fixture_verifier().await))).await;
    let resp = reqwest::Client::new()
        .get(format!(
            "http://{addr}/.well-known/oauth-protected-resource"
        ))
        .header("host", "evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-type"], "application/json");
    let doc: Value = resp.json().await.unwrap();
    assert_eq!(doc["resource"], RESOURCE);
    assert_eq!(doc["authorization_servers"], json!(["https://issuer.test"]));
    assert_eq!(doc["bearer_methods_supported"], json!(["header"]));
}

#[derive(Clone, Debug, serde::Deserialize)]
struct MyClaims {
    jti: String,
    client_id: String,
}

#[tokio::test]
async fn custom_claims_types_reach_the_handler() {
    let v = fixture_verifier().await;
    let app = Router::new()
        .route(
            "/typed",
            get(|Claims(v): Claims<MyClaims>| async move {
                format!("{} {}", v.claims().jti, v.claims().client_id)
            }),
        )
        .layer(VerifyLayer::new(v).claims::<MyClaims>());
    let (addr, _t) = serve(app).await;
    assert_eq!(
        call(
            addr,
            "/typed",
            &[&format!("Bearer {}", token("valid PS256"))]
        )
        .await
        .body,
        "j1 client-1"
    );
}

#[tokio::test]
async fn keys_unavailable_is_503_with_retry_after() {
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let jwks = format!("http://{}/jwks", dead.local_addr().unwrap());
    drop(dead);
    let v = Verifier::builder()
        .issuer_with_jwks_uri("https://issuer.test", jwks)
        .audience("https://api.test")
        .http(HttpClient::new().unwrap().allow_http_loopback(true))
        .fail_fast(false)
        .build()
        .await
        .unwrap();
    let protect = layer(v);
    // The readiness handle says what the 503s will say.
    assert_eq!(
        protect.health(),
        vec![(
            "https://issuer.test".to_owned(),
            telnyx_oauth::verify::KeysHealth::Unavailable
        )]
    );
    let (addr, _t) = serve(app(protect)).await;
    let a = call(addr, "/me", &[&format!("Bearer {}", token("valid RS256"))]).await;
    assert_eq!(a.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        a.headers["retry-after"]
            .to_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            >= 1
    );
    assert!(a.challenge.is_none());
}

#[tokio::test]
async fn the_real_servers_jwt_and_opaque_tokens() {
    let peer = support::Peer::start();
    let http = HttpClient::new().unwrap().allow_http_loopback(true);
    let endpoint = TokenEndpoint::new_with_http(
        http.clone(),
        &peer.token_url(),
        ClientAuth::basic("basic-client", ClientSecret::new("basic-secret")),
    )
    .unwrap();
    let get_token = |resource: &'static str| {
        let endpoint = endpoint.clone();
        async move {
            endpoint
                .client_credentials(&ClientCredentials::new().scope("read").resource(resource))
                .await
                .unwrap()
                .access_token()
                .secret()
                .to_owned()
        }
    };
    // JWTs in every algorithm, on the right audience; refused on another.
    for resource in [
        "https://rs.test/rs256",
        "https://rs.test/ps256",
        "https://rs.test/es256",
        "https://rs.test/eddsa",
    ] {
        let v = Verifier::builder()
            .issuer(peer.issuer.clone())
            .audience(resource)
            .http(http.clone())
            .build()
            .await
            .unwrap();
        let (addr, _t) = serve(app(layer(v))).await;
        let jwt = get_token(resource).await;
        assert_eq!(
            call(addr, "/read", &[&format!("Bearer {jwt}")]).await.body,
            "read ok",
            "{resource}"
        );
        let other = get_token(if resource.ends_with("rs256") {
            "https://rs.test/es256"
        } else {
            "https://rs.test/rs256"
        })
        .await;
        assert_eq!(
            call(addr, "/read", &[&format!("Bearer {other}")])
                .await
                .status,
            StatusCode::UNAUTHORIZED,
            "{resource}"
        );
    }
    // Opaque tokens through introspection: active, cached, revoked → inactive after the cache entry ends.
    let introspector = Introspector::discover(
        http.clone(),
        &peer.issuer,
        ClientAuth::basic("post-client", ClientSecret::new("post-secret")),
    )
    .await
    .unwrap()
    .audience("https://rs.test/opaque")
    .cache_ttl(Duration::from_millis(500));
    let combined =
        VerifyLayer::combined(fixture_verifier().await, introspector.clone()).realm("test-api");
    let (addr, _t) = serve(app(combined)).await;
    let opaque = get_token("https://rs.test/opaque").await;
    assert!(!opaque.contains('.'), "an opaque token");
    for _ in 0..3 {
        assert_eq!(
            call(addr, "/read", &[&format!("Bearer {opaque}")])
                .await
                .body,
            "read ok"
        );
    }
    let stats = introspector.stats();
    assert_eq!(
        (stats.requests, stats.cache_hits),
        (1, 2),
        "one introspection, two cache hits"
    );
    // The fixture JWTs still go through the local verifier in combined mode.
    assert_eq!(
        call(
            addr,
            "/read",
            &[&format!("Bearer {}", token("valid RS256"))]
        )
        .await
        .body,
        "read ok"
    );
    let revoke = reqwest::Client::new()
        .post(peer.url("/oauth/revoke"))
        .basic_auth("basic-client", Some("basic-secret"))
        .form(&[("token", opaque.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(revoke.status(), StatusCode::OK);
    assert_eq!(
        call(addr, "/read", &[&format!("Bearer {opaque}")])
            .await
            .body,
        "read ok",
        "still cached"
    );
    tokio::time::sleep(Duration::from_millis(600)).await;
    let a = call(addr, "/read", &[&format!("Bearer {opaque}")]).await;
    assert_eq!(
        a.status,
        StatusCode::UNAUTHORIZED,
        "inactive once the cache entry expired"
    );
    assert_eq!(introspector.stats().requests, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_rotation_during_a_steady_request_stream() {
    use telnyx_oauth::verify::JwksPolicy;
    use wiremock::matchers::path;
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let rotation = fixture("rotation-tokens.json");
    let (a, b) = (
        rotation["a"].as_str().unwrap().to_owned(),
        rotation["b"].as_str().unwrap().to_owned(),
    );
    let (set_a, set_b) = (
        fixture("jwks-rotation-a.json"),
        fixture("jwks-rotation-b.json"),
    );
    let both = json!({"keys": [set_a["keys"][0].clone(), set_b["keys"][0].clone()]});
    let jwks = MockServer::start().await;
    let serve_set = |set: Value| {
        let jwks = &jwks;
        async move {
            jwks.reset().await;
            Mock::given(path("/jwks"))
                .respond_with(
                    ResponseTemplate::new(200).set_body_raw(set.to_string(), "application/json"),
                )
                .mount(jwks)
                .await;
        }
    };
    serve_set(set_a.clone()).await;
    let now = fixture("tokens.json")["now"].as_f64().unwrap();
    let v = Verifier::builder()
        .issuer_with_jwks_uri("https://issuer.test", format!("{}/jwks", jwks.uri()))
        .audience("https://api.test")
        .http(HttpClient::new().unwrap().allow_http_loopback(true))
        .jwks_policy(JwksPolicy::default().with_fresh(Duration::from_millis(200)))
        .clock(move || now)
        .build()
        .await
        .unwrap();
    let (addr, _t) = serve(app(layer(v))).await;
    let mut statuses = Vec::new();
    // Phase 1: only key A. Phase 2: the issuer publishes A and B and starts signing with B.
    // Phase 3: A is retired.
    for step in 0..90 {
        if step == 30 {
            serve_set(both.clone()).await;
        }
        if step == 60 {
            serve_set(set_b.clone()).await;
        }
        let current = if step < 30 { &a } else { &b };
        statuses.push(
            call(addr, "/read", &[&format!("Bearer {current}")])
                .await
                .status,
        );
        tokio::time::sleep(Duration::from_millis(15)).await;
    }
    assert!(
        statuses.iter().all(|s| *s == StatusCode::OK),
        "{statuses:?}"
    );
    // After a refresh of the B-only set, the retired key no longer verifies.
    tokio::time::sleep(Duration::from_millis(300)).await;
    for _ in 0..20 {
        let _ = call(addr, "/read", &[&format!("Bearer {b}")]).await;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        call(addr, "/read", &[&format!("Bearer {a}")]).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn a_claims_extractor_without_a_verify_layer_is_a_server_error_not_a_401() {
    // A routing mistake: the handler wants Claims, but no VerifyLayer runs in front of it.
    let (addr, task) = serve(Router::new().route("/me", get(me))).await;
    let resp = reqwest::Client::new()
        .get(format!("http://{addr}/me"))
        .bearer_auth(token("valid RS256"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 500);
    assert!(resp.headers().get("www-authenticate").is_none());
    assert!(resp.text().await.unwrap().contains("VerifyLayer"));
    task.abort();
}

#[tokio::test]
async fn the_services_give_access_to_what_they_wrap() {
    use tower::Layer;
    let mut svc = VerifyLayer::new(fixture_verifier().await).layer(41u32);
    *svc.get_mut() += 1;
    assert_eq!(*svc.get_ref(), 42);
    assert_eq!(svc.into_inner(), 42);
    let mut scoped = RequireScopes::all(["read"]).layer(String::from("inner"));
    scoped.get_mut().push('!');
    assert_eq!(scoped.get_ref(), "inner!");
    assert_eq!(scoped.into_inner(), "inner!");
}
