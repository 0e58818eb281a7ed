//! The authorization-code flow with PKCE and a local redirect listener on 127.0.0.1.
//!
//! ```sh
//! cargo run --example authorization_code_pkce --features dev-server
//! ```
//!
//! With no `TELNYX_CLIENT_ID` it runs against the embedded dev server, whose authorize endpoint
//! approves at once, so the "browser" is a plain HTTP client following the redirect. With
//! `TELNYX_CLIENT_ID` (a public client whose redirect URIs include `http://127.0.0.1:8765/callback`)
//! it prints the Telnyx authorize URL for you to open, and waits for the redirect.

use std::time::Duration;

use telnyx_oauth::api::{AuthorizeRequest, Telnyx};
use telnyx_oauth::dev_server::{DevClient, DevServer};
use telnyx_oauth::{ClientAuth, HttpClient};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() {
    if let Err(e) = run().await {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

/// Waits (bounded: 5 minutes) for one request to the redirect listener and returns its full URL.
async fn receive_redirect(
    listener: tokio::net::TcpListener,
    base: &str,
) -> Result<url::Url, BoxError> {
    let (mut sock, _) = tokio::time::timeout(Duration::from_secs(300), listener.accept()).await??;
    let mut buf = vec![0u8; 8192];
    let n = sock.read(&mut buf).await?;
    let head = String::from_utf8_lossy(&buf[..n]);
    let target = head
        .split_whitespace()
        .nth(1)
        .ok_or("not an HTTP request")?
        .to_owned();
    let body = "Signed in. You may close this window.";
    sock.write_all(
        format!(
            "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        )
        .as_bytes(),
    )
    .await?;
    Ok(url::Url::parse(base)?.join(&target)?)
}

async fn run() -> Result<(), BoxError> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:8765")
        .await
        .or(tokio::net::TcpListener::bind("127.0.0.1:0").await)?;
    let redirect_uri = format!("http://{}/callback", listener.local_addr()?);
    let live = std::env::var("TELNYX_CLIENT_ID")
        .ok()
        .filter(|v| !v.is_empty());

    let (dev, client_id, telnyx) = match live {
        Some(id) => (
            None,
            id.clone(),
            Telnyx::builder()
                .client_auth(ClientAuth::none(id))
                .build()?,
        ),
        None => {
            let dev = DevServer::start().await?;
            let (id, _) =
                dev.add_client_with(DevClient::public("pkce-example", &["read"], &redirect_uri));
            let telnyx = Telnyx::builder()
                .base_url(dev.api_base())
                .http(HttpClient::new()?.allow_http_loopback(true))
                .client_auth(ClientAuth::none(id.clone()))
                .build()?;
            (Some(dev), id, telnyx)
        }
    };

    let (url, pending) = telnyx
        .authorize_url(AuthorizeRequest::new(client_id, redirect_uri.clone()).scope("read"))?;
    println!("authorize at: {url}");
    let base = redirect_uri.clone();
    let waiting = tokio::spawn(async move { receive_redirect(listener, &base).await });
    if dev.is_some() {
        // The dev server approves at once; following its redirect delivers the code to our listener.
        reqwest::get(url.as_str()).await?;
    } else {
        println!("open the URL above in a browser and approve");
    }
    let redirect = waiting.await??;
    let code = pending.code_from_redirect(&redirect)?;
    println!("redirect received with a code and the expected state");
    let token = telnyx
        .token_endpoint()?
        .exchange_code(
            &code,
            pending.redirect_uri(),
            Some(pending.pkce().verifier()),
        )
        .await?;
    println!(
        "token: expires in {:?}, scope {:?}, refresh token {}",
        token.expires_in(),
        token.scope(),
        if token.refresh_token().is_some() {
            "issued"
        } else {
            "not issued"
        }
    );
    Ok(())
}
