//! Outbound calls with reqwest: `BearerLayer` around `reqwest::Client` (a Tower service), and
//! `BearerMiddleware` for reqwest-middleware users.
//!
//! ```sh
//! cargo run --example outbound_reqwest --features dev-server,reqwest-middleware
//! ```
//!
//! It calls the embedded dev server's RFC 8414 document as a stand-in API (any URL works the same).

use telnyx_oauth::bearer::{BearerLayer, BearerMiddleware};
use telnyx_oauth::dev_server::DevServer;
use telnyx_oauth::{
    ClientAuth, ClientCredentials, ClientSecret, HttpClient, TokenEndpoint, TokenProvider,
};
use tower::{Service, ServiceBuilder, ServiceExt};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let dev = DevServer::start().await?;
    let (id, secret) = dev.add_client("outbound-reqwest", &["read"]);
    let endpoint = TokenEndpoint::discover(
        HttpClient::new()?.allow_http_loopback(true),
        dev.issuer(),
        ClientAuth::basic(id, ClientSecret::new(secret)),
    )
    .await?;
    let provider = TokenProvider::client_credentials(endpoint, ClientCredentials::new()).build()?;
    let url = format!("{}/.well-known/oauth-authorization-server", dev.issuer());

    // 1. reqwest::Client as a Tower service, wrapped in BearerLayer.
    let mut client = ServiceBuilder::new()
        .layer(BearerLayer::new(provider.clone()))
        .service(reqwest::Client::new());
    let request = reqwest::Request::new(reqwest::Method::GET, url.parse()?);
    let response = client.ready().await?.call(request).await?;
    println!("BearerLayer over reqwest::Client: {}", response.status());

    // 2. reqwest-middleware.
    let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(BearerMiddleware::new(provider.clone()))
        .build();
    let response = client.get(&url).send().await?;
    println!("BearerMiddleware: {}", response.status());
    println!("token requests for both calls: {}", dev.token_requests());
    Ok(())
}
