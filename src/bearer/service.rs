//! The [`Bearer`] service: puts the token on each request, on the warm path without boxing.

use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::header::AUTHORIZATION;
use tower_service::Service;

use super::authorize::authorize;
use super::error::BearerError;
use super::future::{ResponseFuture, slow_path};
use super::request::{BearerRequest, InnerService};
use super::retry::{BearerConfig, RetryState};
use super::select::SelectProvider;
use crate::provider::{CachedToken, TokenProvider};

/// The service [`BearerLayer`](super::BearerLayer) produces.
pub struct Bearer<S, P = TokenProvider> {
    inner: S,
    selector: Arc<P>,
    config: BearerConfig,
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

impl<S, P> Bearer<S, P> {
    pub(crate) fn new(inner: S, selector: Arc<P>, config: BearerConfig) -> Self {
        Self {
            inner,
            selector,
            config,
            last: None,
        }
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
            if !self.config.retry_on_401 && token.dpop.is_none() {
                // Nothing to do after the response: only the header is needed, not the token.
                req.headers_mut()
                    .insert(AUTHORIZATION, token.header().clone());
                return ResponseFuture::sent(self.inner.call(req), None);
            }
            // The warm path: no boxed future; the request copy for a retry is the only extra work
            // (and, for a DPoP-bound token, its proof).
            let replay = if self.config.retry_on_401 {
                req.try_replay()
            } else {
                None
            };
            let sent = match authorize(&mut req, token) {
                Ok(sent) => sent,
                Err(e) => return ResponseFuture::failed(BearerError::Dpop(e)),
            };
            let retry = RetryState {
                token: token.clone(),
                replay: replay.map(|request| Box::new((request, self.inner.clone()))),
                sent,
                handle_401: self.config.retry_on_401,
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
