//! `discover`: an authorization server's RFC 8414 metadata, checked.

use std::process::ExitCode;

use clap::Args;
use telnyx_oauth::{AuthorizationServerMetadata, telnyx};

use crate::common::{Failure, Outcome, check_url, http_client, print_json};

pub const DISCOVER_HELP: &str = "\
Examples:
  telnyx-oauth discover https://api.telnyx.com
  telnyx-oauth discover --allow-http http://127.0.0.1:8080

Fetches /.well-known/oauth-authorization-server (falling back to openid-configuration), checks that
its `issuer` is exactly the one asked for, and prints it as JSON.";

/// `discover`
#[derive(Args)]
pub struct DiscoverArgs {
    /// The issuer identifier (default: Telnyx's).
    #[arg(value_name = "ISSUER", default_value = telnyx::ISSUER)]
    issuer: String,
}

pub async fn discover(args: DiscoverArgs, allow_http: bool) -> Outcome {
    check_url(&args.issuer, allow_http, "ISSUER")?;
    let http = http_client(allow_http)?;
    let metadata = AuthorizationServerMetadata::discover(&http, &args.issuer)
        .await
        .map_err(|e| Failure::from(e).context("discovery"))?;
    let value = serde_json::to_value(&metadata)
        .map_err(|e| Failure::failed(format!("cannot format the metadata: {e}")))?;
    print_json(&value)?;
    Ok(ExitCode::SUCCESS)
}
