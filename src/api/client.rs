//! The [`Telnyx`] client: base URLs, credentials, retries like Telnyx's SDKs, and typed errors.

use std::sync::Arc;
use std::time::Duration;

use http::{Method, StatusCode, header};
use serde::de::DeserializeOwned;
use serde_json::Value;
use url::Url;

use crate::error::Error;
use crate::http::{HttpClient, Response};
use crate::provider::{BoxFuture, TokenProvider};
use crate::secret::ClientSecret;
use crate::token::ClientAuth;

/// The API base (`TELNYX_BASE_URL` overrides it).
pub const DEFAULT_BASE_URL: &str = "https://api.telnyx.com/v2";
/// Per-attempt timeout of API calls (the SDKs' 60 s).
pub const DEFAULT_API_TIMEOUT: Duration = Duration::from_secs(60);
/// Retries after the first attempt (the SDKs' 2).
pub const DEFAULT_MAX_RETRIES: u32 = 2;
/// First retry delay, doubled per retry…
pub const INITIAL_RETRY_DELAY: Duration = Duration::from_millis(500);
/// …up to this.
pub const MAX_RETRY_DELAY: Duration = Duration::from_secs(8);
/// A server's `Retry-After` is honoured up to this; a longer one falls back to the backoff.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// How management calls authenticate.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Credentials {
    /// A Telnyx API key as the bearer (`TELNYX_API_KEY`).
    ApiKey(ClientSecret),
    /// An OAuth access token from a provider as the bearer.
    Provider(TokenProvider),
    /// No bearer (only the unauthenticated endpoints will work).
    None,
}

/// Where client and grant management live: the spec's `/oauth_clients` (default), or the per-product
/// docs' `/oauth/clients`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ManagementPaths {
    /// `/oauth_clients`, `/oauth_grants` (the OpenAPI spec and every SDK).
    #[default]
    Underscore,
    /// `/oauth/clients`, `/oauth/grants` (the per-product documentation).
    Slash,
}

// The one time seam besides tokio's clock: the API client's tests talk to a real local server, and a
// paused clock would fire the HTTP timeouts while real I/O is pending, so they record delays here.
type Sleep = Arc<dyn Fn(Duration) -> BoxFuture<'static, ()> + Send + Sync>;
use crate::flight::Jitter;

/// Retry policy, as Telnyx's SDKs do it: connection errors, 408, 409, 429 and 5xx are retried for
/// idempotent calls, `min(0.5 s × 2ⁿ, 8 s)` minus up to 25 % jitter, or the server's `Retry-After`
/// (`retry-after-ms` first) when it is between 0 and 60 s. `x-should-retry` overrides the status rule.
#[derive(Clone)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub max_retries: u32,
    jitter: Jitter,
    sleep: Sleep,
}

impl std::fmt::Debug for RetryPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RetryPolicy")
            .field("max_retries", &self.max_retries)
            .finish_non_exhaustive()
    }
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: DEFAULT_MAX_RETRIES,
            jitter: crate::flight::system_jitter(),
            sleep: Arc::new(|d| Box::pin(tokio::time::sleep(d))),
        }
    }
}

policy_setters!(RetryPolicy {
    with_max_retries => max_retries: u32,
});

impl RetryPolicy {
    /// No retries at all.
    pub fn none() -> Self {
        Self {
            max_retries: 0,
            ..Self::default()
        }
    }

    /// Replaces the jitter source (uniform in [0, 1)) — for exact tests.
    pub fn with_jitter(mut self, jitter: impl Fn() -> f64 + Send + Sync + 'static) -> Self {
        self.jitter = Arc::new(jitter);
        self
    }

    /// Replaces how the client waits between attempts — for tests that record the delays.
    pub fn with_sleep(
        mut self,
        sleep: impl Fn(Duration) -> BoxFuture<'static, ()> + Send + Sync + 'static,
    ) -> Self {
        self.sleep = Arc::new(sleep);
        self
    }

