//! [`BearerError`]: why an outbound request through the layer failed.

use std::error::Error as StdError;
use std::fmt;

/// The error of a [`Bearer`](super::Bearer) service. The inner service's own errors stay
/// distinguishable in [`BearerError::Inner`].
#[derive(Debug)]
#[non_exhaustive]
pub enum BearerError<E> {
    /// No token could be obtained; the request was **not sent**.
    Token(crate::Error),
    /// The token is DPoP-bound and no proof could be made for this request (its URL is not absolute,
    /// or signing failed); the request was **not sent**.
    Dpop(crate::Error),
    /// The provider selector chose no provider for this host; the request was **not sent**.
    NoProvider {
        /// The request's host.
        host: Option<String>,
    },
    /// The inner service failed.
    Inner(E),
}

impl<E> BearerError<E> {
    /// The inner service's error, if that is what this is.
    pub fn into_inner(self) -> Option<E> {
        match self {
            BearerError::Inner(e) => Some(e),
            _ => None,
        }
    }
}

impl<E: fmt::Display> fmt::Display for BearerError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BearerError::Token(e) => write!(f, "no access token, request not sent: {e}"),
            BearerError::Dpop(e) => write!(f, "no DPoP proof, request not sent: {e}"),
            BearerError::NoProvider { host } => write!(
                f,
                "no token provider is configured for host {}, request not sent",
                host.as_deref().unwrap_or("(none)")
            ),
            BearerError::Inner(e) => e.fmt(f),
        }
    }
}

impl<E: StdError + 'static> StdError for BearerError<E> {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            BearerError::Token(e) | BearerError::Dpop(e) => Some(e),
            BearerError::NoProvider { .. } => None,
            BearerError::Inner(e) => Some(e),
        }
    }
}
