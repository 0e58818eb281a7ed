//! `token`, `introspect` and `authorize`: the client's side of the token and introspection endpoints.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use serde::Serialize;
use serde_json::Value;
use telnyx_oauth::api::AuthorizeRequest;
use telnyx_oauth::verify::Introspector;
use telnyx_oauth::{
    AuthorizationServerMetadata, ClientAuth, ClientCredentials, HttpClient, RefreshToken, Token,
    TokenEndpoint, telnyx,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::common::{
    ClientAuthArgs, Failure, Outcome, check_url, http_client, note, print_json, secret_file,
    token_argument,
};

pub const TOKEN_HELP: &str = "\
Examples:
  telnyx-oauth token --client-id ID --client-secret-file secret.txt --scope read
  telnyx-oauth token --issuer https://as.example --client-id ID --private-key key.pem --key-id k1
  TELNYX_CLIENT_SECRET=... telnyx-oauth token --client-id ID --refresh-token-file rt.txt

Prints one JSON object: token_type, expires_in, scope and access_token. The access token (and any
refresh token) is redacted, with its length, unless --show-token is given.";

pub const INTROSPECT_HELP: &str = "\
Examples:
  telnyx-oauth introspect --client-id ID --client-secret-file secret.txt TOKEN
  echo \"$TOKEN\" | telnyx-oauth introspect --issuer https://as.example --client-id ID --client-secret-file s.txt

Prints the server's answer as JSON. Exit 0 when the token is active, 1 when it is not.";

pub const AUTHORIZE_HELP: &str = "\
Example:
  telnyx-oauth authorize --client-id ID --scope read --redirect-uri http://127.0.0.1:8976/callback

Prints the URL to open on stderr, waits for the redirect on the loopback listener, exchanges the code
(with the PKCE verifier) and prints the result like `token` does.";

/// Where the token endpoint is: an explicit URL, an issuer's metadata, or Telnyx.
#[derive(Args)]
pub struct EndpointArgs {
    /// The token endpoint URL (default: Telnyx's, or the one --issuer's metadata names).
    #[arg(long, value_name = "URL", conflicts_with = "issuer")]
    pub token_url: Option<String>,
    /// An issuer whose RFC 8414 metadata names the endpoints (default: Telnyx).
    #[arg(long, value_name = "URL")]
    pub issuer: Option<String>,
}

/// `token`
#[derive(Args)]
pub struct TokenArgs {
    #[command(flatten)]
    auth: ClientAuthArgs,
    #[command(flatten)]
    endpoint: EndpointArgs,
    /// A scope to request (repeatable).
    #[arg(long = "scope", value_name = "SCOPE")]
    scopes: Vec<String>,
    /// A resource indicator, RFC 8707 (repeatable; client_credentials only).
    #[arg(long = "resource", value_name = "URI")]
    resources: Vec<String>,
    /// An `audience` parameter (client_credentials only).
    #[arg(long, value_name = "AUDIENCE")]
    audience: Option<String>,
    /// Runs the refresh_token grant with this refresh token (prefer --refresh-token-file).
    #[arg(
        long,
        value_name = "TOKEN",
        conflicts_with = "refresh_token_file",
        allow_hyphen_values = true
    )]
    refresh_token: Option<String>,
    /// Runs the refresh_token grant with the refresh token in this file.
    #[arg(long, value_name = "FILE")]
    refresh_token_file: Option<PathBuf>,
    /// Prints the tokens themselves instead of their length.
    #[arg(long)]
    show_token: bool,
}

/// The token endpoint the flags name.
async fn token_endpoint(
    endpoint: &EndpointArgs,
    http: HttpClient,
    auth: ClientAuth,
) -> Result<TokenEndpoint, Failure> {
    Ok(match (&endpoint.token_url, &endpoint.issuer) {
        (Some(url), _) => TokenEndpoint::new_with_http(http, url, auth)?,
        (None, Some(issuer)) => TokenEndpoint::discover(http, issuer, auth)
            .await
            .map_err(|e| Failure::from(e).context("discovery"))?,
        (None, None) => TokenEndpoint::new_with_http(http, telnyx::TOKEN_URL, auth)?,
    })
}