    /// The backoff before retry number `retry` (0-based).
    pub(crate) fn backoff(&self, retry: u32) -> Duration {
        // "Minus up to 25 %": the draw is taken off the ceiling, so a draw of 0 waits the full delay.
        crate::flight::Backoff {
            base: INITIAL_RETRY_DELAY,
            cap: MAX_RETRY_DELAY,
            floor: 0.75,
        }
        .delay(
            retry.saturating_add(1),
            1.0 - (self.jitter)().clamp(0.0, 1.0),
        )
    }
}

pub(crate) enum Body {
    None,
    Json(Value),
    Form(Vec<(&'static str, String)>),
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Auth {
    /// The API key or provider token as the bearer.
    Bearer,
    /// OAuth client authentication (token, introspection).
    Client,
    /// None.
    Anonymous,
}

pub(crate) struct ClientState {
    pub(crate) base: Url,
    pub(crate) root: Url,
    pub(crate) http: HttpClient,
    pub(crate) credentials: Credentials,
    pub(crate) client_auth: Option<ClientAuth>,
    pub(crate) paths: ManagementPaths,
    pub(crate) retry: RetryPolicy,
}

/// A client for Telnyx's OAuth API. Cheap to clone.
///
/// ```no_run
/// use futures_core::Stream;
/// use telnyx_oauth::api::Telnyx;
///
/// # async fn run() -> Result<(), telnyx_oauth::Error> {
/// let telnyx = Telnyx::from_env()?; // TELNYX_API_KEY, TELNYX_BASE_URL, TELNYX_CLIENT_ID/SECRET
/// let metadata = telnyx.authorization_server_metadata().await?;
/// let page = telnyx.clients().list_page(&Default::default(), 1).await?;
/// println!("{} clients of {:?}", page.data.len(), page.meta.total_results);
/// # let _ = metadata; Ok(()) }
/// ```
#[derive(Clone)]
pub struct Telnyx {
    pub(crate) inner: Arc<ClientState>,
}

impl std::fmt::Debug for Telnyx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Telnyx")
            .field("base", &self.inner.base.as_str())
            .field("credentials", &self.inner.credentials)
            .field("client_auth", &self.inner.client_auth)
            .finish_non_exhaustive()
    }
}

/// Builds a [`Telnyx`] client.
#[derive(Debug)]
#[must_use]
pub struct TelnyxBuilder {
    base: String,
    http: Option<HttpClient>,
    credentials: Credentials,
    client_auth: Option<ClientAuth>,
    paths: ManagementPaths,
    retry: RetryPolicy,
}

impl Default for TelnyxBuilder {
    fn default() -> Self {
        Self {
            base: DEFAULT_BASE_URL.to_owned(),
            http: None,
            credentials: Credentials::None,
            client_auth: None,
            paths: ManagementPaths::default(),
            retry: RetryPolicy::default(),
        }
    }
}

impl TelnyxBuilder {
    /// The API base (default `https://api.telnyx.com/v2`); discovery documents are at its host root.
    pub fn base_url(mut self, base: impl Into<String>) -> Self {
        self.base = base.into();
        self
    }

    /// The HTTP client (default: 60 s per attempt, no redirects).
    pub fn http(mut self, http: HttpClient) -> Self {
        self.http = Some(http);
        self
    }

    /// Bearer credentials for management calls.
    pub fn credentials(mut self, credentials: Credentials) -> Self {
        self.credentials = credentials;
        self
    }

    /// A Telnyx API key as the bearer.
    pub fn api_key(self, key: ClientSecret) -> Self {
        self.credentials(Credentials::ApiKey(key))
    }

    /// OAuth client credentials for the token and introspection endpoints.
    pub fn client_auth(mut self, auth: ClientAuth) -> Self {
        self.client_auth = Some(auth);
        self
    }

    /// `/oauth_clients` (default) or `/oauth/clients`.
    pub fn management_paths(mut self, paths: ManagementPaths) -> Self {
        self.paths = paths;
        self
    }

