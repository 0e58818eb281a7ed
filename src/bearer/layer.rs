//! [`BearerLayer`]: wraps a service in a [`Bearer`].

use std::fmt;
use std::sync::Arc;

use tower_layer::Layer;

use super::retry::BearerConfig;
use super::select::SelectProvider;
use super::service::Bearer;
use crate::provider::TokenProvider;

/// Puts `Authorization: Bearer <token>` on every request, from a [`TokenProvider`] (or one chosen per
/// request by a [`SelectProvider`]), and retries once after a 401 that rejected the token.
pub struct BearerLayer<P = TokenProvider> {
    selector: Arc<P>,
    config: BearerConfig,
}

impl<P> Clone for BearerLayer<P> {
    fn clone(&self) -> Self {
        Self {
            selector: self.selector.clone(),
            config: self.config,
        }
    }
}

impl<P> fmt::Debug for BearerLayer<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BearerLayer")
            .field("replace_existing", &self.config.replace_existing)
            .field("retry_on_401", &self.config.retry_on_401)
            .finish_non_exhaustive()
    }
}

impl BearerLayer<TokenProvider> {
    /// A layer using one provider for every request.
    pub fn new(provider: TokenProvider) -> Self {
        Self::from_selector(provider)
    }
}

impl<P: SelectProvider> BearerLayer<P> {
    /// A layer choosing the provider per request (e.g. [`ByHost`](super::ByHost)).
    pub fn from_selector(selector: P) -> Self {
        Self {
            selector: Arc::new(selector),
            config: BearerConfig::default(),
        }
    }
}

impl<P> BearerLayer<P> {
    /// Whether to overwrite an `Authorization` header the request already has. Default: `false` —
    /// such requests pass through untouched.
    pub fn replace_existing(mut self, replace: bool) -> Self {
        self.config.replace_existing = replace;
        self
    }

    /// Whether to handle a 401 that rejected the token — invalidate it, and retry once with a fresh
    /// one when the request can be replayed. Default: `true`. Switched off, a 401 is returned as is
    /// and the warm path does the least work possible: a token read and a header clone.
    pub fn retry_on_401(mut self, retry: bool) -> Self {
        self.config.retry_on_401 = retry;
        self
    }
}

impl<S, P> Layer<S> for BearerLayer<P> {
    type Service = Bearer<S, P>;

    fn layer(&self, inner: S) -> Self::Service {
        Bearer::new(inner, self.selector.clone(), self.config)
    }
}
