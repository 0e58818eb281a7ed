//! Outbound calls with hyper-util's client and `BearerLayer`: every request carries a token from one
//! shared, self-refreshing `TokenProvider`.
//!
//! ```sh
//! cargo run --example outbound_hyper --features dev-server
//! ```
//!
//! It starts the embedded dev server and a small local API that reports what it received, so it runs
//! with no credentials. Against Telnyx, build the provider from `TokenEndpoint::telnyx(...)` instead.

use std::convert::Infallible;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use telnyx_oauth::bearer::BearerLayer;
use telnyx_oauth::dev_server::DevServer;
use telnyx_oauth::{
    ClientAuth, ClientCredentials, ClientSecret, HttpClient, TokenEndpoint, TokenProvider,
};
use tower::{ServiceBuilder, ServiceExt};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A local API that answers with the length of the bearer token it received (never the token).
async fn echo_api() -> Result<String, BoxError> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let service = hyper::service::service_fn(
                    |req: http::Request<hyper::body::Incoming>| async move {
                        let len = req
                            .headers()
                            .get("authorization")
                            .and_then(|v| v.to_str().ok())
                            .and_then(|v| v.strip_prefix("Bearer "))
                            .map_or(0, str::len);
                        Ok::<_, Infallible>(http::Response::new(Full::new(Bytes::from(format!(
                            "bearer token of {len} characters"
                        )))))
                    },
                );
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok(format!("http://{addr}"))
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let dev = DevServer::start().await?;
    let (id, secret) = dev.add_client("outbound-hyper", &["read"]);
    let http = HttpClient::new()?.allow_http_loopback(true);
    let endpoint = TokenEndpoint::discover(
        http,
        dev.issuer(),
        ClientAuth::basic(id, ClientSecret::new(secret)),
    )
    .await?;
    let provider =
        TokenProvider::client_credentials(endpoint, ClientCredentials::new().scope("read"))
            .build()?;

    let api = echo_api().await?;
    let client = ServiceBuilder::new()
        .layer(BearerLayer::new(provider.clone()))
        .service(Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>());
    for _ in 0..3 {
        let response = client
            .clone()
            .oneshot(http::Request::get(format!("{api}/")).body(Empty::new())?)
            .await?;
        let body = response.into_body().collect().await?.to_bytes();
        println!("{}", String::from_utf8_lossy(&body));
    }
    println!("token requests for 3 calls: {}", dev.token_requests());
    Ok(())
}
