//! Lists, creates, updates and deletes an OAuth client through the Telnyx API.
//!
//! Run against Telnyx (the API key needs access to OAuth client management):
//!
//! ```sh
//! TELNYX_API_KEY=KEY... cargo run --example manage_clients
//! ```
//!
//! `TELNYX_BASE_URL` points it elsewhere (a test server speaking the same API). Without
//! `TELNYX_API_KEY` it runs against the embedded dev server when built with `--features dev-server`,
//! and otherwise explains what it needs and exits with status 2.

use std::future::poll_fn;
use std::pin::Pin;

use futures_core::Stream;
use telnyx_oauth::api::{
    ClientCreate, ClientListQuery, ClientType, ClientUpdate, GrantType, Telnyx,
};

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let result = if std::env::var("TELNYX_API_KEY").is_ok_and(|k| !k.is_empty()) {
        match Telnyx::from_env() {
            Ok(telnyx) => run(telnyx).await,
            Err(e) => Err(e),
        }
    } else {
        without_api_key().await
    };
    if let Err(e) = result {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

#[cfg(feature = "dev-server")]
async fn without_api_key() -> Result<(), telnyx_oauth::Error> {
    let dev = telnyx_oauth::dev_server::DevServer::start().await?;
    println!(
        "no TELNYX_API_KEY: using the embedded dev server at {}",
        dev.issuer()
    );
    let telnyx = Telnyx::builder()
        .base_url(dev.api_base())
        .http(telnyx_oauth::HttpClient::new()?.allow_http_loopback(true))
        .api_key(telnyx_oauth::ClientSecret::new(dev.api_key()))
        .build()?;
    dev.add_client("an existing client", &["read"]);
    run(telnyx).await
}

#[cfg(not(feature = "dev-server"))]
async fn without_api_key() -> Result<(), telnyx_oauth::Error> {
    eprintln!(
        "set TELNYX_API_KEY (and optionally TELNYX_BASE_URL), or build with --features dev-server"
    );
    std::process::exit(2);
}

async fn run(telnyx: Telnyx) -> Result<(), telnyx_oauth::Error> {
    println!("existing clients:");
    let mut all = telnyx.clients().list(ClientListQuery {
        page_size: Some(50),
        ..Default::default()
    });
    let mut count = 0;
    // Bounded: the stream stops on the last page (and after MAX_PAGES at the most).
    while let Some(client) = poll_fn(|cx| Pin::new(&mut all).poll_next(cx)).await {
        let client = client?;
        println!(
            "  {}  {:<30} {:?}",
            client.client_id, client.name, client.client_type
        );
        count += 1;
    }
    println!("  ({count} in all)");

    let created = telnyx
        .clients()
        .create(&ClientCreate::new(
            "telnyx-oauth example",
            ClientType::Confidential,
            [GrantType::ClientCredentials],
            ["messaging.read"],
        ))
        .await?;
    println!(
        "created {} (secret shown once: {} characters)",
        created.client_id,
        created
            .client_secret
            .as_ref()
            .map_or(0, |s| s.secret().len())
    );

    let updated = telnyx
        .clients()
        .update(
            &created.client_id,
            &ClientUpdate::new().name("telnyx-oauth example (renamed)"),
        )
        .await?;
    println!("renamed to {:?}", updated.name);

    telnyx.clients().delete(&created.client_id).await?;
    println!("deleted {}", created.client_id);
    Ok(())
}
