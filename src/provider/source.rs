//! Where a provider's tokens come from: a grant against a [`TokenEndpoint`], or your own source.

use std::future::Future;
use std::pin::Pin;

use crate::error::Error;
use crate::token::{ClientCredentials, Token, TokenEndpoint};

/// A boxed, sendable future, as [`TokenSource::fetch`] returns.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Fetches a new token set. The provider calls it strictly one call at a time, with the token set it
/// currently holds (whose refresh token, if any, is the latest one).
///
/// The provider's own constructors run the `client_credentials` and `refresh_token` grants against a
/// [`TokenEndpoint`]; implement this yourself for any other source (token exchange, a sidecar, a test double).
pub trait TokenSource: Send + Sync + 'static {
    /// Gets a new token set. `current` is the set now held (possibly expired), or `None` at start.
    fn fetch<'a>(&'a self, current: Option<&'a Token>) -> BoxFuture<'a, Result<Token, Error>>;
}

/// The grant a provider runs against its token endpoint (chosen by the constructor).
#[derive(Clone, Debug)]
pub(crate) enum Grant {
    /// `client_credentials` with these parameters.
    ClientCredentials(ClientCredentials),
    /// `refresh_token`, using the refresh token of the current token set (seeded at build time);
    /// optional scopes narrow each refresh.
    RefreshToken {
        /// Scopes to narrow to on every refresh; empty keeps the original grant.
        scopes: Vec<String>,
    },
}

/// A [`TokenEndpoint`] plus the grant to run against it.
pub(crate) struct EndpointSource {
    pub(crate) endpoint: TokenEndpoint,
    pub(crate) grant: Grant,
}

impl TokenSource for EndpointSource {
    fn fetch<'a>(&'a self, current: Option<&'a Token>) -> BoxFuture<'a, Result<Token, Error>> {
        Box::pin(async move {
            match &self.grant {
                Grant::ClientCredentials(request) => {
                    self.endpoint.client_credentials(request).await
                }
                Grant::RefreshToken { scopes } => {
                    let refresh_token =
                        current.and_then(Token::refresh_token).ok_or_else(|| {
                            Error::config("the refresh_token grant has no refresh token to use")
                        })?;
                    let scopes: Vec<&str> = scopes.iter().map(String::as_str).collect();
                    let token = self.endpoint.refresh(refresh_token, &scopes).await?;
                    // RFC 6749 §6: a server that does not rotate omits refresh_token; keep the old one.
                    Ok(match token.refresh_token() {
                        Some(_) => token,
                        None => token.with_refresh_token(refresh_token.clone()),
                    })
                }
            }
        })
    }
}
