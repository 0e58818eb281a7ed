//! The authorization URL (`GET /oauth/authorize`) with PKCE S256 and `state`, keeping the verifier and
//! state for the code exchange.

use url::Url;

use crate::error::{Error, UnexpectedReason};
use crate::token::PkcePair;

/// What to put in an authorization request.
///
/// ```
/// use telnyx_oauth::api::AuthorizeRequest;
///
/// let (url, pending) = AuthorizeRequest::new("client-id", "http://127.0.0.1:8080/callback")
///     .scope("messaging.read")
///     .build_at("https://api.telnyx.com/v2/oauth/authorize")?;
/// assert!(url.as_str().contains("code_challenge_method=S256"));
/// assert!(url.as_str().contains(&format!("state={}", pending.state())));
/// # Ok::<(), telnyx_oauth::Error>(())
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct AuthorizeRequest {
    client_id: String,
    redirect_uri: String,
    scopes: Vec<String>,
    extra: Vec<(String, String)>,
}

/// What the code exchange needs later: the PKCE verifier, the `state` to compare, the redirect URI.
#[derive(Debug, Clone)]
pub struct PendingAuthorization {
    pkce: PkcePair,
    state: String,
    redirect_uri: String,
}

impl PendingAuthorization {
    /// The PKCE pair (send its verifier with the code).
    pub fn pkce(&self) -> &PkcePair {
        &self.pkce
    }

    /// The `state` sent; the redirect must carry the same.
    pub fn state(&self) -> &str {
        &self.state
    }

    /// The redirect URI (send it again with the code).
    pub fn redirect_uri(&self) -> &str {
        &self.redirect_uri
    }

    /// Checks a redirect's query against the pending request and returns its `code`. An `error`
    /// parameter or a wrong `state` is an error; the state is compared in constant time.
    pub fn code_from_redirect(&self, redirect: &Url) -> Result<crate::AuthorizationCode, Error> {
        let mut code = None;
        let mut state = None;
        let mut error = None;
        for (k, v) in redirect.query_pairs() {
            match k.as_ref() {
                "code" => code = Some(v.into_owned()),
                "state" => state = Some(v.into_owned()),
                "error" => error = Some(v.into_owned()),
                _ => {}
            }
        }
        if let Some(e) = error {
            return Err(Error::oauth(
                http::StatusCode::BAD_REQUEST,
                crate::error::OAuthErrorCode::parse(&e),
                None,
            ));
        }
        let same = state.as_deref().is_some_and(|s| {
            aws_lc_rs::constant_time::verify_slices_are_equal(s.as_bytes(), self.state.as_bytes())
                .is_ok()
        });
        if !same {
            // The authorization response (RFC 6749 §4.1.2) is the server's answer, delivered by redirect.
            return Err(Error::unexpected(
                http::StatusCode::FOUND,
                None,
                UnexpectedReason::InvalidField {
                    field: "state",
                    problem: "does not match the request's",
                },
                &[],
                None,
            ));
        }
        code.map(crate::AuthorizationCode::new).ok_or_else(|| {
            Error::unexpected(
                http::StatusCode::FOUND,
                None,
                UnexpectedReason::MissingField("code"),
                &[],
                None,
            )
        })
    }
}

impl AuthorizeRequest {
    /// A request for `client_id`, returning to `redirect_uri`.
    pub fn new(client_id: impl Into<String>, redirect_uri: impl Into<String>) -> Self {
        Self {
            client_id: client_id.into(),
            redirect_uri: redirect_uri.into(),
            scopes: Vec::new(),
            extra: Vec::new(),
        }
    }

    /// Adds a scope.
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        self.scopes.push(scope.into());
        self
    }

    /// Adds another query parameter (e.g. `resource`, `prompt`).
    pub fn param(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.extra.push((name.into(), value.into()));
        self
    }

    /// The URL at the authorization endpoint `endpoint`, with a fresh PKCE pair and state.
    pub fn build_at(self, endpoint: &str) -> Result<(Url, PendingAuthorization), Error> {
        let mut url = Url::parse(endpoint)
            .map_err(|e| Error::config(format!("bad authorization endpoint: {e}")))?;
        let pkce = PkcePair::generate()?;
        let state = crate::random::id()?;
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("response_type", "code")
                .append_pair("client_id", &self.client_id)
                .append_pair("redirect_uri", &self.redirect_uri);
            if !self.scopes.is_empty() {
                q.append_pair("scope", &self.scopes.join(" "));
            }
            q.append_pair("state", &state)
                .append_pair("code_challenge", pkce.challenge())
                .append_pair("code_challenge_method", pkce.method());
            for (k, v) in &self.extra {
                q.append_pair(k, v);
            }
        }
        Ok((
            url,
            PendingAuthorization {
                pkce,
                state,
                redirect_uri: self.redirect_uri,
            },
        ))
    }
}
