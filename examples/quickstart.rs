//! The whole library, end to end, with no credentials: an embedded authorization server, a token
//! provider, an outbound layer, a protected API, introspection, proactive refresh, revocation.
//!
//! ```sh
//! cargo run --example quickstart --features dev-server,axum
//! ```
//!
//! Every step checks that it did what it says; the run exits 0 only if all of them did.
//!
//! With `--live` and `TELNYX_API_KEY`, `TELNYX_CLIENT_ID`, `TELNYX_CLIENT_SECRET` set, the steps that
//! make sense against api.telnyx.com run there instead: discovery, JWKS, listing OAuth clients, a
//! `TokenProvider` with client_credentials, and introspection of its token.

use std::time::Duration;

use axum::Router;
use axum::routing::get;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::json;
use telnyx_oauth::api::{AuthorizeRequest, ClientCreate, ClientType, GrantType, Telnyx};
use telnyx_oauth::bearer::BearerLayer;
use telnyx_oauth::dev_server::{DevClient, DevServer};
use telnyx_oauth::verify::{Claims, RequireScopes, Verifier, VerifyLayer};
use telnyx_oauth::{
    ClientAuth, ClientCredentials, ClientSecret, HttpClient, TokenEndpoint, TokenProvider,
};
use tower::{Layer, ServiceExt};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The `WWW-Authenticate` header of a response, as text (empty when absent).
fn challenge_of<B>(resp: &http::Response<B>) -> String {
    resp.headers()
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

fn step(n: u32, text: &str) {
    println!("\n[{n}] {text}");
}

fn check(ok: bool, what: &str) -> Result<(), BoxError> {
    if ok {
        println!("    ok: {what}");
        Ok(())
    } else {
        Err(format!("FAILED: {what}").into())
    }
}

#[tokio::main]
async fn main() {
    let live = std::env::args().any(|a| a == "--live");
    let result = if live { run_live().await } else { run().await };
    match result {
        Ok(()) => println!("\nquickstart: every step succeeded"),
        Err(e) => {
            eprintln!("\nquickstart: {e}");
            std::process::exit(1);
        }
    }
}

async fn run() -> Result<(), BoxError> {
    // Loopback http is allowed explicitly: the dev server is local.
    let http = HttpClient::new()?.allow_http_loopback(true);

    step(1, "start the embedded dev authorization server");
    let dev = DevServer::start().await?;
    println!("    issuer {}", dev.issuer());

    step(2, "create an OAuth client through the management API");
    let telnyx = Telnyx::builder()
        .base_url(dev.api_base())
        .http(http.clone())
        .api_key(ClientSecret::new(dev.api_key()))
        .build()?;
    let client = telnyx
        .clients()
        .create(&ClientCreate::new(
            "quickstart",
            ClientType::Confidential,
            [GrantType::ClientCredentials],
            ["read", "write"],
        ))
        .await?;
    let secret = client.client_secret.clone().ok_or("no secret returned")?;
    println!("    client_id {}", client.client_id);
    let auth = ClientAuth::basic(client.client_id.clone(), secret.clone());

    step(
        3,
        "a TokenProvider runs client_credentials against the token endpoint",
    );
    let endpoint = TokenEndpoint::discover(http.clone(), dev.issuer(), auth.clone()).await?;
    let provider =
        TokenProvider::client_credentials(endpoint, ClientCredentials::new().scope("read"))
            .build()?;
    let token = provider.token().await?;
    check(
        token.token().scope() == Some("read"),
        "a token with scope read",
    )?;

    step(
        4,
        "an axum API protected by VerifyLayer, with a scoped route",
    );
    let verifier = Verifier::builder()
        .issuer(dev.issuer())
        .audience(dev.issuer())
        .http(http.clone())
        .build()
        .await?;
    let app = Router::new()
        .route(
            "/me",
            get(|Claims(v): Claims| async move {
                json!({"sub": v.subject(), "client_id": v.client_id(), "scopes": v.scopes()})
                    .to_string()
            }),
        )
        .route(
            "/admin",
            get(|| async { "admin area" }).layer(RequireScopes::all(["admin"])),
        )
        .layer(VerifyLayer::new(verifier).realm("quickstart"));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let api = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });
    println!("    API at {api}");

    step(5, "a hyper-util client with BearerLayer calls /me");
    let plain: Client<_, Empty<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let with_token = BearerLayer::new(provider.clone()).layer(plain.clone());
    let get = |path: &str| {
        http::Request::get(format!("{api}{path}"))
            .body(Empty::<Bytes>::new())
            .map_err(BoxError::from)
    };
    let resp = with_token.clone().oneshot(get("/me")?).await?;
    let status = resp.status();
    let body = String::from_utf8(resp.into_body().collect().await?.to_bytes().to_vec())?;
    println!("    {status} {body}");
    check(
        status == 200 && body.contains(&client.client_id),
        "200 with the verified claims",
    )?;

    step(6, "the same call without the layer");
    let resp = plain.clone().oneshot(get("/me")?).await?;
    let challenge = challenge_of(&resp);
    println!("    {} WWW-Authenticate: {challenge}", resp.status());
    check(
        resp.status() == 401 && challenge.starts_with("Bearer realm=\"quickstart\""),
        "401 with a Bearer challenge",
    )?;

    step(7, "the scoped route with too few scopes");
    let resp = with_token.clone().oneshot(get("/admin")?).await?;
    let challenge = challenge_of(&resp);
    println!("    {} WWW-Authenticate: {challenge}", resp.status());
    check(
        resp.status() == 403 && challenge.contains("insufficient_scope"),
        "403 insufficient_scope",
    )?;

    step(8, "introspection of the access token");
    let introspecting = Telnyx::builder()
        .base_url(dev.api_base())
        .http(http.clone())
        .client_auth(auth.clone())
        .build()?;
    let answer = introspecting.introspect(token.access_token()).await?;
    println!(
        "    active={} scope={:?} client_id={:?}",
        answer.active, answer.scope, answer.client_id
    );
    check(answer.active, "the server says the token is active")?;

    step(
        9,
        "short-lived tokens: the provider refreshes ahead while requests keep succeeding",
    );
    dev.set_ttl(Duration::from_secs(4));
    let short = TokenProvider::client_credentials(
        TokenEndpoint::discover(http.clone(), dev.issuer(), auth.clone()).await?,
        ClientCredentials::new(),
    )
    .build()?;
    let short_client = BearerLayer::new(short.clone()).layer(plain.clone());
    let first = short.token().await?.generation();
    let mut ok = 0;
    for _ in 0..60 {
        if short_client.clone().oneshot(get("/me")?).await?.status() == 200 {
            ok += 1;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let stats = short.stats();
    println!(
        "    60 requests over 6 s: {ok} succeeded; {} tokens fetched; {} callers waited after the first",
        stats.fetches_ok,
        stats.waited - 1
    );
    check(
        ok == 60 && short.token().await?.generation() > first + 1,
        "every request succeeded across refreshes",
    )?;
    dev.set_ttl(Duration::from_secs(3600));

    step(
        10,
        "a user grants access (authorization code + PKCE), then the grant is revoked",
    );
    let (app_id, _) = dev.add_client_with(DevClient::public(
        "quickstart-app",
        &["read"],
        "http://127.0.0.1/callback",
    ));
    let public = Telnyx::builder()
        .base_url(dev.api_base())
        .http(http.clone())
        .client_auth(ClientAuth::none(app_id.clone()))
        .build()?;
    let (url, pending) = public
        .authorize_url(AuthorizeRequest::new(app_id, "http://127.0.0.1/callback").scope("read"))?;
    let code = pending.code_from_redirect(&dev.approve(&url)?)?;
    let tokens = public
        .token_endpoint()?
        .exchange_code(
            &code,
            pending.redirect_uri(),
            Some(pending.pkce().verifier()),
        )
        .await?;
    let grant = telnyx
        .grants()
        .list_page(None, 1)
        .await?
        .data
        .into_iter()
        .next()
        .ok_or("no grant")?;
    println!("    grant {} for scopes {:?}", grant.id, grant.scopes);
    telnyx.grants().revoke(&grant.id).await?;
    let refresh = public
        .token_endpoint()?
        .refresh(tokens.refresh_token().ok_or("no refresh token")?, &[])
        .await;
    println!(
        "    refresh after revocation: {}",
        refresh
            .as_ref()
            .err()
            .map_or("succeeded?!".to_owned(), |e| e.to_string())
    );
    check(
        refresh.is_err_and(|e| e.is_permanent()),
        "the revoked grant's refresh token no longer works",
    )?;
    Ok(())
}

/// The steps that make sense against the real Telnyx API.
async fn run_live() -> Result<(), BoxError> {
    let missing: Vec<&str> = ["TELNYX_API_KEY", "TELNYX_CLIENT_ID", "TELNYX_CLIENT_SECRET"]
        .into_iter()
        .filter(|v| std::env::var(v).map_or(true, |x| x.is_empty()))
        .collect();
    if !missing.is_empty() {
        return Err(format!("--live needs {}", missing.join(", ")).into());
    }
    let telnyx = Telnyx::from_env()?;

    step(
        1,
        "discover Telnyx's authorization server metadata (issuer checked)",
    );
    let metadata = telnyx.authorization_server_metadata().await?;
    println!(
        "    issuer {} token endpoint {:?}",
        metadata.issuer, metadata.token_endpoint
    );
    check(
        metadata.issuer == telnyx_oauth::telnyx::ISSUER,
        "the issuer is https://api.telnyx.com",
    )?;

    step(2, "fetch the JWKS");
    let jwks = telnyx.jwks().await?;
    println!("    {} keys", jwks.keys.len());

    step(
        3,
        "list OAuth clients through the management API (auto-paging)",
    );
    let page = telnyx.clients().list_page(&Default::default(), 1).await?;
    println!(
        "    {} on the first page, {:?} in all",
        page.data.len(),
        page.meta.total_results
    );

    step(4, "a TokenProvider runs client_credentials against Telnyx");
    let provider =
        TokenProvider::client_credentials(telnyx.token_endpoint()?, ClientCredentials::new())
            .build()?;
    let token = provider.token().await?;
    println!(
        "    token expires in {:?}, scope {:?}",
        token.token().expires_in(),
        token.token().scope()
    );

    step(5, "introspect the token");
    let answer = telnyx.introspect(token.access_token()).await?;
    println!(
        "    active={} client_id={:?}",
        answer.active, answer.client_id
    );
    check(answer.active, "Telnyx says the token is active")
}