fn check_endpoint_urls(endpoint: &EndpointArgs, allow_http: bool) -> Result<(), Failure> {
    if let Some(url) = &endpoint.token_url {
        check_url(url, allow_http, "--token-url")?;
    }
    if let Some(issuer) = &endpoint.issuer {
        check_url(issuer, allow_http, "--issuer")?;
    }
    Ok(())
}

/// The token response as the CLI prints it, in this member order; the tokens are redacted (with their
/// length) unless shown on request.
#[derive(Serialize)]
struct TokenOutput {
    token_type: String,
    expires_in: u64,
    scope: Option<String>,
    access_token: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<String>,
}

fn token_json(token: &Token, show: bool) -> TokenOutput {
    let shown = |secret: &str| {
        if show {
            secret.to_owned()
        } else {
            format!("[redacted: {} characters]", secret.len())
        }
    };
    TokenOutput {
        token_type: token.token_type().to_owned(),
        expires_in: token.expires_in().as_secs(),
        scope: token.scope().map(str::to_owned),
        access_token: shown(token.access_token().secret()),
        refresh_token: token.refresh_token().map(|r| shown(r.secret())),
    }
}

pub async fn token(args: TokenArgs, allow_http: bool) -> Outcome {
    check_endpoint_urls(&args.endpoint, allow_http)?;
    let refresh = match (&args.refresh_token, &args.refresh_token_file) {
        (Some(t), _) => Some(t.clone()),
        (None, Some(path)) => Some(secret_file(path, "refresh token")?),
        (None, None) => None,
    };
    if refresh.is_some() && (!args.resources.is_empty() || args.audience.is_some()) {
        return Err(Failure::usage(
            "--resource and --audience apply to client_credentials, not to a refresh",
        ));
    }
    let auth = args.auth.build()?;
    let endpoint = token_endpoint(&args.endpoint, http_client(allow_http)?, auth).await?;
    let token = match refresh {
        Some(refresh) => {
            let scopes: Vec<&str> = args.scopes.iter().map(String::as_str).collect();
            endpoint
                .refresh(&RefreshToken::new(refresh), &scopes)
                .await?
        }
        None => {
            let mut request = ClientCredentials::new().scopes_from(args.scopes.iter().cloned());
            for resource in &args.resources {
                request = request.resource(resource.clone());
            }
            if let Some(audience) = &args.audience {
                request = request.audience(audience.clone());
            }
            endpoint.client_credentials(&request).await?
        }
    };
    print_json(&token_json(&token, args.show_token))?;
    Ok(ExitCode::SUCCESS)
}

/// `introspect`
#[derive(Args)]
pub struct IntrospectArgs {
    #[command(flatten)]
    auth: ClientAuthArgs,
    /// The introspection endpoint URL (default: Telnyx's, or the one --issuer's metadata names).
    #[arg(long, value_name = "URL", conflicts_with = "issuer")]
    introspection_url: Option<String>,
    /// An issuer whose RFC 8414 metadata names the introspection endpoint.
    #[arg(long, value_name = "URL")]
    issuer: Option<String>,
    /// The token to ask about (default: the first line of stdin).
    #[arg(value_name = "TOKEN", allow_hyphen_values = true)]
    token: Option<String>,
}

pub async fn introspect(args: IntrospectArgs, allow_http: bool) -> Outcome {
    if let Some(url) = &args.introspection_url {
        check_url(url, allow_http, "--introspection-url")?;
    }
    if let Some(issuer) = &args.issuer {
        check_url(issuer, allow_http, "--issuer")?;
    }
    let token = token_argument(args.token)?;
    let auth = args.auth.build()?;
    let http = http_client(allow_http)?;
    let introspector = match (&args.introspection_url, &args.issuer) {
        (Some(url), _) => Introspector::new(http, url, auth)?,
        (None, Some(issuer)) => Introspector::discover(http, issuer, auth)
            .await
            .map_err(|e| Failure::from(e).context("discovery"))?,
        (None, None) => Introspector::new(http, telnyx::INTROSPECT_URL, auth)?,
    };
    let answer = introspector.response(&token).await?;
    let active = answer.get("active") == Some(&Value::Bool(true));
    print_json(&Value::Object(answer))?;
    Ok(if active {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(crate::common::EXIT_FAILED)
    })
}

