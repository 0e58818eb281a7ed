//! [`TokenEndpoint`]: the grants of RFC 6749 against one token endpoint.

use std::borrow::Cow;
use std::sync::Arc;

use tokio::time::Instant;
use tracing::Instrument;
use url::Url;

use super::auth::ClientAuth;
use super::response::{Token, parse_token_response};
use crate::dpop::{Dpop, DpopKey};
use crate::error::{Error, endpoint_label};
use crate::http::{HttpClient, Response};
use crate::metadata::AuthorizationServerMetadata;
use crate::secret::{AuthorizationCode, PkceVerifier, RefreshToken};

/// Form members the library sets itself; an extra parameter may not override them.
const RESERVED_PARAMS: &[&str] = &[
    "grant_type",
    "client_id",
    "client_secret",
    "client_assertion",
    "client_assertion_type",
    "code",
    "code_verifier",
    "redirect_uri",
    "refresh_token",
    "scope",
    "resource",
    "audience",
];

/// What to ask for with the `client_credentials` grant (RFC 6749 §4.4).
///
/// ```
/// use telnyx_oauth::ClientCredentials;
///
/// let request = ClientCredentials::new()
///     .scope("messaging.read")
///     .scope("numbers.read")
///     .resource("https://api.example/") // RFC 8707, repeatable
///     .audience("my-api")
///     .param("organization", "acme");
/// assert_eq!(request.scopes(), ["messaging.read", "numbers.read"]);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClientCredentials {
    scopes: Vec<String>,
    resources: Vec<String>,
    audience: Option<String>,
    extra: Vec<(String, String)>,
}

impl ClientCredentials {
    /// What distinguishes the token this request gets, for a shared cache's key: scopes (sorted),
    /// resources, audience and extra parameters, each tagged.
    pub(crate) fn share_identity(&self) -> Vec<String> {
        let mut scopes = self.scopes.clone();
        scopes.sort();
        let mut out: Vec<String> = scopes.into_iter().map(|s| format!("scope={s}")).collect();
        out.extend(self.resources.iter().map(|r| format!("resource={r}")));
        out.extend(self.audience.iter().map(|a| format!("audience={a}")));
        out.extend(self.extra.iter().map(|(k, v)| format!("{k}={v}")));
        out
    }

    /// No scopes, resources or audience: the server's defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a scope.
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        self.scopes.push(scope.into());
        self
    }

    /// Adds several scopes.
    pub fn scopes_from<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scopes.extend(scopes.into_iter().map(Into::into));
        self
    }

    /// Adds an RFC 8707 `resource` (sent once per resource).
    pub fn resource(mut self, resource: impl Into<String>) -> Self {
        self.resources.push(resource.into());
        self
    }

    /// Sets `audience` (as Auth0 and others expect).
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = Some(audience.into());
        self
    }

    /// Adds any other form parameter. Names the library sets itself (`grant_type`, `client_id`, …) are
    /// refused when the request is made.
    pub fn param(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.extra.push((name.into(), value.into()));
        self
    }

    /// The scopes requested.
    pub fn scopes(&self) -> &[String] {
        &self.scopes
    }

    /// The resources requested.
    pub fn resources(&self) -> &[String] {
        &self.resources
    }
}

/// A token endpoint and the client authenticating to it.
///
/// ```no_run
/// use telnyx_oauth::{ClientAuth, ClientCredentials, ClientSecret, TokenEndpoint};
///
/// # async fn run() -> Result<(), telnyx_oauth::Error> {
/// let endpoint = TokenEndpoint::telnyx(ClientAuth::basic("client-id", ClientSecret::new("secret")))?;
/// let token = endpoint
///     .client_credentials(&ClientCredentials::new().scope("messaging.read"))
///     .await?;
/// println!("expires in {:?}", token.expires_in());
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct TokenEndpoint {
    url: Url,
    auth: ClientAuth,
    http: HttpClient,
    /// How a failed response is read: OAuth error bodies (RFC 6749 §5.2), plus the server's own
    /// format where it has one (Telnyx's `errors[]`).
    read_error: fn(&Response) -> Error,
    /// The DPoP key every request proves possession of, and the servers' nonces.
    dpop: Option<Arc<Dpop>>,
}

/// One token request: the grant type and its parameters.
struct TokenRequest<'a> {
    grant_type: &'static str,
    params: Vec<(Cow<'a, str>, Cow<'a, str>)>,
}

impl TokenEndpoint {
    /// A token endpoint at `url`, with the default [`HttpClient`].
    pub fn new(url: &str, auth: ClientAuth) -> Result<Self, Error> {
        Self::new_with_http(HttpClient::new()?, url, auth)
    }

