//! [`BearerLayer`] and the [`Bearer`] service.

use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::header::AUTHORIZATION;
use tower_layer::Layer;
use tower_service::Service;

use super::error::BearerError;
use super::future::{InnerService, ResponseFuture, RetryState, slow_path};
use super::request::BearerRequest;
use super::select::SelectProvider;
use crate::provider::{CachedToken, TokenProvider};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Config {
    pub(crate) replace_existing: bool,
    pub(crate) retry_on_401: bool,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            replace_existing: false,
            retry_on_401: true,
        }
    }
}

/// Puts `Authorization: Bearer <token>` on every request, from a [`TokenProvider`] (or one chosen per
/// request by a [`SelectProvider`]), and retries once after a 401 that rejected the token.
pub struct BearerLayer<P = TokenProvider> {
    selector: Arc<P>,
    config: Config,
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
        Self::with_selector(provider)
    }
}

impl<P: SelectProvider> BearerLayer<P> {
    /// A layer choosing the provider per request (e.g. [`ByHost`](super::ByHost)).
    pub fn with_selector(selector: P) -> Self {
        Self {
            selector: Arc::new(selector),
            config: Config::default(),
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
        Bearer {
            inner,
            selector: self.selector.clone(),
            config: self.config,
            last: None,
        }
    }
}

/// The service [`BearerLayer`] produces.
pub struct Bearer<S, P = TokenProvider> {
    inner: S,
    selector: Arc<P>,
    config: Config,
    /// The token this service sent last, when one provider serves every request: while it stays
    /// current, the next request takes it with two atomic loads instead of an `arc-swap` read.
    last: Option<Arc<CachedToken>>,
}

impl<S: Clone, P> Clone for Bearer<S, P> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            selector: self.selector.clone(),
            config: self.config,
            last: self.last.clone(),
        }
    }
}

impl<S: fmt::Debug, P> fmt::Debug for Bearer<S, P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Bearer")
            .field("inner", &self.inner)
            .field("replace_existing", &self.config.replace_existing)
            .field("retry_on_401", &self.config.retry_on_401)
            .finish_non_exhaustive()
    }
}

inner_service_accessors!(Bearer<S, P>);

impl<S, P, R> Service<R> for Bearer<S, P>
where
    R: BearerRequest,
    S: InnerService<R> + Clone,
    P: SelectProvider,
{
    type Response = S::Response;
    type Error = BearerError<S::Error>;
    type Future = ResponseFuture<S, R>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(BearerError::Inner)
    }

    fn call(&mut self, mut req: R) -> Self::Future {
        if !self.config.replace_existing && req.headers().contains_key(AUTHORIZATION) {
            return ResponseFuture::sent(self.inner.call(req), None);
        }
        let selected;
        let (provider, warm) = match self.selector.only() {
            // One provider for every request: keep the token sent last while it stays current.
            Some(provider) => {
                if !self.last.as_ref().is_some_and(|t| provider.still_warm(t)) {
                    self.last = provider.warm();
                }
                (provider, self.last.as_ref())
            }
            None => {
                let Some(provider) = self.selector.select(req.host()) else {
                    return ResponseFuture::failed(BearerError::NoProvider {
                        host: req.host().map(str::to_owned),
                    });
                };
                selected = provider.warm();
                (provider, selected.as_ref())
            }
        };
        if let Some(token) = warm {
            if !self.config.retry_on_401 {
                // Nothing to do after the response: only the header is needed, not the token.
                req.headers_mut()
                    .insert(AUTHORIZATION, token.header().clone());
                return ResponseFuture::sent(self.inner.call(req), None);
            }
            // The warm path: no boxed future; the request copy for a retry is the only extra work.
            let replay = req.try_replay();
            req.headers_mut()
                .insert(AUTHORIZATION, token.header().clone());
            let retry = RetryState {
                token: token.clone(),
                replay: replay.map(|request| Box::new((request, self.inner.clone()))),
            };
            return ResponseFuture::sent(self.inner.call(req), Some(retry));
        }
        // The token must be fetched first: take the readied service, leave a clone (tower's rule).
        let provider = provider.clone();
        let clone = self.inner.clone();
        let ready = std::mem::replace(&mut self.inner, clone);
        ResponseFuture::boxed(slow_path(provider, ready, req, self.config))
    }
}