/// `authorize`
#[derive(Args)]
pub struct AuthorizeArgs {
    #[command(flatten)]
    auth: ClientAuthArgs,
    /// An issuer whose RFC 8414 metadata names the authorization and token endpoints (default: Telnyx).
    #[arg(long, value_name = "URL", conflicts_with_all = ["authorize_url", "token_url"])]
    issuer: Option<String>,
    /// The authorization endpoint URL (default: Telnyx's).
    #[arg(long, value_name = "URL")]
    authorize_url: Option<String>,
    /// The token endpoint URL (default: Telnyx's).
    #[arg(long, value_name = "URL")]
    token_url: Option<String>,
    /// The registered redirect URI: http on a loopback host, where this command listens. Port 0
    /// listens on any free port and sends that one (for servers that follow RFC 8252 §7.3).
    #[arg(
        long,
        value_name = "URI",
        default_value = "http://127.0.0.1:8976/callback"
    )]
    redirect_uri: String,
    /// A scope to request (repeatable).
    #[arg(long = "scope", value_name = "SCOPE")]
    scopes: Vec<String>,
    /// A resource indicator, RFC 8707 (repeatable).
    #[arg(long = "resource", value_name = "URI")]
    resources: Vec<String>,
    /// How long to wait for the redirect, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 300)]
    timeout: u64,
    /// Prints the tokens themselves instead of their length.
    #[arg(long)]
    show_token: bool,
}

/// Longest request head the redirect listener reads.
const MAX_REDIRECT_REQUEST: usize = 16 * 1024;
/// How long one connection to the listener may take to send its request.
const REDIRECT_READ_TIMEOUT: Duration = Duration::from_secs(10);

pub async fn authorize(args: AuthorizeArgs, allow_http: bool) -> Outcome {
    for (url, flag) in [
        (&args.issuer, "--issuer"),
        (&args.authorize_url, "--authorize-url"),
        (&args.token_url, "--token-url"),
    ] {
        if let Some(url) = url {
            check_url(url, allow_http, flag)?;
        }
    }
    let mut redirect = url::Url::parse(&args.redirect_uri)
        .map_err(|e| Failure::usage(format!("--redirect-uri: not a valid URL ({e})")))?;
    let loopback = match redirect.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d == "localhost",
        None => false,
    };
    if redirect.scheme() != "http" || !loopback {
        return Err(Failure::usage(
            "--redirect-uri must be http on a loopback host (e.g. http://127.0.0.1:8976/callback): \
             this command listens there for the redirect",
        ));
    }
    let auth = if args.auth.client_secret.is_none()
        && args.auth.client_secret_file.is_none()
        && args.auth.private_key.is_none()
        && args.auth.auth.is_none()
        && std::env::var_os("TELNYX_CLIENT_SECRET").is_none()
    {
        // No credentials: a public client, which PKCE protects.
        let id = args.auth.client_id.clone().ok_or_else(|| {
            Failure::usage("no client id: give --client-id or set TELNYX_CLIENT_ID")
        })?;
        ClientAuth::none(id)
    } else {
        args.auth.build()?
    };
    let http = http_client(allow_http)?;
    let (authorize_at, endpoint) = match &args.issuer {
        Some(issuer) => {
            let metadata = AuthorizationServerMetadata::discover(&http, issuer)
                .await
                .map_err(|e| Failure::from(e).context("discovery"))?;
            let at = metadata.authorization_endpoint.clone().ok_or_else(|| {
                Failure::failed("the issuer's metadata names no authorization_endpoint")
            })?;
            (at, TokenEndpoint::from_metadata(http, &metadata, auth)?)
        }
        None => (
            args.authorize_url
                .clone()
                .unwrap_or_else(|| telnyx::AUTHORIZE_URL.to_owned()),
            TokenEndpoint::new_with_http(
                http,
                args.token_url.as_deref().unwrap_or(telnyx::TOKEN_URL),
                auth,
            )?,
        ),
    };

    let host = redirect.host_str().unwrap_or("127.0.0.1");
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let port = redirect.port_or_known_default().unwrap_or(80);
    let listener = TcpListener::bind((host, port)).await.map_err(|e| {
        Failure::usage(format!(
            "cannot listen on {host}:{port} for the redirect: {e}"
        ))
    })?;
    if port == 0 {
        // Port 0: any free port, named in the redirect URI sent (servers allow any port on a
        // loopback IP redirect, RFC 8252 §7.3).
        let bound = listener
            .local_addr()
            .map_err(|e| Failure::failed(format!("the redirect listener has no address: {e}")))?;
        let _ = redirect.set_port(Some(bound.port()));
    }

    let mut request = AuthorizeRequest::new(endpoint.client_auth().client_id(), redirect.as_str());
    for scope in &args.scopes {
        request = request.scope(scope.clone());
    }
    for resource in &args.resources {
        request = request.param("resource", resource.clone());
    }
    let (url, pending) = request.build_at(&authorize_at)?;
    note("Open this URL in a browser and approve the request:");
    note(url.as_str());
    note(&format!(
        "Waiting for the redirect to {} ...",
        redirect.as_str()
    ));

    let returned = tokio::time::timeout(
        Duration::from_secs(args.timeout),
        wait_for_redirect(&listener, &redirect),
    )
    .await
    .map_err(|_| {
        Failure::failed(format!(
            "no redirect within {} s; open the URL and approve the request, or raise --timeout",
            args.timeout
        ))
    })??;
    let code = pending.code_from_redirect(&returned.url);
    answer_browser(returned.stream, code.is_ok()).await;
    let code = code.map_err(|e| Failure::from(e).context("the authorization was not granted"))?;
    let token = endpoint
        .exchange_code(
            &code,
            pending.redirect_uri(),
            Some(pending.pkce().verifier()),
        )
        .await?;
    print_json(&token_json(&token, args.show_token))?;
    Ok(ExitCode::SUCCESS)
}

