//! A small API that can protect a real deployment, configured by the environment.
//!
//! ```sh
//! ISSUER=https://api.telnyx.com AUDIENCE=https://api.example.com \
//!     cargo run --example axum_protected --features axum
//! ```
//!
//! | variable | meaning |
//! |---|---|
//! | `ISSUER` | the authorization server (required); keys found through RFC 8414 discovery |
//! | `AUDIENCE` | the `aud` tokens must carry (required); also the RFC 9728 `resource` |
//! | `JWKS_URI` | the JWKS, instead of discovery (optional) |
//! | `ALLOW_HTTP` | `1` allows plain http to loopback key servers (a local dev server) |
//! | `BIND` | where to listen (default `127.0.0.1:3000`); prints `listening on ADDR` once ready |
//!
//! Routes: `GET /public` (no token), `GET /me` (any valid token: the verified claims as JSON),
//! `GET /read` (scope `read`), `GET /admin` (scope `admin`), `GET /maybe` (optional token), and
//! `/.well-known/oauth-protected-resource` (RFC 9728, referenced from every challenge).

use axum::Router;
use axum::routing::get;
use serde_json::json;
use telnyx_oauth::verify::{
    Claims, ProtectedResourceRoute, RequireScopes, Verifier, VerifyLayer,
    protected_resource_metadata_path, protected_resource_metadata_url,
};
use telnyx_oauth::{HttpClient, ProtectedResourceMetadata};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

#[tokio::main]
async fn main() {
    if let Err(e) = run().await {
        eprintln!("error: {e}");
        std::process::exit(2);
    }
}

async fn me(Claims(v): Claims) -> String {
    json!({"sub": v.subject(), "client_id": v.client_id(), "scopes": v.scopes(), "claims": v.claims()}).to_string()
}

async fn maybe(claims: Option<Claims>) -> String {
    match claims {
        Some(c) => format!("authenticated as {}", c.subject().unwrap_or("(no sub)")),
        None => "anonymous".to_owned(),
    }
}

async fn run() -> Result<(), BoxError> {
    let issuer = var("ISSUER").ok_or("set ISSUER (the authorization server)")?;
    let audience = var("AUDIENCE").ok_or("set AUDIENCE (this API's identifier)")?;
    let http = HttpClient::new()?.allow_http_loopback(var("ALLOW_HTTP").as_deref() == Some("1"));
    let mut builder = Verifier::builder().audience(audience.clone()).http(http);
    builder = match var("JWKS_URI") {
        Some(jwks) => builder.issuer_with_jwks_uri(issuer.clone(), jwks),
        None => builder.issuer(issuer.clone()),
    };
    let verifier = builder.build().await?;

    let mut metadata = ProtectedResourceMetadata::default();
    metadata.resource = audience.clone();
    metadata.authorization_servers = Some(vec![issuer]);
    metadata.scopes_supported = Some(vec!["read".into(), "admin".into()]);
    metadata.bearer_methods_supported = Some(vec!["header".into()]);
    let layer = VerifyLayer::new(verifier)
        .realm("axum_protected")
        .resource_metadata(protected_resource_metadata_url(&audience)?);

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
        .layer(layer.clone());
    let app = Router::new()
        .route("/public", get(|| async { "public" }))
        .merge(protected)
        .merge(
            Router::new()
                .route("/maybe", get(maybe))
                .layer(layer.optional(true)),
        )
        .route_service(
            &protected_resource_metadata_path(&audience)?,
            ProtectedResourceRoute::new(&metadata),
        );

    let bind = var("BIND").unwrap_or_else(|| "127.0.0.1:3000".to_owned());
    let listener = tokio::net::TcpListener::bind(&bind).await?;
    println!("listening on {}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}