    /// The retry policy.
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Builds the client.
    pub fn build(self) -> Result<Telnyx, Error> {
        let http = match self.http {
            Some(h) => h,
            None => HttpClient::new()?.with_timeout(DEFAULT_API_TIMEOUT),
        };
        let mut base = http.check_url(self.base.trim_end_matches('/'))?;
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        let mut root = base.clone();
        root.set_path("/");
        Ok(Telnyx {
            inner: Arc::new(ClientState {
                base,
                root,
                http,
                credentials: self.credentials,
                client_auth: self.client_auth,
                paths: self.paths,
                retry: self.retry,
            }),
        })
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

impl Telnyx {
    /// Starts a builder.
    pub fn builder() -> TelnyxBuilder {
        TelnyxBuilder::default()
    }

    /// A client from the environment: `TELNYX_API_KEY` (bearer), `TELNYX_BASE_URL`, and
    /// `TELNYX_CLIENT_ID` / `TELNYX_CLIENT_SECRET` (client authentication, Basic).
    /// A `TELNYX_BASE_URL` on a loopback host may use plain `http://` (a local test or dev server);
    /// every other host needs `https://`.
    pub fn from_env() -> Result<Self, Error> {
        let mut b = Self::builder();
        if let Some(base) = env("TELNYX_BASE_URL") {
            b = b.base_url(base).http(
                HttpClient::new()?
                    .with_timeout(DEFAULT_API_TIMEOUT)
                    .allow_http_loopback(true),
            );
        }
        if let Some(key) = env("TELNYX_API_KEY") {
            b = b.api_key(ClientSecret::new(key));
        }
        if let (Some(id), Some(secret)) = (env("TELNYX_CLIENT_ID"), env("TELNYX_CLIENT_SECRET")) {
            b = b.client_auth(ClientAuth::basic(id, ClientSecret::new(secret)));
        }
        b.build()
    }

    /// The API base URL.
    pub fn base_url(&self) -> &Url {
        &self.inner.base
    }

    /// `path` under the API base (`oauth/token` → `https://api.telnyx.com/v2/oauth/token`).
    pub(crate) fn url(&self, path: &str) -> Result<Url, Error> {
        self.inner
            .base
            .join(path.trim_start_matches('/'))
            .map_err(|e| Error::config(format!("bad API path: {e}")))
    }

    /// `path` at the host root (the `/.well-known` documents).
    pub(crate) fn root_url(&self, path: &str) -> Result<Url, Error> {
        self.inner
            .root
            .join(path.trim_start_matches('/'))
            .map_err(|e| Error::config(format!("bad path: {e}")))
    }

    pub(crate) fn paths(&self) -> ManagementPaths {
        self.inner.paths
    }

    /// Sends a request, retrying as the policy says when `idempotent`; returns the final response if
    /// it is a success, or its error.
    pub(crate) async fn send(
        &self,
        method: Method,
        url: Url,
        body: Body,
        auth: Auth,
        idempotent: bool,
    ) -> Result<Response, Error> {
        let inner = &*self.inner;
        let retries = if idempotent {
            inner.retry.max_retries
        } else {
            0
        };
        let mut attempt = 0;
        // Bounded: at most `retries + 1` attempts.
        loop {
            let result = self.attempt(&method, &url, &body, auth).await;
            let retry_in = match &result {
                Ok(resp) if resp.status.is_success() => None,
                Ok(resp) => should_retry(resp).then(|| self.delay(resp, attempt)),
                Err(e) if matches!(e, Error::Transport(_)) && e.is_transient() => {
                    Some(inner.retry.backoff(attempt))
                }
                Err(_) => None,
            };
            match retry_in {
                Some(delay) if attempt < retries => {
                    tracing::debug!(attempt, delay_ms = delay.as_millis() as u64, %method, "retrying Telnyx API call");
                    (inner.retry.sleep)(delay).await;
                    attempt += 1;
                }
                _ => {
                    let resp = result?;
                    return if resp.status.is_success() {
                        Ok(resp)
                    } else {
                        Err(crate::telnyx::errors::api_error(&resp))
                    };
                }
            }
        }
    }

    fn delay(&self, resp: &Response, retry: u32) -> Duration {
        match crate::telnyx::errors::retry_after(resp) {
            Some(d) if !d.is_zero() && d <= MAX_RETRY_AFTER => d,
            _ => self.inner.retry.backoff(retry),
        }
    }

    async fn attempt(
        &self,
        method: &Method,
        url: &Url,
        body: &Body,
        auth: Auth,
    ) -> Result<Response, Error> {
        let inner = &*self.inner;
        let mut req = inner
            .http
            .reqwest()
            .request(method.clone(), url.clone())
            .header(header::ACCEPT, "application/json");
        match auth {
            Auth::Bearer => match &inner.credentials {
                Credentials::ApiKey(key) => {
                    let mut v = http::HeaderValue::try_from(format!("Bearer {}", key.secret()))
                        .map_err(|_| Error::config("the API key cannot be sent in a header"))?;
                    v.set_sensitive(true);
                    req = req.header(header::AUTHORIZATION, v);
                }
                Credentials::Provider(p) => {
                    let token = p.token().await?;
                    req = req.header(header::AUTHORIZATION, token.header().clone());
                }
                Credentials::None => {}
            },
            Auth::Client | Auth::Anonymous => {}
        }
        req = match body {
            Body::None => req,
            Body::Json(v) => req
                .header(header::CONTENT_TYPE, "application/json")
                .body(v.to_string()),
            Body::Form(pairs) => {
                let params: Vec<(&str, &str)> =
                    pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
                match auth {
                    Auth::Client => inner
                        .client_auth
                        .as_ref()
                        .ok_or_else(|| Error::config("this call needs client credentials (TELNYX_CLIENT_ID / TELNYX_CLIENT_SECRET)"))?
                        .form_request(req, url.as_str(), &params)?,
                    Auth::Bearer | Auth::Anonymous => req
                        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                        .body(serde_urlencoded::to_string(&params).map_err(|_| Error::config("the form could not be encoded"))?),
                }
            }
        };
        inner.http.send(url, req).await
    }

    /// GET a JSON document (retried).
    pub(crate) async fn get<T: DeserializeOwned>(&self, url: Url, auth: Auth) -> Result<T, Error> {
        self.send(Method::GET, url, Body::None, auth, true)
            .await?
            .json()
    }
}

/// SDK rule: `x-should-retry` decides when present; else 408, 409, 429 and 5xx.
fn should_retry(resp: &Response) -> bool {
    match resp
        .headers
        .get("x-should-retry")
        .and_then(|v| v.to_str().ok())
    {
        Some("true") => return true,
        Some("false") => return false,
        _ => {}
    }
    let s = resp.status;
    s == StatusCode::REQUEST_TIMEOUT
        || s == StatusCode::CONFLICT
        || s == StatusCode::TOO_MANY_REQUESTS
        || s.is_server_error()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_matches_the_sdks() {
        let p = RetryPolicy::default().with_jitter(|| 0.0);
        let seq: Vec<_> = (0..6).map(|n| p.backoff(n)).collect();
        assert_eq!(
            seq,
            [500, 1000, 2000, 4000, 8000, 8000].map(Duration::from_millis)
        );
        let p = RetryPolicy::default().with_jitter(|| 1.0);
        assert_eq!(p.backoff(0), Duration::from_millis(375));
    }

    #[test]
    fn base_and_root_urls() {
        let t = Telnyx::builder().build().unwrap();
        assert_eq!(
            t.url("oauth/token").unwrap().as_str(),
            "https://api.telnyx.com/v2/oauth/token"
        );
        assert_eq!(
            t.root_url("/.well-known/oauth-authorization-server")
                .unwrap()
                .as_str(),
            "https://api.telnyx.com/.well-known/oauth-authorization-server"
        );
        let t = Telnyx::builder()
            .base_url("https://api.example/v2/")
            .build()
            .unwrap();
        assert_eq!(
            t.url("/oauth_clients").unwrap().as_str(),
            "https://api.example/v2/oauth_clients"
        );
    }
}