    /// A token endpoint at `url`, through the given [`HttpClient`] (its timeout, limits, proxy, TLS).
    pub fn new_with_http(http: HttpClient, url: &str, auth: ClientAuth) -> Result<Self, Error> {
        let url = http.check_url(url)?;
        Ok(Self {
            url,
            auth,
            http,
            read_error: Response::error,
            dpop: None,
        })
    }

    /// Telnyx's token endpoint, `https://api.telnyx.com/v2/oauth/token`.
    pub fn telnyx(auth: ClientAuth) -> Result<Self, Error> {
        Ok(Self::new(crate::telnyx::TOKEN_URL, auth)?
            .reading_errors_with(crate::telnyx::errors::api_error))
    }

    /// Reads failed responses with `read_error` (a server's own error format on top of OAuth's).
    pub(crate) fn reading_errors_with(mut self, read_error: fn(&Response) -> Error) -> Self {
        self.read_error = read_error;
        self
    }

    /// Discovers the token endpoint from an issuer's RFC 8414 metadata.
    pub async fn discover(http: HttpClient, issuer: &str, auth: ClientAuth) -> Result<Self, Error> {
        let metadata = AuthorizationServerMetadata::discover(&http, issuer).await?;
        Self::from_metadata(http, &metadata, auth)
    }

    /// Uses the `token_endpoint` of already-fetched metadata.
    pub fn from_metadata(
        http: HttpClient,
        metadata: &AuthorizationServerMetadata,
        auth: ClientAuth,
    ) -> Result<Self, Error> {
        let url = metadata.token_endpoint_url(&http)?;
        Ok(Self {
            url,
            auth,
            http,
            read_error: Response::error,
            dpop: None,
        })
    }

    /// The token's identity for a shared cache key: this endpoint and client, the grant, its parameters.
    pub(crate) fn share_identity(&self, grant: &str, params: Vec<String>) -> Vec<String> {
        let mut out = vec![
            self.url.as_str().to_owned(),
            self.auth.client_id().to_owned(),
            grant.to_owned(),
        ];
        // A DPoP-bound token is usable only with its key: replicas share it only when they share
        // the key.
        if let Some(d) = &self.dpop {
            out.push(format!("dpop_jkt={}", d.key.thumbprint()));
        }
        out.extend(params);
        out
    }

    /// Proves possession of `key` in every token request (RFC 9449): each carries a fresh `DPoP`
    /// proof, so the server may bind the token to the key (`token_type` `DPoP`). A `use_dpop_nonce`
    /// answer gets one retry with the server's nonce; nonces are remembered per origin from every
    /// response. A refresh of a bound token carries a proof from the same key, as servers require.
    pub fn with_dpop(mut self, key: DpopKey) -> Self {
        self.dpop = Some(Arc::new(Dpop::new(key)));
        self
    }

    /// The DPoP key, if requests prove possession of one.
    pub fn dpop_key(&self) -> Option<&DpopKey> {
        self.dpop.as_deref().map(|d| &d.key)
    }

    /// The DPoP key with its nonces, for the provider that hands out this endpoint's tokens.
    pub(crate) fn dpop(&self) -> Option<&Arc<Dpop>> {
        self.dpop.as_ref()
    }

    /// The endpoint URL.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The client authentication.
    pub fn client_auth(&self) -> &ClientAuth {
        &self.auth
    }

    /// The HTTP client.
    pub fn http(&self) -> &HttpClient {
        &self.http
    }

    /// The `client_credentials` grant (RFC 6749 §4.4).
    pub async fn client_credentials(&self, request: &ClientCredentials) -> Result<Token, Error> {
        let mut params: Vec<(Cow<'_, str>, Cow<'_, str>)> = Vec::new();
        if !request.scopes.is_empty() {
            params.push(("scope".into(), request.scopes.join(" ").into()));
        }
        for r in &request.resources {
            params.push(("resource".into(), r.as_str().into()));
        }
        if let Some(a) = &request.audience {
            params.push(("audience".into(), a.as_str().into()));
        }
        for (k, v) in &request.extra {
            if RESERVED_PARAMS.contains(&k.as_str()) {
                return Err(Error::config(format!(
                    "`{k}` is set by the library; it cannot be an extra parameter"
                )));
            }
            params.push((k.as_str().into(), v.as_str().into()));
        }
        self.execute(TokenRequest {
            grant_type: "client_credentials",
            params,
        })
        .await
    }

    /// The `refresh_token` grant (RFC 6749 §6). `scopes` may narrow the original grant; empty keeps it.
    pub async fn refresh(
        &self,
        refresh_token: &RefreshToken,
        scopes: &[&str],
    ) -> Result<Token, Error> {
        let mut params: Vec<(Cow<'_, str>, Cow<'_, str>)> =
            vec![("refresh_token".into(), refresh_token.secret().into())];
        if !scopes.is_empty() {
            params.push(("scope".into(), scopes.join(" ").into()));
        }
        self.execute(TokenRequest {
            grant_type: "refresh_token",
            params,
        })
        .await
    }

