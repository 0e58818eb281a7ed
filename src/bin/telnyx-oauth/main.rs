//! `telnyx-oauth`: get, verify, decode and introspect OAuth 2.0 tokens; discover authorization servers;
//! manage Telnyx OAuth clients and grants; run the local dev server. Built on the `telnyx-oauth`
//! library (feature `cli`).
//!
//! Exit status: 0 success; 1 the token is invalid or inactive, or the server refused or could not be
//! reached; 2 a usage or configuration error (bad flags, unreadable files, bad URLs, plain http
//! without `--allow-http`).

#![forbid(unsafe_code)]
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

mod common;
mod dev;
mod manage;
mod server;
mod tokens;
mod verify;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

const EXIT_STATUS: &str = "\
Exit status: 0 success; 1 a token is invalid or inactive, or a server refused the request or could not
be reached; 2 a usage or configuration error (bad flags, unreadable files, bad URLs, plain http without
--allow-http).";

#[derive(Parser)]
#[command(
    name = "telnyx-oauth",
    version,
    about = "OAuth 2.0 from the command line: tokens, verification, discovery, Telnyx clients and grants.",
    after_help = EXIT_STATUS
)]
struct Cli {
    /// Allows plain http:// to loopback hosts (127.0.0.1, ::1, localhost), e.g. the dev server.
    /// Every other host needs https.
    #[arg(long, global = true)]
    allow_http: bool,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Gets an access token (client_credentials, or refresh_token with --refresh-token).
    #[command(after_help = tokens::TOKEN_HELP)]
    Token(tokens::TokenArgs),
    /// Verifies JWT access tokens and prints one JSON line per token.
    #[command(after_help = verify::VERIFY_HELP)]
    Verify(verify::VerifyArgs),
    /// Shows a token's header and claims WITHOUT verifying it.
    #[command(after_help = verify::DECODE_HELP)]
    Decode(verify::DecodeArgs),
    /// Fetches and checks an authorization server's RFC 8414 metadata.
    #[command(after_help = server::DISCOVER_HELP)]
    Discover(server::DiscoverArgs),
    /// Asks the authorization server about a token (RFC 7662).
    #[command(after_help = tokens::INTROSPECT_HELP)]
    Introspect(tokens::IntrospectArgs),
    /// Manages Telnyx OAuth clients (needs TELNYX_API_KEY).
    #[command(subcommand, after_help = manage::CLIENTS_HELP)]
    Clients(manage::ClientsCommand),
    /// Manages Telnyx OAuth grants (needs TELNYX_API_KEY).
    #[command(subcommand, after_help = manage::GRANTS_HELP)]
    Grants(manage::GrantsCommand),
    /// Runs the local dev authorization server in the foreground (Ctrl-C stops it).
    #[command(after_help = dev::DEV_SERVER_HELP)]
    DevServer(dev::DevServerArgs),
    /// Runs the authorization-code flow with PKCE through a local redirect listener.
    #[command(after_help = tokens::AUTHORIZE_HELP)]
    Authorize(tokens::AuthorizeArgs),
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let allow_http = cli.allow_http;
    let result = match cli.command {
        Command::Token(args) => tokens::token(args, allow_http).await,
        Command::Verify(args) => verify::verify(args, allow_http).await,
        Command::Decode(args) => verify::decode(args),
        Command::Discover(args) => server::discover(args, allow_http).await,
        Command::Introspect(args) => tokens::introspect(args, allow_http).await,
        Command::Clients(command) => manage::clients(command, allow_http).await,
        Command::Grants(command) => manage::grants(command, allow_http).await,
        Command::DevServer(args) => dev::run(args).await,
        Command::Authorize(args) => tokens::authorize(args, allow_http).await,
    };
    match result {
        Ok(code) => code,
        Err(failure) => failure.report(),
    }
}
