//! `dev-server`: the embedded Telnyx-compatible authorization server, in the foreground.

use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use serde_json::json;
use telnyx_oauth::dev_server::{DevClient, DevServer};

use crate::common::{Failure, Outcome, algorithm, note, print_line};

pub const DEV_SERVER_HELP: &str = "\
Example:
  telnyx-oauth dev-server --port 8080 --ttl 300 --alg ES256

Listens on 127.0.0.1 only, prints its issuer, a ready-to-use client (client_credentials,
authorization_code with the redirect URI, refresh_token) and the API key its management endpoints
accept, then serves until Ctrl-C. Point the other subcommands at it with --allow-http --issuer URL,
or TELNYX_BASE_URL=<api base> for clients and grants. Everything lives in memory.";

/// `dev-server`
#[derive(Args)]
pub struct DevServerArgs {
    /// The port on 127.0.0.1 (default: any free port).
    #[arg(long, value_name = "N", default_value_t = 0)]
    port: u16,
    /// Access-token lifetime in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 3600)]
    ttl: u64,
    /// The signing algorithm: RS256, ES256 or EdDSA.
    #[arg(long, value_name = "ALG", default_value = "RS256")]
    alg: String,
    /// Issue opaque access tokens (for introspection) instead of JWTs.
    #[arg(long)]
    opaque: bool,
    /// A scope the printed client may request (repeatable).
    #[arg(long = "scope", value_name = "SCOPE", default_values_t = ["read".to_owned(), "write".to_owned()])]
    scopes: Vec<String>,
    /// The redirect URI registered for the printed client (what `authorize` uses by default).
    #[arg(
        long,
        value_name = "URI",
        default_value = "http://127.0.0.1:8976/callback"
    )]
    redirect_uri: String,
    /// Prints the startup details as one JSON line instead of text.
    #[arg(long)]
    json: bool,
}

pub async fn run(args: DevServerArgs) -> Outcome {
    let alg = algorithm(&args.alg)?;
    if args.ttl == 0 {
        return Err(Failure::usage("--ttl must be at least 1 second"));
    }
    let server = DevServer::builder()
        .algorithm(alg)
        .ttl(Duration::from_secs(args.ttl))
        .opaque_tokens(args.opaque)
        .port(args.port)
        .start()
        .await
        .map_err(Failure::from)?;
    let scopes: Vec<&str> = args.scopes.iter().map(String::as_str).collect();
    let mut client = DevClient::confidential("telnyx-oauth CLI", &scopes);
    client.grant_types = vec![
        "client_credentials".into(),
        "authorization_code".into(),
        "refresh_token".into(),
    ];
    client.redirect_uris = vec![args.redirect_uri.clone()];
    let (client_id, client_secret) = server.add_client_with(client);
    let issuer = server.issuer().to_owned();
    if args.json {
        print_line(
            &json!({
                "issuer": issuer,
                "api_base": server.api_base(),
                "token_url": server.token_url(),
                "jwks_url": format!("{}/oauth/jwks", server.api_base()),
                "client_id": client_id,
                "client_secret": client_secret,
                "redirect_uri": args.redirect_uri,
                "api_key": server.api_key(),
            })
            .to_string(),
        )?;
    } else {
        let kind = if args.opaque { "opaque" } else { alg.as_str() };
        print_line(&format!(
            "telnyx-oauth dev server: {kind} tokens living {} s, on 127.0.0.1 only",
            args.ttl
        ))?;
        for (name, value) in [
            ("issuer", issuer.as_str()),
            ("api base", &server.api_base()),
            ("token url", &server.token_url()),
            ("client id", &client_id),
            ("client secret", &client_secret),
            ("redirect uri", &args.redirect_uri),
            ("api key", server.api_key()),
        ] {
            print_line(&format!("{name:<14}{value}"))?;
        }
        print_line(&format!(
            "\nTry:\n  TELNYX_CLIENT_SECRET={client_secret} telnyx-oauth token --allow-http --issuer {issuer} --client-id {client_id} --scope read"
        ))?;
    }
    note("Serving until Ctrl-C.");
    shutdown_signal().await;
    note("Stopped.");
    Ok(ExitCode::SUCCESS)
}

/// Ctrl-C, or SIGTERM on Unix.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