struct Redirect {
    url: url::Url,
    stream: TcpStream,
}

/// Accepts connections until one asks for the redirect path; anything else (a favicon) gets 404.
async fn wait_for_redirect(
    listener: &TcpListener,
    redirect: &url::Url,
) -> Result<Redirect, Failure> {
    loop {
        let (mut stream, _) = listener
            .accept()
            .await
            .map_err(|e| Failure::failed(format!("the redirect listener failed: {e}")))?;
        let Ok(Some(target)) =
            tokio::time::timeout(REDIRECT_READ_TIMEOUT, request_target(&mut stream))
                .await
                .unwrap_or(Ok(None))
        else {
            continue;
        };
        let Ok(url) = redirect.join(&target) else {
            continue;
        };
        if url.path() != redirect.path() {
            let _ = stream
                .write_all(
                    b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                )
                .await;
            continue;
        }
        return Ok(Redirect { url, stream });
    }
}

/// The request target of an HTTP/1.1 GET, read within a bounded head.
async fn request_target(stream: &mut TcpStream) -> std::io::Result<Option<String>> {
    let mut head = Vec::new();
    let mut buf = [0u8; 2048];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf).await?;
        if n == 0 || head.len() + n > MAX_REDIRECT_REQUEST {
            return Ok(None);
        }
        head.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&head);
    let mut parts = text.lines().next().unwrap_or("").split(' ');
    Ok(match (parts.next(), parts.next()) {
        (Some("GET"), Some(target)) if target.starts_with('/') => Some(target.to_owned()),
        _ => None,
    })
}

/// Tells the browser how it went; the terminal has the details.
async fn answer_browser(mut stream: TcpStream, ok: bool) {
    let (status, text) = if ok {
        (
            "200 OK",
            "Authorization complete. You can close this window and return to the terminal.",
        )
    } else {
        (
            "400 Bad Request",
            "Authorization failed. The terminal says why.",
        )
    };
    let response = format!(
        "HTTP/1.1 {status}\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{text}",
        text.len()
    );
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}