    /// The `authorization_code` grant (RFC 6749 §4.1.3), with the PKCE verifier when one was used.
    pub async fn exchange_code(
        &self,
        code: &AuthorizationCode,
        redirect_uri: &str,
        verifier: Option<&PkceVerifier>,
    ) -> Result<Token, Error> {
        let mut params: Vec<(Cow<'_, str>, Cow<'_, str>)> = vec![
            ("code".into(), code.secret().into()),
            ("redirect_uri".into(), redirect_uri.into()),
        ];
        if let Some(v) = verifier {
            params.push(("code_verifier".into(), v.secret().into()));
        }
        self.execute(TokenRequest {
            grant_type: "authorization_code",
            params,
        })
        .await
    }

    async fn execute(&self, request: TokenRequest<'_>) -> Result<Token, Error> {
        let span = tracing::debug_span!(
            "oauth.token_request",
            grant_type = request.grant_type,
            endpoint = %endpoint_label(&self.url),
            client_id = %self.auth.client_id(),
            auth_method = self.auth.method_name(),
        );
        async {
            let started = Instant::now();
            let result = self.execute_once(request).await;
            let elapsed = started.elapsed();
            match &result {
                Ok(token) => tracing::debug!(
                    elapsed_ms = elapsed.as_millis() as u64,
                    expires_in_s = token.expires_in().as_secs(),
                    "token request succeeded"
                ),
                Err(e) => tracing::debug!(
                    elapsed_ms = elapsed.as_millis() as u64,
                    transient = e.is_transient(),
                    error = %e,
                    "token request failed"
                ),
            }
            result
        }
        .instrument(span)
        .await
    }

    async fn execute_once(&self, request: TokenRequest<'_>) -> Result<Token, Error> {
        let mut params: Vec<(&str, &str)> = vec![("grant_type", request.grant_type)];
        params.extend(request.params.iter().map(|(k, v)| (k.as_ref(), v.as_ref())));
        let dpop = self.dpop.as_deref();
        // With DPoP, a `use_dpop_nonce` answer that brings a new nonce gets one more attempt (a fresh
        // proof and, for assertions, a fresh `jti`); a second demand is the server's answer.
        let mut retried = false;
        loop {
            let mut builder = self.http.reqwest().post(self.url.clone());
            let sent = match dpop {
                Some(d) => {
                    let sent = d.proof_for(&http::Method::POST, &self.url, None)?;
                    builder = builder.header("DPoP", sent.proof);
                    Some(sent.nonce)
                }
                None => None,
            };
            let request = self
                .auth
                .form_request(builder, self.url.as_str(), &params)?;
            // The earliest instant the server could have issued the token: its lifetime counts from
            // here, so a slow reply never makes a token look longer-lived than its `exp`.
            let sent_at = Instant::now();
            let response = self.http.send(&self.url, request).await?;
            if let (Some(d), Some(nonce)) = (dpop, sent) {
                let fresh = d.learn(&self.url, &response.headers, nonce.as_deref());
                if !retried && fresh && is_use_dpop_nonce(&response) {
                    tracing::debug!("the token endpoint asked for a DPoP nonce; retrying with it");
                    retried = true;
                    continue;
                }
            }
            return parse_token_response(&response, sent_at, self.read_error, dpop.is_some());
        }
    }
}

/// A token endpoint's `use_dpop_nonce` error (RFC 9449 §8): 400 with that OAuth error code.
fn is_use_dpop_nonce(response: &Response) -> bool {
    response.status == http::StatusCode::BAD_REQUEST
        && crate::json::parse(&response.body).is_ok_and(|v| {
            v.get("error").and_then(serde_json::Value::as_str) == Some("use_dpop_nonce")
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jose::SigningAlgorithm;
    use crate::secret::ClientSecret;

    #[test]
    fn a_shared_cache_key_names_the_dpop_key_so_replicas_with_other_keys_never_share() {
        let plain = TokenEndpoint::new(
            "https://as.example/token",
            ClientAuth::basic("c", ClientSecret::new("s")),
        )
        .unwrap();
        let key = || DpopKey::generate(SigningAlgorithm::ES256).unwrap();
        let (a, b) = (
            plain.clone().with_dpop(key()),
            plain.clone().with_dpop(key()),
        );
        let id = |e: &TokenEndpoint| e.share_identity("client_credentials", vec![]);
        assert_ne!(id(&plain), id(&a));
        assert_ne!(id(&a), id(&b));
        assert_eq!(id(&a), id(&a.clone()), "a clone shares the key");
    }
}
