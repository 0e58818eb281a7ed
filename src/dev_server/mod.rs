//! An in-process authorization server for development and tests (feature `dev-server`): real
//! signatures, the Telnyx API's paths and bodies, fault injection, and request counters.
//!
//! ```
//! use telnyx_oauth::dev_server::DevServer;
//! use telnyx_oauth::{ClientAuth, ClientCredentials, ClientSecret, HttpClient, TokenEndpoint};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), telnyx_oauth::Error> {
//! let server = DevServer::start().await?;
//! let (client_id, secret) = server.add_client("svc", &["read"]);
//! let endpoint = TokenEndpoint::new_with_http(
//!     HttpClient::new()?.allow_http_loopback(true),
//!     &server.token_url(),
//!     ClientAuth::basic(client_id, ClientSecret::new(secret)),
//! )?;
//! let token = endpoint.client_credentials(&ClientCredentials::new().scope("read")).await?;
//! assert_eq!(token.scope(), Some("read"));
//! assert_eq!(server.token_requests(), 1);
//! # Ok(()) }
//! ```
//!
//! It validates what real servers validate — client authentication, PKCE, redirect URIs, scopes, and
//! refresh-token reuse (which revokes the whole grant), and DPoP proofs (RFC 9449: a token request
//! with a valid proof gets a token bound to its key, `token_type` `DPoP`, and a refresh token that
//! refreshes only with a proof by that key) — so a client that works against it works
//! against a real server; the interop suite keeps proving the same behaviours against oidc-provider.
//! It listens on 127.0.0.1 only and keeps everything in memory. It is not a production server.

mod handlers;
mod state;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::error::Error;
use crate::jose::SigningAlgorithm;

pub use state::DevClient;
use state::ServerState;

/// Access-token lifetime by default.
pub const DEFAULT_DEV_TTL: Duration = Duration::from_secs(3600);

/// A running dev server; stops when dropped.
pub struct DevServer {
    addr: SocketAddr,
    state: Arc<ServerState>,
    task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for DevServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevServer")
            .field("issuer", &self.state.issuer)
            .finish_non_exhaustive()
    }
}

/// Options for [`DevServer`].
#[derive(Debug, Clone)]
#[must_use]
pub struct DevServerBuilder {
    alg: SigningAlgorithm,
    ttl: Duration,
    opaque: bool,
    port: u16,
}

impl Default for DevServerBuilder {
    fn default() -> Self {
        Self {
            alg: SigningAlgorithm::RS256,
            ttl: DEFAULT_DEV_TTL,
            opaque: false,
            port: 0,
        }
    }
}

impl DevServerBuilder {
    /// The signing algorithm: RS256 (default), ES256 or EdDSA.
    pub fn algorithm(mut self, alg: SigningAlgorithm) -> Self {
        self.alg = alg;
        self
    }
    /// Access-token lifetime (default 1 h).
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }
    /// Issue opaque access tokens (for introspection) instead of JWTs.
    pub fn opaque_tokens(mut self, opaque: bool) -> Self {
        self.opaque = opaque;
        self
    }
    /// Listen on this port of 127.0.0.1 (default: any free port).
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// Binds 127.0.0.1 and starts serving.
    pub async fn start(self) -> Result<DevServer, Error> {
        if !matches!(
            self.alg,
            SigningAlgorithm::RS256 | SigningAlgorithm::ES256 | SigningAlgorithm::EdDSA
        ) {
            return Err(Error::config(
                "the dev server signs with RS256, ES256 or EdDSA",
            ));
        }
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", self.port))
            .await
            .map_err(|e| {
                Error::config_caused_by(format!("the dev server could not bind 127.0.0.1: {e}"), e)
            })?;
        let addr = listener
            .local_addr()
            .map_err(|e| Error::config_caused_by(format!("no local address: {e}"), e))?;
        let issuer = format!("http://{addr}");
        let state = Arc::new(ServerState::new(issuer, self.alg, self.ttl, self.opaque)?);
        let app = handlers::router(state.clone());
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!(error = %e, "dev server stopped");
            }
        });
        Ok(DevServer { addr, state, task })
    }
}

impl Drop for DevServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl DevServer {
    /// A server with the defaults (RS256 JWTs living 1 h).
    pub async fn start() -> Result<Self, Error> {
        DevServerBuilder::default().start().await
    }

    /// Options.
    pub fn builder() -> DevServerBuilder {
        DevServerBuilder::default()
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The issuer (`http://127.0.0.1:PORT`); metadata documents sit at its root.
    pub fn issuer(&self) -> &str {
        &self.state.issuer
    }

    /// The API base (`<issuer>/v2`), as `TELNYX_BASE_URL` would be.
    pub fn api_base(&self) -> String {
        format!("{}/v2", self.state.issuer)
    }

    /// `<issuer>/v2/oauth/token`
    pub fn token_url(&self) -> String {
        self.state.token_url()
    }

    /// The API key the management endpoints accept.
    pub fn api_key(&self) -> &str {
        &self.state.api_key
    }

    /// Adds a confidential client allowed `client_credentials` and these scopes; returns its id and secret.
    pub fn add_client(&self, name: &str, scopes: &[&str]) -> (String, String) {
        self.state.add_client(DevClient::confidential(name, scopes))
    }

    /// Adds a client as described.
    pub fn add_client_with(&self, client: DevClient) -> (String, String) {
        self.state.add_client(client)
    }

    /// The user approves an authorization request (the consent screen, without a browser): returns
    /// the redirect URL carrying `code` and `state`, or an error if the request is not acceptable.
    pub fn approve(&self, authorize_url: &url::Url) -> Result<url::Url, Error> {
        self.state.approve(authorize_url)
    }

    /// Publishes a new signing key and signs with it from now on; the previous key stays published.
    pub fn rotate_keys(&self) -> Result<(), Error> {
        self.state.rotate_keys()
    }

    /// Sets the access-token lifetime for tokens issued from now on.
    pub fn set_ttl(&self, ttl: Duration) {
        *crate::lock::lock(&self.state.ttl) = ttl;
    }

    /// Fails the next `n` token requests with `status` (a `server_error` body).
    pub fn fail_next_token_requests(&self, n: u32, status: u16) {
        let mut f = self.state.faults();
        f.fail_next = n;
        f.fail_status = status;
    }

    /// Answers the next `n` token requests with a garbage (HTML) body.
    pub fn garbage_next_token_requests(&self, n: u32) {
        self.state.faults().garbage_next = n;
    }

    /// Adds latency to every token request.
    pub fn set_token_latency(&self, latency: Duration) {
        self.state.faults().latency = latency;
    }

    /// Makes the JWKS answer 503 (or serve again).
    pub fn set_jwks_unavailable(&self, unavailable: bool) {
        self.state.faults().jwks_unavailable = unavailable;
    }

    /// Token requests received.
    pub fn token_requests(&self) -> u64 {
        self.state.token_requests.load(Ordering::Relaxed)
    }

    /// JWKS requests received.
    pub fn jwks_requests(&self) -> u64 {
        self.state.jwks_requests.load(Ordering::Relaxed)
    }
}
